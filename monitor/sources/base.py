"""The one small interface every source implements, and the helpers they share.

A source fetches, turns what it fetched into mention records and says what its new cursor is; it
never writes the database itself. ``monitor.engine.runner.poll_source`` hands the records and the
cursor to the pipeline, which stores both in one transaction, so a restart resumes exactly where
the last committed poll ended.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from monitor.errors import SourceError
from monitor.records.durations import backoff_delay
from monitor.records.mention import Mention
from monitor.records.volume import VolumeCount


@dataclass(slots=True)
class PollResult:
    mentions: list[Mention]
    cursor: dict[str, Any] | None  # new cursor to persist atomically with the mentions; None = unchanged
    not_modified: bool = False  # e.g. every feed answered 304
    park_until: datetime | None = (
        None  # do not poll this source again before this time (rate limit / backoff)
    )
    detail: dict[str, Any] = field(default_factory=dict)  # for status: budget used, feeds ok/failed, ...
    warnings: list[str] = field(default_factory=list)
    volumes: list[VolumeCount] = field(default_factory=list)  # counted posts a source did not read (X counts)


@runtime_checkable
class Source(Protocol):
    key: str  # stable cursor key, e.g. "x:acme", "rss:feeds"

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        """Fetch what is new since ``cursor``.

        Raises monitor.errors.SourceError (retryable, maybe with retry_after) or
        PermanentSourceError (retrying cannot help until the config changes).
        """
        ...


class TextMatcher(Protocol):
    """Which watch-lists a text belongs to: the engine hands a source that must filter a whole network
    locally (Bluesky's Jetstream) the pipeline's own matcher, so both decide alike."""

    def watchlists_for(self, text: str) -> tuple[str, ...]: ...


class RateLimited(SourceError):
    """Retryable: the service asked us to wait until ``until`` (an absolute time)."""

    def __init__(self, message: str, *, until: datetime, now: datetime):
        super().__init__(message, retryable=True, retry_after=max(0.0, (until - now).total_seconds()))
        self.until = until


# -- ids and times --------------------------------------------------------------------------------
def stable_id(prefix: str, identity: str) -> str:
    """``prefix:<16 hex>``: the same identity gives the same id, whatever feed it came through."""
    return f"{prefix}:{hashlib.sha1(identity.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def struct_to_datetime(value: time.struct_time | tuple[int, ...] | None) -> datetime | None:
    """A feedparser ``*_parsed`` value (UTC) as an aware datetime; None when absent or nonsense."""
    if not value:
        return None
    try:
        y, mo, d, h, mi, sec = tuple(value)[:6]
        return datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None





# -- backoff -----------------------------------------------------------------------------------------
SOURCE_JITTER = (0.8, 1.2)  # +-20% around the schedule (see backoff_delay)


def backoff_until(
    now: datetime, failures: int, *, base: timedelta, cap: timedelta, rng: random.Random
) -> datetime:
    """When a source may be polled again after ``failures`` failures in a row: exponential backoff
    from ``base`` up to ``cap``, with +-20% jitter."""
    seconds = backoff_delay(failures, base=base.total_seconds(), cap=cap.total_seconds(), rng=rng,
                            jitter=SOURCE_JITTER)
    return now + timedelta(seconds=seconds)
