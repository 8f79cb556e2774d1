"""The cascades family: ``cascades`` (each storm's size and alert state per watch-list) and the
``decisions`` log (every decision, alerting or not, with its alert line as JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.records.mention import format_time
from monitor.store.base import Tables


@dataclass(frozen=True, slots=True)
class OpenCascade:
    """A cascade's stored alert state, as a restart rebuilds it."""

    root_id: str
    watchlist: str
    level: str | None
    alerted_size: int | None
    vips: str  # comma-separated VIP handles already announced


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """One row of the decision log; ``at`` and ``payload`` as stored (text), read with care by callers."""

    at: str
    kind: str
    level: str | None
    root_id: str | None
    payload: str  # the alert line as JSON

    def line(self) -> dict[str, Any]:
        """The alert line."""
        result: dict[str, Any] = json.loads(self.payload)
        return result


class CascadeTables(Tables):
    # -- cascades ----------------------------------------------------------------------------
    def open_cascades(self, roots: Sequence[tuple[str, str, datetime]]) -> None:
        """Open a cascade for each (root id, watch-list, opened at) not already open."""
        if roots:
            with self.transaction() as conn:
                conn.executemany("INSERT INTO cascades (root_id, watchlist, opened_at) VALUES (?, ?, ?)"
                                 " ON CONFLICT DO NOTHING", [(r, w, format_time(at)) for r, w, at in roots])

    def grow_cascades(self, grown: Sequence[tuple[str, str, int, datetime]]) -> None:
        """For each (root id, watch-list, reactions, last reaction at): add the reactions to the cascade's
        count and move its last reaction time."""
        if grown:
            with self.transaction() as conn:
                conn.executemany(
                    "UPDATE cascades SET reactions = reactions + ?, last_reaction_at = ?"
                    " WHERE root_id = ? AND watchlist = ?",
                    [(n, format_time(at), root_id, wl) for root_id, wl, n, at in grown])

    def mark_alerted(self, root_id: str, watchlist: str, *, size: Any, vips: str, now: datetime) -> None:
        """A cascade alerted (first alert or update) at ``now``, at ``size`` reactions, with ``vips``
        (comma-separated) announced; its first alert time is kept."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE cascades SET level = 'new', alerted_at = coalesce(alerted_at, ?),"
                " alerted_size = ?, last_update_at = ?, vips = ? WHERE root_id = ? AND watchlist = ?",
                (format_time(now), size, format_time(now), vips, root_id, watchlist))

    def cascades_since(self, since: datetime) -> list[OpenCascade]:
        """Cascades whose last reaction (or opening, without one) is at or after ``since``."""
        rows = self.conn.execute(
            "SELECT root_id, watchlist, level, alerted_size, vips FROM cascades"
            " WHERE coalesce(last_reaction_at, opened_at) >= ?", (format_time(since),)).fetchall()
        return [OpenCascade(*row) for row in rows]

    def count_open_cascades(self, window: timedelta) -> int:
        """Cascades with a reaction (or opened) within ``window`` of the wall clock's now."""
        since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=int(window.total_seconds()))
        row = self.conn.execute(
            "SELECT count(*) FROM cascades WHERE coalesce(last_reaction_at, opened_at) >= ?",
            (since.strftime("%Y-%m-%dT%H:%M:%SZ"),)).fetchone()
        return int(row[0])

    def count_alerted_cascades(self) -> int:
        """Cascades that have alerted at least once."""
        return int(self.conn.execute("SELECT count(*) FROM cascades WHERE level IS NOT NULL").fetchone()[0])

    # -- decisions ---------------------------------------------------------------------------
    def add_decision(self, *, at: str, name: str, kind: str, level: str | None, watchlist: str,
                     root_id: str | None, payload: str) -> int:
        """Append one decision (``payload`` its alert line as JSON text); returns its id."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO decisions (at, name, kind, level, watchlist, root_id, payload)"
                " VALUES (?,?,?,?,?,?,?)", (at, name, kind, level, watchlist, root_id, payload))
            return int(cur.lastrowid or 0)

    def log_decisions(self, lines: Sequence[dict[str, Any]]) -> None:
        """Append decisions that go to no outbox (a replay's), from alert lines that carry every column
        (``at``, ``decision``, ``kind``, ``level``, ``watchlist``, ``root_id``)."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO decisions (at, name, kind, level, watchlist, root_id, payload) VALUES (?,?,?,?,?,?,?)",
                [(p["at"], p["decision"], p["kind"], p["level"], p["watchlist"], p["root_id"],
                  json.dumps(p, ensure_ascii=False)) for p in lines])

    def has_decision(self, root_id: str) -> bool:
        """Whether any decision names ``root_id``."""
        return self.conn.execute("SELECT 1 FROM decisions WHERE root_id = ?", (root_id,)).fetchone() is not None

    def announced_since(self, root_id: str, name: str, since: datetime | None) -> bool:
        """Whether a decision ``name`` about ``root_id`` was made at or after ``since`` (ever, if None)."""
        row = self.conn.execute(
            "SELECT 1 FROM decisions WHERE root_id = ? AND name = ? AND at >= ? LIMIT 1",
            (root_id, name, format_time(since) if since else ""),
        ).fetchone()
        return row is not None

    def cascade_notes(self, root_id: str, watchlist: str) -> set[str]:
        """Names of the non-alerting cascade decisions (notes) recorded for one cascade."""
        return {name for (name,) in self.conn.execute(
            "SELECT DISTINCT name FROM decisions WHERE root_id = ? AND watchlist = ? AND kind = 'cascade'"
            " AND level IS NULL", (root_id, watchlist))}

    def spike_alerts_since(self, since: datetime) -> list[tuple[str, str]]:
        """(watch-list, root id) of each first spike alert decided at or after ``since``, oldest first."""
        rows = self.conn.execute(
            "SELECT watchlist, root_id FROM decisions WHERE kind = 'spike' AND level = 'new' AND at >= ?"
            " ORDER BY at", (format_time(since),)).fetchall()
        return [(wl, root_id) for wl, root_id in rows]

    def alerts_of(self, watchlist: str) -> list[StoredDecision]:
        """Every alerting decision (level 'new' or 'update') of ``watchlist``, in the order decided."""
        return [StoredDecision(*row) for row in self.conn.execute(
            "SELECT at, kind, level, root_id, payload FROM decisions WHERE watchlist = ? AND level IN "
            "('new', 'update') ORDER BY id", (watchlist,))]
