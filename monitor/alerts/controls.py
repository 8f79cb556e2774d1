"""What a PR team needs beside the figures: the next step, who has it, its state, and the buttons.

render.py lays out the figures; the sender adds a ``Controls`` built here to each storm message:

* **Next step** from the watch-list's ``playbook`` (first matching step) or the default playbook
  below. Its ``who`` is operator config, shown as plain text (escaped like any text, so
  "@billing-lead" pings nobody); only a ``slack_id`` the operator configured becomes a mention.
* **State**: owner, status, when it started and its age, the growth since the last update in words.
* **Buttons** (``action_id`` -> action): *Take it*, *Acknowledge*, *Mute 24h*, *Resolved*, and an
  optional note field that *Resolved* reads from the message's state. Their value carries the
  storm (root id and watch-list) so an action never depends on which message was pressed.
  Without an app token there are no buttons, and the message says how to turn them on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.alerts.escape import escape_inline, truncate
from monitor.config.settings import PlaybookStep, Watchlist
from monitor.records.mention import parse_time
from monitor.store.actions import AlertState

# The labels are a contract (issue 17): keep them exactly.
LABELS = {"take": "Take it", "acknowledge": "Acknowledge", "mute": "Mute 24h", "resolve": "Resolved"}
ACTION_IDS = {f"monitor_{a}": a for a in LABELS}
NOTE_BLOCK = "monitor_note"
NOTE_ACTION = "monitor_note_input"
ENABLE_HINT = ("Buttons are off: set ${env} to the Slack app's app-level token (xapp-..., Socket Mode) to "
               "take, acknowledge, mute or resolve this storm from Slack; see docs/slack.md")

DEFAULT_PLAYBOOK = [
    PlaybookStep(vip=True, who="PR duty", do="escalate now: a journalist or VIP is involved; agree the "
                                            "response before anyone replies in public"),
    PlaybookStep(kind="spike", who="Support lead", do="check for an outage and post a status update"),
    PlaybookStep(specific=True, who="Support lead", do="contact the customer directly and make it right; "
                                                      "reply in public once, briefly"),
    PlaybookStep(who="PR duty", do="watch it and reply only if it keeps growing; no deleting or arguing"),
]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def next_step(d: dict[str, Any], watchlist: Watchlist | None) -> PlaybookStep:
    """The first step of the watch-list's playbook (then the default one) that matches alert ``d``."""
    c = _dict(d.get("complaint"))
    facts = {"category": str(c.get("category") or "").lower() or None, "specific": c.get("specific"),
             "vip": bool(d.get("vip")), "kind": "spike" if d.get("kind") == "spike" else "cascade"}
    for step in [*(watchlist.playbook if watchlist else []), *DEFAULT_PLAYBOOK]:
        if step.category is not None and step.category.lower() != facts["category"]:
            continue
        if step.specific is not None and step.specific is not facts["specific"]:
            continue
        if step.vip is not None and step.vip != facts["vip"]:
            continue
        if step.kind is not None and step.kind != facts["kind"]:
            continue
        return step
    return DEFAULT_PLAYBOOK[-1]


def step_text(step: PlaybookStep, *, markup: bool = True) -> str:
    """``who: do`` for a message; ``who`` becomes a mention only through a configured ``slack_id``."""
    who = escape_inline(step.who)
    if markup and step.slack_id:
        who = (f"<!subteam^{step.slack_id}>" if step.slack_id.startswith("S") else f"<@{step.slack_id}>") \
            + f" ({who})"
    return f"{who}: {escape_inline(step.do)}"


def span_words(seconds: float) -> str:
    """38 s -> '38 s', 1200 -> '20 min', 5400 -> '1 h 30 min', 200000 -> '2 d 7 h'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    m = s // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h" + (f" {m} min" if m else "")
    d, h = divmod(h, 24)
    return f"{d} d" + (f" {h} h" if h else "")


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(str(value)) if value else None
    except Exception:
        return None


def started(d: dict[str, Any], now: datetime) -> str:
    """'started 09:02 UTC, 38 min ago' from the root post's time (a spike's start), '' when unknown."""
    root = _dict(d.get("root"))
    at = _time(root.get("created_at") or d.get("started_at"))
    if at is None:
        return ""
    day = "" if at.date() == now.date() else f"{at:%d %b} "
    return f"started {day}{at:%H:%M} UTC, {span_words((now - at).total_seconds())} ago"


def growth_words(d: dict[str, Any], previous: dict[str, Any] | None, prev_at: str | None, now: datetime) -> str:
    """'+120 in 20 min' since the last delivered update (or since the start for a first alert)."""
    size = d.get("reactions")
    if isinstance(size, bool) or not isinstance(size, int | float):
        return ""
    if previous is not None and isinstance(previous.get("reactions"), int | float):
        since = _time(prev_at)
        gain = int(size - previous["reactions"])
        when = f" in {span_words((now - since).total_seconds())}" if since else ""
        return f"{gain:+,}{when} since the last update"
    begin = started(d, now)
    return f"{int(size):+,} since it started" if begin else ""


def state_text(state: AlertState | None, now: datetime, muted_until: datetime | None) -> str:
    """'*Status:* taken by Dana (09:40 UTC) · acknowledged' in mrkdwn (names escaped)."""
    status = state.status if state else "open"
    bits = [f"*Status:* {status}"]
    if state and state.owner_name:
        bits.append(f"owner {escape_inline(state.owner_name)}")
    elif state and state.owner:
        bits.append(f"owner {escape_inline(state.owner)}")
    else:
        bits.append("nobody has it yet")
    if state and state.status == "resolved" and state.note:
        bits.append(f"note “{truncate(escape_inline(state.note), 300)}”")
    if muted_until is not None and muted_until > now:
        bits.append(f"muted until {muted_until:%H:%M} UTC")
    return " · ".join(bits)


def buttons(root_id: str, watchlist: str, *, resolved: bool) -> list[dict[str, Any]]:
    """The note field and the four buttons; their value names the storm."""
    value = json.dumps({"root": root_id, "wl": watchlist}, separators=(",", ":"))
    if len(value) > 2000:  # Slack's limit for a button value
        value = value[:2000]

    def button(action: str, style: str | None = None) -> dict[str, Any]:
        b: dict[str, Any] = {"type": "button", "action_id": f"monitor_{action}", "value": value,
                             "text": {"type": "plain_text", "text": LABELS[action], "emoji": False}}
        if style:
            b["style"] = style
        return b

    note = {"type": "input", "block_id": NOTE_BLOCK, "optional": True,
            "label": {"type": "plain_text", "text": "Note for Resolved (optional)"},
            "element": {"type": "plain_text_input", "action_id": NOTE_ACTION, "max_length": 300}}
    row = {"type": "actions", "block_id": "monitor_actions",
           "elements": [button("take", "primary"), button("acknowledge"), button("mute"),
                        button("resolve", None if resolved else "danger")]}
    return [note, row]


@dataclass(frozen=True, slots=True)
class Controls:
    """What the sender adds to a storm message: lines (mrkdwn-safe), buttons, context parts."""

    lines: list[str] = field(default_factory=list)       # a section under the figures
    blocks: list[dict[str, Any]] = field(default_factory=list)  # the buttons, when on
    context: list[str] = field(default_factory=list)     # appended to the footer


def build(d: dict[str, Any], *, watchlist: Watchlist | None, state: AlertState | None, now: datetime,
          previous: dict[str, Any] | None = None, prev_at: str | None = None, interactive: bool = False,
          muted_until: datetime | None = None, markup: bool = True, with_buttons: bool = True,
          app_token_env: str = "SLACK_APP_TOKEN") -> Controls:
    """The controls for alert ``d``; ``with_buttons=False`` for thread replies (the root has them)."""
    lines = [f"*Next step:* {step_text(next_step(d, watchlist), markup=markup)}"]
    when = started(d, now)
    grew = growth_words(d, previous, prev_at, now)
    if when or grew:
        lines.append(" · ".join(x for x in (when[:1].upper() + when[1:], f"growth {grew}" if grew else "") if x))
    lines.append(state_text(state, now, muted_until))
    blocks: list[dict[str, Any]] = []
    context: list[str] = []
    root_id, wl = d.get("root_id"), d.get("watchlist")
    if with_buttons and isinstance(root_id, str) and isinstance(wl, str):
        if interactive:
            blocks = buttons(root_id, wl, resolved=bool(state and state.status == "resolved"))
        elif markup:
            context.append(ENABLE_HINT.replace("{env}", escape_inline(app_token_env)))
    return Controls(lines, blocks, context)


MUTE_FOR = timedelta(hours=24)
