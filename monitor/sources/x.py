"""X (Twitter) recent search through tweepy, with our own rate limiting and monthly budget pacing.

One ``XSource`` per watch-list (key ``x:<watch-list>``). Its cursor:

    {"query": "...", "since_id": "...",                   # newest tweet id fully read
     "backlog": {"next_token": "...", "newest_id": "..."}, # a run of pages not finished last cycle
     "usage": {"month": "2026-01", "used": 1234},          # reads this calendar month
     "spend": {"month": "2026-01", "usd": 6.17, ...},      # money, see monitor/sources/spend.py
     "counts": {"until": "2026-01-05T10:41:00Z"}}          # volume counted up to here

Since 4 May 2026 keyword search returns no reposts: a complaint's reposts are counted from its
``public_metrics`` by post lookup (``monitor/sources/xlookup.py``). Where search does not read
everything a watch-list says (a backlog left, or the budget's pace reached), the counts endpoint
gives its volume per minute for one request's price (``x.volume_counts``), for the spike detector.

The client, the mapping of posts to records and the rate-limit handling are xclient.py's.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from monitor.config.settings import Secret, Watchlist, XSettings
from monitor.errors import PermanentSourceError, SourceError
from monitor.records.mention import Mention, format_time, parse_time
from monitor.records.volume import VolumeCount
from monitor.sources.base import PollResult, RateLimited
from monitor.sources.budget import MIN_PAGE, MonthlyBudget
from monitor.sources.spend import Priority, XLedger
from monitor.sources.xclient import (
    EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    XCaller,
    count_buckets,
    json_body,
    newer_id,
    reset_time,
    search_mentions,
)

log = logging.getLogger(__name__)
MAX_QUERY = 512  # recent search query length on the self-serve plans
_BARE = re.compile(r"^[@#$]?[\w'.-]+$", re.UNICODE)


def build_query(wl: Watchlist) -> str:
    """The recent-search query of a watch-list: its ``x_query``, or its terms OR-ed minus exclusions."""
    if wl.x_query:
        return wl.x_query.strip()
    terms = [_term(t) for t in wl.terms]
    query = terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"
    return " ".join([query, *("-" + _term(t) for t in wl.exclude)])


def _term(term: str) -> str:
    text = term.strip().strip('"').replace('"', "")
    return text if _BARE.match(text) else f'"{text}"'



class XSource(XCaller):
    def __init__(
        self,
        key: str,
        query: str,
        token: Secret,
        settings: XSettings,
        *,
        budget: int | None = None,
        client: tweepy.Client | None = None,
        ledger: XLedger | None = None,
        watchlist: str | None = None,
    ):
        super().__init__(key, token, settings, client)
        self.query = query
        self.watchlist = watchlist or key.split(":", 1)[-1]
        self.budget = MonthlyBudget(settings.monthly_read_budget if budget is None else budget)
        self.ledger = ledger or XLedger(settings)

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        if self.paused:
            raise PermanentSourceError(self.paused)
        if len(self.query) > MAX_QUERY:
            raise PermanentSourceError(
                f"{self.key}: the search query is {len(self.query)} characters, X allows {MAX_QUERY}; "
                "set a shorter x_query in the watch-list"
            )
        return await asyncio.to_thread(self._poll, dict(cursor or {}), now)

    def _poll(self, cursor: dict[str, Any], now: datetime) -> PollResult:
        usage = cursor.get("usage")
        since_id = cursor.get("since_id")
        backlog = cursor.get("backlog") if cursor.get("query") == self.query else None
        next_token = backlog.get("next_token") if backlog else None
        run_newest = backlog.get("newest_id") if backlog else None
        mentions: dict[str, Mention] = {}
        park: datetime | None = None
        pages = reads = 0
        last_remaining: int | None = None
        warnings: list[str] = []
        paced = False  # the budget's pace, not the end of the results, ended this cycle
        while pages < self.settings.max_pages_per_cycle:
            available = min(self.budget.available(usage, now),
                            self.ledger.affordable_posts(now, Priority.CHATTER, users_per_post=1.0))
            if available < MIN_PAGE:
                park = max(self.budget.next_allowed_at(usage, now, MIN_PAGE),
                           self.ledger.next_allowed_at(now, Priority.CHATTER, self._page_cost(MIN_PAGE), MIN_PAGE))
                paced = True
                break
            try:
                resp = self._search(min(self.settings.page_size, available), since_id, next_token, now)
                body = json_body(resp, self.key)
            except SourceError as exc:
                if pages == 0 or isinstance(exc, PermanentSourceError):
                    raise
                # Keep what the earlier pages gave; the run goes on from its next_token next poll.
                park = exc.until if isinstance(exc, RateLimited) else None
                warnings.append(str(exc))
                break
            data = body.get("data") or []
            usage = self.budget.spend(usage, len(data), now)
            self.ledger.charge(self.key, now, posts=len(data),
                               users=len((body.get("includes") or {}).get("users") or []))
            reads += len(data)
            for m in search_mentions(body, now):
                mentions[m.id] = m
            meta = body.get("meta") or {}
            if next_token is None:  # the first page of a new run holds its newest tweet
                run_newest = newer_id(meta.get("newest_id"), run_newest)
            next_token = meta.get("next_token")
            pages += 1
            remaining = str(resp.headers.get("x-rate-limit-remaining") or "")
            last_remaining = int(remaining) if remaining.isdigit() else None
            if last_remaining == 0:
                park = reset_time(resp.headers)
                break
            if not next_token:
                break
        new = {"query": self.query, "since_id": since_id, "usage": usage or self.budget.spend(None, 0, now)}
        if pages and next_token and since_id is not None:
            new["backlog"] = {"next_token": next_token, "newest_id": run_newest}  # finish it next cycle
        elif pages:
            # The run is complete, or this was the very first poll: then the 7-day history beyond one
            # cycle's pages is left unread rather than drained at the expense of what is new.
            new["since_id"] = newer_id(since_id, run_newest)
        elif backlog:
            new["backlog"] = backlog
        volumes: list[VolumeCount] = []
        counted = cursor.get("counts") if cursor.get("query") == self.query else None
        if counted:
            new["counts"] = counted
        incomplete = paced or bool(new.get("backlog"))
        rate_limited = park is not None and not paced
        if not rate_limited and self._counts_due(counted, now, incomplete):
            try:
                volumes, new["counts"] = self._volume(counted, now)
            except PermanentSourceError:
                raise
            except SourceError as exc:
                warnings.append(str(exc))
        new["spend"] = self.ledger.record(self.key, now)
        detail = {
            "budget": self.budget.status(usage, now),
            "spend": self.ledger.status(now),
            "pages": pages,
            "reads": reads,
            "query": self.query,
            "rate_limit_remaining": last_remaining,
        }
        if volumes:
            detail["volume_counted"] = sum(v.count for v in volumes)
        return PollResult(
            list(mentions.values()),
            new if new != cursor else None,
            park_until=park,
            detail=detail,
            warnings=warnings,
            volumes=volumes,
        )

    def _page_cost(self, posts: int) -> float:
        s = self.settings
        return posts * (s.price_per_post_read + s.price_per_user_read)

    # -- volume from the counts endpoint ------------------------------------------------------------
    def _counts_due(self, counted: dict[str, Any] | None, now: datetime, incomplete: bool) -> bool:
        mode = self.settings.volume_counts
        if mode == "off" or (mode == "auto" and not incomplete and not counted):
            return False
        if not self.ledger.affords(now, Priority.CHATTER, self.settings.price_per_count_request):
            return False
        until = parse_time(counted["until"], "until") if counted and counted.get("until") else None
        return until is None or now - until >= self.settings.counts_every

    def _volume(self, counted: dict[str, Any] | None, now: datetime) -> tuple[list[VolumeCount], dict[str, Any]]:
        """Whole minutes since the last count (at most the last hour on the first), from counts/recent.

        X wants ``end_time`` at least 10 seconds before now; minutes are counted once each, so the cursor
        says up to where."""
        end = datetime.fromtimestamp((now - timedelta(seconds=15)).timestamp() // 60 * 60, UTC)
        start = parse_time(counted["until"], "until") if counted and counted.get("until") else end - timedelta(hours=1)
        start = max(start, end - timedelta(days=7) + timedelta(minutes=1))
        if start >= end:
            return [], dict(counted or {})
        resp = self._call("count the query's posts", self.client.get_recent_tweets_count, now, self.query,
                          granularity="minute", start_time=start, end_time=end)
        body = json_body(resp, self.key)
        self.ledger.charge(self.key, now, counts=1)
        return count_buckets(body, self.watchlist), {"until": format_time(end)}

    def _search(
        self, max_results: int, since_id: str | None, next_token: str | None, now: datetime
    ) -> requests.Response:
        params: dict[str, Any] = {
            "max_results": max(MIN_PAGE, min(100, max_results)),
            "expansions": EXPANSIONS,
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
        }
        if since_id:
            params["since_id"] = since_id
        if next_token:
            params["next_token"] = next_token
        return self._call("search", self.client.search_recent_tweets, now, self.query, **params)
