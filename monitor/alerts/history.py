"""``monitor alerts``: the storms that alerted, and one storm's history, as dicts (``--json``) and text.

A storm is a root id in a watch-list. Its state is what the buttons set (open, acknowledged,
resolved; open when nobody pressed one); its size and age come from its latest alert line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.alerts.controls import span_words
from monitor.records.mention import parse_time
from monitor.store.database import Store


def _age(at: Any, now: datetime) -> str:
    try:
        return span_words((now - parse_time(str(at))).total_seconds())
    except Exception:
        return "?"


def _link(channel: str | None, ts: str | None) -> str | None:
    # Slack's permalink form (``/archives/<channel>/p<ts without the dot>``), relative to the workspace.
    return f"/archives/{channel}/p{ts.replace('.', '')}" if channel and ts else None


def storms(store: Store, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """Every storm with an alert since ``since``, the most recent first."""
    out = []
    for r in store.storms(since):
        state = store.alert_state(r.root_id, r.watchlist)
        root = r.payload.get("root")
        root = root if isinstance(root, dict) else {}
        started = root.get("created_at") or r.payload.get("started_at") or r.first_at
        out.append({
            "root_id": r.root_id, "watchlist": r.watchlist, "kind": r.payload.get("kind"),
            "state": state.status if state else "open", "owner": (state.owner_name or state.owner) if state else None,
            "size": r.payload.get("reactions"), "started_at": started, "age": _age(started, now),
            "first_alert_at": r.first_at, "last_alert_at": r.last_at, "alerts": r.alerts,
            "thread": _link(r.channel, r.ts),
        })
    return out


def storm(store: Store, root_id: str, now: datetime) -> dict[str, Any] | None:
    """One storm's history (every watch-list it alerted in), or None when it never was decided on."""
    decisions = store.storm_decisions(root_id)
    if not decisions:
        return None
    lists = sorted({d.watchlist for d in decisions})
    states = {wl: store.alert_state(root_id, wl) for wl in lists}
    threads = {wl: store.thread(root_id, wl) for wl in lists}
    return {
        "root_id": root_id,
        "watchlists": [{
            "watchlist": wl, "state": states[wl].status if states[wl] else "open",  # type: ignore[union-attr]
            "owner": (states[wl].owner_name or states[wl].owner) if states[wl] else None,  # type: ignore[union-attr]
            "note": states[wl].note if states[wl] else None,  # type: ignore[union-attr]
            "thread": _link(threads[wl].channel, threads[wl].ts) if threads[wl] else None,  # type: ignore[union-attr]
        } for wl in lists],
        "decisions": [{"id": d.id, "at": d.at, "decision": d.name, "level": d.level, "watchlist": d.watchlist,
                       "reactions": d.payload.get("reactions"), "reason": d.payload.get("reason"),
                       "delivery": d.status, "ts": d.ts, "note": d.note} for d in decisions],
        "actions": [{"at": a.at, "action": a.action, "by": a.user_name or a.user_id, "user_id": a.user_id,
                     "watchlist": a.watchlist, "note": a.note} for a in store.alert_actions(root_id)],
    }


def storms_text(rows: list[dict[str, Any]], since: str) -> str:
    if not rows:
        return f"No alerts in the last {since}."
    head = f"{'ROOT ID':<28} {'WATCH-LIST':<14} {'STATE':<13} {'OWNER':<14} {'SIZE':>6}  AGE"
    lines = [head]
    for r in rows:
        size = r["size"] if isinstance(r["size"], int | float) else "?"
        lines.append(f"{str(r['root_id'])[:28]:<28} {r['watchlist'][:14]:<14} {r['state']:<13} "
                     f"{(r['owner'] or '-')[:14]:<14} {size:>6}  {r['age']}")
    lines.append("Details: monitor alerts --show ROOT_ID")
    return "\n".join(lines)


def storm_text(s: dict[str, Any]) -> str:
    lines = [f"Storm {s['root_id']}"]
    for w in s["watchlists"]:
        owner = f", owner {w['owner']}" if w["owner"] else ""
        note = f", note: {w['note']}" if w["note"] else ""
        thread = f", thread {w['thread']}" if w["thread"] else ""
        lines.append(f"  {w['watchlist']}: {w['state']}{owner}{note}{thread}")
    lines.append("Decisions:")
    for d in s["decisions"]:
        delivery = f" [{d['delivery']}]" if d["delivery"] else ""
        lines.append(f"  #{d['id']} {d['at']} {d['decision']} ({d['watchlist']}, {d['reactions']} reactions){delivery}")
    lines.append("Actions:" if s["actions"] else "Actions: none yet")
    for a in s["actions"]:
        note = f": {a['note']}" if a["note"] else ""
        lines.append(f"  {a['at']} {a['action']} by {a['by']} ({a['watchlist']}){note}")
    return "\n".join(lines)
