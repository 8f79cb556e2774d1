"""Comment threads of matched blog posts, and comment feeds listed directly in watch-lists.

One ``CommentSource`` (key ``comments:threads``) follows every thread. Each poll it asks the store
for the rss posts published within ``follow_comments_for`` that advertise a comment feed
(``comments_feed``: WordPress ``wfw:commentRss`` or per-post ``/feed/``, Blogger's Atom
``replies`` link), adds the watch-lists' ``comment_feeds``, and fetches the threads that need it.

Its cursor is ``{"threads": {feed_url: state}}``; a thread's state holds the ETag/Last-Modified
to send back, the comment count seen at the last successful fetch, the ids of the comments already
emitted, and failure backoff. A thread whose post's comment count (``slash:comments`` /
``thr:total``, refreshed in the store each time the blog feed re-reads the post) has not moved
since the last fetch is not fetched at all; a thread with no count is re-asked with a conditional
GET. Threads past the follow window drop out of the cursor.

A thread's document is parsed and its comments read in worker threads (``read_comments``), under the
same caps as a blog feed's: its 1,000 newest entries, 2,000,000 characters of text.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.config.settings import BlogSettings
from monitor.records.mention import Mention, canonical_url
from monitor.sources.base import PollResult, stable_id
from monitor.sources.blogs import FeedOutcome, Tally, due, failed_state, fetch_and_parse, off_loop
from monitor.sources.feeds import (
    Capped,
    comment_mention,
    describe_bozo,
    entry_identity,
    is_http,
    read_capped,
)
from monitor.sources.http import FetchError, HttpFetcher, safe_url
from monitor.store.database import Store

log = logging.getLogger(__name__)
MAX_THREADS = 2000  # newest first; a bound on one poll's work


@dataclass(slots=True)
class Thread:
    feed: str  # the comment feed URL
    post_id: str | None  # the stored post it belongs to (None: a listed feed, not yet resolved)
    post_url: str | None
    count: int | None  # the post's current comment count, when its feed gives one


def followed_threads(store: Store, since: datetime, limit: int = MAX_THREADS) -> list[Thread]:
    """Matched rss posts published since ``since`` that advertise a comment feed, newest first."""
    out: dict[str, Thread] = {}
    for row in store.comment_feeds(since, limit):
        feed, count = row.feed, row.count
        if is_http(feed) and feed not in out:
            out[feed] = Thread(feed, row.mention_id, row.url, int(count) if isinstance(count, (int, float)) else None)
    return list(out.values())


class CommentSource:
    def __init__(
        self,
        key: str,
        store: Store,
        fetcher: HttpFetcher,
        *,
        settings: BlogSettings | None = None,
        direct_feeds: list[str] | None = None,
        rng: random.Random | None = None,
    ):
        self.key = key
        self.store = store
        self.fetcher = fetcher
        self.settings = settings or fetcher.settings
        self.direct_feeds = list(dict.fromkeys(direct_feeds or []))
        self.rng = rng or random.Random()

    def threads(self, now: datetime) -> list[Thread]:
        threads = followed_threads(self.store, now - self.settings.follow_comments_for)
        followed = {t.feed for t in threads}
        return threads + [Thread(f, None, None, None) for f in self.direct_feeds if f not in followed]

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        known: dict[str, Any] = dict((cursor or {}).get("threads") or {})
        threads = self.threads(now)
        todo, unchanged = [], 0
        for t in threads:
            st = known.get(t.feed) or {}
            if not due(st, now):
                continue
            if t.count is not None and "count" in st and st["count"] == t.count and not st.get("failures"):
                unchanged += 1  # the post says no new comment since we last read the thread
                continue
            todo.append(t)
        by_feed = {t.feed: t for t in todo}
        outcomes = await self.fetcher.run_grouped(
            list(by_feed), lambda u: self._poll_thread(by_feed[u], dict(known.get(u) or {}), now)
        )
        tally = Tally({t.feed: known[t.feed] for t in threads if t.feed in known})
        for o in outcomes:
            tally.add(o)
        new_cursor = {"threads": tally.states}
        detail = {"threads": len(threads), "fetched": len(todo), "unchanged_count": unchanged, **tally.counts}
        return PollResult(
            tally.mentions,
            new_cursor if new_cursor != (cursor or {}) else None,
            not_modified=not tally.mentions and tally.counts["not_modified"] == len(todo),
            detail=detail,
            warnings=tally.warnings,
        )

    async def _poll_thread(self, thread: Thread, state: dict[str, Any], now: datetime) -> FeedOutcome:
        url = thread.feed
        try:
            res, parsed = await fetch_and_parse(self.fetcher, url, state)
        except Exception as exc:  # one bad thread never takes the others down
            failed, message = failed_state(
                state, exc, now, base=self.settings.comments_poll_every, rng=self.rng
            )
            status = "deferred" if getattr(exc, "parked", False) else "failed"
            if status == "failed" and not hasattr(exc, "parked"):
                log.exception("comment feed %s: unexpected error", safe_url(url))
            return FeedOutcome(
                url,
                failed,
                status=status,
                error=message,
                warnings=[f"comment feed {safe_url(url)} failed: {message}"] if status == "failed" else [],
            )
        if parsed is None:
            same = {k: v for k, v in state.items() if k not in ("failures", "next_at", "last_error")}
            if thread.count is not None:
                same["count"] = thread.count
            return FeedOutcome(url, same, status="not_modified")
        post_id, post_url = thread.post_id, thread.post_url
        if post_id is None:
            post_id, post_url = self._resolve_post(parsed)
        try:  # thousands of comments take seconds to read: not on the event loop
            read = await off_loop(url, "reading the comments", read_comments, parsed, thread_feed=url,
                                  post_id=post_id, post_url=post_url, now=now)
        except FetchError as exc:
            failed, message = failed_state(state, exc, now, base=self.settings.comments_poll_every, rng=self.rng)
            return FeedOutcome(url, failed, status="failed", error=message,
                               warnings=[f"comment feed {safe_url(url)} failed: {message}"])
        if read.replies_to:  # Blogger names each comment's post: one query for the thread
            stored = self.store.tracked(list(set(read.replies_to.values())))
            for m in read.mentions:
                candidate = read.replies_to.get(m.id)
                if candidate in stored:
                    m.parent_id = candidate
        previous = set(state.get("seen") or [])
        mentions = [m for m in read.mentions if m.id not in previous]
        new: dict[str, Any] = {"seen": [m.id for m in read.mentions]}
        for key, value in (("etag", res.etag), ("last_modified", res.last_modified), ("post", post_id)):
            if value:
                new[key] = value
        if thread.count is not None:
            new["count"] = thread.count
        warnings = read.capped.warnings("comment feed", safe_url(url), "comments")
        if parsed.get("bozo"):
            warnings.append(
                f"comment feed {safe_url(url)} is malformed ({describe_bozo(parsed)}); "
                f"read {len(read.mentions)} comments from it anyway"
            )
        return FeedOutcome(url, new, mentions, warnings)

    def _resolve_post(self, parsed: Any) -> tuple[str | None, str | None]:
        """For a listed comment feed: the stored post at the feed's channel link, when there is one."""
        link = parsed.get("feed", {}).get("link")
        if not is_http(link):
            return None, None
        found = self.store.mentions_by_url([canonical_url(link)])
        return found.get(canonical_url(link)), link


@dataclass(slots=True)
class CommentsRead:
    """A comment feed's entries as records, within the caps on entries and text (``read_capped``)."""

    mentions: list[Mention]
    replies_to: dict[str, str]  # comment id -> the post its entry names (thr:in-reply-to), to look up
    capped: Capped


def read_comments(parsed: Any, *, thread_feed: str, post_id: str | None, post_url: str | None,
                  now: datetime) -> CommentsRead:
    """The newest ``MAX_FEED_ENTRIES`` comments of a parsed comment feed, up to ``MAX_FEED_TEXT``
    characters of text; reads no store (it runs in a worker thread)."""
    got = read_capped(parsed, lambda entry: comment_mention(entry, thread_feed=thread_feed, post_id=post_id,
                                                            post_url=post_url, now=now),
                      what="comment feed", shown=safe_url(thread_feed))
    replies_to: dict[str, str] = {}
    if post_id is None:
        replies_to = {m.id: candidate for entry, m in got.read if (candidate := _reply_to(entry)) is not None}
    return CommentsRead([m for _, m in got.read], replies_to, got)


def _reply_to(entry: Any) -> str | None:
    """The id of the post Atom's ``thr:in-reply-to`` names (Blogger), stored or not."""
    ref = entry.get("thr_in-reply-to") or {}
    ident = entry_identity({"id": ref.get("ref"), "link": ref.get("href")}, fallback_scope="")
    return stable_id("rss", ident) if ident else None
