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

tweepy runs in a worker thread (``asyncio.to_thread``) and never sleeps on its own: it is built
without ``wait_on_rate_limit``, and we read ``x-rate-limit-remaining`` / ``x-rate-limit-reset`` from
each response (``return_type=requests.Response``) to park this source alone until the reset.
tweepy fixes its host; a requests adapter mounted on the session routes every request to the
configured ``api_url`` instead. tweepy is only ever handed the ``Secret`` object (which prints as
``<secret>``): the adapter puts the real Authorization header on the wire, so tweepy's DEBUG log
(which prints request headers) never holds the token.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies

from monitor.config.settings import Secret, Watchlist, XSettings
from monitor.errors import PermanentSourceError, SourceError
from monitor.records.mention import Author, Mention, format_time, parse_time
from monitor.records.volume import VolumeCount
from monitor.sources.base import PollResult, RateLimited
from monitor.sources.budget import MIN_PAGE, MonthlyBudget, next_month_start
from monitor.sources.spend import Priority, XLedger

log = logging.getLogger(__name__)
TWEEPY_HOST = "https://api.twitter.com"
MAX_QUERY = 512  # recent search query length on the self-serve plans
REQUEST_TIMEOUT = 30.0
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
TWEET_FIELDS = [
    "created_at",
    "public_metrics",
    "conversation_id",
    "entities",
    "referenced_tweets",
    "author_id",
]
USER_FIELDS = ["public_metrics", "description", "verified"]
KIND_OF = {"retweeted": "repost", "replied_to": "reply", "quoted": "quote"}
METRICS = {
    "retweet_count": "reposts",
    "reply_count": "replies",
    "like_count": "likes",
    "quote_count": "quotes",
}
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


class _ApiAdapter(HTTPAdapter):
    """Sends tweepy's requests to ``base`` and adds the real bearer token on the way out."""

    def __init__(self, base: str, token: Secret):
        super().__init__(max_retries=0)
        self._base = base.rstrip("/")
        self._token = token

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = request.url or ""
        if url.startswith(TWEEPY_HOST):
            request.url = self._base + url[len(TWEEPY_HOST) :]
            if proxies and should_bypass_proxies(request.url, no_proxy=None):
                proxies = {}
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return super().send(
            request,
            stream=stream,
            timeout=timeout or REQUEST_TIMEOUT,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def make_client(api_url: str, token: Secret) -> tweepy.Client:
    # tweepy gets the Secret object, so everything it logs says "Bearer <secret>".
    client = tweepy.Client(bearer_token=token, return_type=requests.Response, wait_on_rate_limit=False)
    client.session.mount(TWEEPY_HOST, _ApiAdapter(api_url, token))
    return client


# -- mapping ------------------------------------------------------------------------------------------
def tweet_mention(tweet: dict[str, Any], users: dict[str, dict[str, Any]], now: datetime) -> Mention:
    """One tweet (API v2 object) as a mention record."""
    tid = str(tweet["id"])
    refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets") or []}
    kind, parent = "post", None
    for ref_type in ("retweeted", "replied_to", "quoted"):  # a reply that quotes is a reply
        if ref_type in refs:
            kind, parent = KIND_OF[ref_type], f"x:{refs[ref_type]}"
            break
    user = users.get(str(tweet.get("author_id"))) or {}
    handle = user.get("username")
    links: list[str] = []
    for u in (tweet.get("entities") or {}).get("urls") or []:
        for key in ("unwound_url", "expanded_url"):
            if u.get(key) and u[key] not in links:
                links.append(u[key])
    pm = tweet.get("public_metrics") or {}
    metrics = {ours: int(pm[theirs]) for theirs, ours in METRICS.items() if isinstance(pm.get(theirs), int)}
    upm = user.get("public_metrics") or {}
    extra = {"verified": bool(user["verified"])} if "verified" in user else {}
    author = Author(
        id=str(tweet.get("author_id") or handle or "unknown"),
        handle=handle or str(tweet.get("author_id")),
        name=user.get("name"),
        followers=upm.get("followers_count"),
        description=user.get("description"),
        extra=extra,
    )
    created = parse_time(tweet["created_at"], "created_at") if tweet.get("created_at") else now
    record_extra = {"conversation_id": str(tweet["conversation_id"])} if tweet.get("conversation_id") else {}
    return Mention(
        id=f"x:{tid}",
        source="x",
        kind=kind,
        parent_id=parent,
        url=f"https://x.com/{handle}/status/{tid}" if handle else f"https://x.com/i/web/status/{tid}",
        author=author,
        text=html.unescape(tweet.get("text") or ""),
        links=links,
        created_at=created,
        observed_at=now,
        metrics=metrics or None,
        extra=record_extra,
    )


def search_mentions(body: dict[str, Any], now: datetime) -> list[Mention]:
    """Every tweet of a search page, the referenced ones in ``includes`` too (their metrics refresh)."""
    includes = body.get("includes") or {}
    users = {str(u["id"]): u for u in includes.get("users") or [] if "id" in u}
    out = {}
    for tweet in list(includes.get("tweets") or []) + list(body.get("data") or []):
        if "id" in tweet:
            out[str(tweet["id"])] = tweet_mention(tweet, users, now)
    return list(out.values())


def count_buckets(body: dict[str, Any], watchlist: str) -> list[VolumeCount]:
    """The non-empty buckets of a ``/2/tweets/counts/recent`` answer; malformed buckets are skipped."""
    out = []
    for b in body.get("data") or []:
        try:
            span = parse_time(b["start"], "start"), parse_time(b["end"], "end")
            out.append(VolumeCount(watchlist, "x", *span, int(b.get("tweet_count") or 0)))
        except (KeyError, TypeError, ValueError):
            continue
    return [v for v in out if v.count > 0]


def _newer(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if int(a) >= int(b) else b


def _json_body(resp: requests.Response, key: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        raise SourceError(f"{key}: X answered HTTP {resp.status_code} with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise SourceError(f"{key}: X answered with JSON that is not an object")
    return body


def _reset_time(headers: Any) -> datetime | None:
    value = headers.get("x-rate-limit-reset")
    try:
        return datetime.fromtimestamp(int(value), UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None


def _api_detail(exc: tweepy.HTTPException) -> str:
    try:
        body = exc.response.json()
    except Exception:
        body = {}
    parts = [
        str(body.get(k)) for k in ("title", "detail", "reason") if isinstance(body, dict) and body.get(k)
    ]
    parts += [str(m) for m in exc.api_messages]
    return "; ".join(dict.fromkeys(parts))[:300] or f"HTTP {exc.response.status_code}"


# -- calling X -------------------------------------------------------------------------------------------
class XCaller:
    """What every X source shares: its key, settings and tweepy client, and X's failures as our errors."""

    def __init__(self, key: str, token: Secret, settings: XSettings, client: tweepy.Client | None = None):
        self.key = key
        self.settings = settings
        self.client = client or make_client(settings.api_url, token)
        self.paused: str | None = None  # set on 401/403: polling stops until the config is reloaded

    def _call(self, what: str, fn: Callable[..., Any], now: datetime, *args: Any, **params: Any) -> requests.Response:
        """One X API call through tweepy, its failures as our errors (a 401/403 pauses the source)."""
        try:
            resp: requests.Response = fn(*args, **params)
            return resp
        except tweepy.TooManyRequests as exc:
            raise self._rate_limited(exc, now) from None
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            status = exc.response.status_code
            cause = (
                "the bearer token is wrong, expired or revoked"
                if status == 401
                else f"the token's app or plan may not allow this request ({what}; X API plan level)"
            )
            self.paused = (
                f"{self.key}: X refused the request (HTTP {status}: {_api_detail(exc)}); {cause}. "
                f"Fix ${self.settings.bearer_token_env} or the plan, then reload the config."
            )
            raise PermanentSourceError(self.paused) from None
        except tweepy.BadRequest as exc:
            raise PermanentSourceError(
                f"{self.key}: X rejected the request to {what} ({_api_detail(exc)}); "
                f"check x_query / terms of the watch-list"
            ) from None
        except tweepy.TwitterServerError as exc:
            raise SourceError(f"{self.key}: X server error ({_api_detail(exc)})") from None
        except tweepy.HTTPException as exc:
            raise SourceError(f"{self.key}: X answered {_api_detail(exc)}") from None
        except requests.RequestException as exc:
            raise SourceError(f"{self.key}: network error talking to X: {type(exc).__name__}") from None

    def _rate_limited(self, exc: tweepy.TooManyRequests, now: datetime) -> RateLimited:
        detail = _api_detail(exc)
        if "usage" in detail.lower() and "cap" in detail.lower():
            until = next_month_start(now)  # the plan's monthly cap: nothing to read before next month
            return RateLimited(
                f"{self.key}: X monthly usage cap reached ({detail}); parked until {until:%Y-%m-%d}",
                until=until,
                now=now,
            )
        reset = _reset_time(exc.response.headers)
        if reset is not None and reset > now:
            until = reset
        else:
            # A 429 without a usable reset (or with requests remaining) still means back off.
            retry = exc.response.headers.get("retry-after")
            wait = float(retry) if str(retry or "").isdigit() else 60.0
            until = datetime.fromtimestamp(now.timestamp() + wait, UTC)
        return RateLimited(
            f"{self.key}: X rate limit hit; parked until {until:%H:%M:%S} UTC", until=until, now=now
        )


# -- the source -----------------------------------------------------------------------------------------
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
                body = _json_body(resp, self.key)
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
                run_newest = _newer(meta.get("newest_id"), run_newest)
            next_token = meta.get("next_token")
            pages += 1
            remaining = str(resp.headers.get("x-rate-limit-remaining") or "")
            last_remaining = int(remaining) if remaining.isdigit() else None
            if last_remaining == 0:
                park = _reset_time(resp.headers)
                break
            if not next_token:
                break
        new = {"query": self.query, "since_id": since_id, "usage": usage or self.budget.spend(None, 0, now)}
        if pages and next_token and since_id is not None:
            new["backlog"] = {"next_token": next_token, "newest_id": run_newest}  # finish it next cycle
        elif pages:
            # The run is complete, or this was the very first poll: then the 7-day history beyond one
            # cycle's pages is left unread rather than drained at the expense of what is new.
            new["since_id"] = _newer(since_id, run_newest)
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
        body = _json_body(resp, self.key)
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
