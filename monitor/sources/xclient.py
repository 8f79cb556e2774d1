"""X API v2 through tweepy: the client (every request routed to the configured ``api_url``, the token
on the wire only), posts as mention records, counts as volume, and the caller that reads rate-limit
headers and parks a source until the reset. Shared by search (x.py), lookups (xlookup.py) and the
stream (xstream.py).

tweepy runs in a worker thread (``asyncio.to_thread``) and never sleeps on its own: it is built
without ``wait_on_rate_limit``, and we read ``x-rate-limit-remaining`` / ``x-rate-limit-reset`` from
each response (``return_type=requests.Response``) to park this source alone until the reset.
tweepy fixes its host; a requests adapter mounted on the session routes every request to the
configured ``api_url`` instead. tweepy is only ever handed the ``Secret`` object (which prints as
``<secret>``): the adapter puts the real Authorization header on the wire, so tweepy's DEBUG log
(which prints request headers) never holds the token.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies

from monitor.config.settings import Secret, XSettings
from monitor.errors import PermanentSourceError, SourceError
from monitor.records.mention import Author, Mention, parse_time
from monitor.records.volume import VolumeCount
from monitor.sources.base import RateLimited
from monitor.sources.budget import next_month_start

log = logging.getLogger(__name__)
TWEEPY_HOST = "https://api.twitter.com"
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
    # A post without author_id (X's default lookup payload) has an unknown author, not one named "None".
    author = Author(
        id=str(tweet.get("author_id") or handle or "unknown"),
        handle=handle or str(tweet.get("author_id") or "unknown"),
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


def newer_id(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if int(a) >= int(b) else b


def json_body(resp: requests.Response, key: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        raise SourceError(f"{key}: X answered HTTP {resp.status_code} with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise SourceError(f"{key}: X answered with JSON that is not an object")
    return body


def reset_time(headers: Any) -> datetime | None:
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
        reset = reset_time(exc.response.headers)
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
