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
from monitor.sources.blogs import FeedOutcome, Tally, due, failed_state, fetch_and_parse
from monitor.sources.feeds import comment_mention, describe_bozo, entry_identity, is_http
from monitor.sources.http import HttpFetcher, safe_url
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
        previous = set(state.get("seen") or [])
        seen: list[str] = []
        mentions: list[Mention] = []
        for entry in parsed.get("entries") or []:
            try:
                m = comment_mention(
                    entry,
                    thread_feed=url,
                    post_id=post_id or self._reply_to(entry),
                    post_url=post_url,
                    now=now,
                )
            except Exception:
                log.exception("comment feed %s: could not read one entry", safe_url(url))
                continue
            if m is None:
                continue
            seen.append(m.id)
            if m.id not in previous:
                mentions.append(m)
        new: dict[str, Any] = {"seen": seen}
        for key, value in (("etag", res.etag), ("last_modified", res.last_modified), ("post", post_id)):
            if value:
                new[key] = value
        if thread.count is not None:
            new["count"] = thread.count
        warnings = []
        if parsed.get("bozo"):
            warnings.append(
                f"comment feed {safe_url(url)} is malformed ({describe_bozo(parsed)}); "
                f"read {len(seen)} comments from it anyway"
            )
        return FeedOutcome(url, new, mentions, warnings)

    def _resolve_post(self, parsed: Any) -> tuple[str | None, str | None]:
        """For a listed comment feed: the stored post at the feed's channel link, when there is one."""
        link = parsed.get("feed", {}).get("link")
        if not is_http(link):
            return None, None
        found = self.store.mentions_by_url([canonical_url(link)])
        return found.get(canonical_url(link)), link

    def _reply_to(self, entry: Any) -> str | None:
        """Atom ``thr:in-reply-to`` names the post (Blogger): its id when that post is stored."""
        ref = entry.get("thr_in-reply-to") or {}
        ident = entry_identity({"id": ref.get("ref"), "link": ref.get("href")}, fallback_scope="")
        if not ident:
            return None
        candidate = stable_id("rss", ident)
        return candidate if self.store.tracked([candidate]) else None
