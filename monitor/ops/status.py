"""``monitor status``: each source's health, X budget, open cascades, queued alerts, database size."""

from __future__ import annotations

import json
from typing import Any

from monitor.config.settings import Config
from monitor.store.database import Store


def collect(config: Config) -> dict[str, Any]:
    path = config.database_path
    store = Store(path, read_only=True)
    try:
        sizes = [p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        outbox = store.outbox_counts()
        return {
            "database": str(path),
            "database_bytes": sum(sizes),
            "mentions": store.count("mentions"),
            "open_cascades": store.count_open_cascades(config.settings.detection.window),
            "alerted_cascades": store.count_alerted_cascades(),
            "alerts_queued": outbox.get("pending", 0) + outbox.get("held", 0),
            "alerts_sent": outbox.get("sent", 0),
            "alerts_failed": outbox.get("failed", 0),
            "sources": [{**row, "detail": json.loads(row["detail"]) if row.get("detail") else None}
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
