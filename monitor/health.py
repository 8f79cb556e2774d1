"""Source health over time: "gone quiet" and "keeps failing" alerts, once per episode.

A source that normally yields mentions and has returned nothing for ``source_quiet_after``, or that
has failed for that long, is as much a risk as a storm: the PR team would be blind. The check reads
the ``source_health`` rows the pollers keep; an episode ends when the source yields again, and the
decision log (not memory) says whether this episode was already announced, so a restart does not
repeat it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from monitor.records import format_time, parse_time
from monitor.store import Store


def _t(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def quiet_sources(store: Store, keys: Iterable[str], now: datetime, after: timedelta, *,
                  started: datetime) -> list[dict[str, Any]]:
    """Alert payloads for sources among ``keys`` that went quiet or keep failing, not yet announced.

    ``started`` is when this process started: a source that has never succeeded counts as failing
    since then.
    """
    if after <= timedelta(0):
        return []
    wanted = set(keys)
    out = []
    for row in store.health():
        key = row["source_key"]
        if key not in wanted:
            continue
        last_success, last_items = _t(row.get("last_success")), _t(row.get("last_items_at"))
        failing_since = last_success or started
        if row["consecutive_failures"] and failing_since and now - failing_since >= after:
            name, since = "source_failing", failing_since
            reason = (f"{key} has failed for {_human(now - failing_since)} "
                      f"({row['consecutive_failures']} attempts); last error: {row.get('last_error') or '-'}")
        elif row["items_seen"] and last_items and now - last_items >= after:
            name, since = "source_quiet", last_items
            reason = f"{key} has returned no mentions for {_human(now - last_items)}; it normally does"
        else:
            continue
        root_id = f"source:{key}"
        announced = store.conn.execute(
            "SELECT 1 FROM decisions WHERE root_id = ? AND at >= ? LIMIT 1", (root_id, format_time(since))
        ).fetchone()
        if announced:
            continue
        out.append({"at": format_time(now), "kind": "source", "level": "new", "watchlist": "",
                    "root_id": root_id, "decision": name, "reason": reason, "source": key,
                    "last_success": row.get("last_success"), "last_error": row.get("last_error"),
                    "reactions": 0, "score": 0})
    return out


def _human(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
