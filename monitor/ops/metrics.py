"""Prometheus metrics and the optional 127.0.0.1 listener for ``/healthz`` and ``/metrics``.

Each daemon owns its registry (no module-level globals), so tests can run several side by side.
The listener is a few lines of asyncio: it shares the daemon's loop, so a wedged loop also stops
answering ``/healthz``, which is what a health check should notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from monitor.errors import MonitorError

log = logging.getLogger("monitor.metrics")


class ListenError(MonitorError):
    """The health and metrics listener could not bind its address (often: already in use)."""

    retryable = True


def source_kind(key: str) -> str:
    """'x:acme' -> 'x'; 'rss:feeds/1of2' -> 'rss': labels stay few whatever the feed count."""
    return key.split(":", 1)[0]


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


class HealthServer:
    """Serves ``/healthz`` (200 ok, or 503 with the reason) and ``/metrics`` on a loopback address."""

    def __init__(self, listen: str, metrics: Metrics, health: Callable[[], tuple[bool, str]], *,
                 refresh: Callable[[], None] | None = None):
        """``refresh`` runs before each /metrics answer, so gauges read from the store are current."""
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self.metrics = metrics
        self.health = health
        self.refresh = refresh
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        """Bind and serve. Raises ListenError when the address cannot be bound."""
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise ListenError(f"cannot listen on {self.host}:{self.port} for /healthz and /metrics: "
                              f"{exc.strerror or exc}; free the port or change http.listen") from exc
        sock = self._server.sockets[0].getsockname()
        self.port = sock[1]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)).strip():
                pass  # headers: not needed
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else "/"
            status, ctype, body = self._route(path)
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n")
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def _route(self, path: str) -> tuple[str, str, bytes]:
        if path == "/metrics":
            if self.refresh is not None:
                try:
                    self.refresh()
                except Exception:  # a scrape must answer; stale gauges beat none
                    log.exception("refreshing gauges for /metrics failed")
            return "200 OK", CONTENT_TYPE_LATEST, self.metrics.render()
        if path == "/healthz":
            ok, why = self.health()
            return ("200 OK" if ok else "503 Service Unavailable"), "text/plain; charset=utf-8", (why + "\n").encode()
        return "404 Not Found", "text/plain; charset=utf-8", b"try /healthz or /metrics\n"


def observe_outbox(metrics: Metrics, counts: dict[str, Any]) -> None:
    metrics.alerts_queued.set(int(counts.get("pending", 0)) + int(counts.get("held", 0)))
    metrics.alerts_sent.set(int(counts.get("sent", 0)))
    metrics.alerts_failed.set(int(counts.get("failed", 0)))
