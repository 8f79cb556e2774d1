"""A Mastodon instance on 127.0.0.1: the REST API the Mastodon source reads, in its documented shapes.

- ``GET /api/v1/timelines/tag/:hashtag`` (``since_id``, ``max_id``, ``min_id``, ``limit`` up to 40),
  newest first, with a ``Link`` header (``rel="next"``/``rel="prev"``) as the real one;
- ``GET /api/v2/search?type=statuses&q=...`` (only with a bearer token: 401 without, as
  status search is for logged-in users);
- ``GET /api/v1/statuses/:id/context`` (``ancestors``, ``descendants``) and
  ``GET /api/v1/statuses/:id/reblogged_by`` (accounts);
- ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (ISO 8601) on every answer; past the limit, 429.

Statuses are shaped as docs.joinmastodon.org/entities/Status: ``id`` (a numeric string),
``created_at``, ``content`` (HTML), ``url``, ``uri``, ``in_reply_to_id``, ``reblog``, ``account``
(``id``, ``acct``, ``followers_count``...), ``tags``, ``mentions``, the counts.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from devkit.standins.base import LocalServer, Request, Response, StandIn

_IDS = itertools.count(110_000_000_000_000_000)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MastodonInstance(StandIn):
    def __init__(self, *, token: str | None = None, limit: int = 300):
        self.token = token
        self.limit = limit
        self.remaining = limit
        self.reset = datetime.now(UTC) + timedelta(minutes=5)
        self.statuses: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.boosts: dict[str, list[str]] = {}
        self.fail_next: int | None = None  # the next request is answered with this status
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle)

    # -- content --------------------------------------------------------------------------------
    def account(self, username: str, followers: int = 100) -> dict[str, Any]:
        if username not in self.accounts:
            aid = str(next(_IDS))
            self.accounts[username] = {
                "id": aid, "username": username, "acct": username, "display_name": username.title(),
                "locked": False, "bot": False, "created_at": "2022-11-01T00:00:00.000Z", "note": "",
                "url": f"{self.url}/@{username}", "followers_count": followers, "following_count": 10,
                "statuses_count": 42, "avatar": "", "header": "", "emojis": [], "fields": [],
            }
        self.accounts[username]["followers_count"] = followers
        return self.accounts[username]

    def post(self, username: str, text: str, *, followers: int = 100, reply_to: str | None = None,
             tags: list[str] | None = None, link: str | None = None) -> str:
        """Publish a status (a reply with ``reply_to``); its hashtags are written into the HTML as Mastodon
        does. Returns its id."""
        acc = self.account(username, followers)
        sid = str(next(_IDS))
        body = html.escape(text)
        trailing = []
        for t in tags or []:  # a hashtag written in the text is linked in place, else it is appended
            anchor = f'<a href="{self.url}/tags/{t.lower()}" class="mention hashtag" rel="tag">#<span>{t}</span></a>'
            if f"#{t}" in body:
                body = body.replace(f"#{t}", anchor, 1)
            else:
                trailing.append(anchor)
        words = " ".join(trailing)
        if link:
            body += f' <a href="{html.escape(link)}" rel="nofollow noopener" target="_blank">{html.escape(link)}</a>'
        status = {
            "id": sid, "created_at": _now(), "in_reply_to_id": reply_to,
            "in_reply_to_account_id": self.statuses[reply_to]["account"]["id"] if reply_to in self.statuses else None,
            "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
            "uri": f"{self.url}/users/{username}/statuses/{sid}", "url": f"{self.url}/@{username}/{sid}",
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "edited_at": None,
            "content": f"<p>{body} {words}</p>".replace(" </p>", "</p>"), "reblog": None,
            "application": None, "account": acc, "media_attachments": [], "mentions": [],
            "tags": [{"name": t.lower(), "url": f"{self.url}/tags/{t.lower()}"} for t in tags or []],
            "emojis": [], "card": None, "poll": None,
        }
        with self._lock:
            self.statuses[sid] = status
            if reply_to in self.statuses:
                self.statuses[reply_to]["replies_count"] += 1
        return sid

    def boost(self, username: str, sid: str, followers: int = 100) -> None:
        acc = self.account(username, followers)
        with self._lock:
            self.boosts.setdefault(sid, []).append(acc["id"])
            self.statuses[sid]["reblogs_count"] += 1

    # -- the API --------------------------------------------------------------------------------
    def _json(self, status: int, body: Any, extra: dict[str, str] | None = None) -> Response:
        headers = {"Content-Type": "application/json; charset=utf-8", "X-RateLimit-Limit": str(self.limit),
                   "X-RateLimit-Remaining": str(max(0, self.remaining)),
                   "X-RateLimit-Reset": self.reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        return Response(status, json.dumps(body).encode(), {**headers, **(extra or {})})

    def _handle(self, req: Request) -> Response:
        with self._lock:
            if datetime.now(UTC) >= self.reset:
                self.remaining, self.reset = self.limit, datetime.now(UTC) + timedelta(minutes=5)
            if self.remaining <= 0:
                return self._json(429, {"error": "Too many requests"})
            if self.fail_next:
                status, self.fail_next = self.fail_next, None
                return self._json(status, {"error": "We're sorry, but something went wrong on our end."})
            self.remaining -= 1
            authed = self.token is not None and req.headers.get("authorization") == f"Bearer {self.token}"
            q = {k: v[-1] for k, v in req.query.items()}
            if m := re.fullmatch(r"/api/v1/timelines/tag/([^/]+)", req.path):
                return self._timeline(m.group(1).lower(), q)
            if req.path == "/api/v2/search":
                if not authed:
                    return self._json(401, {"error": "The access token is invalid"})
                words = q.get("q", "").lower().split()
                hits = [s for s in self._newest() if all(w in s["content"].lower() for w in words)]
                return self._json(200, {"accounts": [], "statuses": self._page(hits, q)[0], "hashtags": []})
            if m := re.fullmatch(r"/api/v1/statuses/(\d+)/context", req.path):
                if m.group(1) not in self.statuses:
                    return self._json(404, {"error": "Record not found"})
                return self._json(200, {"ancestors": [], "descendants": self._descendants(m.group(1))})
            if m := re.fullmatch(r"/api/v1/statuses/(\d+)/reblogged_by", req.path):
                if m.group(1) not in self.statuses:
                    return self._json(404, {"error": "Record not found"})
                by_id = {a["id"]: a for a in self.accounts.values()}
                return self._json(200, [by_id[a] for a in self.boosts.get(m.group(1), [])])
            return self._json(404, {"error": "Record not found"})

    def _newest(self) -> list[dict[str, Any]]:
        return sorted(self.statuses.values(), key=lambda s: int(s["id"]), reverse=True)

    def _page(self, statuses: list[dict[str, Any]], q: dict[str, str]) -> tuple[list[dict[str, Any]], bool]:
        limit = min(40, int(q.get("limit") or 20))
        if q.get("max_id"):
            statuses = [s for s in statuses if int(s["id"]) < int(q["max_id"])]
        if q.get("since_id"):
            statuses = [s for s in statuses if int(s["id"]) > int(q["since_id"])]
        if q.get("min_id"):  # the ones immediately newer than min_id, still newest first
            older_first = [s for s in reversed(statuses) if int(s["id"]) > int(q["min_id"])][:limit]
            return list(reversed(older_first)), False
        return statuses[:limit], len(statuses) > limit

    def _timeline(self, tag: str, q: dict[str, str]) -> Response:
        tagged = [s for s in self._newest() if tag in {t["name"] for t in s["tags"]}]
        page, more = self._page(tagged, q)
        links = []
        if page:
            base = f"{self.url}/api/v1/timelines/tag/{tag}"
            links.append(f'<{base}?max_id={page[-1]["id"]}>; rel="next"')
            links.append(f'<{base}?min_id={page[0]["id"]}>; rel="prev"')
        return self._json(200, page, {"Link": ", ".join(links)} if links else None)

    def _descendants(self, sid: str) -> list[dict[str, Any]]:
        out, frontier = [], {sid}
        for s in sorted(self.statuses.values(), key=lambda s: int(s["id"])):
            if s["in_reply_to_id"] in frontier:
                out.append(s)
                frontier.add(s["id"])
        return out
