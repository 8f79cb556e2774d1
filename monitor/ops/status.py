"""``monitor status``: each source's health, X budget, open cascades, queued alerts, database size."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.config.settings import Config
from monitor.records.mention import format_time, lenient_time
from monitor.store.opening import open_store


def collect(config: Config) -> dict[str, Any]:
    path = config.database_path
    store = open_store(config, read_only=True)
    try:
        sizes = [] if config.database_is_url else [
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
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
            "instances": [{"instance": i.instance, "host": i.host, "pid": i.pid,
                           "started_at": _t(i.started_at), "heartbeat_at": _t(i.heartbeat_at)}
                          for i in store.instances()],
            "leases": [{"name": le.name, "holder": le.holder, "acquired_at": _t(le.acquired_at),
                        "renewed_at": _t(le.renewed_at), "expires_at": _t(le.expires_at)} for le in store.leases()],
            "sources": [{**row, "detail": json.loads(row["detail"]) if row.get("detail") else None}
                        for row in store.health()],
        }
    finally:
        store.close()


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def status(config: Config, *, as_json: bool = False) -> int:
    info = collect(config)
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    size = f"{info['database_bytes'] / 1e6:.1f} MB, " if not config.database_is_url else ""
    print(f"database   {info['database']} ({size}{info['mentions']} mentions)")
    print(f"cascades   {info['open_cascades']} open, {info['alerted_cascades']} alerted")
    print(f"alerts     {info['alerts_queued']} queued, {info['alerts_sent']} sent, {info['alerts_failed']} failed")
    now = datetime.now(UTC)
    for i in info["instances"]:
        beat = lenient_time(i["heartbeat_at"])
        age = f"{(now - beat).total_seconds():.0f}s ago" if beat else "never"
        held = [le["name"] for le in info["leases"] if le["holder"] == i["instance"]]
        print(f"instance   {i['instance']}: heartbeat {age}; leases {', '.join(held) or 'none'}")
    for le in info["leases"]:
        expires = lenient_time(le["expires_at"])
        state = "EXPIRED" if expires and expires < now else "until " + (le["expires_at"] or "-")
        print(f"lease      {le['name']}: {le['holder']}, {state}")
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
