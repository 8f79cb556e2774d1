"""The silences family: ``silences`` (``monitor silence``), mirrored into ``cascades.silenced_until``
for a silenced cascade so that detection sees it too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.records.mention import parse_time
from monitor.store.base import Tables, stamp

_CASCADE_SILENCE = ("UPDATE cascades SET silenced_until = ?"
                    " WHERE root_id = ? AND (? IS NULL OR watchlist = ?)")


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    watchlist: str | None  # None: the cascade in every watch-list
    root_id: str | None  # None: the whole watch-list
    until: datetime
    reason: str | None


class SilenceTables(Tables):
    def add_silence(self, *, until: datetime, watchlist: str | None, root_id: str | None,
                    reason: str | None) -> int:
        """Store a silence and, for a cascade, mark the cascade silenced until ``until``, in one
        transaction. Returns the silence's id."""
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO silences (watchlist, root_id, until, reason) VALUES (?, ?, ?, ?)",
                               (watchlist, root_id, stamp(until), reason))
            if root_id:  # let detection see it too, where it tracks the cascade
                conn.execute(_CASCADE_SILENCE, (stamp(until), root_id, watchlist, watchlist))
            return int(cur.lastrowid or 0)

    def lift_silence(self, silence_id: int, now: datetime) -> bool:
        """End a silence at ``now`` (and its cascade's mark), in one transaction. False when there is no
        such silence."""
        with self.transaction() as conn:
            row = conn.execute("SELECT root_id, watchlist FROM silences WHERE id = ?", (silence_id,)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE silences SET until = ? WHERE id = ?", (stamp(now), silence_id))
            if row[0]:
                conn.execute(_CASCADE_SILENCE, (None, row[0], row[1], row[1]))
            return True

    def silences(self) -> list[Silence]:
        """Every silence, ended or not, in the order added."""
        return [Silence(sid, wl, root, parse_time(until), reason) for sid, wl, root, until, reason in
                self.conn.execute("SELECT id, watchlist, root_id, until, reason FROM silences ORDER BY id")]
