"""A stand-in blog host on 127.0.0.1: RSS (WordPress-like) and Atom (Blogger-like) feeds built from
Python data, with per-post comment feeds, conditional GET, gzip, and misbehaviour on demand.

    with BlogHost() as host:
        feed = host.add_feed("/feed/")                       # full URL of the feed
        post = host.add_post(feed, "Acme broke my order", "<p>Still waiting.</p>")
        host.add_comment(post, "Same here, acme is silent")
        host.fail("/feed/", 429, retry_after="120")          # next request only
        host.serve_bomb("/bomb.xml", 200_000_000)            # a gzip bomb

Everything can be changed while the server runs; tests, ``make demo`` and ``make bench`` share it.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from devkit.standins.base import LocalServer, Request, Response, StandIn


@dataclass
class Comment:
    id: int
    author: str
    text: str  # HTML
    published: datetime
    link: str


@dataclass
class Post:
    id: int
    feed: Feed
    title: str
    content: str  # HTML
    summary: str | None
    link: str
    guid: str
    published: datetime
    author: str
    comments_path: str | None  # None: comments closed, no comment feed advertised
    comments: list[Comment] = field(default_factory=list)

    @property
    def comments_url(self) -> str | None:
        return self.feed.host.url + self.comments_path if self.comments_path else None


@dataclass
class Feed:
    host: BlogHost
    path: str
    flavour: str  # "rss" (WordPress-like) or "atom" (Blogger-like)
    title: str
    posts: list[Post] = field(default_factory=list)
    etag: bool = True  # send ETag and honour If-None-Match
    last_modified: bool = True  # send Last-Modified and honour If-Modified-Since
    changed_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    @property
    def url(self) -> str:
        return self.host.url + self.path


class BlogHost(StandIn):
    def __init__(self, *, gzip: bool = True):
        self.gzip = gzip
        self.feeds: dict[str, Feed] = {}
        self._raw: dict[str, Response] = {}
        self._failures: dict[str, list[Response]] = {}
        self._redirects: dict[str, tuple[int, str]] = {}
        self._comment_feeds: dict[str, Post] = {}
        self._next_id = 100
        self._lock = threading.RLock()
        self.server = LocalServer(self.handle)

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.server.requests if r.path == path]

    # -- content -------------------------------------------------------------------------------------
    def add_feed(
        self,
        path: str = "/feed/",
        *,
        flavour: str = "rss",
        title: str = "A blog",
        etag: bool = True,
        last_modified: bool = True,
    ) -> str:
        with self._lock:
            self.feeds[path] = Feed(self, path, flavour, title, etag=etag, last_modified=last_modified)
        return self.url + path

    def feed(self, feed: str) -> Feed:
        return self.feeds[urlsplit(feed).path if feed.startswith("http") else feed]

    def add_post(
        self,
        feed: str,
        title: str,
        content: str,
        *,
        summary: str | None = None,
        published: datetime | None = None,
        author: str = "Ann Author",
        slug: str | None = None,
        comments: bool = True,
    ) -> Post:
        with self._lock:
            f = self.feed(feed)
            pid = self._take_id()
            slug = slug or f"post-{pid}"
            when = published or datetime.now(UTC).replace(microsecond=0)
            if f.flavour == "atom":
                link = f"{self.url}/{when:%Y/%m}/{slug}.html"
                guid = f"tag:blogger.com,1999:blog-4242.post-{pid}"
                cpath = f"/feeds/{pid}/comments/default" if comments else None
            else:
                link = f"{self.url}/{when:%Y/%m}/{slug}/"
                guid = f"{self.url}/?p={pid}"
                cpath = f"{urlsplit(link).path}feed/" if comments else None
            post = Post(pid, f, title, content, summary, link, guid, when, author, cpath)
            f.posts.insert(0, post)
            if cpath:
                self._comment_feeds[cpath] = post
            self._touch(f)
            return post

    def add_comment(
        self, post: Post, text: str, *, author: str = "Bob Reader", published: datetime | None = None
    ) -> Comment:
        with self._lock:
            cid = self._take_id()
            when = published or datetime.now(UTC).replace(microsecond=0)
            comment = Comment(cid, author, text, when, f"{post.link}#comment-{cid}")
            post.comments.append(comment)
            self._touch(post.feed)  # the post's comment count changed
            return comment

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    @staticmethod
    def _touch(feed: Feed) -> None:
        # Strictly increasing, whole seconds: two changes within a second still differ.
        now = datetime.now(UTC).replace(microsecond=0)
        feed.changed_at = max(now, feed.changed_at + timedelta(seconds=1))

    # -- misbehaviour ----------------------------------------------------------------------------------
    def fail(
        self, path: str, status: int, *, times: int = 1, retry_after: str | None = None, body: bytes = b""
    ) -> None:
        """The next ``times`` requests for ``path`` get ``status`` (with Retry-After when given)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._failures.setdefault(path, []).extend(
                Response(status, body, dict(headers)) for _ in range(times)
            )

    def serve_raw(
        self, path: str, body: bytes, headers: dict[str, str] | None = None, status: int = 200
    ) -> str:
        with self._lock:
            self._raw[path] = Response(status, body, dict(headers or {}))
        return self.url + path

    def serve_bomb(self, path: str, decompressed_size: int = 200_000_000) -> str:
        """A small gzip body that inflates to ``decompressed_size`` bytes of zeros."""
        comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = b"\0" * 1_000_000
        parts = [comp.compress(block) for _ in range(decompressed_size // len(block))]
        parts.append(comp.flush())
        return self.serve_raw(
            path, b"".join(parts), {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
        )

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        with self._lock:
            self._redirects[path] = (status, to)

    # -- handler ---------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self._lock:
            queued = self._failures.get(req.path)
            if queued:
                return queued.pop(0)
            if req.path in self._redirects:
                status, to = self._redirects[req.path]
                return Response(status, b"", {"Location": to})
            if req.path in self._raw:
                raw = self._raw[req.path]
                return Response(raw.status, raw.body, dict(raw.headers))
            if req.path in self.feeds:
                f = self.feeds[req.path]
                body, ctype = render_feed(f), _ctype(f.flavour)
                changed = f.changed_at
                return self._conditional(req, body, ctype, changed, f.etag, f.last_modified)
            if req.path in self._comment_feeds:
                post = self._comment_feeds[req.path]
                body = render_comments(post)
                changed = max([c.published for c in post.comments] + [post.published])
                return self._conditional(req, body, _ctype(post.feed.flavour), changed, True, True)
        return Response(404, b"not found", {"Content-Type": "text/plain"})

    def _conditional(
        self, req: Request, body: bytes, ctype: str, changed: datetime, use_etag: bool, use_lm: bool
    ) -> Response:
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {"Content-Type": ctype}
        if use_etag:
            headers["ETag"] = etag
        if use_lm:
            headers["Last-Modified"] = format_datetime(changed, usegmt=True)
        inm, ims = req.headers.get("if-none-match"), req.headers.get("if-modified-since")
        if use_etag and inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110)
            if etag in [t.strip() for t in inm.split(",")]:
                return Response(304, b"", headers)
        elif use_lm and ims is not None:
            try:
                if changed <= parsedate_to_datetime(ims):
                    return Response(304, b"", headers)
            except (TypeError, ValueError):
                pass
        if self.gzip and "gzip" in req.headers.get("accept-encoding", ""):
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(200, body, headers)


def _ctype(flavour: str) -> str:
    return (
        "application/atom+xml; charset=utf-8" if flavour == "atom" else "application/rss+xml; charset=UTF-8"
    )


def _rfc822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def render_feed(f: Feed) -> bytes:
    if f.flavour == "atom":
        entries = []
        for p in f.posts:
            replies = ""
            if p.comments_url:
                replies = (
                    f'<link rel="replies" type="application/atom+xml" href={quoteattr(p.comments_url)} '
                    f'title="Post Comments"/><thr:total>{len(p.comments)}</thr:total>'
                )
            summary = f'<summary type="html">{escape(p.summary)}</summary>' if p.summary else ""
            entries.append(
                f"<entry><id>{escape(p.guid)}</id><published>{_iso(p.published)}</published>"
                f'<updated>{_iso(p.published)}</updated><title type="text">{escape(p.title)}</title>'
                f'{summary}<content type="html">{escape(p.content)}</content>'
                f'<link rel="alternate" type="text/html" href={quoteattr(p.link)}'
                f" title={quoteattr(p.title)}/>"
                f"{replies}<author><name>{escape(p.author)}</name></author></entry>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">'
            f"<id>tag:blogger.com,1999:blog-4242</id><title>{escape(f.title)}</title>"
            f"<updated>{_iso(f.changed_at)}</updated>"
            f'<link rel="alternate" type="text/html" href={quoteattr(f.host.url + "/")}/>'
            f"<generator>Blogger</generator>{''.join(entries)}</feed>"
        ).encode()
    items = []
    for p in f.posts:
        comments = ""
        if p.comments_url:
            comments = (
                f"<comments>{escape(p.link)}#comments</comments>"
                f"<wfw:commentRss>{escape(p.comments_url)}</wfw:commentRss>"
                f"<slash:comments>{len(p.comments)}</slash:comments>"
            )
        items.append(
            f"<item><title>{escape(p.title)}</title><link>{escape(p.link)}</link>"
            f"<dc:creator>{escape(p.author)}</dc:creator><pubDate>{_rfc822(p.published)}</pubDate>"
            f'<guid isPermaLink="false">{escape(p.guid)}</guid>'
            f"<description>{escape(p.summary or p.content)}</description>"
            f"<content:encoded>{escape(p.content)}</content:encoded>{comments}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        f"<channel><title>{escape(f.title)}</title><link>{escape(f.host.url)}/</link>"
        f"<description>stand-in</description><lastBuildDate>{_rfc822(f.changed_at)}</lastBuildDate>"
        f"<generator>https://wordpress.org/?v=6.4.2</generator>{''.join(items)}</channel></rss>"
    ).encode()


def render_comments(post: Post) -> bytes:
    if post.feed.flavour == "atom":
        entries = "".join(
            f"<entry><id>tag:blogger.com,1999:blog-4242.post-{c.id}</id><published>{_iso(c.published)}</published>"
            f'<updated>{_iso(c.published)}</updated><title type="text">{escape(c.text[:30])}</title>'
            f'<content type="html">{escape(c.text)}</content>'
            f'<link rel="alternate" type="text/html" href={quoteattr(c.link)}/>'
            f"<author><name>{escape(c.author)}</name></author>"
            f"<thr:in-reply-to ref={quoteattr(post.guid)} href={quoteattr(post.link)}"
            ' type="text/html"/></entry>'
            for c in reversed(post.comments)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">'
            f"<id>tag:blogger.com,1999:blog-4242.post{post.id}.comments</id>"
            f"<title>Comments on {escape(post.title)}</title>"
            f'<link rel="alternate" type="text/html" href={quoteattr(post.link)}/>{entries}</feed>'
        ).encode()
    items = "".join(
        f"<item><title>By: {escape(c.author)}</title><link>{escape(c.link)}</link>"
        f"<dc:creator>{escape(c.author)}</dc:creator><pubDate>{_rfc822(c.published)}</pubDate>"
        f'<guid isPermaLink="false">{escape(c.link)}</guid><description>{escape(c.text)}</description>'
        f"<content:encoded>{escape(c.text)}</content:encoded></item>"
        for c in reversed(post.comments)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Comments on: {escape(post.title)}</title><link>{escape(post.link)}</link>"
        f"<description>comments</description>{items}</channel></rss>"
    ).encode()
