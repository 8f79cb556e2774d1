"""``monitor status``: the watch-lists in force and their sources, each source's health (a feed
batch with its feeds' failures rolled up), X budget, open cascades, queued alerts, database size.

Times read as "3m ago" (``--json`` keeps the stored ISO times)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.config.settings import Config
from monitor.records.durations import duration_text
from monitor.records.mention import lenient_time
from monitor.store.database import Store


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


def collect(config: Config) -> dict[str, Any]:
    path = config.database_path
    store = Store(path, read_only=True)
    try:
        sizes = [p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        outbox = store.outbox_counts()
        in_force = store.watchlists_in_force()
        return {
            "database": str(path),
            "database_bytes": sum(sizes),
            "mentions": store.count("mentions"),
            "open_cascades": store.count_open_cascades(config.settings.detection.window),
            "alerted_cascades": store.count_alerted_cascades(),
            "alerts_queued": outbox.get("pending", 0) + outbox.get("held", 0),
            "alerts_sent": outbox.get("sent", 0),
            "alerts_failed": outbox.get("failed", 0),
            "watchlists": in_force,
            "watchlists_configured": sorted(config.watchlists),
            "sources": rolled_up([{**row, "detail": json.loads(row["detail"]) if row.get("detail") else None}
                                  for row in store.health()]),
        }
    finally:
        store.close()


def status(config: Config, *, as_json: bool = False, now: datetime | None = None) -> int:
    info = collect(config)
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    now = now or datetime.now(UTC)
    print(f"database   {info['database']} ({info['database_bytes'] / 1e6:.1f} MB, {info['mentions']} mentions)")
    print(f"cascades   {info['open_cascades']} open, {info['alerted_cascades']} alerted")
    print(f"alerts     {info['alerts_queued']} queued, {info['alerts_sent']} sent, {info['alerts_failed']} failed")
    _watchlists(info, now)
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
