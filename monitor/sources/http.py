"""The one shared async HTTP fetcher for blogs and comment feeds.

What it promises, whatever the server does:
- no body larger than ``max_bytes`` is ever held, compressed or not: the raw stream (``aiter_raw``)
  is counted and fed to a size-bounded zlib decompressor, so a gzip bomb is refused within the cap
  (a cap checked on httpx's decoded ``aiter_bytes`` is not: a 194 KB body took 269 MB);
- only gzip, deflate and identity are accepted (and asked for);
- redirects are followed by hand, at most 5, each new URL re-checked to be http(s);
- at most ``max_connections`` requests in flight overall and ``max_per_host`` per origin
  (scheme, host, port), with a connection pool of the same size, so polling 1,000 feeds never
  opens 1,000 connections at once; ``run_grouped`` fetches many URLs with per-origin workers that
  keep their pooled connection for all of a host's feeds;
- a 429 or 503 with Retry-After (seconds or an HTTP date) parks that origin: further requests to it
  fail fast with the time to wait, without touching the network;
- every failure is a ``FetchError`` that carries the URL (credentials stripped) and the status;
- a host that is, or resolves to, a loopback, private or link-local address is refused before the
  request (each redirect too) unless ``blogs.allow_private_addresses``; and since httpx resolves
  the name again to connect, where a second answer may differ from the first (DNS rebinding), the
  address each new connection reached is checked too, before anything is sent on it (``peer_check``).

Conditional GET values (ETag, Last-Modified) are returned and sent back byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import ipaddress
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.clock import Clock, SystemClock
from monitor.config.settings import BlogSettings
from monitor.sources.body import BoundedDecoder, FetchError, ResponseTooLarge, drain, safe_url

MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 6 * 3600.0  # a server cannot park us for longer than this
DEFAULT_429_WAIT = 60.0  # a 429 without Retry-After still means "slow down"
_REDIRECTS = {301, 302, 303, 307, 308}
_LEASED: contextvars.ContextVar[bool] = contextvars.ContextVar("monitor_http_leased", default=False)
T = TypeVar("T")
__all__ = ["FetchError", "FetchResult", "HttpFetcher", "ResponseTooLarge", "origin_of", "parse_retry_after",
           "safe_url"]
ACCEPT_FEEDS = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(slots=True)
class FetchResult:
    url: str  # final URL, after redirects
    status: int  # 200..299, or 304
    headers: dict[str, str] = field(default_factory=dict)  # lowercased names
    body: bytes = b""
    etag: str | None = None  # raw header values, latin-1 decoded: send back as-is
    last_modified: str | None = None
    redirects: list[str] = field(default_factory=list)
    raw_bytes: int = 0  # bytes on the wire (compressed)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def origin_of(url: str) -> str:
    """scheme://host:port: the unit of per-host limits and parking."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date); None when unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


def _address(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(str(text).split("%", 1)[0])  # an IPv6 scope (%eth0) is not part of it


def public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address (an IPv4-mapped IPv6 address judged as the IPv4 one it maps)."""
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_global and not ip.is_multicast


def peer_check(url: str) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """A hook for httpx's ``trace`` request extension that refuses a new connection to ``url``'s host
    whose peer is not a public address, before anything is sent on it (TLS included): the name was
    checked, then resolved again to connect, and a rebinding DNS server answers the second time with
    127.0.0.1. A connection to another host (a proxy from the environment) is not the host's and is
    left alone. Raises FetchError (not retryable), having closed the connection."""
    expected = httpx.URL(url).raw_host.decode("ascii").lower()
    direct = False

    async def trace(event: str, info: dict[str, Any]) -> None:
        nonlocal direct
        if event == "connection.connect_tcp.started":
            direct = str(info.get("host", "")).lower() == expected
        elif event == "connection.connect_tcp.complete" and direct:
            stream = info["return_value"]
            peer = stream.get_extra_info("server_addr")
            try:
                ip = _address(peer[0]) if peer else None
            except ValueError:
                ip = None
            if ip is None or not public(ip):
                await stream.aclose()
                raise FetchError(
                    f"refusing {urlsplit(url).hostname}: the connection reached {ip or 'an unknown address'}, "
                    "not a public address, though the name resolved to a public one when checked (DNS "
                    "rebinding?); set blogs.allow_private_addresses: true to fetch from such hosts",
                    url=url, retryable=False)

    return trace


@dataclass(slots=True)
class _HostSlots:
    """One origin's ``max_per_host`` slots, and how many fetches hold or wait for one."""

    semaphore: asyncio.Semaphore
    users: int = 0


class HttpFetcher:
    """One per process: shared by every blog and comment source so the limits hold across them.

    It keeps per-host state (slots, a Retry-After) only while it applies: comment threads and
    redirects bring new hosts for as long as the daemon runs, and it must not remember each forever.
    """

    def __init__(
        self,
        settings: BlogSettings | None = None,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.settings = settings or BlogSettings.model_validate({})
        self.clock = clock or SystemClock()
        self.max_bytes = int(self.settings.max_bytes)
        self.timeout = self.settings.timeout.total_seconds()
        self._transport = transport
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, _HostSlots] = {}       # origins with a fetch holding or awaiting a slot
        self._parked: dict[str, datetime] = {}        # origins that asked us to wait, until when
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def _ensure(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or loop is not self._loop:
            # Semaphores and pooled connections belong to one event loop; a new loop gets new ones.
            s = self.settings
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(
                    max_connections=s.max_connections,
                    max_keepalive_connections=s.max_connections,
                    keepalive_expiry=30.0,
                ),
                follow_redirects=False,
                headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
                transport=self._transport,
            )
            self._global = asyncio.Semaphore(s.max_connections)
            self._hosts = {}
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None
        self._loop = None

    # -- parking ----------------------------------------------------------------------------------
    def parked_until(self, url: str) -> datetime | None:
        key = origin_of(url)
        until = self._parked.get(key)
        if until is not None and until <= self.clock.now():
            del self._parked[key]
            return None
        return until

    def park(self, url: str, seconds: float) -> datetime:
        now = self.clock.now()
        until = now + timedelta(seconds=seconds)
        key = origin_of(url)
        # Waits that are over go, also those of hosts never asked again.
        self._parked = {k: t for k, t in self._parked.items() if t > now}
        self._parked[key] = max(until, self._parked.get(key, until))
        return self._parked[key]

    @property
    def hosts_tracked(self) -> int:
        """Origins the fetcher holds state for: slots held or awaited, and waits it remembers."""
        return len(self._hosts.keys() | self._parked.keys())

    def _check_parked(self, url: str) -> None:
        until = self.parked_until(url)
        if until is not None:
            wait = (until - self.clock.now()).total_seconds()
            raise FetchError(
                f"host asked us to wait; not asking again for {wait:.0f}s",
                url=url,
                retry_after=wait,
                parked=True,
            )

    # -- fetching -----------------------------------------------------------------------------------
    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = ACCEPT_FEEDS,
        max_bytes: int | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url``. A 304 is a result with ``not_modified``; every other failure raises FetchError.

        ``extra_headers`` (an API token's Authorization, say) go with the first request only, never
        with a redirect's next one, which may be another host."""
        client = self._ensure()
        # bytes, so that validators go back exactly as they came (latin-1 round-trips every byte)
        headers: list[tuple[bytes, bytes]] = [(b"Accept", accept.encode())]
        if etag:
            headers.append((b"If-None-Match", etag.encode("latin-1", "replace")))
        if last_modified:
            headers.append((b"If-Modified-Since", last_modified.encode("latin-1", "replace")))
        first = headers + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (extra_headers or {}).items()]
        cap = self.max_bytes if max_bytes is None else max_bytes
        current, hops = url, list[str]()
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError("refusing a non-http(s) URL", url=current, retryable=False)
            self._check_parked(current)
            sent = first if not hops else headers
            if not self.settings.allow_private_addresses:
                await self._check_address(current)
            if _LEASED.get():  # run_grouped already holds this task's slots
                outcome = await self._one(client, current, sent, cap)
            else:
                async with self._host_slot(current):
                    assert self._global is not None
                    async with self._global:
                        self._check_parked(current)
                        outcome = await self._one(client, current, sent, cap)
            if isinstance(outcome, FetchResult):
                outcome.redirects = hops
                return outcome
            hops.append(current)
            current = urljoin(current, outcome)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", url=url)

    async def run_grouped(self, urls: list[str], work: Callable[[str], Awaitable[T]]) -> list[T]:
        """``work(url)`` for every URL, grouped by origin, results in the order of ``urls``.

        Each origin gets at most ``max_per_host`` workers; each worker holds one host slot and one
        global slot for its whole run and fetches one URL at a time, so a host's pooled connection
        is reused instead of being evicted by other hosts between two of its feeds. ``get`` calls
        made by ``work`` inside a worker take no further slot (a redirect to another host included).
        ``work`` should not raise; if it does, the first exception is raised once all are done.
        """
        self._ensure()
        groups: dict[str, deque[str]] = {}
        for url in dict.fromkeys(urls):
            groups.setdefault(origin_of(url), deque()).append(url)
        results: dict[str, T] = {}
        errors: list[BaseException] = []

        async def worker(origin_url: str, queue: deque[str]) -> None:
            async with self._host_slot(origin_url):
                assert self._global is not None
                async with self._global:
                    _LEASED.set(True)  # this task's context only
                    while queue:
                        url = queue.popleft()
                        try:
                            results[url] = await work(url)
                        except Exception as exc:
                            errors.append(exc)

        await asyncio.gather(
            *(
                worker(q[0], q)
                for q in groups.values()
                for _ in range(min(self.settings.max_per_host, len(q)))
            )
        )
        if errors:
            raise errors[0]
        return [results[u] for u in urls]

    async def _check_address(self, url: str) -> None:
        """Refuse a URL whose host is, or resolves to, an address that is not global (loopback,
        private, link-local, ...), unless ``blogs.allow_private_addresses``. Checked before every
        request, redirects included. Raises FetchError (not retryable)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            addresses = {ipaddress.ip_address(host)}
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
            except OSError as exc:
                raise FetchError(f"cannot resolve {host}: {exc.strerror or exc}", url=url) from None
            addresses = {_address(info[4][0]) for info in infos}
        for ip in sorted(addresses, key=str):
            if not public(ip):
                raise FetchError(
                    f"refusing {host}: it is or resolves to {ip}, not a public address "
                    "(set blogs.allow_private_addresses: true to fetch from such hosts)",
                    url=url, retryable=False,
                )

    @contextlib.asynccontextmanager
    async def _host_slot(self, url: str) -> AsyncIterator[None]:
        """Hold one of the origin's ``max_per_host`` slots; its slots are forgotten once none is held
        or awaited."""
        key = origin_of(url)
        slots = self._hosts.get(key)
        if slots is None:
            slots = self._hosts[key] = _HostSlots(asyncio.Semaphore(self.settings.max_per_host))
        slots.users += 1
        try:
            async with slots.semaphore:
                yield
        finally:
            slots.users -= 1
            if slots.users == 0 and self._hosts.get(key) is slots:
                del self._hosts[key]

    async def _one(
        self, client: httpx.AsyncClient, url: str, headers: list[tuple[bytes, bytes]], cap: int
    ) -> FetchResult | str:
        """One request: a result, or the Location to follow next."""
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        extensions = None if self.settings.allow_private_addresses else {"trace": peer_check(url)}
        try:
            async with asyncio.timeout(self.timeout):
                async with client.stream("GET", url, headers=headers, extensions=extensions) as resp:
                    return await self._read(resp, url, cap)
        except TimeoutError:
            raise FetchError(f"no complete answer within {self.timeout:.0f}s", url=url) from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout:.0f}s", url=url) from None
        except httpx.TransportError as exc:
            raise FetchError(f"network error: {type(exc).__name__}: {exc}", url=url) from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid or non-http URL: {exc}", url=url, retryable=False) from None
        except httpx.HTTPError as exc:
            raise FetchError(f"HTTP error: {type(exc).__name__}: {exc}", url=url) from None
        finally:
            self.in_flight -= 1

    async def _read(self, resp: httpx.Response, url: str, cap: int) -> FetchResult | str:
        status = resp.status_code
        if status in _REDIRECTS or status == 304 or status >= 400:
            await drain(resp)  # an unread body would close the connection instead of pooling it
        if status in _REDIRECTS:
            location = resp.headers.get("location")
            if not location:
                raise FetchError(f"HTTP {status} redirect without a Location", url=url, status=status)
            return location
        raw_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in resp.headers.raw}
        if status == 304:
            return FetchResult(
                url, status, raw_headers, b"", raw_headers.get("etag"), raw_headers.get("last-modified")
            )
        if status in (429, 503):
            wait = parse_retry_after(resp.headers.get("retry-after"), self.clock.now())
            if wait is None and status == 429:
                wait = DEFAULT_429_WAIT
            if wait is not None:
                self.park(url, wait)
            said = f"; Retry-After {wait:.0f}s" if wait is not None else ""
            raise FetchError(f"HTTP {status}{said}", url=url, status=status, retry_after=wait)
        if status >= 400 or status < 200:
            raise FetchError(f"HTTP {status}", url=url, status=status, retryable=status not in (400, 410))
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise ResponseTooLarge(
                f"Content-Length {length} is over the {cap}-byte cap; not read", url=url, status=status
            )
        decoder = BoundedDecoder(resp.headers.get("content-encoding", "").strip().lower(), cap, url)
        parts: list[bytes] = []
        raw = 0
        async for chunk in resp.aiter_raw():
            raw += len(chunk)
            if raw > cap:
                raise ResponseTooLarge(
                    f"body larger than the {cap}-byte cap; refused", url=url, status=status
                )
            parts.append(decoder.feed(chunk))
        parts.append(decoder.flush())
        return FetchResult(
            url,
            status,
            raw_headers,
            b"".join(parts),
            raw_headers.get("etag"),
            raw_headers.get("last-modified"),
            raw_bytes=raw,
        )
