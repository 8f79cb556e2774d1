"""``monitor status``: the watch-lists in force and their sources, each source's health (a feed
batch with its feeds' failures rolled up), X budget, open cascades, queued alerts, database size.

Times read as "3m ago" (``--json`` keeps the stored ISO times)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.clock import Clock, SystemClock
from monitor.config.settings import Config
from monitor.records.durations import duration_text
from monitor.records.mention import format_time, lenient_time, time_text
from monitor.store.opening import open_store


def ago(value: str | None, now: datetime) -> str:
    """A stored time as people read it: "just now", "3m ago", "2h05m ago", "3d04h ago", "in 5m"; "-"
    when absent, the stored text when unreadable."""
    when = lenient_time(value)
    if when is None:
        return value or "-"
    delta = now - when
    future = delta.total_seconds() < 0
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    if seconds < 86400:
        text = duration_text(seconds, "clock")
    else:
        text = f"{int(seconds // 86400)}d{int(seconds % 86400 // 3600):02d}h"
    return f"in {text}" if future else f"{text} ago"


def rolled_up(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each source row with ``feeds`` and ``feeds_failing`` added for a batch whose feeds report
    their own health (rows whose detail names it in ``part_of``)."""
    parts: dict[str, list[dict[str, Any]]] = {}
    for s in sources:
        parent = (s.get("detail") or {}).get("part_of")
        if isinstance(parent, str):
            parts.setdefault(parent, []).append(s)
    out = []
    for s in sources:
        children = parts.get(s["source_key"])
        if children:
            s = {**s, "feeds": len(children),
                 "feeds_failing": sorted(c["source_key"] for c in children if c["consecutive_failures"])}
        out.append(s)
    return out


TIMES = ("last_success", "last_error_at", "last_items_at", "paused_until")


def _time(value: Any) -> str | None:
    """A stored time in the records' form (the store stamps microseconds; people read seconds)."""
    t = lenient_time(value)
    return format_time(t.replace(microsecond=0)) if t is not None else value


def collect(config: Config, clock: Clock | None = None) -> dict[str, Any]:
    now = (clock or SystemClock()).now()
    path = config.database_path
    store = open_store(config, read_only=True)
    try:
        sizes = [] if config.database_is_url else [
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        outbox = store.outbox_counts()
        in_force = store.watchlists_in_force()
        health = store.health()
        return {
            "database": str(path),
            "database_bytes": sum(sizes),
            "mentions": store.count("mentions"),
            "open_cascades": store.count_open_cascades(config.settings.detection.window, now),
            "alerted_cascades": store.count_alerted_cascades(),
            "alerts_queued": outbox.get("pending", 0) + outbox.get("held", 0),
            "alerts_sent": outbox.get("sent", 0),
            "alerts_failed": outbox.get("failed", 0),
            "instances": [{"instance": i.instance, "host": i.host, "pid": i.pid,
                           "started_at": time_text(i.started_at), "heartbeat_at": time_text(i.heartbeat_at)}
                          for i in store.instances()],
            "leases": [{"name": le.name, "holder": le.holder, "acquired_at": time_text(le.acquired_at),
                        "renewed_at": time_text(le.renewed_at), "expires_at": time_text(le.expires_at)}
                       for le in store.leases()],
            "watchlists": in_force,
            "watchlists_configured": sorted(config.watchlists),
            "sources": rolled_up([{**row, **{k: _time(row.get(k)) for k in TIMES},
                                   "detail": json.loads(row["detail"]) if row.get("detail") else None}
                                  for row in health]),
            "x_spend": x_spend(health),
        }
    finally:
        store.close()


def x_spend(health: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The X spend of this month, every X source together, as the X source polled last saw it."""
    latest: tuple[str, dict[str, Any]] | None = None
    reported: dict[str, Any] | None = None  # X's own count, which only the lookup source asks for
    for row in health:
        detail = json.loads(row["detail"]) if row.get("detail") else {}
        spend = detail.get("spend") if isinstance(detail, dict) else None
        if not isinstance(spend, dict) or not row.get("last_success"):
            continue
        if isinstance(spend.get("x_reported"), dict):
            reported = spend["x_reported"]
        if latest is None or row["last_success"] > latest[0]:
            latest = (row["last_success"], spend)
    if latest is None:
        return None
    return {**latest[1], "x_reported": reported} if reported else latest[1]


def spend_line(spend: dict[str, Any]) -> str:
    budget = spend.get("budget_usd")
    of = f" of ${budget:,.2f}" if budget is not None else " (no money budget set)"
    allowed = spend.get("allowed_so_far_usd")
    pace = f", ${allowed:,.2f} allowed so far" if allowed is not None else ""
    projected = spend.get("projected_usd")
    line = (f"X spend    ${spend.get('spent_usd', 0):,.2f}{of} in {spend.get('month')}{pace}; projected month "
            f"${projected if projected is not None else 0:,.2f}; {spend.get('posts', 0)} post reads "
            f"({spend.get('free_rereads', 0)} re-reads free), {spend.get('users', 0)} user reads, "
            f"{spend.get('count_requests', 0)} count requests")
    x = spend.get("x_reported")
    if isinstance(x, dict) and "project_usage" in x:
        line += f"; X reports {x['project_usage']} of {x.get('project_cap') or '?'} post reads this billing cycle"
    return line


def status(config: Config, *, as_json: bool = False, now: datetime | None = None) -> int:
    info = collect(config)
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    now = now or datetime.now(UTC)
    size = f"{info['database_bytes'] / 1e6:.1f} MB, " if not config.database_is_url else ""
    print(f"database   {info['database']} ({size}{info['mentions']} mentions)")
    print(f"cascades   {info['open_cascades']} open, {info['alerted_cascades']} alerted")
    print(f"alerts     {info['alerts_queued']} queued, {info['alerts_sent']} sent, {info['alerts_failed']} failed")
    for i in info["instances"]:
        beat = lenient_time(i["heartbeat_at"])
        age = ago(i["heartbeat_at"], now) if beat else "never"
        held = [le["name"] for le in info["leases"] if le["holder"] == i["instance"]]
        print(f"instance   {i['instance']}: heartbeat {age}; leases {', '.join(held) or 'none'}")
    for le in info["leases"]:
        expires = lenient_time(le["expires_at"])
        state = "EXPIRED" if expires and expires < now else "until " + (le["expires_at"] or "-")
        print(f"lease      {le['name']}: {le['holder']}, {state}")
    _watchlists(info, now)
    if info.get("x_spend"):
        print(spend_line(info["x_spend"]))
    if not info["sources"]:
        print("sources    none polled yet")
    for s in info["sources"]:
        if (s.get("detail") or {}).get("part_of") and not s["consecutive_failures"]:
            continue  # a healthy feed: its batch's line counts it
        print(f"source     {s['source_key']}: {_state(s)}; last success {ago(s['last_success'], now)}; "
              f"items {s['items_seen']}"
              + (f"; last error {ago(s.get('last_error_at'), now)}: {s['last_error']}" if s["last_error"] else "")
              + (f"; paused until {s['paused_until']} ({ago(s['paused_until'], now)})"
                 if s.get("paused_until") else ""))
        budget = (s.get("detail") or {}).get("budget")
        if isinstance(budget, dict):
            print(f"           X budget: {budget.get('used')} of {budget.get('budget')} reads used in "
                  f"{budget.get('month')}; {budget.get('available_now')} available now, "
                  f"{budget.get('left_this_month')} left this month")
        for line in _open_network_detail(s["source_key"], s.get("detail") or {}):
            print(f"           {line}")
    return 0


def _state(s: dict[str, Any]) -> str:
    if s["consecutive_failures"]:
        return f"FAILING x{s['consecutive_failures']}"
    failing, feeds = s.get("feeds_failing"), s.get("feeds")
    if failing and len(failing) == feeds:
        return f"FAILING: all {feeds} feeds fail"
    if failing:
        return f"DEGRADED: {len(failing)} of {feeds} feeds fail"
    return "ok"


def _watchlists(info: dict[str, Any], now: datetime) -> None:
    in_force = info["watchlists"]
    if not in_force:
        names = ", ".join(info["watchlists_configured"]) or "none"
        print(f"watch-list none in force yet (no 'monitor run' has loaded the config); configured: {names}")
        return
    for w in in_force:
        print(f"watch-list {w['name']}: sources {', '.join(w['sources']) or 'none'}; "
              f"loaded {ago(w['loaded_at'], now)}")
    pending = sorted(set(info["watchlists_configured"]) - {w["name"] for w in in_force})
    if pending:
        print(f"watch-list not yet in force (the next reload loads them): {', '.join(pending)}")


def _open_network_detail(key: str, detail: dict[str, Any]) -> list[str]:
    """What the Bluesky, Mastodon and Hacker News sources' last poll said, in words."""
    if key.startswith("bluesky:") and "cursor" in detail:
        return [f"Jetstream: cursor {detail['cursor']} ({detail.get('lag_seconds')}s behind); last poll read "
                f"{detail.get('events')} events, kept {detail.get('kept')}; stopped: {detail.get('stopped')}"]
    if key.startswith("mastodon:") and "window_used" in detail:
        remaining = detail.get("rate_limit_remaining")
        return [f"Mastodon: {detail['window_used']} requests this rate window"
                + (f", {remaining} left by the instance's count" if remaining is not None else "")
                + f"; {detail.get('threads', 0)} thread(s) followed; search {'on' if detail.get('search') else 'off'}"]
    if key.startswith("hn:") and "hour_used" in detail:
        return [f"Hacker News: {detail['hour_used']} requests this hour; {detail.get('threads', 0)} thread(s) followed"]
    return []

