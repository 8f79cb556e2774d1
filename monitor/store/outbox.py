"""The outbox family: ``outbox`` (each alert's delivery, joined to its decision) and ``threads`` (the
Slack message each storm's updates reply under). The states a row moves through are described in
monitor/alerts/outbox.py, which decides them; this module only reads and writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.records.mention import parse_time
from monitor.store.base import Tables, stamp

IN_FLIGHT = "in flight"
UNCERTAIN = "uncertain"


@dataclass(slots=True)
class OutboxRow:
    decision_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    ts: str | None
    thread_ts: str | None
    at: datetime
    name: str
    kind: str
    level: str | None
    watchlist: str
    root_id: str | None
    payload: dict[str, Any]

    @property
    def outcome_unknown(self) -> bool:
        """A previous attempt may have reached Slack without our knowing (crash or timeout)."""
        return (self.last_error or "").startswith((IN_FLIGHT, UNCERTAIN))


@dataclass(frozen=True, slots=True)
class Thread:
    channel: str  # the channel id Slack answered with (chat.update needs the id, not the name)
    ts: str


_SELECT = (
    "SELECT o.decision_id, o.channel, o.status, o.attempts, o.next_attempt_at, o.last_error, o.ts,"
    " o.thread_ts, d.at, d.name, d.kind, d.level, d.watchlist, d.root_id, d.payload"
    " FROM outbox o JOIN decisions d ON d.id = o.decision_id"
)

_SAME_STORM = ("SELECT 1 FROM outbox o JOIN decisions d ON d.id = o.decision_id"
               " WHERE d.root_id = ? AND d.watchlist = ?")


def _row(r: tuple[Any, ...]) -> OutboxRow:
    try:
        at = parse_time(r[8])
    except Exception:
        at = parse_time(r[4])
    return OutboxRow(int(r[0]), r[1], r[2], int(r[3]), parse_time(r[4]), r[5], r[6], r[7], at, r[9], r[10],
                     r[11], r[12], r[13], json.loads(r[14]))


class OutboxTables(Tables):
    # -- reads -------------------------------------------------------------------------------
    def outbox_rows(self, status: str, *, due_by: datetime | None = None) -> list[OutboxRow]:
        """Outbox rows in ``status`` (due by ``due_by`` if given), oldest decision first."""
        sql, args = _SELECT + " WHERE o.status = ?", [status]
        if due_by is not None:
            sql += " AND o.next_attempt_at <= ?"
            args.append(stamp(due_by))
        return [_row(r) for r in self.conn.execute(sql + " ORDER BY o.decision_id", args)]

    def outbox_row(self, decision_id: int) -> OutboxRow | None:
        """The outbox row of one decision, or None when it has none."""
        r = self.conn.execute(_SELECT + " WHERE o.decision_id = ?", (decision_id,)).fetchone()
        return _row(r) if r else None

    def thread(self, root_id: str, watchlist: str) -> Thread | None:
        """The Slack message a storm's updates reply under, once its first message went out."""
        r = self.conn.execute("SELECT channel, ts FROM threads WHERE root_id = ? AND watchlist = ?",
                              (root_id, watchlist)).fetchone()
        return Thread(r[0], r[1]) if r else None

    def pending_before(self, root_id: str, watchlist: str, decision_id: int) -> bool:
        """Whether an alert of the same storm decided before ``decision_id`` is still pending."""
        r = self.conn.execute(
            _SAME_STORM + " AND o.decision_id < ? AND o.status = 'pending' LIMIT 1",
            (root_id, watchlist, decision_id),
        ).fetchone()
        return r is not None

    def update_due_after(self, root_id: str | None, watchlist: str, decision_id: int, now: datetime) -> bool:
        """Whether an update of the same storm decided after ``decision_id`` is pending and due by ``now``."""
        r = self.conn.execute(
            _SAME_STORM + " AND o.decision_id > ? AND o.status = 'pending' AND d.level = 'update'"
            " AND o.next_attempt_at <= ? LIMIT 1",
            (root_id, watchlist, decision_id, stamp(now)),
        ).fetchone()
        return r is not None

    def alert_times_before(self, root_id: str | None, watchlist: str, decision_id: int) -> list[datetime]:
        """When each alert of the same storm decided before ``decision_id`` (sent or pending) was decided;
        unreadable times are left out."""
        found: list[datetime] = []
        for (at,) in self.conn.execute(
            "SELECT d.at FROM outbox o JOIN decisions d ON d.id = o.decision_id WHERE d.root_id = ?"
            " AND d.watchlist = ? AND o.decision_id < ? AND o.status IN ('sent', 'pending')",
            (root_id, watchlist, decision_id),
        ):
            try:
                found.append(parse_time(at))
            except Exception:
                continue
        return found

    def outbox_counts(self) -> dict[str, int]:
        """Outbox rows by status (only the statuses present)."""
        return {s: int(n) for s, n in self.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status")}

    def next_due(self, after: datetime) -> datetime | None:
        """The earliest ``next_attempt_at`` later than ``after`` among rows still to go out."""
        r = self.conn.execute("SELECT min(next_attempt_at) FROM outbox WHERE status IN ('pending', 'held')"
                              " AND next_attempt_at > ?", (stamp(after),)).fetchone()
        return parse_time(r[0]) if r and r[0] else None

    # -- writes, each one transaction (or part of the caller's) --------------------------------------
    def queue_delivery(self, decision_id: int, channel: str, due: datetime) -> None:
        """Give decision ``decision_id`` an outbox row: pending, to ``channel``, due at ``due``."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO outbox (decision_id, channel, status, next_attempt_at)"
                         " VALUES (?, ?, 'pending', ?)", (decision_id, channel, stamp(due)))

    def count_attempt(self, decision_id: int, note: str) -> None:
        """One more attempt at delivering ``decision_id`` begins; ``note`` is its last_error meanwhile."""
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE decision_id = ?",
                         (note, decision_id))

    def record_reply(self, decision_id: int, ts: str | None, thread_ts: str | None) -> None:
        """Where a delivery was posted (its status unchanged); clears last_error."""
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET ts = ?, thread_ts = ?, last_error = NULL WHERE decision_id = ?",
                         (ts, thread_ts, decision_id))

    def mark_sent(self, decision_id: int, *, ts: str | None, thread_ts: str | None, now: datetime,
                  note: str | None) -> None:
        """Delivery ``decision_id`` is sent, at ``now``, as message ``ts`` (in ``thread_ts``)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', ts = ?, thread_ts = ?, sent_at = ?, last_error = ?"
                " WHERE decision_id = ?", (ts, thread_ts, stamp(now), note, decision_id),
            )

    def save_thread(self, root_id: str, watchlist: str, thread: Thread) -> None:
        """Remember (or replace) the message a storm's updates reply under."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO threads (root_id, watchlist, channel, ts) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(root_id, watchlist) DO UPDATE SET channel = excluded.channel, ts = excluded.ts",
                (root_id, watchlist, thread.channel, thread.ts),
            )

    def set_outbox_status(self, decision_id: int, status: str, note: str | None,
                          next_attempt_at: datetime | None = None) -> None:
        """Move a delivery to ``status`` with ``note``, and when given, its next attempt time."""
        with self.transaction() as conn:
            if next_attempt_at is None:
                conn.execute("UPDATE outbox SET status = ?, last_error = ? WHERE decision_id = ?",
                             (status, note, decision_id))
            else:
                conn.execute("UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = ?"
                             " WHERE decision_id = ?", (status, note, stamp(next_attempt_at), decision_id))

    def mark_digested(self, decision_ids: list[int], note: str) -> None:
        """These deliveries went out inside a digest (``note`` names it)."""
        with self.transaction() as conn:
            conn.executemany("UPDATE outbox SET status = 'digested', last_error = ? WHERE decision_id = ?",
                             [(note, did) for did in decision_ids])
