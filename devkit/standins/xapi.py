"""An X API v2 stand-in on 127.0.0.1, shaped like the real thing as it behaves today (2026).

Endpoints: recent search (``GET /2/tweets/search/recent``), post lookup (``GET /2/tweets?ids=``, at
most 100 ids), quote posts (``GET /2/tweets/:id/quote_tweets``), recent counts
(``GET /2/tweets/counts/recent``), the filtered stream (``GET /2/tweets/search/stream``, one
connection, newline-delimited JSON with ``\r\n`` keep-alives; ``backfill_minutes=N``, 1 to 5, replays the
matching posts of the last N minutes on connect, as X's recovery does) and its rules
(``GET``/``POST /2/tweets/search/stream/rules``: at most 1,000 rules of at most 1,024 characters), and
the usage endpoint (``GET /2/usage/tweets``, post reads billed once per post per UTC day).

Since 4 May 2026 keyword search returns no reposts: neither does this stand-in, unless it is built
with ``search_reposts=True`` (the old behaviour, for benchmarks that predate it). Adding a repost,
reply or quote raises its parent's ``public_metrics`` as X does, and ``add_reposts`` raises a post's
repost count without any repost object: the reposts search never shows.

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
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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
    def __init__(self, *, token: str | None = "test-token", limit: int = 450, seed_fixture: bool = False,
                 search_reposts: bool = False, heartbeat: float = 0.2, post_cap: int = 3_000_000):
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
        self.search_reposts = search_reposts
        self.heartbeat = heartbeat  # seconds between the stream's keep-alives (X sends one every 20 s)
        self.post_cap = post_cap
        self.rules: dict[str, dict[str, str]] = {}
        self._rule_ids = itertools.count(1_600_000_000_000_000_001)
        self._streams: list[queue.Queue[bytes | None]] = []
        self._stream_query: dict[str, str] = {}
        self.stream_connections = 0  # connections accepted, in all
        self.billed: dict[str, set[str]] = {}  # UTC day -> post ids billed that day
        self.post_reads = 0  # billed post reads, re-reads within a UTC day not counted
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
            for parent_id, count in ((retweeted, "retweet_count"), (replied_to, "reply_count"),
                                     (quoted, "quote_count")):
                target = self.tweets.get(parent_id or "")
                if target is not None:
                    target["public_metrics"][count] = target["public_metrics"].get(count, 0) + 1
            self._publish(tweet)
            return tweet

    def add_reposts(self, tweet_id: str, n: int) -> None:
        """``n`` more reposts of a post, seen only in its ``public_metrics`` (search returns none)."""
        with self._lock:
            pm = self.tweets[tweet_id]["public_metrics"]
            pm["retweet_count"] = pm.get("retweet_count", 0) + n

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

    def answer_next(self, body: Any, *, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next ``times`` requests get ``body`` with HTTP 200 and ``headers``, whatever they ask: a
        recorded answer served as it was."""
        self.fail_next(200, body=body, headers=headers, times=times)

    # -- handler ----------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        route = self._route(req)
        if route is None:
            return self._json(404, _problem(404))
        if self.token is not None and req.headers.get("authorization") != f"Bearer {self.token}":
            return self._json(401, _problem(401))
        if route in (self._rules, self._stream, self._usage):
            return route(req)
        with self._lock:
            if self._failures and self._good_before_failing <= 0:
                return self._failures.pop(0)
            self._good_before_failing -= 1
            if self.remaining <= 0:
                return Response(429, self._rate_body, {**self._rate_headers, **self._limits()})
            self.remaining -= 1
            return route(req)

    def _route(self, req: Request) -> Callable[[Request], Response] | None:
        path = req.path.rstrip("/")
        if path == "/2/tweets/search/recent":
            return self._search
        if path == "/2/tweets":
            return self._lookup
        if path == "/2/tweets/counts/recent":
            return self._counts
        if path == "/2/tweets/search/stream":
            return self._stream
        if path == "/2/tweets/search/stream/rules":
            return self._rules
        if path == "/2/usage/tweets":
            return self._usage
        if re.fullmatch(r"/2/tweets/\d+/quote_tweets", path):
            return self._quotes
        return None

    def _bill(self, tweets: list[dict[str, Any]]) -> None:
        """Count post reads as pay-per-use bills them: a post read again the same UTC day is free."""
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        seen = self.billed.setdefault(day, set())
        for t in tweets:
            if t["id"] not in seen:
                seen.add(t["id"])
                self.post_reads += 1

    def _envelope(self, page: list[dict[str, Any]], q: dict[str, str]) -> dict[str, Any]:
        """``data`` (with the fields asked for) and ``includes`` (the expansions asked for) of ``page``."""
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
        self._bill(page)
        return body

    def _lookup(self, req: Request) -> Response:
        q = {k: v[-1] for k, v in req.query.items()}
        ids = [i for i in q.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return self._json(400, _invalid("ids", f"size [{len(ids)}] is not between 1 and 100"))
        found = [self.tweets[i] for i in dict.fromkeys(ids) if i in self.tweets]
        body = self._envelope(found, q) if found else {}
        missing = [i for i in dict.fromkeys(ids) if i not in self.tweets]
        if missing:
            body["errors"] = [
                {"value": i, "detail": f"Could not find tweet with ids: [{i}].", "title": "Not Found Error",
                 "resource_type": "tweet", "parameter": "ids", "resource_id": i,
                 "type": "https://api.twitter.com/2/problems/resource-not-found"} for i in missing
            ]
        return self._json(200, body)

    def _quotes(self, req: Request) -> Response:
        q = {k: v[-1] for k, v in req.query.items()}
        tid = req.path.rstrip("/").split("/")[3]
        size = int(q.get("max_results", "10") or 10)
        if not 10 <= size <= 100:
            return self._json(400, _invalid("max_results", f"The `max_results` query parameter value [{size}] "
                                                           "is not between 10 and 100"))
        hits = [self.tweets[i] for _, i in reversed(self._order)
                if any(r["type"] == "quoted" and r["id"] == tid for r in self.tweets[i].get("referenced_tweets", []))]
        token = q.get("pagination_token")
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        page = hits[start:start + size]
        body = self._envelope(page, q) if page else {}
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + size < len(hits):
            meta["next_token"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        body["meta"] = meta
        return self._json(200, body)

    def _counts(self, req: Request) -> Response:
        q = {k: v[-1] for k, v in req.query.items()}
        query = q.get("query", "")
        if not query.strip():
            return self._json(400, _invalid("query", "The `query` query parameter can not be empty"))
        granularity = q.get("granularity", "hour")
        step = {"minute": 60, "hour": 3600, "day": 86400}.get(granularity)
        if step is None:
            return self._json(400, _invalid("granularity", f"Invalid granularity [{granularity}]"))
        now = datetime.now(UTC)
        end = _iso(q["end_time"]) if q.get("end_time") else now - timedelta(seconds=10)
        start = _iso(q["start_time"]) if q.get("start_time") else now - timedelta(days=7)
        match = compile_query(query, self.users)
        floor = datetime.fromtimestamp(start.timestamp() // step * step, UTC)
        buckets: list[dict[str, Any]] = []
        t = floor
        while t < end:
            buckets.append({"start": _stamp(max(t, start)), "end": _stamp(min(t + timedelta(seconds=step), end)),
                            "tweet_count": 0})
            t += timedelta(seconds=step)
        for tweet in self.tweets.values():
            at = _iso(tweet["created_at"])
            if start <= at < end and self._searchable(tweet) and match(tweet):
                buckets[int((at - floor).total_seconds() // step)]["tweet_count"] += 1
        total = sum(b["tweet_count"] for b in buckets)
        return self._json(200, {"data": buckets, "meta": {"total_tweet_count": total}})

    def _usage(self, req: Request) -> Response:
        day = datetime.now(UTC).day
        return self._json(200, {"data": {"project_id": "1369785403853424", "project_cap": str(self.post_cap),
                                         "project_usage": str(self.post_reads), "cap_reset_day": day}})

    # -- the filtered stream ------------------------------------------------------------------------------
    def _rules(self, req: Request) -> Response:
        sent = _stamp(datetime.now(UTC))
        with self._lock:
            if req.method == "GET":
                body: dict[str, Any] = {"meta": {"sent": sent, "result_count": len(self.rules)}}
                if self.rules:
                    body["data"] = list(self.rules.values())
                return self._json(200, body)
            try:
                asked = json.loads(req.body or b"{}")
            except ValueError:
                return self._json(400, _invalid("body", "The request body is not valid JSON"))
            if "delete" in asked:
                ids = list((asked["delete"] or {}).get("ids") or [])
                gone = [i for i in ids if self.rules.pop(str(i), None) is not None]
                return self._json(200, {"meta": {"sent": sent, "summary": {"deleted": len(gone),
                                                                           "not_deleted": len(ids) - len(gone)}}})
            created, errors = [], []
            for rule in asked.get("add") or []:
                value = str(rule.get("value") or "")
                if len(value) > 1024:
                    errors.append({"value": value, "details": ["Rule is too long"], "title": "RuleTooLong",
                                   "type": "https://api.twitter.com/2/problems/invalid-rules"})
                    continue
                if len(self.rules) >= 1000:
                    errors.append({"value": value, "title": "RuleCapEnforcementError",
                                   "details": ["You have reached the maximum number of rules (1000)"],
                                   "type": "https://api.twitter.com/2/problems/rule-cap"})
                    continue
                if any(r["value"] == value for r in self.rules.values()):
                    errors.append({"value": value, "title": "DuplicateRule", "id": next(
                        r["id"] for r in self.rules.values() if r["value"] == value),
                                   "type": "https://api.twitter.com/2/problems/duplicate-rules"})
                    continue
                rid = str(next(self._rule_ids))
                self.rules[rid] = {"id": rid, "value": value, **({"tag": rule["tag"]} if rule.get("tag") else {})}
                created.append(self.rules[rid])
            body = {"meta": {"sent": sent, "summary": {"created": len(created), "not_created": len(errors),
                                                       "valid": len(created), "invalid": len(errors)}}}
            if created:
                body["data"] = created
            if errors:
                body["errors"] = errors
            return self._json(200 if created or not errors else 400, body)

    def _stream(self, req: Request) -> Response:
        with self._lock:
            if self._streams:
                return self._json(429, {"title": "ConnectionException", "connection_issue": "TooManyConnections",
                                        "detail": "This stream is currently at the maximum allowed connection limit.",
                                        "type": "https://api.twitter.com/2/problems/streaming-connection"})
            query = {k: v[-1] for k, v in req.query.items()}
            minutes = query.get("backfill_minutes")
            if minutes is not None and not (minutes.isdigit() and 1 <= int(minutes) <= 5):
                return self._json(400, _invalid("backfill_minutes", f"The `backfill_minutes` query parameter "
                                                f"value [{minutes}] is not between 1 and 5"))
            q: queue.Queue[bytes | None] = queue.Queue()
            self._streams.append(q)
            self._stream_query = query
            self.stream_connections += 1
            if minutes is not None:  # X's recovery: the matching posts of the last N minutes, oldest first
                since = datetime.now(UTC) - timedelta(minutes=int(minutes))
                for _, tid in self._order:
                    tweet = self.tweets[tid]
                    line = self._stream_line(tweet) if _iso(tweet["created_at"]) >= since else None
                    if line is not None:
                        q.put(line)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-type"}
        headers["content-type"] = "application/json; charset=utf-8"
        return Response(200, b"", headers, stream=self._feed(q))

    def _feed(self, q: queue.Queue[bytes | None]) -> Iterator[bytes]:
        try:
            while True:
                try:
                    item = q.get(timeout=self.heartbeat)
                except queue.Empty:
                    yield b"\r\n"  # keep-alive
                    continue
                if item is None:
                    return
                yield item
        finally:
            with self._lock:
                if q in self._streams:
                    self._streams.remove(q)

    def _publish(self, tweet: dict[str, Any]) -> None:
        """Deliver a new post to the open stream connection when it matches a rule."""
        if not self._streams:
            return
        line = self._stream_line(tweet)
        if line is None:
            return
        for q in list(self._streams):
            q.put(line)

    def _stream_line(self, tweet: dict[str, Any]) -> bytes | None:
        """The stream's line for ``tweet`` (with the rules it matched), or None when it matches none."""
        matched = [{"id": r["id"], "tag": r.get("tag", "")} for r in self.rules.values()
                   if compile_query(r["value"], self.users)(tweet)]
        if not matched:
            return None
        body = self._envelope([tweet], self._stream_query)
        body = {"data": body["data"][0], **({"includes": body["includes"]} if "includes" in body else {}),
                "matching_rules": matched}
        return json.dumps(body).encode() + b"\r\n"

    def disconnect_stream(self) -> None:
        """End the open stream connection, as X does on a stall or a deploy."""
        with self._lock:
            for q in self._streams:
                q.put(None)

    @property
    def streaming(self) -> bool:
        return bool(self._streams)

    def _searchable(self, tweet: dict[str, Any]) -> bool:
        """Keyword search (and its counts) returns no reposts since 4 May 2026."""
        return self.search_reposts or not any(r["type"] == "retweeted" for r in tweet.get("referenced_tweets", []))

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
        hits = [t for t in (self.tweets[tid] for _, tid in reversed(self._order[lo:hi]))
                if self._searchable(t) and match(t)]
        page, more = hits[:size], len(hits) > size
        if not page:
            return self._json(200, {"meta": {"result_count": 0}})
        served = time.time()
        for t in page:
            self.served_at.setdefault(t["id"], served)
        body = self._envelope(page, q)
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


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


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
        if op == "conversation_id":
            return lambda t: str(t.get("conversation_id")) == value
        if op == "from":
            return lambda t: (
                users.get(t.get("author_id", ""), {}).get("username", "").lower() == value.lower()
            )
        return lambda t: True  # lang:, has:, ... accepted, not filtered
    pattern = re.compile(r"(?<![\w@#])" + re.escape(tok) + r"(?!\w)", re.IGNORECASE)
    return lambda t: bool(pattern.search(t["text"]))
