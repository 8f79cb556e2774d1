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
                        for row in store.health()],
        }
    finally:
        store.close()


def status(config: Config, *, as_json: bool = False) -> int:
    info = collect(config)
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"database   {info['database']} ({info['database_bytes'] / 1e6:.1f} MB, {info['mentions']} mentions)")
    print(f"cascades   {info['open_cascades']} open, {info['alerted_cascades']} alerted")
    print(f"alerts     {info['alerts_queued']} queued, {info['alerts_sent']} sent, {info['alerts_failed']} failed")
    if not info["sources"]:
        print("sources    none polled yet")
    for s in info["sources"]:
        state = "ok" if not s["consecutive_failures"] else f"FAILING x{s['consecutive_failures']}"
        error = f"; last error {s.get('last_error_at') or '-'}: {s['last_error']}" if s["last_error"] else ""
        print(f"source     {s['source_key']}: {state}; last success {s['last_success'] or '-'}; "
              f"items {s['items_seen']}{error}"
              + (f"; paused until {s['paused_until']}" if s.get("paused_until") else ""))
        budget = (s.get("detail") or {}).get("budget")
        if isinstance(budget, dict):
            print(f"           X budget: {budget.get('used')} of {budget.get('budget')} reads used in "
                  f"{budget.get('month')}; {budget.get('available_now')} available now, "
                  f"{budget.get('left_this_month')} left this month")
    return 0
