"""Blog feeds: conditional GET through the shared fetcher, then the feed's entries as mention records
(feeds.py, shared with comments.py), parsed off the event loop within a time budget.

One ``BlogSource`` polls a batch of feeds concurrently (within the fetcher's global and per-host
limits). Its cursor holds, per feed: the ETag and Last-Modified to send back, failure count and
next allowed time (exponential backoff with jitter, or the server's Retry-After), and the entries
of the current document with their comment counts, so that a changed feed yields only entries that
are new or whose comment count moved. A 304 costs no parse and no cursor write.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from monitor.config.settings import BlogSettings
from monitor.records.mention import Mention, lenient_time, time_text
from monitor.sources.base import PollResult, backoff_until
from monitor.sources.feeds import (
    describe_bozo,
    parse_document,
    post_mention,
    read_capped,
)
from monitor.sources.http import FetchError, HttpFetcher, safe_url

log = logging.getLogger(__name__)
BACKOFF_CAP = timedelta(hours=12)
T = TypeVar("T")
# A parse (and mapping) taking longer than PARSE_BUDGET seconds fails the feed alone (feeds.py caps
# what one feed may turn into).
PARSE_BUDGET = 20.0


@dataclass(slots=True)
class FeedOutcome:
    """What one feed gave in one poll, and its state for the cursor."""

    url: str
    state: dict[str, Any]
    mentions: list[Mention] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | not_modified | failed | deferred
    error: str | None = None


@dataclass(slots=True)
class Tally:
    """The outcomes of one poll over many feeds, gathered: mentions, warnings and counts by status."""

    states: dict[str, dict[str, Any]]
    mentions: list[Mention] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "not_modified": 0, "failed": 0, "deferred": 0})

    def add(self, o: FeedOutcome) -> None:
        self.states[o.url] = o.state
        self.mentions += o.mentions
        self.warnings += o.warnings
        self.counts[o.status] += 1


def due(state: dict[str, Any] | None, now: datetime) -> bool:
    when = lenient_time((state or {}).get("next_at"))
    return when is None or when <= now


async def fetch_and_parse(fetcher: HttpFetcher, url: str, state: dict[str, Any]) -> tuple[Any, Any]:
    """Conditional GET, then (only when the body changed) feedparser off the event loop.

    Returns (fetch result, parsed document or None on 304). Raises FetchError.
    """
    res = await fetcher.get(url, etag=state.get("etag"), last_modified=state.get("last_modified"))
    if res.not_modified:
        return res, None
    parsed = await off_loop(url, "parsing", parse_document, res.body, url=res.url, headers=res.headers)
    return res, parsed


async def off_loop(url: str, what: str, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``func`` in a worker thread, given ``PARSE_BUDGET`` seconds; past that the feed fails with a
    FetchError (the thread finishes on its own; the loop never waits for it)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(func, *args, **kwargs), PARSE_BUDGET)
    except TimeoutError:
        raise FetchError(f"{what} took longer than {PARSE_BUDGET:.0f}s; skipped this time", url=url) from None


def failed_state(
    state: dict[str, Any], exc: Exception, now: datetime, *, base: timedelta, rng: random.Random
) -> tuple[dict[str, Any], str]:
    """The state after a failed fetch: Retry-After when the server gave one, else exponential backoff.

    A fetch refused locally because the host is parked does not count as a failure of this feed.
    """
    new = dict(state)
    message = str(exc) if isinstance(exc, FetchError) else f"unexpected {type(exc).__name__}: {exc}"
    parked = isinstance(exc, FetchError) and exc.parked
    if not parked:
        new["failures"] = int(state.get("failures") or 0) + 1
        new["last_error"] = message
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    if retry_after is not None:
        new["next_at"] = time_text(now + timedelta(seconds=retry_after))
    else:
        new["next_at"] = time_text(
            backoff_until(now, new.get("failures") or 1, base=base, cap=BACKOFF_CAP, rng=rng)
        )
    return new, message


class BlogSource:
    """A batch of blog feeds polled together. Cursor: ``{"feeds": {url: state}}``."""

    def __init__(
        self,
        key: str,
        feeds: list[str],
        fetcher: HttpFetcher,
        *,
        settings: BlogSettings | None = None,
        rng: random.Random | None = None,
        listed_hosts: set[str] | None = None,
    ):
        """``listed_hosts``: hosts the watch-lists name (in ``feeds`` or ``comment_feeds``); a comment
        feed named in a feed's content is followed only on the feed's own host or one of these."""
        self.key = key
        self.feeds = list(dict.fromkeys(feeds))
        self.fetcher = fetcher
        self.settings = settings or fetcher.settings
        self.rng = rng or random.Random()
        self.listed_hosts = {h.lower() for h in listed_hosts or ()}

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        known: dict[str, Any] = dict((cursor or {}).get("feeds") or {})
        todo = [u for u in self.feeds if due(known.get(u), now)]
        outcomes = await self.fetcher.run_grouped(
            todo, lambda u: self._poll_feed(u, dict(known.get(u) or {}), now)
        )
        tally = Tally({u: known[u] for u in self.feeds if u in known})
        health: dict[str, dict[str, Any]] = {}
        for o in outcomes:
            tally.add(o)
            if o.status != "deferred":
                health[f"rss:{o.url}"] = {
                    "ok": o.status != "failed",
                    "items": len(o.mentions),
                    "error": o.error,
                    "paused_until": o.state.get("next_at"),
                }
        states = tally.states
        new_cursor = {"feeds": states}
        waits = [lenient_time(s.get("next_at")) for s in states.values()]
        park = None
        if self.feeds and len(states) == len(self.feeds) and all(w is not None and w > now for w in waits):
            park = min(w for w in waits if w is not None)  # every feed is backing off
        detail = {"feeds": len(self.feeds), "polled": len(todo), **tally.counts, "health": health}
        changed = new_cursor != (cursor or {})
        return PollResult(
            tally.mentions,
            new_cursor if changed else None,
            not_modified=bool(todo) and tally.counts["not_modified"] == len(todo),
            park_until=park,
            detail=detail,
            warnings=tally.warnings,
        )

    def may_follow(self, thread: str, feed_url: str, final_url: str) -> bool:
        """Whether a comment feed named in a feed's content may be fetched: on the feed's own host
        (before or after its redirects) or on a host the watch-lists name."""
        host = (urlsplit(thread).hostname or "").lower()
        own = {(urlsplit(u).hostname or "").lower() for u in (feed_url, final_url)}
        return bool(host) and (host in own or host in self.listed_hosts)

    async def _poll_feed(self, url: str, state: dict[str, Any], now: datetime) -> FeedOutcome:
        try:
            res, parsed = await fetch_and_parse(self.fetcher, url, state)
        except Exception as exc:  # one bad feed never takes the batch down
            new, message = failed_state(state, exc, now, base=self.settings.poll_every, rng=self.rng)
            if isinstance(exc, FetchError) and exc.parked:
                return FeedOutcome(url, new, status="deferred")
            if not isinstance(exc, FetchError):
                log.exception("feed %s: unexpected error", safe_url(url))
            return FeedOutcome(
                url, new, status="failed", error=message, warnings=[f"feed {safe_url(url)} failed: {message}"]
            )
        if parsed is None:
            new = {k: v for k, v in state.items() if k not in ("failures", "next_at", "last_error")}
            return FeedOutcome(url, new, status="not_modified")
        try:
            return await off_loop(url, "reading the entries", self._map, url, state, res, parsed, now)
        except FetchError as exc:
            new, message = failed_state(state, exc, now, base=self.settings.poll_every, rng=self.rng)
            return FeedOutcome(
                url, new, status="failed", error=message, warnings=[f"feed {safe_url(url)} failed: {message}"]
            )

    def _map(self, url: str, state: dict[str, Any], res: Any, parsed: Any, now: datetime) -> FeedOutcome:
        previous: dict[str, Any] = state.get("seen") or {}
        seen: dict[str, Any] = {}
        mentions: list[Mention] = []
        elsewhere = 0
        got = read_capped(parsed, lambda entry: post_mention(entry, parsed, feed_url=url, now=now),
                          what="feed", shown=safe_url(url))
        for _, m in got.read:
            thread = m.extra.get("comments_feed")
            if thread and not self.may_follow(thread, url, res.url):
                del m.extra["comments_feed"]
                elsewhere += 1
            count = m.extra.get("comment_count")
            if m.id not in previous or previous[m.id] != count:
                mentions.append(m)
            seen[m.id] = count
        new: dict[str, Any] = {"seen": seen}
        if res.etag:
            new["etag"] = res.etag
        if res.last_modified:
            new["last_modified"] = res.last_modified
        if res.redirects:
            new["moved_to"] = res.url
        warnings = []
        if elsewhere:
            warnings.append(f"feed {safe_url(url)}: {elsewhere} comment feed(s) on other hosts not followed "
                            "(a watch-list that names their host in feeds or comment_feeds allows them)")
        warnings += got.warnings("feed", safe_url(url), "entries")
        if parsed.get("bozo"):
            warnings.append(
                f"feed {safe_url(url)} is malformed ({describe_bozo(parsed)}); "
                f"read {len(seen)} entries from it anyway"
            )
        elif got.skipped:
            warnings.append(
                f"feed {safe_url(url)}: {got.skipped} entries had no id, link, title or text; skipped"
            )
        return FeedOutcome(url, new, mentions, warnings)
