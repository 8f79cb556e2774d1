"""A feed document as mention records: feedparser on the bytes fetched (its internal DTD subset taken
out first, so no entity is expanded), and the mapping of its entries (posts) and of comment feeds'
entries (comments) to ``Mention``s, with every text capped. Shared by blogs.py and comments.py.

feedparser is handed an in-memory stream, never a string: given a ``str`` it would fetch URLs
itself, and given ``bytes`` it first tries to open them as a file name.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from monitor.records.mention import Author, Mention, canonical_url
from monitor.sources.base import stable_id, struct_to_datetime
from monitor.sources.html import detail_to_text, html_to_text, tidy

# What one feed may turn into, whatever its bytes say (docs/operations.md "Limits"). Only its
# MAX_FEED_ENTRIES newest entries are read (a 2.9 MB feed held 30,000, each one a mention to score and
# store); an entry's text past MAX_ENTRY_TEXT characters is cut there; entries past MAX_FEED_TEXT
# characters of text in all are left out of this poll; a title is cut at MAX_TITLE.
MAX_FEED_ENTRIES = 1_000
MAX_ENTRY_TEXT = 100_000
MAX_FEED_TEXT = 2_000_000
MAX_TITLE = 1_000

log = logging.getLogger(__name__)
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


def newest_entries(parsed: Any, limit: int = MAX_FEED_ENTRIES) -> tuple[list[Any], int]:
    """The document's ``limit`` newest entries, in document order, and how many were left out. An
    entry without a time counts as older than any with one; among equals the first written wins
    (feeds list the newest first)."""
    entries = list(parsed.get("entries") or [])
    if len(entries) <= limit:
        return entries, 0
    times = [entry_time(e) for e in entries]
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(range(len(entries)), key=lambda i: (times[i] is not None, times[i] or oldest), reverse=True)
    return [entries[i] for i in sorted(ranked[:limit])], len(entries) - limit


@dataclass(slots=True)
class Capped:
    """A feed's entries read within the caps: each entry read with its record, and what was not read."""

    read: list[tuple[Any, Mention]] = field(default_factory=list)
    entries: int = 0   # entries in the document
    skipped: int = 0   # entries read that gave no record
    too_many: int = 0  # the oldest entries, past MAX_FEED_ENTRIES
    left_out: int = 0  # entries past MAX_FEED_TEXT characters of text

    def warnings(self, what: str, shown: str, noun: str) -> list[str]:
        """What was not read, in words: ``what`` "feed" or "comment feed", ``shown`` its safe URL, ``noun``
        what its entries are ("entries", "comments")."""
        out = []
        if self.too_many:
            out.append(f"{what} {shown}: {self.entries:,} {noun}, more than the {MAX_FEED_ENTRIES:,} read from one "
                       f"feed; read the newest, left {self.too_many:,} out")
        if self.left_out:
            out.append(f"{what} {shown}: more than {MAX_FEED_TEXT} characters of text; read {len(self.read)} "
                       f"{noun}, left {self.left_out} out")
        return out


def read_capped(parsed: Any, to_mention: Callable[[Any], Mention | None], *, what: str, shown: str) -> Capped:
    """The records of a parsed feed's ``MAX_FEED_ENTRIES`` newest entries, until ``MAX_FEED_TEXT``
    characters of text (titles included) are read: what one feed may turn into, whatever its bytes say.
    A mapping bug on one entry is logged and loses only that entry."""
    entries, too_many = newest_entries(parsed)
    out = Capped(entries=len(entries) + too_many, too_many=too_many)
    total = 0
    for entry in entries:
        if total > MAX_FEED_TEXT:
            out.left_out += 1
            continue
        try:
            m = to_mention(entry)
        except Exception:  # a mapping bug on one entry must not lose the others
            log.exception("%s %s: could not read one entry", what, shown)
            m = None
        if m is None:
            out.skipped += 1
            continue
        total += len(m.text) + len(m.title or "")
        out.read.append((entry, m))
    return out


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
