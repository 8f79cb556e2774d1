"""``monitor status``: each source's health, X budget, open cascades, queued alerts, database size."""

from __future__ import annotations

import json
from typing import Any

from monitor.clock import Clock, SystemClock
from monitor.config.settings import Config
from monitor.records.mention import format_time, lenient_time
from monitor.store.database import Store

TIMES = ("last_success", "last_error_at", "last_items_at", "paused_until")


def _time(value: Any) -> str | None:
    """A stored time in the records' form (the store stamps microseconds; people read seconds)."""
    t = lenient_time(value)
    return format_time(t.replace(microsecond=0)) if t is not None else value


def collect(config: Config, clock: Clock | None = None) -> dict[str, Any]:
    now = (clock or SystemClock()).now()
    path = config.database_path
    store = Store(path, read_only=True)
    try:
        sizes = [p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        outbox = store.outbox_counts()
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
            "sources": [{**row, **{k: _time(row.get(k)) for k in TIMES},
                         "detail": json.loads(row["detail"]) if row.get("detail") else None}
                        for row in health],
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


def status(config: Config, *, as_json: bool = False) -> int:
    info = collect(config)
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"database   {info['database']} ({info['database_bytes'] / 1e6:.1f} MB, {info['mentions']} mentions)")
    print(f"cascades   {info['open_cascades']} open, {info['alerted_cascades']} alerted")
    print(f"alerts     {info['alerts_queued']} queued, {info['alerts_sent']} sent, {info['alerts_failed']} failed")
    if info.get("x_spend"):
        print(spend_line(info["x_spend"]))
    if not info["sources"]:
        print("sources    none polled yet")
    for s in info["sources"]:
        state = "ok" if not s["consecutive_failures"] else f"FAILING x{s['consecutive_failures']}"
        error = f"; last error {s.get('last_error_at') or '-'}: {s['last_error']}" if s["last_error"] else ""
        print(f"source     {s['source_key']}: {state}; last success {s['last_success'] or '-'}; "
              f"items {s['items_seen']}{error}"
              + (f"; paused until {s['paused_until']}" if s.get("paused_until") else ""))
        for line in _open_network_detail(s["source_key"], s.get("detail") or {}):
            print(f"           {line}")
        budget = (s.get("detail") or {}).get("budget")
        if isinstance(budget, dict):
            print(f"           X budget: {budget.get('used')} of {budget.get('budget')} reads used in "
                  f"{budget.get('month')}; {budget.get('available_now')} available now, "
                  f"{budget.get('left_this_month')} left this month")
    return 0


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
