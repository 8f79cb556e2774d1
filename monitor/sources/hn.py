"""Hacker News through its public Algolia search (``hn.algolia.com/api/v1``).

One ``HNSource`` per watch-list (key ``hn:<watch-list>``). Each poll, within Algolia's documented
limit of 10,000 requests an hour per IP (``hn.requests_per_hour``, counted in the cursor):

1. each term: ``search_by_date?query=<term>&tags=(story,comment)&numericFilters=created_at_i>=<since>``,
   ``hitsPerPage`` at a time, every page up to ``nbPages`` (at most ``max_pages_per_cycle``; a run not
   finished is finished the next poll from where it stopped);
2. each followed story (one a hit belonged to, for ``follow_threads_for``; tracked stories first):
   ``search_by_date?tags=comment,story_<id>&numericFilters=created_at_i>=<since>``: its new comments.

A story's comment thread is its cascade: a comment's ``parent_id`` names the story or the comment it
answers, so replies chain to the story (``story_id``). A comment in a followed thread is passed on
only when what it answers is tracked, or passed on in the same poll: the rest of a big thread under
an untracked story is no one's.

Cursor: ``{"terms": {term: {"since": created_at_i, "seen": [objectIDs at that second]}},
"threads": {story_id: {"at": created_at_i, "since": ..., "seen": [...]}}, "hour": {...}}``.
Hits at the boundary second are asked again (``>=``) and skipped by id, so none is lost or doubled.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config.settings import HNSettings
from monitor.records.mention import Author, Mention, format_time, lenient_time
from monitor.sources.base import PollResult
from monitor.sources.body import FetchError
from monitor.sources.html import html_to_text
from monitor.sources.http import HttpFetcher
from monitor.sources.jsonapi import get_json, with_query
from monitor.store.database import Store

log = logging.getLogger(__name__)
ITEM_URL = "https://news.ycombinator.com/item?id="
HOUR = timedelta(hours=1)


def hit_mention(hit: dict[str, Any], now: datetime) -> Mention | None:
    """One Algolia hit (a story or a comment) as a mention; None for other kinds (polls, jobs)."""
    oid = str(hit.get("objectID") or "")
    tags = hit.get("_tags") or []
    created = (datetime.fromtimestamp(int(hit["created_at_i"]), UTC) if isinstance(hit.get("created_at_i"), int)
               else lenient_time(hit.get("created_at")) or now)
    author = Author(id=str(hit.get("author") or "unknown"), handle=str(hit.get("author") or "unknown"))
    extra: dict[str, Any] = {"created_at_i": int(created.timestamp())}
    if hit.get("comment_text") is not None or "comment" in tags:
        text, links = html_to_text(str(hit.get("comment_text") or ""), ITEM_URL + oid)
        parent = hit.get("parent_id") or hit.get("story_id")
        if not oid or parent is None:
            return None
        extra["story_id"] = str(hit.get("story_id")) if hit.get("story_id") is not None else None
        if hit.get("story_title"):
            extra["story_title"] = hit["story_title"]
        return Mention(f"hn:{oid}", "hn", "comment", f"hn:{parent}", ITEM_URL + oid, author, text, links, created,
                       now, extra={k: v for k, v in extra.items() if v is not None})
    if not oid or ("story" not in tags and hit.get("title") is None):
        return None
    text, links = html_to_text(str(hit.get("story_text") or ""), ITEM_URL + oid)
    if isinstance(hit.get("url"), str) and hit["url"].startswith(("http://", "https://")):
        links = [hit["url"], *[u for u in links if u != hit["url"]]]
    metrics = {k: int(hit[src]) for src, k in (("points", "likes"), ("num_comments", "comments"))
               if isinstance(hit.get(src), int)}
    title = str(hit.get("title") or "") or None
    # A link story is its title: what the thread discusses (its full_text is the title once, not twice).
    return Mention(f"hn:{oid}", "hn", "post", None, ITEM_URL + oid, author, text or title or "", links, created,
                   now, title=title, metrics=metrics or None, extra=extra)


class HNSource:
    def __init__(self, key: str, terms: list[str], settings: HNSettings, fetcher: HttpFetcher, store: Store):
        self.key = key
        # Algolia ignores "@" and "#": "acme", "@acme" and "#acme" are one query, asked once.
        queries = {t.strip().strip('"').lstrip("@#").strip().casefold(): t.strip().strip('"').lstrip("@#").strip()
                   for t in terms}
        self.terms = [q for k, q in queries.items() if k]
        self.settings = settings
        self.fetcher = fetcher
        self.store = store
        self.api = settings.api_url.rstrip("/")

    def _hour(self, cursor: dict[str, Any], now: datetime) -> dict[str, Any]:
        h = dict(cursor.get("hour") or {})
        start = lenient_time(h.get("start"))
        if start is None or now - start >= HOUR:
            return {"start": format_time(now), "used": 0}
        return h

    async def _search(self, params: list[tuple[str, Any]], state: dict[str, Any]) -> dict[str, Any]:
        if state["hour"]["used"] >= self.settings.requests_per_hour:
            raise _Spent()
        state["hour"]["used"] += 1
        body, _ = await get_json(self.fetcher, with_query(f"{self.api}/search_by_date", params))
        return body if isinstance(body, dict) else {}

    async def _pages(self, base: list[tuple[str, Any]], entry: dict[str, Any], state: dict[str, Any],
                     hits: list[dict[str, Any]]) -> None:
        """Every hit at or after ``entry['since']`` not seen before, newest first, onto ``hits`` as each
        page arrives (so a request refused half-way loses none); ``entry`` moved on.

        A run of pages not finished this poll keeps its page and its start in ``entry['run']``."""
        s = self.settings
        run = dict(entry.get("run") or {"page": 0, "since": entry["since"]})
        seen = set(entry.get("seen") or [])
        start = len(hits)
        for _ in range(s.max_pages_per_cycle):
            entry["run"] = run
            body = await self._search(base + [("numericFilters", f"created_at_i>={run['since']}"),
                                              ("hitsPerPage", s.hits_per_page), ("page", run["page"])], state)
            page = [h for h in body.get("hits") or [] if isinstance(h, dict) and h.get("objectID")]
            hits += [h for h in page if str(h["objectID"]) not in seen]
            run = {**run, "page": run["page"] + 1,
                   "newest": max([run.get("newest") or 0] + [int(h.get("created_at_i") or 0) for h in page])}
            if run["page"] >= int(body.get("nbPages") or 0) or not page:
                del entry["run"]
                newest = int(run.get("newest") or 0)
                if newest > entry["since"]:
                    entry["since"] = newest
                    entry["seen"] = []
                at_edge = [str(h["objectID"]) for h in hits[start:]
                           if int(h.get("created_at_i") or 0) == entry["since"]]
                entry["seen"] = sorted(set(entry.get("seen") or []) | set(at_edge))
                return
        entry["run"] = run

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        cur = dict(cursor or {})
        state: dict[str, Any] = {"terms": {k: dict(v) for k, v in (cur.get("terms") or {}).items()},
                                 "threads": {k: dict(v) for k, v in (cur.get("threads") or {}).items()},
                                 "hour": self._hour(cur, now)}
        first = int((now - self.settings.backfill).timestamp())
        found: dict[str, Mention] = {}
        term_hits: list[dict[str, Any]] = []
        thread_hits: list[dict[str, Any]] = []
        before = state["hour"]["used"]
        warnings: list[str] = []
        spent = False
        try:
            for term in self.terms:
                entry = state["terms"].setdefault(term, {"since": first})
                await self._pages([("query", term), ("tags", "(story,comment)")], entry, state, term_hits)
                self._found(term_hits, found, state, now)
            await self._follow(state, now, thread_hits)
        except _Spent:
            spent = True
        except FetchError as exc:
            if state["hour"]["used"] - before <= 1:
                raise
            warnings.append(str(exc))  # keep what the earlier requests gave
        self._found(term_hits, found, state, now)  # what was read stays even if the hour ran out half-way
        comments = [m for h in thread_hits if (m := hit_mention(h, now)) is not None and m.kind == "comment"]
        mentions = list(found.values()) + [m for m in comments if m.id not in found]
        mentions = self._ours(mentions, found)
        new = {k: v for k, v in state.items() if v}
        park = (lenient_time(state["hour"]["start"]) or now) + HOUR if spent else None
        detail = {"requests": state["hour"]["used"] - before, "hour_used": state["hour"]["used"],
                  "threads": len(state["threads"]), "terms": len(self.terms)}
        return PollResult(mentions, new if new != cur else None, park_until=park, detail=detail, warnings=warnings)

    @staticmethod
    def _found(hits: list[dict[str, Any]], found: dict[str, Mention], state: dict[str, Any], now: datetime) -> None:
        """Term hits as mentions; the story of each is followed from now on."""
        for hit in hits:
            m = hit_mention(hit, now)
            if m is None or m.id in found:
                continue
            found[m.id] = m
            story = hit.get("story_id") if m.kind == "comment" else hit.get("objectID")
            if story is not None:
                at = int(m.created_at.timestamp())
                state["threads"].setdefault(str(story), {"at": at, "since": at})

    async def _follow(self, state: dict[str, Any], now: datetime, out: list[dict[str, Any]]) -> None:
        s = self.settings
        threads = state["threads"]
        cutoff = int((now - s.follow_threads_for).timestamp())
        for sid in [k for k, v in threads.items() if int(v.get("at") or 0) < cutoff]:
            del threads[sid]
        tracked = set(self.store.tracked(f"hn:{sid}" for sid in threads))
        # Tracked stories first, then the one checked longest ago: a spent hour does not starve a thread.
        order = sorted(threads, key=lambda sid: (f"hn:{sid}" not in tracked, int(threads[sid].get("checked") or 0),
                                                 -int(threads[sid].get("at") or 0)))
        for sid in order[:s.max_threads_per_cycle]:
            entry = threads[sid]
            entry.setdefault("since", int(entry.get("at") or 0))
            await self._pages([("tags", f"comment,story_{sid}")], entry, state, out)
            entry["checked"] = int(now.timestamp())

    def _ours(self, mentions: list[Mention], found: dict[str, Mention]) -> list[Mention]:
        """Hits naming a term, and thread comments answering what is tracked or passed on with them.

        Oldest first, so a chain of replies in one poll is kept from its first link."""
        mentions.sort(key=lambda m: (m.created_at, m.id))
        parents = {m.parent_id for m in mentions if m.id not in found and m.parent_id}
        tracked = set(self.store.tracked(parents)) if parents else set()
        kept: dict[str, Mention] = {}
        for m in mentions:
            if m.id in found or m.parent_id in kept or m.parent_id in tracked:
                kept[m.id] = m
        return list(kept.values())


class _Spent(Exception):
    """This hour's requests are used up: stop, keep what was read."""
