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
from collections.abc import Callable
from datetime import datetime
from typing import Any

from monitor.records.mention import format_time
from monitor.store.base import stamp
from monitor.store.database import Store
from monitor.store.outbox import IN_FLIGHT, UNCERTAIN, OutboxRow, Thread

__all__ = ["IN_FLIGHT", "UNCERTAIN", "OutboxRow", "Thread", "stamp", "record_decisions", "queue_message", "rows",
           "get", "thread_for", "earlier_unsent", "later_update_queued", "last_alert_at", "mark_in_flight",
           "record_reply", "mark_sent", "set_status", "counts", "next_due"]


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
    with store.transaction():
        for d in decisions:
            did = store.add_decision(
                at=str(d.get("at") or format_time(now)), name=str(d.get("decision") or "unnamed"),
                kind=str(d.get("kind") or "cascade"), level=d.get("level"), watchlist=str(d.get("watchlist") or ""),
                root_id=d.get("root_id"), payload=_json(d))
            ids.append(did)
            if d.get("level"):
                store.queue_delivery(did, channel_for(str(d.get("watchlist") or "")), now)
    return ids


def queue_message(store: Store, payload: dict[str, Any], *, name: str, channel: str,
                  now: datetime, root_id: str) -> int:
    """Queue a message that is not an alert line (a digest) through the same outbox.

    Its decision row has ``kind`` 'digest' and ``level`` 'digest'. Call inside the transaction that
    also records why it was queued.
    """
    with store.transaction():
        did = store.add_decision(at=format_time(now), name=name, kind="digest", level="digest",
                                 watchlist=str(payload.get("watchlist") or ""), root_id=root_id, payload=_json(payload))
        store.queue_delivery(did, channel, now)
    return did


def rows(store: Store, status: str, *, due_by: datetime | None = None) -> list[OutboxRow]:
    """Outbox rows in ``status`` (due by ``due_by`` if given), oldest decision first."""
    return store.outbox_rows(status, due_by=due_by)


def get(store: Store, decision_id: int) -> OutboxRow | None:
    return store.outbox_row(decision_id)


def thread_for(store: Store, root_id: str | None, watchlist: str) -> Thread | None:
    if not root_id:
        return None
    return store.thread(root_id, watchlist)


def earlier_unsent(store: Store, row: OutboxRow) -> bool:
    """Is an older alert of the same storm still waiting? (Then this one waits behind it.)"""
    if not row.root_id:
        return False
    return store.pending_before(row.root_id, row.watchlist, row.decision_id)


def later_update_queued(store: Store, row: OutboxRow, now: datetime) -> bool:
    """Is a newer update of the same storm due now? (Then it edits the root; this one need not.)"""
    return store.update_due_after(row.root_id, row.watchlist, row.decision_id, now)


def last_alert_at(store: Store, row: OutboxRow) -> datetime | None:
    """When the previous alert of this storm was decided (sent or still queued), for the cooldown."""
    found = store.alert_times_before(row.root_id, row.watchlist, row.decision_id)
    return max(found) if found else None


# -- state changes, each one transaction ----------------------------------------------------------
def mark_in_flight(store: Store, decision_id: int, now: datetime) -> None:
    store.count_attempt(decision_id, f"{IN_FLIGHT} since {format_time(now)}")


def record_reply(store: Store, decision_id: int, ts: str | None, thread_ts: str | None) -> None:
    """The thread reply of an update is posted; the root edit may still be outstanding."""
    store.record_reply(decision_id, ts, thread_ts)


def mark_sent(store: Store, row: OutboxRow, *, ts: str | None, thread_ts: str | None, now: datetime,
              new_thread: Thread | None = None, note: str | None = None) -> None:
    """Delivered: record where, and (for a storm's first message) its thread, in one transaction."""
    with store.transaction():
        store.mark_sent(row.decision_id, ts=ts, thread_ts=thread_ts, now=now, note=note)
        if new_thread is not None and row.root_id:
            store.save_thread(row.root_id, row.watchlist, new_thread)


def set_status(store: Store, decision_id: int, status: str, note: str | None,
               next_attempt_at: datetime | None = None) -> None:
    store.set_outbox_status(decision_id, status, note, next_attempt_at)


def counts(store: Store) -> dict[str, int]:
    """Outbox rows by status, for ``monitor status`` and /metrics."""
    return store.outbox_counts()


def next_due(store: Store, after: datetime) -> datetime | None:
    """The earliest ``next_attempt_at`` later than ``after`` among rows still to go out."""
    return store.next_due(after)
