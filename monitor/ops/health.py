"""Source health over time: "gone quiet" and "keeps failing" alerts, once per episode.

A source that normally yields mentions and has returned nothing for ``source_quiet_after``, or that
has failed for that long, is as much a risk as a storm: the PR team would be blind. The check reads
the ``source_health`` rows the pollers keep. An episode starts at the source's last yield (quiet) or
last success (failing) and ends when it yields or succeeds again; the decision log (not memory) says
whether this episode was already announced, so a restart does not repeat it.

Only what this process watched counts as silence: a daemon that was stopped overnight does not
announce, the moment it starts, that a source "has been quiet for 12 hours"; the clock of an
episode runs from the later of its start and the process's start.

Which rows are judged how:
- ``x:<watch-list>``, the X stream ``xstream:all``, the feed batches ``rss:feeds``, ``bluesky:jetstream``,
  ``mastodon:<host>`` and ``hn:<watch-list>``: quiet and failing;
- ``xlookup:open``: failing only (with no open complaint on X it has nothing to look up);
- a single feed ``rss:<url>`` and ``comments:threads``: failing only. One blog may post once a week
  and comment threads die down by nature; their silence is covered by the batch's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from monitor.records import sourcekey
from monitor.records.durations import duration_text
from monitor.records.mention import format_time, lenient_time
from monitor.store.database import Store


def judged_quiet(key: str) -> bool:
    """Whether silence from this source means something is wrong (see the module docstring)."""
    key = sourcekey.unsuffixed(key)
    return key.startswith(("x:", "xstream:", "rss:feeds/", "bluesky:", "mastodon:", "hn:")) or key == "rss:feeds"


def quiet_sources(store: Store, keys: Iterable[str], now: datetime, after: timedelta, *,
                  started: datetime) -> list[dict[str, Any]]:
    """Alert payloads for sources among ``keys`` that went quiet or keep failing, not yet announced.

    ``started`` is when this process started: silence or failure before it does not count.
    ``after`` of zero turns the check off.
    """
    if after <= timedelta(0):
        return []
    wanted = set(keys)
    out = []
    for row in store.health():
        key = row["source_key"]
        if key not in wanted:
            continue
        last_success, last_items = lenient_time(row.get("last_success")), lenient_time(row.get("last_items_at"))
        if row["consecutive_failures"]:
            episode, watched = last_success, max(last_success or started, started)
            if now - watched < after:
                continue
            name = "source_failing"
            reason = (f"{key} has failed for {duration_text(now - watched, 'clock')} "
                      f"({row['consecutive_failures']} attempts); last error: {row.get('last_error') or '-'}")
        elif judged_quiet(key) and row["items_seen"] and last_items is not None:
            episode, watched = last_items, max(last_items, started)
            if now - watched < after:
                continue
            name = "source_quiet"
            reason = f"{key} has returned no mentions for {duration_text(now - watched, 'clock')}; it normally does"
            paused = lenient_time(row.get("paused_until"))
            if paused is not None and paused > now:  # parked: a rate limit, a backoff or a spent X budget
                reason += f"; it is paused until {format_time(paused)} (see monitor status)"
        else:
            continue
        root_id = f"source:{key}"
        # An episode with no start (a source that never succeeded) is announced once until it does.
        if store.announced_since(root_id, name, episode):
            continue
        out.append({"at": format_time(now), "kind": "source", "level": "new", "watchlist": "",
                    "root_id": root_id, "decision": name, "reason": reason, "source": key,
                    "last_success": row.get("last_success"), "last_error": row.get("last_error"),
                    "reactions": 0, "score": 0})
    return out

