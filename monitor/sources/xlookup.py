"""The spread of open complaints on X, measured the way the API allows since 4 May 2026.

Keyword search returns no reposts any more, so a complaint reposted 5,000 times shows in search only
as its replies and quotes that name a term. Its ``public_metrics`` still count them all: this source
(key ``xlookup:open``) looks up, by ``GET /2/tweets?ids=`` (100 ids a request), every X post of every
open complaint cascade (the roots, and the X posts that joined a cascade rooted anywhere), and hands
them on as mentions seen again with fresh metrics; the pipeline tells the detector
(``Detector.report_counts``), which counts the reactions it has not seen one by one.

Each post is looked up on its own cadence, which follows its growth: from ``x.lookup_min_interval``,
halved (down to that minimum) each time it grew, doubled (up to ``x.lookup_max_interval``) each time
it did not. While the budget allows (``x.fetch_reactions``), a post whose replies grew has its
conversation searched (``conversation_id:``, new replies only, one page of 100) and one whose quotes
grew has its quotes read (``/2/tweets/:id/quote_tweets``, the newest 100), so their authors and text
join the cascade.

Costs (``monitor/sources/spend.py``): a lookup bills each post once per UTC day, so looking up the same
complaint every two minutes costs one post read a day; lookups ask for no user expansion (the
authors are stored already), so they bill no user reads. All of it is complaint work: it may use the
whole paced budget, and chatter (keyword search) leaves it what it asks for: after each poll, the
due posts it could not pay for and a page of reactions for each post still growing. The cursor:

    {"posts": {"<post id>": {"at": 1767225600, "every": 120, "n": 42, "replies": 3, "quotes": 1,
                             "rs": "<newest reply id read>"}},
     "spend": {...}, "read_today": {"day": "2026-05-06", "ids": [...]}}
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import requests
import tweepy

from monitor.config.settings import Secret, XSettings
from monitor.errors import PermanentSourceError, SourceError
from monitor.records.mention import Mention, format_time, lenient_time
from monitor.sources.base import PollResult, RateLimited
from monitor.sources.spend import Priority, XLedger
from monitor.sources.xclient import (
    EXPANSIONS,
    METRICS,
    TWEEPY_HOST,
    TWEET_FIELDS,
    USER_FIELDS,
    XCaller,
    json_body,
    newer_id,
    search_mentions,
    tweet_mention,
)
from monitor.store.database import SpreadTarget, Store

USAGE_EVERY = timedelta(hours=1)  # X's own count of post reads (/2/usage/tweets: 50 requests per 15 min)
LOOKUP_BATCH = 100      # ids a lookup takes
MAX_TARGETS = 2000      # posts followed at once (roots first)
REACTION_PAGE = 100


def _batches(items: list[SpreadTarget], n: int) -> Iterator[list[SpreadTarget]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def post_id(mention_id: str) -> str:
    return mention_id.split(":", 1)[1]


def _unread(st: dict[str, Any]) -> bool:
    """Whether a looked-up post reports more replies or quotes than were read."""
    return bool(st.get("replies_now", 0) > st.get("replies", 0) or st.get("quotes_now", 0) > st.get("quotes", 0))


def reactions_of(metrics: dict[str, Any] | None) -> int:
    m = metrics or {}
    return sum(int(m.get(k) or 0) for k in ("reposts", "replies", "quotes"))


class XLookupSource(XCaller):
    def __init__(self, key: str, store: Store, token: Secret, settings: XSettings, *, ledger: XLedger,
                 window: timedelta, client: tweepy.Client | None = None, watchlists: list[str] | None = None):
        """``watchlists``: only these watch-lists' cascades (a cluster instance's leased ones); None: all."""
        super().__init__(key, token, settings, client)
        self.store = store
        self.watchlists = watchlists
        self.ledger = ledger
        self.window = window  # a cascade is open this long after its last reaction (detection.window)

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        if self.paused:
            raise PermanentSourceError(self.paused)
        targets = self.store.spread_targets("x", now - self.window, MAX_TARGETS, watchlists=self.watchlists)
        return await asyncio.to_thread(self._poll, dict(cursor or {}), targets, now)

    def _poll(self, cursor: dict[str, Any], targets: list[SpreadTarget], now: datetime) -> PollResult:
        known = {post_id(t.mention_id) for t in targets}
        state: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (cursor.get("posts") or {}).items()
                                            if k in known and isinstance(v, dict)}
        due = [t for t in targets if self._due(state.get(post_id(t.mention_id)), now)]
        self.ledger.demand(len(self.ledger.unbilled([post_id(t.mention_id) for t in due], now)))
        mentions: dict[str, Mention] = {}
        warnings: list[str] = []
        park: datetime | None = None
        looked = fetched = 0
        grown: list[SpreadTarget] = []
        done: set[str] = set()
        try:
            for batch in _batches(due, LOOKUP_BATCH):
                batch = self._affordable(batch, now)
                if not batch:
                    park = self.ledger.next_allowed_at(now, Priority.COMPLAINT, self.settings.price_per_post_read, 1)
                    break
                found = self._lookup(batch, now, state, mentions)
                looked += len(batch)
                done |= {post_id(t.mention_id) for t in batch}
                grown += [t for t in batch if post_id(t.mention_id) in found]
            if self.settings.fetch_reactions and park is None:
                # Every post looked up with replies or quotes not read yet: those that grew now, and those a
                # spent budget stopped before.
                for t in (t for t in due if post_id(t.mention_id) in done and _unread(state[post_id(t.mention_id)])):
                    got = self._reactions(t, state[post_id(t.mention_id)], now, mentions)
                    if got is None:
                        break
                    fetched += got
        except PermanentSourceError:
            raise
        except SourceError as exc:
            if not mentions:
                raise
            park = exc.until if isinstance(exc, RateLimited) else None
            warnings.append(str(exc))  # keep what was read; the rest is due again next poll
        # What open complaints will ask for until the next poll, held back from chatter meanwhile: the due
        # posts this poll could not pay for, and a page of reactions for each post that is growing.
        skipped = self.ledger.unbilled([post_id(t.mention_id) for t in due if post_id(t.mention_id) not in done], now)
        self.ledger.demand(len(skipped) + (REACTION_PAGE * len(grown) if self.settings.fetch_reactions else 0))
        new = {"posts": state, "spend": self.ledger.record(self.key, now), "read_today": self.ledger.read_today(now)}
        reported = self._x_usage(cursor.get("x_usage"), now, warnings)
        if reported:
            new["x_usage"] = reported
        detail = {"spend": {**self.ledger.status(now), **({"x_reported": reported} if reported else {})},
                  "followed": len(targets), "due": len(due), "looked_up": looked, "reactions_read": fetched}
        return PollResult(list(mentions.values()), new if new != cursor else None, park_until=park, detail=detail,
                          warnings=warnings)

    def _x_usage(self, last: Any, now: datetime, warnings: list[str]) -> dict[str, Any] | None:
        """X's own count of this billing cycle's post reads (``GET /2/usage/tweets``), asked hourly; it
        bills nothing. A plan or app that does not answer it only gives a warning."""
        last = last if isinstance(last, dict) else None
        at = lenient_time(last.get("at")) if last else None
        if at is not None and now - at < USAGE_EVERY:
            return last
        try:
            # tweepy has no call for it: its session (with our adapter: host and token) asks.
            resp = self.client.session.get(f"{TWEEPY_HOST}/2/usage/tweets", timeout=30)
            data = (resp.json() or {}).get("data") or {} if resp.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            data = None
        if not isinstance(data, dict) or "project_usage" not in data:
            warnings.append(f"{self.key}: X did not report its usage (GET /2/usage/tweets); the spend shown is "
                            "counted here")
            return {**(last or {}), "at": format_time(now)} if last else {"at": format_time(now)}
        try:
            return {"at": format_time(now), "project_usage": int(data["project_usage"]),
                    "project_cap": int(data.get("project_cap") or 0), "cap_reset_day": data.get("cap_reset_day")}
        except (TypeError, ValueError):
            return {"at": format_time(now)}

    def _due(self, st: dict[str, Any] | None, now: datetime) -> bool:
        if not st:
            return True
        return now.timestamp() >= float(st.get("at") or 0) + float(st.get("every") or 0)

    def _affordable(self, batch: list[SpreadTarget], now: datetime) -> list[SpreadTarget]:
        """The batch, less the posts the pace cannot pay for now (those read today cost nothing)."""
        unbilled = set(self.ledger.unbilled([post_id(t.mention_id) for t in batch], now))
        room = self.ledger.affordable_posts(now, Priority.COMPLAINT)
        out = []
        for t in batch:
            if post_id(t.mention_id) in unbilled:
                if room <= 0:
                    continue
                room -= 1
            out.append(t)
        return out

    def _lookup(self, batch: list[SpreadTarget], now: datetime, state: dict[str, dict[str, Any]],
                mentions: dict[str, Mention]) -> set[str]:
        """Look the batch up; returns the ids that grew since their last lookup."""
        ids = [post_id(t.mention_id) for t in batch]
        resp = self._call("look up posts", self.client.get_tweets, now, ids, tweet_fields=TWEET_FIELDS)
        body = json_body(resp, self.key)
        data = [t for t in body.get("data") or [] if isinstance(t, dict) and "id" in t]
        self.ledger.charge(self.key, now, post_ids=[str(t["id"]) for t in data])
        previous = {post_id(t.mention_id): t for t in batch}
        s, grew = self.settings, set()
        lo, hi = s.lookup_min_interval.total_seconds(), s.lookup_max_interval.total_seconds()
        for tweet in data:
            tid = str(tweet["id"])
            m = tweet_mention(tweet, {}, now)
            mentions[m.id] = m
            st = state.setdefault(tid, {"every": lo})
            n = reactions_of(m.metrics)
            before = st.get("n")
            if before is None:
                before = reactions_of(previous[tid].metrics) if tid in previous else 0
            if n > before:
                grew.add(tid)
                st["every"] = max(lo, float(st.get("every") or lo) / 2)
            elif "n" in st:
                st["every"] = min(hi, float(st.get("every") or lo) * 2)
            st["at"], st["n"] = now.timestamp(), n
            pm = tweet.get("public_metrics") or {}
            st["replies_now"] = int(pm.get("reply_count") or 0)
            st["quotes_now"] = int(pm.get("quote_count") or 0)
            if tid in previous and previous[tid].conversation_id:
                st["conv"] = previous[tid].conversation_id
        for err in body.get("errors") or []:  # deleted or protected: asked again only at the slowest pace
            rid = str(err.get("resource_id") or err.get("value") or "")
            if rid in previous:
                state[rid] = {**state.get(rid, {}), "at": now.timestamp(), "every": hi, "gone": True}
        return grew

    def _reactions(self, t: SpreadTarget, st: dict[str, Any], now: datetime,
                   mentions: dict[str, Mention]) -> int | None:
        """Read the new replies and quotes of a post that grew; None when the budget stops it."""
        tid, got = post_id(t.mention_id), 0
        if st.get("replies_now", 0) > st.get("replies", 0):
            if not self._can_read(now):
                return None
            query = f"conversation_id:{st.get('conv') or tid}"
            params: dict[str, Any] = {"max_results": REACTION_PAGE, "expansions": EXPANSIONS,
                                      "tweet_fields": TWEET_FIELDS, "user_fields": USER_FIELDS}
            if st.get("rs"):
                params["since_id"] = st["rs"]
            resp = self._call("search a conversation", self.client.search_recent_tweets, now, query, **params)
            got += self._take(resp, now, mentions)
            body = json_body(resp, self.key)
            st["rs"] = newer_id((body.get("meta") or {}).get("newest_id"), st.get("rs"))
            st["replies"] = st["replies_now"]
        if st.get("quotes_now", 0) > st.get("quotes", 0):
            if not self._can_read(now):
                return None
            resp = self._call("read quote posts", self.client.get_quote_tweets, now, tid, max_results=REACTION_PAGE,
                              expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS)
            got += self._take(resp, now, mentions)
            st["quotes"] = st["quotes_now"]
        return got

    def _can_read(self, now: datetime) -> bool:
        return self.ledger.affordable_posts(now, Priority.COMPLAINT, users_per_post=1.0) >= 10

    def _take(self, resp: requests.Response, now: datetime, mentions: dict[str, Mention]) -> int:
        body = json_body(resp, self.key)
        data = body.get("data") or []
        users = (body.get("includes") or {}).get("users") or []
        self.ledger.charge(self.key, now, post_ids=[str(t.get("id")) for t in data if isinstance(t, dict)],
                           users=len(users))
        n = 0
        for m in search_mentions(body, now):
            if m.id not in mentions:  # a lookup's fresher metrics win over an include's
                mentions[m.id] = m
                n += 1
        return n


__all__ = ["METRICS", "XLookupSource"]
