"""The sources family: each source's ``cursors`` (where its next poll resumes), its ``source_health``
(the outcome of its polls, for ``monitor status``, parking and gone-quiet alerts), and the
``watchlists_in_force`` of the running daemon with their sources (for ``monitor status``)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.records.mention import lenient_time
from monitor.store.base import Tables, opt_stamp, stamp


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the poller needs of a source's health before polling it (all empty for a new source)."""

    consecutive_failures: int = 0
    paused_until: datetime | None = None  # None too when the stored time is unreadable
    last_error: str | None = None


def put_cursor(conn: sqlite3.Connection, key: str, value: dict[str, Any], now: datetime) -> None:
    """Write a cursor inside the caller's transaction."""
    conn.execute("INSERT INTO cursors (source_key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(source_key)"
                 " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                 (key, json.dumps(value, sort_keys=True), stamp(now)))



class SourceTables(Tables):
    def get_cursor(self, key: str) -> dict[str, Any] | None:
        """The cursor stored for source ``key``, or None before its first stored poll."""
        row = self.conn.execute("SELECT value FROM cursors WHERE source_key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_cursor(self, key: str, value: dict[str, Any], *, now: datetime) -> None:
        """Store the cursor of source ``key`` (replacing the one before), in one transaction."""
        with self.transaction() as conn:
            put_cursor(conn, key, value, now)

    def record_health(self, key: str, *, now: datetime, ok: bool, items: int = 0, error: str | None = None,
                      paused_until: datetime | None = None, detail: dict[str, Any] | None = None) -> None:
        """Note the outcome of one poll of a source, for ``monitor status`` and gone-quiet alerts."""
        at = stamp(now)
        with self.transaction() as conn:
            conn.execute("INSERT INTO source_health (source_key) VALUES (?) ON CONFLICT DO NOTHING", (key,))
            if ok:
                conn.execute(
                    "UPDATE source_health SET last_success = ?, consecutive_failures = 0,"
                    " items_seen = items_seen + ?, last_items_at = CASE WHEN ? > 0 THEN ? ELSE last_items_at END,"
                    " paused_until = ?, detail = coalesce(?, detail) WHERE source_key = ?",
                    (at, items, items, at, opt_stamp(paused_until),
                     json.dumps(detail) if detail is not None else None, key),
                )
            else:
                conn.execute(
                    "UPDATE source_health SET last_error = ?, last_error_at = ?,"
                    " consecutive_failures = consecutive_failures + 1, paused_until = ?,"
                    " detail = coalesce(?, detail) WHERE source_key = ?",
                    (error, at, opt_stamp(paused_until),
                     json.dumps(detail) if detail is not None else None, key),
                )

    def source_state(self, key: str) -> SourceState:
        """Consecutive failures, paused-until and last error of source ``key``."""
        row = self.conn.execute(
            "SELECT consecutive_failures, paused_until, last_error FROM source_health WHERE source_key = ?",
            (key,),
        ).fetchone()
        return SourceState(int(row[0] or 0), lenient_time(row[1]), row[2]) if row else SourceState()

    def health(self) -> list[dict[str, Any]]:
        """Every ``source_health`` row as a dict of its columns (``detail`` still JSON text), by source key."""
        return self.row_dicts("SELECT * FROM source_health ORDER BY source_key")

    def record_watchlists(self, sources: dict[str, list[str]], *, now: datetime) -> None:
        """The watch-lists now in force (name -> its source keys), replacing the ones before."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM watchlists_in_force")
            conn.executemany("INSERT INTO watchlists_in_force (name, sources, loaded_at) VALUES (?, ?, ?)",
                             [(name, json.dumps(keys), stamp(now)) for name, keys in sorted(sources.items())])

    def watchlists_in_force(self) -> list[dict[str, Any]]:
        """Each watch-list the daemon last loaded: ``name``, ``sources`` (a list) and ``loaded_at``."""
        rows = self.conn.execute("SELECT name, sources, loaded_at FROM watchlists_in_force ORDER BY name")
        return [{"name": name, "sources": json.loads(keys), "loaded_at": at} for name, keys, at in rows]
