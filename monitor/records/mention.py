"""The mention record: one format for every source, the store, replay and export.

A mention is a plain dataclass. ``Mention.from_json`` validates a JSON object strictly enough that
a bad line in a replay file is reported with what is wrong, and keeps unknown keys so that a
record written by a newer version round-trips through an older one unchanged.
See docs/records.md for the field reference.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.errors import RecordError
from monitor.records import jsontext

KINDS = ("post", "reply", "repost", "quote", "comment")
METRIC_KEYS = ("reposts", "replies", "likes", "quotes", "comments")
_KNOWN = {
    "id", "source", "kind", "parent_id", "url", "author", "title", "text", "links",
    "created_at", "observed_at", "metrics",
}
_AUTHOR_KNOWN = {"id", "handle", "name", "followers", "description"}


@dataclass(slots=True)
class Author:
    id: str
    handle: str
    name: str | None = None
    followers: int | None = None
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "handle": self.handle}
        if self.name is not None:
            out["name"] = self.name
        if self.followers is not None:
            out["followers"] = self.followers
        if self.description is not None:
            out["description"] = self.description
        out.update(self.extra)
        return out


@dataclass(slots=True)
class Mention:
    id: str
    source: str
    kind: str
    parent_id: str | None
    url: str | None
    author: Author
    text: str
    links: list[str]
    created_at: datetime
    observed_at: datetime
    title: str | None = None
    metrics: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The JSON text this record was read from (a replay line, a stored row), written back as is: a
    # replay stores a million of them, and encoding each again cost more than the insert.
    raw: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_reaction(self) -> bool:
        return self.kind != "post"

    @property
    def full_text(self) -> str:
        """Title and text together: what matching and scoring read."""
        if self.title and not self.text.startswith(self.title):
            return f"{self.title}. {self.text}"
        return self.text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "kind": self.kind,
            "parent_id": self.parent_id,
            "url": self.url,
            "author": self.author.to_json(),
        }
        if self.title is not None:
            out["title"] = self.title
        out["text"] = self.text
        out["links"] = list(self.links)
        out["created_at"] = format_time(self.created_at)
        out["observed_at"] = format_time(self.observed_at)
        if self.metrics is not None:
            out["metrics"] = dict(self.metrics)
        out.update(self.extra)
        return out

    def json_text(self) -> str:
        """The record as JSON text: the text it was read from, if any, else encoded afresh."""
        return self.raw if self.raw is not None else jsontext.dumps(self.to_json())

    @classmethod
    def from_text(cls, text: str) -> Mention:
        """A mention from one JSON text (a line). Raises json.JSONDecodeError or RecordError."""
        m = cls.from_json(jsontext.loads(text))
        m.raw = text
        return m

    @classmethod
    def from_json(cls, obj: Any) -> Mention:
        """Build a mention from a decoded JSON object.

        Raises RecordError naming the field when a required field is missing or of the wrong type.
        """
        if not isinstance(obj, dict):
            raise RecordError(f"a mention must be a JSON object, not {type(obj).__name__}")
        get = obj.get  # this runs for every line of a replay: checks are written for the common case
        mid, kind, source = get("id"), get("kind"), get("source")
        if type(mid) is not str or not mid:
            mid = _req_str(obj, "id")
        if ":" not in mid:
            raise RecordError(f"id {mid!r} must be source-prefixed, like 'x:123'")
        if kind not in KINDS:
            kind = _req_str(obj, "kind")
            raise RecordError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        if type(source) is not str or not source:
            source = _req_str(obj, "source")
        parent_id = get("parent_id")
        if parent_id is not None and type(parent_id) is not str:
            raise RecordError("parent_id must be a string or null")
        author = get("author")
        if type(author) is not dict:
            raise RecordError("author must be an object with id and handle")
        followers = author.get("followers")
        if followers is not None and type(followers) is not int:
            raise RecordError("author.followers must be an integer")
        links = get("links") or []
        if type(links) is not list or (links and not all(isinstance(u, str) for u in links)):
            raise RecordError("links must be a list of URLs")
        metrics = get("metrics")
        if metrics is not None:
            if type(metrics) is not dict:
                raise RecordError("metrics must be an object")
            metrics = {k: int(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        created_raw = get("created_at")
        if type(created_raw) is not str or not created_raw:
            created_raw = _req_str(obj, "created_at")
        created = _plausible(parse_time(created_raw, "created_at"), "created_at")
        observed_raw = get("observed_at")
        observed = _plausible(parse_time(observed_raw, "observed_at"), "observed_at") if observed_raw else created
        author_id, handle = author.get("id"), author.get("handle")
        text, url, title = get("text") or "", get("url"), get("title")
        if type(text) is not str:
            raise RecordError("text must be a string")
        if (url is not None and type(url) is not str) or (title is not None and type(title) is not str):
            raise RecordError("url and title must be strings or null")
        return cls(
            mid, source, kind, parent_id, url,
            Author(
                author_id if type(author_id) is str and author_id else str(author_id or handle or ""),
                handle if type(handle) is str and handle else str(handle or author_id or ""),
                author.get("name"),
                followers,
                author.get("description"),
                {} if _AUTHOR_KNOWN.issuperset(author) else {k: v for k, v in author.items() if k not in _AUTHOR_KNOWN},
            ),
            text,
            links.copy(),
            created,
            observed,
            title,
            metrics,
            {} if _KNOWN.issuperset(obj) else {k: v for k, v in obj.items() if k not in _KNOWN},
        )


# Times a record may carry: a year of 1 or 9999 is a broken exporter, and time arithmetic near the ends
# of datetime's range overflows (a detection tick after 9999-12-31 does not exist).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def _plausible(when: datetime, what: str) -> datetime:
    if EARLIEST <= when < LATEST:
        return when
    raise RecordError(f"{what} {when.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}")


def _req_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise RecordError(f"{key} is required and must be a non-empty string")
    return value


def parse_time(value: Any, what: str = "time") -> datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC. Raises RecordError."""
    if not isinstance(value, str):
        raise RecordError(f"{what} must be an ISO 8601 string")
    if value[-1:] == "Z":  # the form we write, parsed a few times per mention: fromisoformat takes "Z" itself
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is UTC:
                return parsed
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{what} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def time_text(value: datetime | None) -> str | None:
    """``format_time`` of a time that may be absent (log lines, cursors, ``monitor status``)."""
    return format_time(value) if value is not None else None


def lenient_time(value: Any) -> datetime | None:
    """A stored time (ISO string) back as a datetime; None when absent or unreadable (a cursor or a
    health row written by an older version must not stop a poll)."""
    if not value:
        return None
    try:
        return parse_time(value)
    except Exception:
        return None


@functools.lru_cache(maxsize=4096)
def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix; sub-second precision kept only when present.

    Cached: a mention's times are formatted for its row, its record, its cascade and its alert."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    # isoformat, not strftime: this runs a few times per mention and isoformat is the cheaper; in UTC
    # it always ends in "+00:00".
    return value.isoformat()[:-6] + "Z"


_TRACKING = re.compile(r"^(utm_[a-z_]*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|ref_src|ref_url|s|t)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PLAIN_URL = re.compile(r"https?://([a-z0-9.-]+)(/[^?#\s]*)?")


_X_POST = re.compile(r"https://(?:x|twitter|mobile\.twitter)\.com/(?:\w+|i/web)/status/(\d+)")


def x_post_id(canonical: str) -> str | None:
    """The id (``x:<number>``) of the X post a canonical URL is the address of, else None. X serves a
    post under any account's path, so the number alone says which post it is."""
    found = _X_POST.fullmatch(canonical)
    return f"x:{found.group(1)}" if found else None


def canonical_url(url: str) -> str:
    """The form under which two links to the same page compare equal.

    Lowercase scheme and host, default port dropped, no fragment, no tracking parameters
    (utm_*, fbclid, ...), remaining query parameters kept in order, no trailing slash on the path.
    ``http`` and ``https`` are kept distinct only in scheme: both canonicalise to https, because
    the same post is routinely shared under either.
    """
    plain = _PLAIN_URL.fullmatch(url.strip())
    if plain:  # the common case (no query, fragment, port, user or capitals): the same result, no urlsplit
        host = plain.group(1)
        return f"https://{host[4:] if host.startswith('www.') else host}{(plain.group(2) or '').rstrip('/')}"
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url.strip()
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(scheme)) else None
    netloc = f"{host}:{port}" if port else host
    path = parts.path.rstrip("/")
    query = parts.query and urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k.lower())]
    )
    return urlunsplit(("https", netloc, path, query, ""))
