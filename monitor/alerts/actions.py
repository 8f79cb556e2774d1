"""What a button press does to a storm, and what *Resolved* does to its later updates.

A press (``Press``, parsed from Slack's ``block_actions`` payload) is recorded with who and when and
applied to the storm's state in one transaction, keyed by the press itself (the action's
``action_ts``, the user and the button): Slack redelivers an envelope it thinks was not
acknowledged (``retry_attempt`` > 0), and the same press is then applied once.

* *Take it*: the presser becomes the owner; an open storm becomes ``acknowledged``.
* *Acknowledge*: the storm is ``acknowledged`` (the owner is unchanged).
* *Mute 24h*: a silence on this storm in this watch-list for 24 hours (``monitor silence --list``).
* *Resolved*: the storm is ``resolved``, with the presser's optional note and the storm's size then.
  Its thread updates stop, unless it grows past ``alert.growth_factor`` times that size: then it
  is reopened (recorded as monitor's own action) and the update says so in the thread.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.alerts.controls import ACTION_IDS, MUTE_FOR, NOTE_ACTION, NOTE_BLOCK
from monitor.store.actions import AlertState
from monitor.store.database import Store

log = logging.getLogger("monitor.alerts")


@dataclass(frozen=True, slots=True)
class Press:
    action: str             # take | acknowledge | mute | resolve
    root_id: str
    watchlist: str
    user_id: str
    user_name: str
    note: str | None
    key: str                # the same for every delivery of this one press
    channel: str | None     # where the pressed message is
    ts: str | None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def presses(payload: dict[str, Any]) -> list[Press]:
    """The presses of our buttons in a ``block_actions`` payload; anything else gives []."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return []
    user = _dict(payload.get("user"))
    uid = str(user.get("id") or "")
    uname = str(user.get("name") or user.get("username") or uid)
    channel = _dict(payload.get("channel"))
    message = _dict(payload.get("container"))
    note = _note(payload)
    found = []
    for a in payload.get("actions") or []:
        if not isinstance(a, dict) or a.get("action_id") not in ACTION_IDS:
            continue
        try:
            value = json.loads(str(a.get("value") or ""))
            root_id, wl = str(value["root"]), str(value["wl"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a button press whose value is not monitor's")
            continue
        action = ACTION_IDS[str(a["action_id"])]
        key = f"{a.get('action_ts') or payload.get('trigger_id') or ''}:{uid}:{a['action_id']}"
        found.append(Press(action, root_id, wl, uid, uname, note if action == "resolve" else None, key,
                           str(channel.get("id") or message.get("channel_id") or "") or None,
                           str(message.get("message_ts") or "") or None))
    return found


def _note(payload: dict[str, Any]) -> str | None:
    values = _dict(_dict(payload.get("state")).get("values"))
    text = _dict(_dict(values.get(NOTE_BLOCK)).get(NOTE_ACTION)).get("value")
    return str(text).strip()[:300] or None if text else None


def apply(store: Store, press: Press, now: datetime, *, size: int | None) -> bool:
    """Record and apply ``press`` (``size``: the storm's reactions now). False: already applied."""
    state = store.alert_state(press.root_id, press.watchlist)
    kwargs: dict[str, Any] = {}
    if press.action == "take":
        kwargs["owner"] = (press.user_id, press.user_name)
        if state is None or state.status == "open":
            kwargs["status"] = "acknowledged"
    elif press.action == "acknowledge":
        kwargs["status"] = "acknowledged"
    elif press.action == "resolve":
        kwargs.update(status="resolved", resolved_size=size)
    with store.transaction():
        done = store.record_alert_action(
            root_id=press.root_id, watchlist=press.watchlist, action=press.action, user_id=press.user_id,
            user_name=press.user_name, at=now, note=press.note, dedupe_key=press.key, **kwargs)
        if done and press.action == "mute":
            store.add_silence(until=now + MUTE_FOR, watchlist=press.watchlist, root_id=press.root_id,
                              reason=f"Mute 24h pressed by {press.user_name}")
    return done


@dataclass(frozen=True, slots=True)
class AfterResolve:
    send: bool
    reopened: bool = False
    note: str | None = None


def judge_update(store: Store, root_id: str | None, watchlist: str, decision_id: int, size: Any,
                 growth_factor: float, now: datetime) -> AfterResolve:
    """Whether an update of a storm goes out: always unless it was resolved; after *Resolved* only
    once it grew past ``growth_factor`` times its size then, which reopens it."""
    state: AlertState | None = store.alert_state(root_id, watchlist) if root_id else None
    if state is None or state.status != "resolved" or root_id is None:
        return AfterResolve(True)
    base = state.resolved_size or 0
    if isinstance(size, int | float) and not isinstance(size, bool) and base and size >= base * growth_factor:
        who = state.owner_name or "the team"
        note = (f"Reopened: it grew from {base:,} to {int(size):,} reactions since it was resolved "
                f"(more than {growth_factor:g}×); {who} may want to look again")
        store.record_alert_action(root_id=root_id, watchlist=watchlist, action="reopen", user_id=None,
                                  user_name="monitor", at=now, note=note, dedupe_key=f"reopen:{decision_id}",
                                  status="open")
        return AfterResolve(True, reopened=True, note=note)
    return AfterResolve(False, note=f"resolved by {state.owner_name or 'the team'}: no thread updates until it "
                                    f"grows past {growth_factor:g}× its {base:,} reactions")
