"""The silences family: ``silences`` (``monitor silence``). Delivery reads them; the old
``cascades.silenced_until`` column is no longer written (nothing read it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.records.mention import parse_time
from monitor.store.base import Tables, stamp


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
        """Store a silence; returns its id."""
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO silences (watchlist, root_id, until, reason) VALUES (?, ?, ?, ?)",
                               (watchlist, root_id, stamp(until), reason))
            return int(cur.lastrowid or 0)

    def lift_silence(self, silence_id: int, now: datetime) -> bool:
        """End a silence at ``now``. False when there is no such silence."""
        with self.transaction() as conn:
            row = conn.execute("SELECT root_id, watchlist FROM silences WHERE id = ?", (silence_id,)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE silences SET until = ? WHERE id = ?", (stamp(now), silence_id))
            return True

    def silences(self) -> list[Silence]:
        """Every silence, ended or not, in the order added."""
        return [Silence(sid, wl, root, parse_time(until), reason) for sid, wl, root, until, reason in
                self.conn.execute("SELECT id, watchlist, root_id, until, reason FROM silences ORDER BY id")]
