"""What a fetch reads and how it fails: bodies undone within a size cap, and errors that name the URL.

A cap checked on httpx's decoded ``aiter_bytes`` does not stop a gzip bomb (a 194 KB body took
269 MB), so ``monitor.sources.http`` feeds the raw stream to ``BoundedDecoder``, which never produces
more than the cap. Every failure is a ``FetchError`` carrying the URL without credentials.
"""

from __future__ import annotations

import zlib
from urllib.parse import urlsplit, urlunsplit

import httpx

from monitor.errors import SourceError


def safe_url(url: str) -> str:
    """The URL without user:password@ (which may hold a secret)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" in parts.netloc:
        return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, ""))
    return url


class FetchError(SourceError):
    """A fetch failed. ``url`` is safe to show (no credentials); ``status`` is None for network errors."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool = True,
        parked: bool = False,
    ):
        super().__init__(f"{message} ({safe_url(url)})", retryable=retryable, retry_after=retry_after)
        self.url = safe_url(url)
        self.status = status
        self.parked = parked  # refused locally because the origin asked us to wait


class ResponseTooLarge(FetchError):
    """The body (raw or decompressed) went past the size cap; reading stopped there."""


class BoundedDecoder:
    """Content-Encoding undone chunk by chunk, never producing more than ``cap`` bytes in total."""

    def __init__(self, encoding: str, cap: int, url: str):
        self.kind = encoding
        self.cap = cap
        self.url = url
        self.produced = 0
        self._d: zlib._Decompress | None = None
        self._first = True
        if encoding in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._d = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise FetchError(
                f"unsupported Content-Encoding {encoding!r} (we ask for gzip or deflate)", url=url
            )

    def feed(self, data: bytes) -> bytes:
        if self._d is None:
            return self._count(data)
        try:
            return self._inflate(data)
        except zlib.error as exc:
            if self.kind == "deflate" and self._first:
                # "deflate" is often sent as a raw stream without the zlib header.
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                self._first = False
                try:
                    return self._inflate(data)
                except zlib.error as exc2:
                    raise FetchError(f"body is not valid {self.kind}: {exc2}", url=self.url) from None
            raise FetchError(f"body is not valid {self.kind}: {exc}", url=self.url) from None

    def flush(self) -> bytes:
        if self._d is None:
            return b""
        try:
            return self._count(self._d.flush())
        except zlib.error as exc:
            raise FetchError(f"body is not valid {self.kind}: {exc}", url=self.url) from None

    def _inflate(self, data: bytes) -> bytes:
        assert self._d is not None
        out: list[bytes] = []
        while data:
            # max_length keeps each step within the cap; 0 would mean "unlimited", never pass it.
            room = self.cap - self.produced + 1
            out.append(self._count(self._d.decompress(data, room)))
            self._first = False
            data = self._d.unconsumed_tail
            if self._d.eof:
                rest = self._d.unused_data
                if rest and self.kind in ("gzip", "x-gzip") and rest[:2] == b"\x1f\x8b":
                    self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a multi-member gzip
                    data = rest
                else:
                    break
        return b"".join(out)

    def _count(self, piece: bytes) -> bytes:
        self.produced += len(piece)
        if self.produced > self.cap:
            raise ResponseTooLarge(
                f"body larger than the {self.cap}-byte cap once decompressed; refused", url=self.url
            )
        return piece


async def drain(resp: httpx.Response, limit: int = 65536) -> None:
    """Read a small body to its end; past ``limit`` give up (the connection is then closed)."""
    seen = 0
    async for chunk in resp.aiter_raw():
        seen += len(chunk)
        if seen > limit:
            break
