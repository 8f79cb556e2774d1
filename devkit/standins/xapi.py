"""An X API v2 stand-in on 127.0.0.1: ``GET /2/tweets/search/recent``, shaped like the real thing.

Responses follow the X developer team's recorded examples in ../shared/fixtures/x-api/ (the
expanded-user-fields recent search and the 429 sample are loaded as templates when present): the
same envelope (``data`` / ``includes`` / ``meta``), the same default fields (``id``, ``text``,
``edit_history_tweet_ids``) plus those asked for, the same headers and rate-limit headers.

It honours ``query`` (terms, "phrases", OR, -exclusions, parentheses, @mentions, #hashtags,
``from:``, ``is:retweet|reply|quote``), ``since_id``, ``until_id``, ``max_results`` (10..100, else a
400 like the real API), ``next_token`` pagination, the expansions ``author_id``,
``referenced_tweets.id`` and ``referenced_tweets.id.author_id``, and ``tweet.fields``/``user.fields``.

    with XApi(token="t0ken") as api:
        api.add_tweet("acme lost my parcel", author="carol", followers=1200)
        api.fail_next(429, reset=int(time.time()) + 60)
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devkit.standins.base import LocalServer, Request, Response, StandIn

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "x-api" / "official-examples"
SEARCH_SAMPLE = "Search_Tweets_Recent_search_200_Success_Request_Tweet_Fields_with_Expanded_User_Fields.json"
RATE_SAMPLE = "Tweet_Lookup_Single_Tweet_Usercontext_429_Rate_Limit_Exceeded.json"
_DROP = {
    "content-encoding",
    "content-length",
    "date",
    "x-connection-hash",
    "x-response-time",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
}
_TWEET_BASE = ("id", "text", "edit_history_tweet_ids")
_USER_BASE = ("id", "name", "username")


def load_sample(name: str) -> dict[str, Any] | None:
    """A recorded example (status, headers, body), or None when ../shared is not beside the repo."""
    try:
        return json.loads((FIXTURES / name).read_text())
    except (OSError, ValueError):
        return None


class XApi(StandIn):
    def __init__(self, *, token: str | None = "test-token", limit: int = 450, seed_fixture: bool = False):
        sample = load_sample(SEARCH_SAMPLE) or {
            "headers": {"content-type": "application/json; charset=utf-8"}
        }
        self.headers = {k: v for k, v in sample["headers"].items() if k.lower() not in _DROP}
        rate = load_sample(RATE_SAMPLE) or {
            "headers": {"content-type": "text/plain;charset=utf-8"},
            "body": "Rate limit exceeded\n",
        }
        self._rate_body = str(rate["body"]).encode()
        self._rate_headers = {k: v for k, v in rate["headers"].items() if k.lower() not in _DROP}
        self.token = token
        self.limit = self.remaining = limit
        self.reset = int(time.time()) + 900
        self.tweets: dict[str, dict[str, Any]] = {}
        # When a search first answered with each tweet (wall clock): where a latency benchmark starts.
        self.served_at: dict[str, float] = {}
        self.users: dict[str, dict[str, Any]] = {}
        # Indexes, so a soak adding tens of thousands of tweets and authors stays cheap to serve:
        # user id by lowercased username, and every tweet (numeric id, id) in numeric order.
        self._by_name: dict[str, str] = {}
        self._order: list[tuple[int, str]] = []
        self._failures: list[Response] = []
        self._good_before_failing = 0
        self._ids = itertools.count(1_580_000_000_000_000_000, 1_000)
        self._user_ids = itertools.count(900_000_001)
        self._lock = threading.RLock()
        self.server = LocalServer(self.handle)
        if seed_fixture and "body" in sample:
            self.load_body(sample["body"])

    # -- data ----------------------------------------------------------------------------------------
    def load_body(self, body: dict[str, Any]) -> None:
        """Add the users and tweets of a recorded response."""
        with self._lock:
            for u in (body.get("includes") or {}).get("users") or []:
                self.users[u["id"]] = dict(u)
                self._by_name.setdefault(u["username"].lower(), u["id"])
            for t in list((body.get("includes") or {}).get("tweets") or []) + list(body.get("data") or []):
                self._put(dict(t))

    def add_user(
        self,
        username: str,
        *,
        followers: int = 100,
        name: str | None = None,
        description: str = "",
        verified: bool = False,
    ) -> dict[str, Any]:
        with self._lock:
            known = self._by_name.get(username.lower())
            if known is not None:
                u = self.users[known]
                u.setdefault("public_metrics", {})["followers_count"] = followers
                return u
            uid = str(next(self._user_ids))
            user = {
                "id": uid,
                "name": name or username.title(),
                "username": username,
                "description": description,
                "verified": verified,
                "created_at": "2015-03-01T10:00:00.000Z",
                "public_metrics": {
                    "followers_count": followers,
                    "following_count": 10,
                    "tweet_count": 500,
                    "listed_count": 1,
                },
            }
            self.users[uid] = user
            self._by_name[username.lower()] = uid
            return user

    def add_tweet(
        self,
        text: str,
        *,
        author: str = "someone",
        followers: int | None = None,
        created_at: datetime | None = None,
        replied_to: str | None = None,
        retweeted: str | None = None,
        quoted: str | None = None,
        urls: tuple[str, ...] | list[str] = (),
        metrics: dict[str, int] | None = None,
        tweet_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a tweet; ``replied_to``/``retweeted``/``quoted`` take the id of a tweet. Returns it."""
        with self._lock:
            user = self.add_user(author) if followers is None else self.add_user(author, followers=followers)
            tid = tweet_id or str(next(self._ids))
            refs = [
                {"type": k, "id": v}
                for k, v in (("retweeted", retweeted), ("replied_to", replied_to), ("quoted", quoted))
                if v
            ]
            if retweeted and retweeted in self.tweets:
                orig = self.tweets[retweeted]
                who = self.users.get(orig.get("author_id", ""), {}).get("username", "someone")
                text = text or f"RT @{who}: {orig['text']}"[:140]
            entities: dict[str, Any] = {}
            if urls:
                entities["urls"] = []
                for i, u in enumerate(urls):
                    short = f"https://t.co/x{tid[-6:]}{i}"
                    text = f"{text} {short}"
                    entities["urls"].append(
                        {
                            "start": len(text) - len(short),
                            "end": len(text),
                            "url": short,
                            "expanded_url": u,
                            "display_url": u.split("//", 1)[-1][:25],
                        }
                    )
            when = (created_at or datetime.now(UTC)).astimezone(UTC)
            parent = self.tweets.get(replied_to or "")
            tweet: dict[str, Any] = {
                "id": tid,
                "text": text,
                "edit_history_tweet_ids": [tid],
                "author_id": user["id"],
                "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "lang": "en",
                "conversation_id": (parent or {}).get("conversation_id", replied_to) or tid,
                "public_metrics": {
                    "retweet_count": 0,
                    "reply_count": 0,
                    "like_count": 0,
                    "quote_count": 0,
                    "bookmark_count": 0,
                    "impression_count": 0,
                    **(metrics or {}),
                },
            }
            if refs:
                tweet["referenced_tweets"] = refs
            if entities:
                tweet["entities"] = entities
            self._put(tweet)
            return tweet

    def _put(self, tweet: dict[str, Any]) -> None:
        if tweet["id"] not in self.tweets:
            bisect.insort(self._order, (int(tweet["id"]), tweet["id"]))
        self.tweets[tweet["id"]] = tweet

    def set_metrics(self, tweet_id: str, **metrics: int) -> None:
        with self._lock:
            self.tweets[tweet_id]["public_metrics"].update(metrics)

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        reset: int | None = None,
        remaining: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        after: int = 0,
    ) -> None:
        """After ``after`` more good answers, the next ``times`` searches answer ``status`` (429 bodies
        like the recorded sample)."""
        if body is None:
            body = self._rate_body if status == 429 else _problem(status)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = dict(self._rate_headers if status == 429 else self.headers)
        if status == 429 or reset is not None:
            h.update(
                {
                    "x-rate-limit-limit": str(self.limit),
                    "x-rate-limit-remaining": str(0 if remaining is None else remaining),
                    "x-rate-limit-reset": str(reset if reset is not None else self.reset),
                }
            )
        h.update(headers or {})
        with self._lock:
            self._good_before_failing = after
            self._failures.extend(Response(status, raw, dict(h)) for _ in range(times))

    # -- handler ----------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path != "/2/tweets/search/recent":
            return self._json(404, _problem(404))
        if self.token is not None and req.headers.get("authorization") != f"Bearer {self.token}":
            return self._json(401, _problem(401))
        with self._lock:
            if self._failures and self._good_before_failing <= 0:
                return self._failures.pop(0)
            self._good_before_failing -= 1
            if self.remaining <= 0:
                return Response(429, self._rate_body, {**self._rate_headers, **self._limits()})
            self.remaining -= 1
            return self._search(req)

    def _limits(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(max(0, self.remaining)),
            "x-rate-limit-reset": str(self.reset),
        }

    def _json(self, status: int, body: dict[str, Any]) -> Response:
        return Response(status, json.dumps(body).encode(), {**self.headers, **self._limits()})

    def _search(self, req: Request) -> Response:
        q = {k: v[-1] for k, v in req.query.items()}
        query = q.get("query", "")
        if not query.strip():
            return self._json(400, _invalid("query", "The `query` query parameter can not be empty"))
        size = int(q.get("max_results", "10") or 10)
        if not 10 <= size <= 100:
            return self._json(
                400,
                _invalid(
                    "max_results",
                    f"The `max_results` query parameter value [{size}] is not between 10 and 100",
                ),
            )
        match = compile_query(query, self.users)
        since, until = int(q.get("since_id") or 0), int(q.get("until_id") or 0)
        if q.get("next_token"):
            until = int(base64.urlsafe_b64decode(q["next_token"].encode()).decode())
        lo = bisect.bisect_right(self._order, since, key=_numeric)
        hi = bisect.bisect_left(self._order, until, key=_numeric) if until else len(self._order)
        hits = [t for t in (self.tweets[tid] for _, tid in reversed(self._order[lo:hi])) if match(t)]
        page, more = hits[:size], len(hits) > size
        if not page:
            return self._json(200, {"meta": {"result_count": 0}})
        served = time.time()
        for t in page:
            self.served_at.setdefault(t["id"], served)
        expansions = set(filter(None, q.get("expansions", "").split(",")))
        tfields = set(filter(None, q.get("tweet.fields", "").split(",")))
        ufields = set(filter(None, q.get("user.fields", "").split(",")))
        # The real API adds the fields an expansion rests on.
        tfields |= {"author_id"} & expansions | (
            {"referenced_tweets"} if "referenced_tweets.id" in expansions else set()
        )
        body: dict[str, Any] = {"data": [_pick(t, _TWEET_BASE, tfields) for t in page]}
        includes: dict[str, list[dict[str, Any]]] = {}
        authors = [t["author_id"] for t in page] if "author_id" in expansions else []
        if "referenced_tweets.id" in expansions:
            refd = [
                self.tweets[r["id"]]
                for t in page
                for r in t.get("referenced_tweets", [])
                if r["id"] in self.tweets
            ]
            if refd:
                includes["tweets"] = [
                    _pick(t, _TWEET_BASE, tfields) for t in {t["id"]: t for t in refd}.values()
                ]
            if "referenced_tweets.id.author_id" in expansions:
                authors += [t["author_id"] for t in refd]
        users = [self.users[a] for a in dict.fromkeys(authors) if a in self.users]
        if users:
            includes["users"] = [_pick(u, _USER_BASE, ufields) for u in users]
        if includes:
            body["includes"] = includes
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if more:
            meta["next_token"] = base64.urlsafe_b64encode(page[-1]["id"].encode()).decode()
        body["meta"] = meta
        return self._json(200, body)


def _numeric(entry: tuple[int, str]) -> int:
    return entry[0]


def _pick(obj: dict[str, Any], base: tuple[str, ...], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in base or k in fields}


def _problem(status: int) -> dict[str, Any]:
    if status == 401:
        return {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    if status == 403:
        return {
            "title": "Client Forbidden",
            "type": "https://api.twitter.com/2/problems/client-forbidden",
            "reason": "client-not-enrolled",
            "required_enrollment": "Appropriate Level of API Access",
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
            "tokens from a Twitter developer App that is attached to a Project.",
        }
    if status == 404:
        return {
            "title": "Not Found Error",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
            "detail": "Not found",
        }
    return {
        "title": "Service Unavailable" if status == 503 else "Internal Server Error",
        "status": status,
        "type": "about:blank",
        "detail": "Something went wrong. Try again later.",
    }


def _invalid(param: str, message: str) -> dict[str, Any]:
    return {
        "errors": [{"parameters": {param: []}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


# -- a small evaluator of search queries ----------------------------------------------------------------
_TOKEN = re.compile(r'\s*(-?)("[^"]*"|\(|\)|[^\s()]+)')
Pred = Callable[[dict[str, Any]], bool]


def compile_query(query: str, users: dict[str, dict[str, Any]]) -> Pred:
    tokens = [(m.group(1) == "-", m.group(2)) for m in _TOKEN.finditer(query)]
    pos = 0

    def or_expr() -> Pred:
        nonlocal pos
        parts = [and_expr()]
        while pos < len(tokens) and tokens[pos][1] == "OR":
            pos += 1
            parts.append(and_expr())
        return lambda t: any(p(t) for p in parts)

    def and_expr() -> Pred:
        nonlocal pos
        parts: list[Pred] = []
        while pos < len(tokens) and tokens[pos][1] not in (")", "OR"):
            neg, tok = tokens[pos]
            pos += 1
            if tok == "(":
                inner = or_expr()
                pos += 1  # the closing parenthesis
            else:
                inner = _atom(tok, users)
            parts.append((lambda p: lambda t: not p(t))(inner) if neg else inner)
        return lambda t: all(p(t) for p in parts)

    return or_expr()


def _atom(tok: str, users: dict[str, dict[str, Any]]) -> Pred:
    if tok.startswith('"'):
        phrase = tok.strip('"').lower()
        return lambda t: phrase in t["text"].lower()
    if ":" in tok and not tok.startswith(("@", "#")):
        op, _, value = tok.partition(":")
        refs = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}
        if op == "is" and value in refs:
            return lambda t: any(r["type"] == refs[value] for r in t.get("referenced_tweets", []))
        if op == "from":
            return lambda t: (
                users.get(t.get("author_id", ""), {}).get("username", "").lower() == value.lower()
            )
        return lambda t: True  # lang:, has:, ... accepted, not filtered
    pattern = re.compile(r"(?<![\w@#])" + re.escape(tok) + r"(?!\w)", re.IGNORECASE)
    return lambda t: bool(pattern.search(t["text"]))
