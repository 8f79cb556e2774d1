"""Bluesky through Jetstream: the whole network's posts and reposts as JSON over a websocket.

One ``BlueskySource`` (key ``bluesky:jetstream``). Keyword search of posts needs an account since
2025, so nothing is searched: each poll connects to ``jetstream_url`` with ``wantedCollections``
(``app.bsky.feed.post``, ``app.bsky.feed.repost``) and a ``cursor`` (unix microseconds, Jetstream's
``time_us``), reads until it has caught up with the time the poll started (or went idle, or hit
``max_read`` / ``max_events_per_poll``), and keeps, of everything it read:

- posts whose text names a watch-list's term (the pipeline's own matcher, handed in);
- replies (``reply.parent``, else ``reply.root``), quotes (``embed`` of ``app.bsky.embed.record`` or
  ``recordWithMedia``) and reposts (``subject``) of a post that is tracked, or kept earlier in the poll;
- posts linking (facets, external embeds) to a tracked page or X post: cross-network links.

Its cursor, stored with the mentions in one transaction (the runner and pipeline do that):

    {"time_us": 1733500000000000,          # the last event read
     "recent": {"bluesky:did:.../app.bsky.feed.post/3k...": 1733499999000000}}   # kept lately

The very first poll (no cursor yet) starts ``backfill`` (10 minutes) back. Every connect rewinds
``rewind`` (5 s) before ``time_us``, since Jetstream's time cursor does not
promise a gapless boundary; what that replays and was kept before is in ``recent`` and skipped, so a
restart, a kill -9 or a dropped connection neither loses a post nor stores one twice. Authors'
follower counts come from the public AppView's ``app.bsky.actor.getProfiles`` (25 actors a request),
cached for ``profile_ttl``; a failing AppView leaves them unknown and never fails the poll.
The websocket protocol is the ``websockets`` library's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from websockets.asyncio.client import connect

from monitor.config.settings import BlueskySettings
from monitor.errors import SourceError
from monitor.records.mention import Author, Mention, canonical_url, lenient_time, x_post_id
from monitor.sources.base import PollResult, TextMatcher
from monitor.sources.body import FetchError
from monitor.sources.http import HttpFetcher, safe_url
from monitor.sources.jsonapi import get_json, with_query
from monitor.store.database import Store

log = logging.getLogger(__name__)
POST, REPOST = "app.bsky.feed.post", "app.bsky.feed.repost"
PROFILES_PER_REQUEST = 25  # app.bsky.actor.getProfiles takes at most 25 actors
MAX_MESSAGE = 2**20        # one Jetstream event; a post is a few KB at most
PROFILE_CACHE = 50_000     # authors whose follower counts are remembered
LINK_FACET = "app.bsky.richtext.facet#link"
SETTLE_EVERY = 5_000       # candidates judged against the store at a time while reading


def mention_id(uri: str) -> str | None:
    """``at://did/collection/rkey`` as a mention id (``bluesky:did/collection/rkey``); None for anything else."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return "bluesky:" + "/".join(parts)


def post_url(did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def _ref(obj: Any) -> str | None:
    """A strong ref's (``{uri, cid}``) mention id when it names a post."""
    uri = obj.get("uri") if isinstance(obj, dict) else None
    mid = mention_id(uri) if uri else None
    return mid if mid and f"/{POST}/" in mid else None


def quoted(record: dict[str, Any]) -> str | None:
    embed = record.get("embed") or {}
    kind = embed.get("$type")
    if kind == "app.bsky.embed.record":
        return _ref(embed.get("record"))
    if kind == "app.bsky.embed.recordWithMedia":
        return _ref((embed.get("record") or {}).get("record"))
    return None


def post_links(record: dict[str, Any]) -> list[str]:
    """The links of a post: its link facets and its external embed (alone or beside a quote)."""
    out: list[str] = []
    for facet in record.get("facets") or []:
        for feature in (facet or {}).get("features") or []:
            if isinstance(feature, dict) and feature.get("$type") == LINK_FACET and isinstance(feature.get("uri"), str):
                out.append(feature["uri"])
    embed = record.get("embed") or {}
    for e in (embed, embed.get("media") or {}):
        if isinstance(e, dict) and e.get("$type") == "app.bsky.embed.external":
            uri = (e.get("external") or {}).get("uri")
            if isinstance(uri, str):
                out.append(uri)
    return [u for u in dict.fromkeys(out) if u.startswith(("http://", "https://"))]


def _time_of(ev: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(ev["time_us"]) / 1e6, UTC)


@dataclass(slots=True)
class Candidate:
    """One event worth a second look: its mention, the posts it reacts to (nearest first), its links."""

    mention: Mention
    time_us: int
    refs: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    matched: bool = False


def event_candidate(ev: dict[str, Any], matcher: TextMatcher, now: datetime) -> Candidate | None:
    """A Jetstream commit event as a candidate, or None when it cannot concern us whatever is tracked
    (an account or identity event, a delete, a plain post naming no term and linking nowhere)."""
    if ev.get("kind") != "commit":
        return None
    commit = ev.get("commit") or {}
    if commit.get("operation") not in ("create", "update"):
        return None
    did, rkey, coll = ev.get("did"), commit.get("rkey"), commit.get("collection")
    record = commit.get("record")
    if not (isinstance(did, str) and isinstance(rkey, str) and isinstance(record, dict)):
        return None
    t = int(ev.get("time_us") or 0)
    created = lenient_time(record.get("createdAt")) or _time_of(ev)
    author = Author(id=did, handle=did)
    extra: dict[str, Any] = {"time_us": t}
    if commit.get("cid"):
        extra["cid"] = commit["cid"]
    mid = f"bluesky:{did}/{coll}/{rkey}"
    if coll == REPOST:
        subject = _ref(record.get("subject"))
        if subject is None:
            return None
        m = Mention(mid, "bluesky", "repost", subject, None, author, "", [], created, now, extra=extra)
        return Candidate(m, t, [subject])
    if coll != POST:
        return None
    raw_text = record.get("text")
    text: str = raw_text if isinstance(raw_text, str) else ""
    links = post_links(record)
    reply = record.get("reply") or {}
    refs = [r for r in (_ref(reply.get("parent")), _ref(reply.get("root"))) if r]
    quote = quoted(record)
    kind = "reply" if refs else "quote" if quote else "post"
    if quote:
        refs.append(quote)
    if refs:
        extra["reply_root"] = _ref(reply.get("root")) if reply else None
        if not extra["reply_root"]:
            extra.pop("reply_root")
    matched = bool(matcher.watchlists_for(text))
    if not (matched or refs or links):
        return None
    m = Mention(mid, "bluesky", kind, refs[0] if refs else None, post_url(did, rkey), author, text, links,
                created, now, extra=extra)
    return Candidate(m, t, refs, links, matched)


class ProfileCache:
    """Authors' handles and follower counts from the AppView, each trusted for ``ttl``."""

    def __init__(self, fetcher: HttpFetcher, api_url: str, ttl: timedelta):
        self.fetcher = fetcher
        self.api_url = api_url.rstrip("/")
        self.ttl = ttl
        self._known: OrderedDict[str, tuple[datetime, dict[str, Any]]] = OrderedDict()
        self.requests = 0

    async def fill(self, mentions: list[Mention], now: datetime) -> list[str]:
        """Put handle, name and followers on each mention's author; returns warnings (never raises)."""
        wanted = list(dict.fromkeys(m.author.id for m in mentions))
        stale = [d for d in wanted if d not in self._known or self._known[d][0] <= now]
        warnings = []
        for i in range(0, len(stale), PROFILES_PER_REQUEST):
            batch = stale[i:i + PROFILES_PER_REQUEST]
            url = with_query(f"{self.api_url}/xrpc/app.bsky.actor.getProfiles", [("actors", d) for d in batch])
            try:
                self.requests += 1
                body, _ = await get_json(self.fetcher, url)
            except FetchError as exc:
                warnings.append(f"getProfiles failed ({exc}); follower counts left unknown")
                break
            for p in (body or {}).get("profiles") or [] if isinstance(body, dict) else []:
                if isinstance(p, dict) and isinstance(p.get("did"), str):
                    self._known[p["did"]] = (now + self.ttl, p)
                    self._known.move_to_end(p["did"])
        while len(self._known) > PROFILE_CACHE:
            self._known.popitem(last=False)
        for m in mentions:
            found = self._known.get(m.author.id)
            if found is None:
                continue
            p = found[1]
            if isinstance(p.get("handle"), str):
                m.author.handle = p["handle"]
                if m.url:  # the address the app shares ("Copy link"), so links to it join this cascade
                    m.url = post_url(p["handle"], m.url.rsplit("/", 1)[-1])
            if isinstance(p.get("displayName"), str) and p["displayName"]:
                m.author.name = p["displayName"]
            if isinstance(p.get("followersCount"), int):
                m.author.followers = p["followersCount"]
            if isinstance(p.get("description"), str):
                m.author.description = p["description"]
        return warnings


class BlueskySource:
    def __init__(self, key: str, settings: BlueskySettings, store: Store, matcher: TextMatcher,
                 fetcher: HttpFetcher):
        self.key = key
        self.settings = settings
        self.store = store
        self.matcher = matcher
        self.profiles = ProfileCache(fetcher, settings.api_url, settings.profile_ttl)

    def subscribe_url(self, cursor_us: int | None) -> str:
        params: list[tuple[str, Any]] = [("wantedCollections", c) for c in self.settings.collections]
        if cursor_us is not None:
            params.append(("cursor", cursor_us))
        return with_query(self.settings.jetstream_url, params)

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        cur = dict(cursor or {})
        since = cur.get("time_us") if isinstance(cur.get("time_us"), int) else None
        rewind_us = int(self.settings.rewind.total_seconds() * 1e6)
        recent: dict[str, int] = {k: v for k, v in (cur.get("recent") or {}).items() if isinstance(v, int)}
        start = max(0, since - rewind_us) if since is not None else int(
            (now - self.settings.backfill).timestamp() * 1e6)
        kept_by_id: dict[str, Mention] = {}
        read, last_us, stop, warnings = await self._read(start, now, recent, kept_by_id)
        kept = list(kept_by_id.values())
        warnings += await self.profiles.fill(kept, now)
        new_us = max(last_us or 0, since or 0) or int(now.timestamp() * 1e6)
        floor = new_us - rewind_us
        recent = {k: v for k, v in recent.items() if v >= floor}
        recent.update({m.id: int(m.extra["time_us"]) for m in kept if int(m.extra["time_us"]) >= floor})
        new = {"time_us": new_us, "recent": recent}
        lag = (now - datetime.fromtimestamp(new_us / 1e6, UTC)).total_seconds()
        detail = {"events": read, "kept": len(kept), "cursor": datetime.fromtimestamp(new_us / 1e6, UTC)
                  .isoformat().replace("+00:00", "Z"), "lag_seconds": round(max(0.0, lag), 1), "stopped": stop,
                  "profile_requests": self.profiles.requests}
        return PollResult(kept, new if new != cur else None, detail=detail, warnings=warnings)

    async def _read(self, start_us: int | None, now: datetime, recent: dict[str, int], kept: dict[str, Mention]
                    ) -> tuple[int, int | None, str, list[str]]:
        """Read the stream from ``start_us`` until caught up with ``now``, keeping what is ours in ``kept``
        (settled every ``SETTLE_EVERY`` candidates, so a poll far behind holds no more than that in
        memory); what was read survives a drop."""
        s = self.settings
        url = self.subscribe_url(start_us)
        now_us = int(now.timestamp() * 1e6)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.max_read.total_seconds()
        idle = s.idle_timeout.total_seconds()
        candidates: list[Candidate] = []
        read, last_us, stop, warnings = 0, None, "idle", []
        try:
            async with connect(url, open_timeout=s.timeout.total_seconds(), max_size=MAX_MESSAGE,
                               close_timeout=2, user_agent_header="monitor/0.1 (social media monitoring)") as ws:
                while True:
                    left = deadline - loop.time()
                    if left <= 0:
                        stop = "max_read"
                        break
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=min(idle, left))
                    except TimeoutError:
                        stop = "idle" if loop.time() < deadline else "max_read"
                        break
                    try:
                        ev = json.loads(raw)
                        t = int(ev["time_us"])
                    except (ValueError, KeyError, TypeError):
                        continue  # not an event we can place in time: skipped, like Jetstream's own clients do
                    read += 1
                    last_us = t if last_us is None else max(last_us, t)
                    try:
                        c = event_candidate(ev, self.matcher, now)
                    except Exception:
                        log.debug("%s: one event could not be read", self.key, exc_info=True)
                        c = None
                    if c is not None:
                        candidates.append(c)
                        if len(candidates) >= SETTLE_EVERY:
                            self._keep(candidates, recent, kept)
                            candidates = []
                    if t >= now_us:
                        stop = "caught_up"
                        break
                    if read >= s.max_events_per_poll:
                        stop = "max_events"
                        break
        except websockets.ConnectionClosed as exc:
            if not read:
                raise SourceError(f"{self.key}: Jetstream closed the connection ({exc.rcvd or exc})") from None
            stop = "dropped"
            warnings.append(f"Jetstream dropped the connection after {read} events; the next poll resumes there")
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            if not read:
                raise SourceError(f"{self.key}: cannot read Jetstream at {safe_url(self.settings.jetstream_url)}: "
                                  f"{type(exc).__name__}: {exc}") from None
            stop = "dropped"
            warnings.append(f"Jetstream failed after {read} events ({type(exc).__name__}); resuming there next poll")
        finally:
            self._keep(candidates, recent, kept)
        return read, last_us, stop, warnings

    def _keep(self, candidates: list[Candidate], recent: dict[str, int], kept: dict[str, Mention]) -> None:
        """Add to ``kept`` the candidates that are ours, in stream order: matched, reacting to a tracked or
        kept post, or linking to a tracked page; each once (what the rewind replays and was kept before
        is skipped)."""
        if not candidates:
            return
        refs = {r for c in candidates if not c.matched for r in c.refs}
        tracked = set(self.store.tracked(refs)) if refs else set()
        canon = {canonical_url(u) for c in candidates if not c.matched and not c.refs for u in c.links}
        by_url = self.store.mentions_by_url(canon) if canon else {}
        targets = {u: mid for u, mid in by_url.items()}
        for u in canon:
            if (post := x_post_id(u)) is not None:
                targets[u] = post
        linked = set(self.store.tracked(set(targets.values()))) if targets else set()
        for c in candidates:
            m = c.mention
            if m.id in recent or m.id in kept:
                continue
            parent = next((r for r in c.refs if r in kept or r in tracked), None)
            if parent is not None:
                m.parent_id = parent
            elif not c.matched:
                if c.refs or not any(targets.get(canonical_url(u)) in linked for u in c.links):
                    continue
            kept[m.id] = m
