"""Hacker News' Algolia search on 127.0.0.1: ``GET /api/v1/search_by_date``, newest first.

Parameters as documented at hn.algolia.com/api: ``query`` (every word must appear in the title, text,
URL or author), ``tags`` (comma = AND, parentheses = OR: ``(story,comment)``, ``comment,story_123``),
``numericFilters`` (``created_at_i>=X``, comma-separated, operators < <= = >= >), ``hitsPerPage``,
``page``. Answers ``{"hits", "nbHits", "page", "nbPages", "hitsPerPage", ...}``; a story hit carries
``title``, ``url``, ``story_text``, ``points``, ``num_comments``; a comment hit ``comment_text``,
``story_id``, ``story_title``, ``parent_id``; both ``objectID``, ``author``, ``created_at``,
``created_at_i`` and ``_tags``.
"""

from __future__ import annotations

import html
import itertools
import json
import operator
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from devkit.standins.base import LocalServer, Request, Response, StandIn

_IDS = itertools.count(42_000_000)
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "=": operator.eq}


class HNSearch(StandIn):
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.fail_next: int | None = None
        self.server = LocalServer(self._handle)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def _base(self, author: str, created: int | None) -> dict[str, Any]:
        at = created if created is not None else int(time.time())
        return {"created_at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "created_at_i": at, "author": author, "objectID": str(next(_IDS)), "updated_at": None}

    def story(self, author: str, title: str, *, url: str | None = None, text: str | None = None,
              created: int | None = None) -> str:
        item = self._base(author, created)
        oid = item["objectID"]
        item.update(title=title, url=url, story_text=html.escape(text) if text else None, points=1,
                    num_comments=0, comment_text=None, story_id=int(oid), story_title=None, story_url=None,
                    parent_id=None, children=[], _tags=["story", f"author_{author}", f"story_{oid}"])
        with self._lock:
            self.items[oid] = item
        return oid

    def comment(self, author: str, text: str, *, parent: str, created: int | None = None) -> str:
        with self._lock:
            up = self.items[parent]
            story = self.items[str(up["story_id"])]
            item = self._base(author, created)
            item.update(title=None, url=None, story_text=None, points=None, num_comments=None,
                        comment_text=f"<p>{html.escape(text)}</p>", story_id=int(story["objectID"]),
                        story_title=story["title"], story_url=story["url"], parent_id=int(parent),
                        _tags=["comment", f"author_{author}", f"story_{story['objectID']}"])
            self.items[item["objectID"]] = item
            story["num_comments"] += 1
            return str(item["objectID"])

    # -- the API --------------------------------------------------------------------------------
    def _handle(self, req: Request) -> Response:
        if req.path != "/api/v1/search_by_date":
            return Response(404, b'{"message":"Not Found","status":404}', {"Content-Type": "application/json"})
        if self.fail_next:
            status, self.fail_next = self.fail_next, None
            return Response(status, b'{"message":"Internal error","status":500}', {"Content-Type": "application/json"})
        q = {k: v[-1] for k, v in req.query.items()}
        try:
            filters = _numeric(q.get("numericFilters", ""))
            tags = _tags(q.get("tags", ""))
        except ValueError as exc:
            return Response(400, json.dumps({"message": str(exc), "status": 400}).encode(),
                            {"Content-Type": "application/json"})
        words = q.get("query", "").lower().split()
        with self._lock:
            items = sorted(self.items.values(), key=lambda i: (i["created_at_i"], int(i["objectID"])), reverse=True)
        hits = []
        for item in items:
            hay = " ".join(str(item.get(k) or "") for k in ("title", "url", "story_text", "comment_text", "author"))
            if any(w not in hay.lower() for w in words):
                continue
            if not all(any(t in item["_tags"] for t in group) for group in tags):
                continue
            if not all(op(item[field], value) for field, op, value in filters):
                continue
            hits.append({k: v for k, v in item.items() if k != "children"})
        per = min(1000, int(q.get("hitsPerPage") or 20))
        page = int(q.get("page") or 0)
        pages = (len(hits) + per - 1) // per
        body = {"hits": hits[page * per:(page + 1) * per], "nbHits": len(hits), "page": page, "nbPages": pages,
                "hitsPerPage": per, "exhaustiveNbHits": True, "query": q.get("query", ""),
                "params": "&".join(f"{k}={v}" for k, v in q.items()), "processingTimeMS": 1}
        return Response(200, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"})


def _tags(value: str) -> list[list[str]]:
    """``a,(b,c)`` -> [[a], [b, c]]: every group must match, one tag of a group is enough."""
    groups: list[list[str]] = []
    for part in re.findall(r"\([^)]*\)|[^,()]+", value):
        inner = part.strip("()")
        groups.append([t.strip() for t in inner.split(",") if t.strip()])
    return [g for g in groups if g]


def _numeric(value: str) -> list[tuple[str, Any, int]]:
    out = []
    for part in [p.strip() for p in value.split(",") if p.strip()]:
        m = re.fullmatch(r"(created_at_i|points|num_comments)\s*(>=|<=|>|<|=)\s*(-?\d+)", part)
        if not m:
            raise ValueError(f"invalid numericFilters: {part}")
        out.append((m.group(1), _OPS[m.group(2)], int(m.group(3))))
    return out
