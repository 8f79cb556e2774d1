"""The actions family: ``alert_states`` (each storm's owner and status, set from Slack's buttons) and
``alert_actions`` (every press, with who and when). monitor/alerts/actions.py decides what a press
does; this module only reads and writes it. Also the read side of ``monitor alerts``: the storms
that alerted, and one storm's decisions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.store.base import Tables, stamp


@dataclass(frozen=True, slots=True)
class AlertState:
    root_id: str
    watchlist: str
    status: str                 # open | acknowledged | resolved
    owner: str | None           # the Slack user id of whoever took it
    owner_name: str | None
    resolved_size: int | None   # the storm's size when it was resolved (the reopen rule grows from it)
    note: str | None            # the note given with Resolved
    updated_at: str


@dataclass(frozen=True, slots=True)
class AlertAction:
    root_id: str
    watchlist: str
    action: str                 # take | acknowledge | mute | resolve | reopen
    user_id: str | None         # None: monitor itself (a reopen)
    user_name: str | None
    at: str
    note: str | None


@dataclass(frozen=True, slots=True)
class StormRow:
    """One storm that alerted, as ``monitor alerts`` lists it."""

    root_id: str
    watchlist: str
    first_at: str
    last_at: str
    alerts: int
    payload: dict[str, Any]     # the latest alert line
    channel: str | None         # where its thread is, once posted
    ts: str | None


@dataclass(frozen=True, slots=True)
class StormDecision:
    id: int
    at: str
    name: str
    level: str | None
    watchlist: str
    payload: dict[str, Any]
    status: str | None          # its outbox status; None when it did not alert
    ts: str | None
    note: str | None


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class ActionTables(Tables):
    def record_alert_action(self, *, root_id: str, watchlist: str, action: str, user_id: str | None,
                            user_name: str | None, at: datetime, note: str | None, dedupe_key: str,
                            status: str | None = None, owner: tuple[str | None, str | None] | None = None,
                            resolved_size: int | None = None) -> bool:
        """Record one action and apply it to the storm's state, atomically. False (and nothing
        changed) when an action with ``dedupe_key`` was recorded before: a retried delivery.

        ``status`` and ``owner`` (user id, name) are set when given; ``resolved_size`` goes with a
        resolve (and is cleared by any other status)."""
        when = stamp(at)
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO alert_actions (root_id, watchlist, action, user_id, user_name, at, note, dedupe_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
                (root_id, watchlist, action, user_id, user_name, when, note, dedupe_key))
            if cur.rowcount == 0:
                return False
            conn.execute("INSERT INTO alert_states (root_id, watchlist, status, updated_at) VALUES (?, ?, 'open', ?)"
                         " ON CONFLICT (root_id, watchlist) DO NOTHING", (root_id, watchlist, when))
            if status is not None:
                conn.execute("UPDATE alert_states SET status = ?, resolved_size = ?, note = ?, updated_at = ?"
                             " WHERE root_id = ? AND watchlist = ?",
                             (status, resolved_size if status == "resolved" else None,
                              note if status == "resolved" else None, when, root_id, watchlist))
            if owner is not None:
                conn.execute("UPDATE alert_states SET owner = ?, owner_name = ?, updated_at = ?"
                             " WHERE root_id = ? AND watchlist = ?", (owner[0], owner[1], when, root_id, watchlist))
            return True

    def alert_state(self, root_id: str, watchlist: str) -> AlertState | None:
        """A storm's owner and status, or None when nobody pressed a button on it yet."""
        r = self.conn.execute("SELECT root_id, watchlist, status, owner, owner_name, resolved_size, note, updated_at"
                              " FROM alert_states WHERE root_id = ? AND watchlist = ?", (root_id, watchlist)).fetchone()
        return AlertState(*r) if r else None

    def alert_actions(self, root_id: str, watchlist: str | None = None) -> list[AlertAction]:
        """Every action on a storm (in every watch-list when ``watchlist`` is None), oldest first."""
        sql = "SELECT root_id, watchlist, action, user_id, user_name, at, note FROM alert_actions WHERE root_id = ?"
        args: list[Any] = [root_id]
        if watchlist is not None:
            sql += " AND watchlist = ?"
            args.append(watchlist)
        return [AlertAction(*r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def storms(self, since: datetime, limit: int = 200) -> list[StormRow]:
        """Storms with an alerting decision at or after ``since``, the most recent first."""
        rows = self.conn.execute(
            "SELECT d.root_id, d.watchlist, min(d.at), max(d.at), count(*), max(d.id) FROM decisions d"
            " JOIN outbox o ON o.decision_id = d.id WHERE d.root_id IS NOT NULL AND d.at >= ?"
            " AND d.kind <> 'digest' GROUP BY d.root_id, d.watchlist ORDER BY max(d.at) DESC LIMIT ?",
            (stamp(since), limit)).fetchall()
        out = []
        for root_id, watchlist, first, last, n, last_id in rows:
            (payload,) = self.conn.execute("SELECT payload FROM decisions WHERE id = ?", (last_id,)).fetchone()
            t = self.conn.execute("SELECT channel, ts FROM threads WHERE root_id = ? AND watchlist = ?",
                                  (root_id, watchlist)).fetchone()
            out.append(StormRow(root_id, watchlist, first, last, int(n), _loads(payload),
                                t[0] if t else None, t[1] if t else None))
        return out

    def storm_decisions(self, root_id: str) -> list[StormDecision]:
        """Every decision about ``root_id`` (in every watch-list), with its delivery, oldest first."""
        return [StormDecision(int(r[0]), r[1], r[2], r[3], r[4], _loads(r[5]), r[6], r[7], r[8]) for r in
                self.conn.execute(
                    "SELECT d.id, d.at, d.name, d.level, d.watchlist, d.payload, o.status, o.ts, o.last_error"
                    " FROM decisions d LEFT JOIN outbox o ON o.decision_id = d.id WHERE d.root_id = ?"
                    " ORDER BY d.id", (root_id,))]

    def first_sent_alert(self, root_id: str, watchlist: str) -> int | None:
        """The decision id of a storm's first delivered alert, or None."""
        r = self.conn.execute("SELECT min(d.id) FROM decisions d JOIN outbox o ON o.decision_id = d.id"
                              " WHERE d.root_id = ? AND d.watchlist = ? AND o.status = 'sent'",
                              (root_id, watchlist)).fetchone()
        return int(r[0]) if r and r[0] is not None else None

    def last_sent_alert(self, root_id: str, watchlist: str, before: int | None = None) -> StormDecision | None:
        """The latest delivered alert of a storm (decided before decision ``before`` when given)."""
        sql = ("SELECT d.id, d.at, d.name, d.level, d.watchlist, d.payload, o.status, o.ts, o.last_error"
               " FROM decisions d JOIN outbox o ON o.decision_id = d.id WHERE d.root_id = ? AND d.watchlist = ?"
               " AND o.status = 'sent'")
        args: list[Any] = [root_id, watchlist]
        if before is not None:
            sql += " AND d.id < ?"
            args.append(before)
        r = self.conn.execute(sql + " ORDER BY d.id DESC LIMIT 1", args).fetchone()
        return StormDecision(int(r[0]), r[1], r[2], r[3], r[4], _loads(r[5]), r[6], r[7], r[8]) if r else None
