"""The outbox: alert decisions and their deliveries, written together so none is lost or doubled.

``record_decisions`` writes each decision row and, for alerting ones (``level`` not null), its
outbox row in ONE ``store.transaction()``: after a crash either both exist or neither. The sender
(sender.py) then moves each outbox row through these states:

``pending``  waiting to go out at ``next_attempt_at`` (first try, a retry, or a cooldown wait)
``held``     kept back by quiet hours; at ``next_attempt_at`` it joins a morning digest
``digested`` went out inside a digest (``last_error`` names the digest)
``silenced`` dropped because a silence covered it (``last_error`` says which)
``sent``     delivered; ``ts`` is the Slack message, ``thread_ts`` the storm's root when threaded
``failed``   permanent error, or retries ran past ``slack.delivery_deadline``

Before each call to Slack the row is marked ``in flight`` (committed). A row still marked so when a
process starts again was interrupted mid-call: Slack may or may not have accepted it (see
docs/alerts.md, "The one unavoidable window").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.records.mention import format_time, parse_time
from monitor.store.database import Store

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


def stamp(value: datetime) -> str:
    """Fixed-width UTC time (always microseconds) so that stored times compare correctly as text."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_QUEUE = "INSERT INTO outbox (decision_id, channel, status, next_attempt_at) VALUES (?, ?, 'pending', ?)"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def record_decisions(store: Store, decisions: list[dict[str, Any]], *, channel_for: Callable[[str], str],
                     now: datetime) -> list[int]:
    """Store decisions and queue the alerting ones, atomically. Returns the decision ids, in order.

    Each dict is the alert line (see docs/alerts.md). Rows with a non-null ``level`` get an outbox
    row (``pending``, due ``now``) for ``channel_for(watchlist)``. Whether quiet hours, a silence or
    the cooldown apply is decided by the sender from stored state when the row falls due, so it
    holds across restarts and sees silences added after the decision. Call inside the pipeline's
    own ``store.transaction()`` to commit the decisions with the cascade state that led to them.
    """
    ids: list[int] = []
    due = stamp(now)
    with store.transaction() as conn:
        for d in decisions:
            cur = conn.execute(
                "INSERT INTO decisions (at, name, kind, level, watchlist, root_id, payload)"
                " VALUES (?,?,?,?,?,?,?)",
                (str(d.get("at") or format_time(now)), str(d.get("decision") or "unnamed"),
                 str(d.get("kind") or "cascade"), d.get("level"), str(d.get("watchlist") or ""),
                 d.get("root_id"), _json(d)),
            )
            did = int(cur.lastrowid or 0)
            ids.append(did)
            if d.get("level"):
                conn.execute(_QUEUE, (did, channel_for(str(d.get("watchlist") or "")), due))
    return ids


def queue_message(conn: sqlite3.Connection, payload: dict[str, Any], *, name: str, channel: str,
                  now: datetime, root_id: str) -> int:
    """Queue a message that is not an alert line (a digest) through the same outbox.

    Its decision row has ``kind`` 'digest' and ``level`` 'digest'. Must run inside a transaction.
    """
    cur = conn.execute(
        "INSERT INTO decisions (at, name, kind, level, watchlist, root_id, payload)"
        " VALUES (?, ?, 'digest', 'digest', ?, ?, ?)",
        (format_time(now), name, str(payload.get("watchlist") or ""), root_id, _json(payload)),
    )
    did = int(cur.lastrowid or 0)
    conn.execute(_QUEUE, (did, channel, stamp(now)))
    return did


_SELECT = (
    "SELECT o.decision_id, o.channel, o.status, o.attempts, o.next_attempt_at, o.last_error, o.ts,"
    " o.thread_ts, d.at, d.name, d.kind, d.level, d.watchlist, d.root_id, d.payload"
    " FROM outbox o JOIN decisions d ON d.id = o.decision_id"
)


def _row(r: tuple[Any, ...]) -> OutboxRow:
    try:
        at = parse_time(r[8])
    except Exception:
        at = parse_time(r[4])
    return OutboxRow(int(r[0]), r[1], r[2], int(r[3]), parse_time(r[4]), r[5], r[6], r[7], at, r[9], r[10],
                     r[11], r[12], r[13], json.loads(r[14]))


def rows(store: Store, status: str, *, due_by: datetime | None = None) -> list[OutboxRow]:
    """Outbox rows in ``status`` (due by ``due_by`` if given), oldest decision first."""
    sql, args = _SELECT + " WHERE o.status = ?", [status]
    if due_by is not None:
        sql += " AND o.next_attempt_at <= ?"
        args.append(stamp(due_by))
    return [_row(r) for r in store.conn.execute(sql + " ORDER BY o.decision_id", args)]


def get(store: Store, decision_id: int) -> OutboxRow | None:
    r = store.conn.execute(_SELECT + " WHERE o.decision_id = ?", (decision_id,)).fetchone()
    return _row(r) if r else None


def thread_for(store: Store, root_id: str | None, watchlist: str) -> Thread | None:
    if not root_id:
        return None
    r = store.conn.execute("SELECT channel, ts FROM threads WHERE root_id = ? AND watchlist = ?",
                           (root_id, watchlist)).fetchone()
    return Thread(r[0], r[1]) if r else None


_SAME_STORM = ("SELECT 1 FROM outbox o JOIN decisions d ON d.id = o.decision_id"
               " WHERE d.root_id = ? AND d.watchlist = ?")


def earlier_unsent(store: Store, row: OutboxRow) -> bool:
    """Is an older alert of the same storm still waiting? (Then this one waits behind it.)"""
    if not row.root_id:
        return False
    r = store.conn.execute(
        _SAME_STORM + " AND o.decision_id < ? AND o.status = 'pending' LIMIT 1",
        (row.root_id, row.watchlist, row.decision_id),
    ).fetchone()
    return r is not None


def later_update_queued(store: Store, row: OutboxRow, now: datetime) -> bool:
    """Is a newer update of the same storm due now? (Then it edits the root; this one need not.)"""
    r = store.conn.execute(
        _SAME_STORM + " AND o.decision_id > ? AND o.status = 'pending' AND d.level = 'update'"
        " AND o.next_attempt_at <= ? LIMIT 1",
        (row.root_id, row.watchlist, row.decision_id, stamp(now)),
    ).fetchone()
    return r is not None


def last_alert_at(store: Store, row: OutboxRow) -> datetime | None:
    """When the previous alert of this storm was decided (sent or still queued), for the cooldown."""
    found: list[datetime] = []
    for (at,) in store.conn.execute(
        "SELECT d.at FROM outbox o JOIN decisions d ON d.id = o.decision_id WHERE d.root_id = ?"
        " AND d.watchlist = ? AND o.decision_id < ? AND o.status IN ('sent', 'pending')",
        (row.root_id, row.watchlist, row.decision_id),
    ):
        try:
            found.append(parse_time(at))
        except Exception:
            continue
    return max(found) if found else None


# -- state changes, each one transaction ----------------------------------------------------------
def mark_in_flight(store: Store, decision_id: int, now: datetime) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE decision_id = ?",
                     (f"{IN_FLIGHT} since {format_time(now)}", decision_id))


def record_reply(store: Store, decision_id: int, ts: str | None, thread_ts: str | None) -> None:
    """The thread reply of an update is posted; the root edit may still be outstanding."""
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET ts = ?, thread_ts = ?, last_error = NULL WHERE decision_id = ?",
                     (ts, thread_ts, decision_id))


def mark_sent(store: Store, row: OutboxRow, *, ts: str | None, thread_ts: str | None, now: datetime,
              new_thread: Thread | None = None, note: str | None = None) -> None:
    """Delivered: record where, and (for a storm's first message) its thread, in one transaction."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET status = 'sent', ts = ?, thread_ts = ?, sent_at = ?, last_error = ?"
            " WHERE decision_id = ?", (ts, thread_ts, format_time(now), note, row.decision_id),
        )
        if new_thread is not None and row.root_id:
            conn.execute(
                "INSERT INTO threads (root_id, watchlist, channel, ts) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(root_id, watchlist) DO UPDATE SET channel = excluded.channel, ts = excluded.ts",
                (row.root_id, row.watchlist, new_thread.channel, new_thread.ts),
            )


def set_status(store: Store, decision_id: int, status: str, note: str | None,
               next_attempt_at: datetime | None = None) -> None:
    with store.transaction() as conn:
        if next_attempt_at is None:
            conn.execute("UPDATE outbox SET status = ?, last_error = ? WHERE decision_id = ?",
                         (status, note, decision_id))
        else:
            conn.execute("UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = ?"
                         " WHERE decision_id = ?", (status, note, stamp(next_attempt_at), decision_id))


def counts(store: Store) -> dict[str, int]:
    """Outbox rows by status, for ``monitor status`` and /metrics."""
    return {s: int(n) for s, n in store.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status")}


def next_due(store: Store, after: datetime) -> datetime | None:
    """The earliest ``next_attempt_at`` later than ``after`` among rows still to go out."""
    r = store.conn.execute("SELECT min(next_attempt_at) FROM outbox WHERE status IN ('pending', 'held')"
                           " AND next_attempt_at > ?", (stamp(after),)).fetchone()
    return parse_time(r[0]) if r and r[0] else None
