"""Prometheus metrics and the optional 127.0.0.1 listener for ``/healthz`` and ``/metrics``.

Each daemon owns its registry (no module-level globals), so tests can run several side by side.
The listener is aiohttp's HTTP server with a connection cap and a per-connection deadline (see
``HealthServer``; the limits are in docs/operations.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from monitor.errors import MonitorError

log = logging.getLogger("monitor.metrics")


class ListenError(MonitorError):
    """The health and metrics listener could not bind its address (often: already in use)."""

    retryable = True


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingested = Counter("monitor_mentions_ingested", "Mentions stored, by source kind", ["source"],
                                registry=r)
        self.polls = Counter("monitor_polls", "Polls by source kind and outcome", ["source", "outcome"], registry=r)
        self.poll_seconds = Histogram("monitor_poll_seconds", "Time one poll of a source took", ["source"],
                                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=r)
        self.decisions = Counter("monitor_decisions", "Decisions by name (detector and source health)", ["name"],
                                 registry=r)
        # Gauges read from the outbox, so they survive restarts; rows older than the retention are pruned.
        self.alerts_sent = Gauge("monitor_alerts_sent", "Alerts in the outbox marked sent (within the retention)",
                                 registry=r)
        self.alerts_queued = Gauge("monitor_alerts_queued", "Alerts waiting in the outbox (pending or held)",
                                   registry=r)
        self.alerts_failed = Gauge("monitor_alerts_failed", "Alerts that failed permanently (within the retention)",
                                   registry=r)
        self.open_cascades = Gauge("monitor_open_cascades", "Cascades the detector is watching", registry=r)
        self.database_bytes = Gauge("monitor_database_bytes", "Size of the SQLite database and its WAL",
                                    registry=r)
        # A cluster (monitor/ops/cluster.py): each instance is its own scrape target; its name is a label
        # of monitor_instance so that dashboards can tell them apart.
        self.instance = Gauge("monitor_instance", "1, labelled with this instance's cluster name", ["instance"],
                              registry=r)
        self.leases_held = Gauge("monitor_leases_held", "Leases (watch-lists, global) this instance holds",
                                 registry=r)
        self.takeovers = Gauge("monitor_lease_takeovers", "Leases this instance took over from one that stopped "
                               "renewing, since it started", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


MAX_CONNECTIONS = 32      # connections the listener holds at once; at the cap the oldest is closed
REQUEST_DEADLINE = 10.0   # seconds a connection may take, from accept to the end of its answer


class _CappedServer(web.Server):
    """aiohttp's low-level server with a cap on open connections and a deadline on each.

    At the cap, a new connection closes the oldest one: a health check's request takes milliseconds,
    so the oldest is almost always one trickling its headers (slowloris), and a real check is still
    answered while hundreds wait. Every connection is closed ``deadline`` seconds after its accept,
    whatever it is doing; each request is answered with ``Connection: close``, so that bounds the whole
    request and its answer.
    """

    def __init__(self, handler: Any, *, cap: int, deadline: float, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.cap = cap
        self.deadline = deadline
        self.evicted = 0
        self._open: dict[Any, tuple[asyncio.Transport, asyncio.TimerHandle]] = {}

    def connection_made(self, handler: Any, transport: asyncio.Transport) -> None:
        while len(self._open) >= self.cap:
            self.evicted += 1
            oldest = self._forget(next(iter(self._open)))
            if oldest is not None:
                oldest.abort()
        super().connection_made(handler, transport)
        self._open[handler] = (transport, asyncio.get_running_loop().call_later(self.deadline, transport.abort))

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        self._forget(handler)
        super().connection_lost(handler, exc)

    def _forget(self, handler: Any) -> asyncio.Transport | None:
        entry = self._open.pop(handler, None)
        if entry is None:
            return None
        entry[1].cancel()
        return entry[0]

    @property
    def open_connections(self) -> int:
        return len(self._open)


class HealthServer:
    """Serves ``/healthz`` (200 ok, or 503 with the reason) and ``/metrics`` on a loopback address.

    HTTP is aiohttp's (its parser, with its line and header size limits); this class adds the
    connection cap and the per-connection deadline (``_CappedServer``). It shares the daemon's loop,
    so a wedged loop also stops answering ``/healthz``, which is what a health check should notice.
    """

    def __init__(self, listen: str, metrics: Metrics, health: Callable[[], tuple[bool, str]], *,
                 refresh: Callable[[], None] | None = None, max_connections: int = MAX_CONNECTIONS,
                 deadline: float = REQUEST_DEADLINE):
        """``refresh`` runs before each /metrics answer, so gauges read from the store are current."""
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self.metrics = metrics
        self.health = health
        self.refresh = refresh
        self.max_connections = max_connections
        self.deadline = deadline
        self.server: _CappedServer | None = None
        self._runner: web.ServerRunner | None = None

    async def start(self) -> None:
        """Bind and serve. Raises ListenError when the address cannot be bound."""
        self.server = _CappedServer(self._handle, cap=self.max_connections, deadline=self.deadline,
                                    access_log=None, keepalive_timeout=self.deadline)
        runner = web.ServerRunner(self.server, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, backlog=128).start()
        except OSError as exc:
            await runner.cleanup()
            raise ListenError(f"cannot listen on {self.host}:{self.port} for /healthz and /metrics: "
                              f"{exc.strerror or exc}; free the port or change http.listen") from exc
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        status, ctype, body = self._route(request.path)
        resp = web.Response(status=status, body=body, headers={"Content-Type": ctype})
        resp.force_close()  # one request per connection: the deadline bounds it whole
        return resp

    def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            if self.refresh is not None:
                try:
                    self.refresh()
                except Exception:  # a scrape must answer; stale gauges beat none
                    log.exception("refreshing gauges for /metrics failed")
            return 200, CONTENT_TYPE_LATEST, self.metrics.render()
        if path == "/healthz":
            ok, why = self.health()
            return (200 if ok else 503), "text/plain; charset=utf-8", (why + "\n").encode()
        return 404, "text/plain; charset=utf-8", b"try /healthz or /metrics\n"


def observe_outbox(metrics: Metrics, counts: dict[str, Any]) -> None:
    metrics.alerts_queued.set(int(counts.get("pending", 0)) + int(counts.get("held", 0)))
    metrics.alerts_sent.set(int(counts.get("sent", 0)))
    metrics.alerts_failed.set(int(counts.get("failed", 0)))
