"""Blog feeds: conditional GET through the shared fetcher, feedparser on the bytes we fetched, and
the mapping of entries to mention records (shared with comments.py).

One ``BlogSource`` polls a batch of feeds concurrently (within the fetcher's global and per-host
limits). Its cursor holds, per feed: the ETag and Last-Modified to send back, failure count and
next allowed time (exponential backoff with jitter, or the server's Retry-After), and the entries
of the current document with their comment counts, so that a changed feed yields only entries that
are new or whose comment count moved. A 304 costs no parse and no cursor write.

feedparser is handed an in-memory stream, never a string: given a ``str`` it would fetch URLs
itself, and given ``bytes`` it first tries to open them as a file name.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import feedparser

from monitor.config.settings import BlogSettings
from monitor.records.mention import Author, Mention, canonical_url, lenient_time
from monitor.sources.base import PollResult, backoff_until, stable_id, struct_to_datetime, time_text
from monitor.sources.html import detail_to_text, html_to_text, tidy
from monitor.sources.http import FetchError, HttpFetcher, safe_url

log = logging.getLogger(__name__)
BACKOFF_CAP = timedelta(hours=12)
T = TypeVar("T")
# What one feed may turn into, whatever its bytes say (docs/operations.md "Limits"). An entry's text
# past MAX_ENTRY_TEXT characters is cut there; entries past MAX_FEED_TEXT characters of text in all are
# left out of this poll; a title is cut at MAX_TITLE. A parse (and mapping) taking longer than
# PARSE_BUDGET seconds fails the feed alone.
MAX_ENTRY_TEXT = 100_000
MAX_FEED_TEXT = 2_000_000
MAX_TITLE = 1_000
PARSE_BUDGET = 20.0
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ELEMENT = re.compile(rb"<\w")


def without_internal_subset(body: bytes) -> tuple[bytes, bool]:
    """The document with its DOCTYPE's internal subset (``[ <!ENTITY ...> ]``) taken out, and whether
    there was one.

    Feeds have no use for entity declarations, and they are the one way a small document grows without
    bound: expat refuses an entity bomb, and feedparser's loose parser then expands the entities it
    kept (a 1 MB feed became a 200 MB record). References to the removed entities are left as text.
    The DOCTYPE's name and external id stay (RSS 0.91's Netscape DOCTYPE names the version). The
    DOCTYPE is looked for where feedparser looks, before the first element; UTF-8 and ASCII-compatible
    encodings are read as bytes, UTF-16 by its byte order mark.
    """
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if body.startswith(bom) and not body.startswith(b"\xff\xfe\x00\x00"):
            text = body[len(bom):].decode(codec, errors="replace").encode("utf-8")
            stripped, found = without_internal_subset(text)
            return (bom + stripped.decode("utf-8").encode(codec), True) if found else (body, False)
    # Where feedparser looks for declarations: before the first element (its replace_doctype).
    first = _ELEMENT.search(body)
    m = _DOCTYPE.search(body, 0, first.start() if first else len(body))
    if m is None:
        return body, False
    i, n = m.end(), len(body)
    quote: int | None = None
    subset_at: int | None = None
    while i < n:
        c = body[i]
        if quote is not None:
            if c == quote:
                quote = None
        elif c in (0x22, 0x27):  # " '
            quote = c
        elif c == 0x5B and subset_at is None:  # [
            subset_at = i
        elif c == 0x3C and subset_at is not None and body.startswith(b"<!--", i):
            end = body.find(b"-->", i + 4)
            i = n if end < 0 else end + 2
        elif c == 0x3E and (subset_at is None or body[i - 1:i] == b"]" or _closes_subset(body, subset_at, i)):
            break
        i += 1
    if subset_at is None:
        return body, False
    head = body[m.start():subset_at].rstrip()
    return body[:m.start()] + head + b">" + body[i + 1:], True


def _closes_subset(body: bytes, start: int, at: int) -> bool:
    """Whether the ``>`` at ``at`` ends the DOCTYPE: only whitespace between it and a ``]`` before it."""
    j = at - 1
    while j > start and body[j] in b" \t\r\n":
        j -= 1
    return body[j] == 0x5D


def parse_document(body: bytes, *, url: str, headers: dict[str, str]) -> Any:
    """Parse a fetched feed. Never raises for bad input: problems show as ``bozo``/``bozo_exception``.

    Entity declarations are taken out first (``without_internal_subset``)."""
    body, _ = without_internal_subset(body)
    given = {k: v for k, v in headers.items() if k in ("content-type", "content-language")}
    # No Content-Type at all: let the document's own XML declaration or BOM decide the encoding,
    # as for a local file, instead of feedparser's "no Content-type specified" bozo.
    given.setdefault("content-type", "application/xml")
    location = urljoin(url, headers.get("content-location", "")) if headers.get("content-location") else url
    given["content-location"] = location if is_http(location) else url
    return feedparser.parse(io.BytesIO(body), response_headers=given)


def is_http(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def describe_bozo(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "not well-formed"
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


def entry_identity(entry: Any, *, fallback_scope: str) -> str | None:
    """What stays the same for one post whichever feed it is read from: its guid, else its link.

    URL-shaped guids and links are canonicalised, so http/https and tracking parameters do not split
    one post in two. Entries with neither fall back to title and date within ``fallback_scope``.
    """
    guid = str(entry.get("id") or "").strip()
    if guid:
        return _canonical_keep_fragment(guid) if is_http(guid) else guid
    link = entry.get("link")
    if is_http(link):
        return _canonical_keep_fragment(link)
    title = str(entry.get("title") or "").strip()
    when = str(entry.get("published") or entry.get("updated") or "").strip()
    if title or when:
        return f"{fallback_scope}#{title}|{when}"
    return None


def _canonical_keep_fragment(url: str) -> str:
    # Comment permalinks differ only in their fragment (post/#comment-12), which canonical_url drops.
    fragment = urlsplit(url).fragment
    return canonical_url(url) + (f"#{fragment}" if fragment else "")


def entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        when = struct_to_datetime(entry.get(key))
        if when is not None:
            return when
    return None


def entry_texts(entry: Any, base: str) -> tuple[str | None, str, list[str]]:
    """Title, body text and the links in the body. The summary is kept when it says something
    the content does not (some feeds put the brand in the excerpt only)."""
    title = None
    td = entry.get("title_detail")
    if td is not None and td.get("value"):
        title = detail_to_text(_clip(td.get("value", ""), 4 * MAX_TITLE), td.get("type"), base)[0] or None
    elif entry.get("title"):
        title = tidy(_clip(str(entry.get("title")), 4 * MAX_TITLE)) or None
    if title is not None:
        title = title[:MAX_TITLE]
    content_text, links = "", []
    for part in entry.get("content") or []:
        text, found = detail_to_text(_clip(part.get("value") or "", 4 * MAX_ENTRY_TEXT), part.get("type"),
                                     part.get("base") or base)
        if len(text) > len(content_text):
            content_text = text
        links += [u for u in found if u not in links]
    summary_text = ""
    sd = entry.get("summary_detail")
    if sd is not None and sd.get("value"):
        summary_text, found = detail_to_text(_clip(sd.get("value") or "", 4 * MAX_ENTRY_TEXT), sd.get("type"),
                                             sd.get("base") or base)
        links += [u for u in found if u not in links]
    elif entry.get("summary"):  # feedparser copies Atom content here, without a detail
        summary_text, found = html_to_text(_clip(str(entry.get("summary")), 4 * MAX_ENTRY_TEXT), base)
        links += [u for u in found if u not in links]
    links = links[:200]
    if (
        content_text
        and summary_text
        and " ".join(summary_text.split()[:8]) not in " ".join(content_text[:10_000].split())
    ):
        return title, f"{summary_text}\n\n{content_text}"[:MAX_ENTRY_TEXT], links
    return title, (content_text or summary_text)[:MAX_ENTRY_TEXT], links


def _clip(value: Any, limit: int) -> str:
    """A markup value cut before it is turned into text: the text is cut at a quarter of this anyway."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit]


def entry_author(entry: Any, *, site: str, fallback: str | None) -> Author:
    detail = entry.get("author_detail") or {}
    name = str(detail.get("name") or entry.get("author") or "").strip() or None
    handle = name or fallback or site
    return Author(id=f"{site}/{handle}", handle=handle, name=name)


def comment_count(entry: Any) -> int | None:
    """``slash:comments`` or ``thr:total``, or a replies link's ``thr:count``: cheap growth signals."""
    candidates = [entry.get("slash_comments"), entry.get("thr_total")]
    candidates += [link.get("thr_count") for link in entry.get("links") or [] if link.get("rel") == "replies"]
    for value in candidates:
        try:
            if value is not None and str(value).strip() != "":
                return max(0, int(str(value).strip()))
        except ValueError:
            continue
    return None


def comments_feed(entry: Any, *, wordpress: bool) -> str | None:
    """Where the post's comments can be read as a feed: ``wfw:commentRss``, an Atom ``replies`` link
    (Blogger), or WordPress's per-post ``/feed/``."""
    url = entry.get("wfw_commentrss")
    if is_http(url):
        return str(url)
    for link in entry.get("links") or []:
        kind = str(link.get("type") or "")
        if link.get("rel") == "replies" and ("atom" in kind or "rss" in kind) and is_http(link.get("href")):
            return str(link["href"])
    link = entry.get("link")
    if wordpress and is_http(link):
        return str(link).split("#", 1)[0].rstrip("/") + "/feed/"
    return None


def is_wordpress(parsed: Any) -> bool:
    return "wordpress" in str(parsed.get("feed", {}).get("generator") or "").lower()


def post_mention(entry: Any, parsed: Any, *, feed_url: str, now: datetime) -> Mention | None:
    """A blog post record, or None when the entry has nothing to identify it by."""
    identity = entry_identity(entry, fallback_scope=feed_url)
    if identity is None:
        return None
    link = entry.get("link") if is_http(entry.get("link")) else None
    base = link or feed_url
    title, text, links = entry_texts(entry, base)
    if not (title or text):
        return None
    own = canonical_url(link) if link else None
    links = [u for u in links if canonical_url(u) != own]
    site = urlsplit(link or feed_url).hostname or "blog"
    count = comment_count(entry)
    extra: dict[str, Any] = {"feed": feed_url}
    cfeed = comments_feed(entry, wordpress=is_wordpress(parsed))
    if cfeed:
        extra["comments_feed"] = cfeed
    if count is not None:
        extra["comment_count"] = count
    return Mention(
        id=stable_id("rss", identity),
        source="rss",
        kind="post",
        parent_id=None,
        url=link,
        author=entry_author(
            entry, site=site, fallback=str(parsed.get("feed", {}).get("title") or "") or None
        ),
        text=text,
        links=links,
        created_at=entry_time(entry) or now,
        observed_at=now,
        title=title,
        metrics={"comments": count} if count is not None else None,
        extra=extra,
    )


def comment_mention(
    entry: Any, *, thread_feed: str, post_id: str | None, post_url: str | None, now: datetime
) -> Mention | None:
    """A comment record: kind ``comment``, ``parent_id`` the post, the post's URL first in ``links``."""
    identity = entry_identity(entry, fallback_scope=thread_feed)
    if identity is None:
        return None
    link = entry.get("link") if is_http(entry.get("link")) else None
    _, text, links = entry_texts(entry, link or post_url or thread_feed)
    if not text:
        return None
    if post_url:
        links = [post_url] + [u for u in links if canonical_url(u) != canonical_url(post_url)]
    site = urlsplit(link or post_url or thread_feed).hostname or "blog"
    return Mention(
        id=stable_id("comments", identity),
        source="comments",
        kind="comment",
        parent_id=post_id,
        url=link,
        author=entry_author(entry, site=site, fallback=None),
        text=text,
        links=links,
        created_at=entry_time(entry) or now,
        observed_at=now,
        extra={"comments_feed": thread_feed},
    )


# -- polling ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class FeedOutcome:
    """What one feed gave in one poll, and its state for the cursor."""

    url: str
    state: dict[str, Any]
    mentions: list[Mention] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | not_modified | failed | deferred
    error: str | None = None


@dataclass(slots=True)
class Tally:
    """The outcomes of one poll over many feeds, gathered: mentions, warnings and counts by status."""

    states: dict[str, dict[str, Any]]
    mentions: list[Mention] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "not_modified": 0, "failed": 0, "deferred": 0})

    def add(self, o: FeedOutcome) -> None:
        self.states[o.url] = o.state
        self.mentions += o.mentions
        self.warnings += o.warnings
        self.counts[o.status] += 1


def due(state: dict[str, Any] | None, now: datetime) -> bool:
    when = lenient_time((state or {}).get("next_at"))
    return when is None or when <= now


async def fetch_and_parse(fetcher: HttpFetcher, url: str, state: dict[str, Any]) -> tuple[Any, Any]:
    """Conditional GET, then (only when the body changed) feedparser off the event loop.

    Returns (fetch result, parsed document or None on 304). Raises FetchError.
    """
    res = await fetcher.get(url, etag=state.get("etag"), last_modified=state.get("last_modified"))
    if res.not_modified:
        return res, None
    parsed = await off_loop(url, "parsing", parse_document, res.body, url=res.url, headers=res.headers)
    return res, parsed


async def off_loop(url: str, what: str, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``func`` in a worker thread, given ``PARSE_BUDGET`` seconds; past that the feed fails with a
    FetchError (the thread finishes on its own; the loop never waits for it)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(func, *args, **kwargs), PARSE_BUDGET)
    except TimeoutError:
        raise FetchError(f"{what} took longer than {PARSE_BUDGET:.0f}s; skipped this time", url=url) from None


def failed_state(
    state: dict[str, Any], exc: Exception, now: datetime, *, base: timedelta, rng: random.Random
) -> tuple[dict[str, Any], str]:
    """The state after a failed fetch: Retry-After when the server gave one, else exponential backoff.

    A fetch refused locally because the host is parked does not count as a failure of this feed.
    """
    new = dict(state)
    message = str(exc) if isinstance(exc, FetchError) else f"unexpected {type(exc).__name__}: {exc}"
    parked = isinstance(exc, FetchError) and exc.parked
    if not parked:
        new["failures"] = int(state.get("failures") or 0) + 1
        new["last_error"] = message
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    if retry_after is not None:
        new["next_at"] = time_text(now + timedelta(seconds=retry_after))
    else:
        new["next_at"] = time_text(
            backoff_until(now, new.get("failures") or 1, base=base, cap=BACKOFF_CAP, rng=rng)
        )
    return new, message


class BlogSource:
    """A batch of blog feeds polled together. Cursor: ``{"feeds": {url: state}}``."""

    def __init__(
        self,
        key: str,
        feeds: list[str],
        fetcher: HttpFetcher,
        *,
        settings: BlogSettings | None = None,
        rng: random.Random | None = None,
        listed_hosts: set[str] | None = None,
    ):
        """``listed_hosts``: hosts the watch-lists name (in ``feeds`` or ``comment_feeds``); a comment
        feed named in a feed's content is followed only on the feed's own host or one of these."""
        self.key = key
        self.feeds = list(dict.fromkeys(feeds))
        self.fetcher = fetcher
        self.settings = settings or fetcher.settings
        self.rng = rng or random.Random()
        self.listed_hosts = {h.lower() for h in listed_hosts or ()}

    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        known: dict[str, Any] = dict((cursor or {}).get("feeds") or {})
        todo = [u for u in self.feeds if due(known.get(u), now)]
        outcomes = await self.fetcher.run_grouped(
            todo, lambda u: self._poll_feed(u, dict(known.get(u) or {}), now)
        )
        tally = Tally({u: known[u] for u in self.feeds if u in known})
        health: dict[str, dict[str, Any]] = {}
        for o in outcomes:
            tally.add(o)
            if o.status != "deferred":
                health[f"rss:{o.url}"] = {
                    "ok": o.status != "failed",
                    "items": len(o.mentions),
                    "error": o.error,
                    "paused_until": o.state.get("next_at"),
                }
        states = tally.states
        new_cursor = {"feeds": states}
        waits = [lenient_time(s.get("next_at")) for s in states.values()]
        park = None
        if self.feeds and len(states) == len(self.feeds) and all(w is not None and w > now for w in waits):
            park = min(w for w in waits if w is not None)  # every feed is backing off
        detail = {"feeds": len(self.feeds), "polled": len(todo), **tally.counts, "health": health}
        changed = new_cursor != (cursor or {})
        return PollResult(
            tally.mentions,
            new_cursor if changed else None,
            not_modified=bool(todo) and tally.counts["not_modified"] == len(todo),
            park_until=park,
            detail=detail,
            warnings=tally.warnings,
        )

    def may_follow(self, thread: str, feed_url: str, final_url: str) -> bool:
        """Whether a comment feed named in a feed's content may be fetched: on the feed's own host
        (before or after its redirects) or on a host the watch-lists name."""
        host = (urlsplit(thread).hostname or "").lower()
        own = {(urlsplit(u).hostname or "").lower() for u in (feed_url, final_url)}
        return bool(host) and (host in own or host in self.listed_hosts)

    async def _poll_feed(self, url: str, state: dict[str, Any], now: datetime) -> FeedOutcome:
        try:
            res, parsed = await fetch_and_parse(self.fetcher, url, state)
        except Exception as exc:  # one bad feed never takes the batch down
            new, message = failed_state(state, exc, now, base=self.settings.poll_every, rng=self.rng)
            if isinstance(exc, FetchError) and exc.parked:
                return FeedOutcome(url, new, status="deferred")
            if not isinstance(exc, FetchError):
                log.exception("feed %s: unexpected error", safe_url(url))
            return FeedOutcome(
                url, new, status="failed", error=message, warnings=[f"feed {safe_url(url)} failed: {message}"]
            )
        if parsed is None:
            new = {k: v for k, v in state.items() if k not in ("failures", "next_at", "last_error")}
            return FeedOutcome(url, new, status="not_modified")
        try:
            return await off_loop(url, "reading the entries", self._map, url, state, res, parsed, now)
        except FetchError as exc:
            new, message = failed_state(state, exc, now, base=self.settings.poll_every, rng=self.rng)
            return FeedOutcome(
                url, new, status="failed", error=message, warnings=[f"feed {safe_url(url)} failed: {message}"]
            )

    def _map(self, url: str, state: dict[str, Any], res: Any, parsed: Any, now: datetime) -> FeedOutcome:
        previous: dict[str, Any] = state.get("seen") or {}
        seen: dict[str, Any] = {}
        mentions: list[Mention] = []
        skipped = 0
        total, left_out, elsewhere = 0, 0, 0
        for entry in parsed.get("entries") or []:
            if total > MAX_FEED_TEXT:
                left_out += 1
                continue
            try:
                m = post_mention(entry, parsed, feed_url=url, now=now)
            except Exception:  # a mapping bug on one entry must not lose the others
                log.exception("feed %s: could not read one entry", safe_url(url))
                m = None
            if m is None:
                skipped += 1
                continue
            total += len(m.text) + len(m.title or "")
            thread = m.extra.get("comments_feed")
            if thread and not self.may_follow(thread, url, res.url):
                del m.extra["comments_feed"]
                elsewhere += 1
            count = m.extra.get("comment_count")
            if m.id not in previous or previous[m.id] != count:
                mentions.append(m)
            seen[m.id] = count
        new: dict[str, Any] = {"seen": seen}
        if res.etag:
            new["etag"] = res.etag
        if res.last_modified:
            new["last_modified"] = res.last_modified
        if res.redirects:
            new["moved_to"] = res.url
        warnings = []
        if elsewhere:
            warnings.append(f"feed {safe_url(url)}: {elsewhere} comment feed(s) on other hosts not followed "
                            "(a watch-list that names their host in feeds or comment_feeds allows them)")
        if left_out:
            warnings.append(f"feed {safe_url(url)}: more than {MAX_FEED_TEXT} characters of text; "
                            f"read {len(seen)} entries, left {left_out} out")
        if parsed.get("bozo"):
            warnings.append(
                f"feed {safe_url(url)} is malformed ({describe_bozo(parsed)}); "
                f"read {len(seen)} entries from it anyway"
            )
        elif skipped:
            warnings.append(
                f"feed {safe_url(url)}: {skipped} entries had no id, link, title or text; skipped"
            )
        return FeedOutcome(url, new, mentions, warnings)
