"""One poll of one source: read its cursor, poll, hand the records and the new cursor to the pipeline
(stored in one transaction), and note the outcome in ``source_health`` for ``monitor status``.

Decisions, each logged with its reason:
- parked: the source's ``paused_until`` (a rate-limit reset, a Retry-After, a backoff, a spent
  budget) is still ahead: it is not polled at all;
- retryable failure (SourceError): recorded with ``paused_until`` = the service's reset or
  Retry-After when it gave one, else exponential backoff with jitter; never raised;
- permanent failure (PermanentSourceError): recorded with a message saying what to fix; the source
  itself refuses further polls until it is rebuilt from a changed config;
- anything unexpected from a source or from ingest counts as a retryable failure, so one broken
  source or feed never stops the daemon. The cursor only moves when the records were stored;
- lease lost (LeaseLost, a cluster only): another instance took the watch-list over while this poll ran;
  nothing was stored and the source's health is left alone (it is the new holder's); raised to the daemon.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.clock import Clock
from monitor.errors import LeaseLost, PermanentSourceError, SourceError
from monitor.records.mention import lenient_time, time_text
from monitor.sources.base import PollResult, RateLimited, Source, backoff_until
from monitor.store.database import Store

if TYPE_CHECKING:
    from monitor.engine.pipeline import Pipeline

log = logging.getLogger("monitor.sources")
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
_RNG = random.Random()


def scrub(text: str) -> str:
    """Error text as it may be stored and shown: registered secrets and bearer-shaped strings masked."""
    try:
        from monitor.ops.logs import REDACTOR
    except ImportError:  # logging set-up not importable: the sources' own messages carry no token
        return text
    return REDACTOR.scrub(text)


def health_of(store: Store, key: str) -> tuple[int, datetime | None, str | None]:
    """Consecutive failures, paused-until and last error of a source, from ``source_health``."""
    state = store.source_state(key)
    return state.consecutive_failures, state.paused_until, state.last_error


async def poll_source(
    source: Source,
    pipeline: Pipeline | Callable[[], Pipeline | None],
    store: Store,
    clock: Clock,
    *,
    rng: random.Random | None = None,
) -> PollResult:
    """Poll ``source`` once and store what it found. Raises nothing for a source's failure.

    ``pipeline`` may be a function that names the pipeline when the records are stored: the daemon's is
    rebuilt when its leases change, possibly while this poll awaits the network, and what was fetched
    belongs to the one running now. It returns None when the source is no longer run here: what was
    fetched is then dropped, and its cursor does not move (the new holder reads it again).
    """
    key = source.key
    now = clock.now()
    failures, paused, last_error = health_of(store, key)
    if paused is not None and paused > now:
        log.debug(
            "%s: parked until %s; not polled", key, time_text(paused), extra={"source": key, "decision": "parked"}
        )
        return PollResult([], None, park_until=paused, detail={"skipped": "parked"})
    cursor = store.get_cursor(key)
    try:
        result = await source.poll(cursor, now)
    except PermanentSourceError as exc:
        message = scrub(str(exc))
        # Said once at ERROR; repeated polls of a paused source stay quiet until something changes.
        level = logging.DEBUG if message == last_error else logging.ERROR
        log.log(level, "%s: paused until the config changes: %s", key, message, extra={"source": key})
        store.record_health(
            key,
            now=now,
            ok=False,
            error=message,
            detail={"paused": "until the config changes", "fix": message},
        )
        return PollResult([], None, detail={"error": message, "permanent": True})
    except Exception as exc:
        return _failed(store, key, exc, failures, now, rng or _RNG)
    current = pipeline if callable(pipeline) else lambda: pipeline
    scored = None
    try:
        if result.mentions:
            ahead = current()
            if ahead is not None:
                scored = await ahead.score_ahead(result.mentions)  # a pure function of the texts
        target = current()  # asked again: scoring ahead awaited a worker thread
        if target is None:
            log.info("%s: no longer run by this instance; what it fetched is dropped, its cursor did not move",
                     key, extra={"source": key})
            return PollResult([], None, detail={"skipped": "no longer run here"})
        if result.mentions:
            target.ingest(result.mentions, {key: result.cursor} if result.cursor is not None else None,
                          scored=scored)
        elif result.cursor is not None:
            target.move_cursors({key: result.cursor})
    except LeaseLost:  # not this source's failure: its health and pause are the new holder's business
        raise
    except Exception as exc:  # nothing was committed: the same records come again next poll
        return _failed(store, key, exc, failures, now, rng or _RNG, stage="storing")
    if result.volumes:
        target.add_volume(result.volumes)
    for warning in result.warnings:
        log.warning("%s: %s", key, scrub(warning), extra={"source": key})
    detail = {k: v for k, v in result.detail.items() if k != "health"}
    if result.warnings:
        detail["warnings"] = [scrub(w) for w in result.warnings[:5]]
    with store.transaction():  # one write for the source and all its feeds
        store.record_health(
            key, now=now, ok=True, items=len(result.mentions), paused_until=result.park_until, detail=detail
        )
        for sub_key, h in (result.detail.get("health") or {}).items():
            store.record_health(
                sub_key,
                now=now,
                ok=bool(h.get("ok")),
                items=int(h.get("items") or 0),
                error=scrub(h["error"]) if h.get("error") else None,
                paused_until=lenient_time(h.get("paused_until")),
                detail={"part_of": key},  # monitor status rolls a feed's failures up to its source
            )
    log.debug(
        "%s: %d item(s)%s",
        key,
        len(result.mentions),
        " (not modified)" if result.not_modified else "",
        extra={"source": key},
    )
    return result


def _failed(
    store: Store,
    key: str,
    exc: Exception,
    failures: int,
    now: datetime,
    rng: random.Random,
    stage: str = "polling",
) -> PollResult:
    message = scrub(str(exc) or type(exc).__name__)
    if isinstance(exc, RateLimited):
        until = exc.until
    elif isinstance(exc, SourceError) and exc.retry_after is not None:
        until = now + timedelta(seconds=exc.retry_after)
    else:
        until = backoff_until(now, failures + 1, base=BACKOFF_BASE, cap=BACKOFF_CAP, rng=rng)
    if isinstance(exc, SourceError):
        log.warning(
            "%s: %s failed: %s; next try after %s", key, stage, message, time_text(until), extra={"source": key}
        )
    else:
        log.error(
            "%s: %s failed unexpectedly: %s; next try after %s",
            key,
            stage,
            message,
            time_text(until),
            exc_info=exc,
            extra={"source": key},
        )
    store.record_health(key, now=now, ok=False, error=message, paused_until=until)
    detail: dict[str, Any] = {"error": message}
    return PollResult([], None, park_until=until, detail=detail)
