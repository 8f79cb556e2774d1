"""/healthz and /metrics on the loopback listener, with the figures the daemon's jobs produce."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.slack import SlackStandIn
from devkit.standins.xapi import XApi
from monitor.clock import SimulatedClock
from monitor.config.settings import load_config
from monitor.daemon import Daemon
from monitor.ops.metrics import HealthServer, Metrics, observe_outbox
from tests.conftest import write_config

X_TOKEN = "x-metrics-bearer-0123456789"
SLACK_TOKEN = "xoxb-metrics-stand-in-0123"
COMPLAINT = "I tried to cancel my acme subscription 3 times and nobody answers. Charged again, order #55123."
METRIC_NAMES = ["monitor_mentions_ingested_total", "monitor_polls_total", "monitor_poll_seconds_bucket",
                "monitor_decisions_total", "monitor_alerts_sent", "monitor_alerts_queued",
                "monitor_alerts_failed", "monitor_open_cascades", "monitor_database_bytes"]


async def get(port: int, path: str) -> tuple[int, str, str]:
    """A plain HTTP/1.1 GET; returns the status, the Content-Type and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    ctype = re.search(r"(?im)^content-type: (.*)\r?$", head)
    return int(head.split()[1]), (ctype.group(1).strip() if ctype else ""), body


def sample(text: str, metric: str, /, **labels: str) -> float | None:
    """One value out of the Prometheus text format, or None when absent."""
    for line in text.splitlines():
        m = re.fullmatch(r"([\w:]+)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != metric:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if got == labels:
            return float(m.group(3))
    return None


def serve(metrics: Metrics, health: Any, **kw: Any) -> HealthServer:
    return HealthServer("127.0.0.1:0", metrics, health, **kw)


def test_healthz_answers_200_ok_while_healthy_and_503_with_the_reason_when_not() -> None:
    state = {"ok": True}

    async def scenario() -> list[tuple[int, str, str]]:
        server = serve(Metrics(), lambda: (True, "ok") if state["ok"] else (False, "detection has not run for 99s"))
        await server.start()
        try:
            first = await get(server.port, "/healthz")
            state["ok"] = False
            return [first, await get(server.port, "/healthz?verbose=1"), await get(server.port, "/")]
        finally:
            await server.stop()

    healthy, sick, other = asyncio.run(scenario())
    assert healthy == (200, "text/plain; charset=utf-8", "ok\n")
    assert sick[0] == 503 and sick[2] == "detection has not run for 99s\n"
    assert other[0] == 404 and "/healthz" in other[2]


def test_metrics_lists_every_metric_in_the_prometheus_text_format() -> None:
    m = Metrics()
    m.ingested.labels("x").inc(3)
    m.polls.labels("rss", "ok").inc()
    m.poll_seconds.labels("rss").observe(0.2)
    m.decisions.labels("first_alert").inc()
    observe_outbox(m, {"pending": 2, "held": 1, "sent": 5, "failed": 1})

    async def scenario() -> tuple[int, str, str]:
        server = serve(m, lambda: (True, "ok"))
        await server.start()
        try:
            return await get(server.port, "/metrics")
        finally:
            await server.stop()

    status, ctype, body = asyncio.run(scenario())
    assert status == 200 and ctype.startswith("text/plain; version=")
    for name in METRIC_NAMES:
        assert re.search(rf"(?m)^{name}[ {{]", body), name
    assert sample(body, "monitor_mentions_ingested_total", source="x") == 3
    assert sample(body, "monitor_alerts_queued") == 3  # pending and held
    assert sample(body, "monitor_alerts_sent") == 5 and sample(body, "monitor_alerts_failed") == 1


def test_the_listener_binds_loopback_only_by_default() -> None:
    server = HealthServer(":0", Metrics(), lambda: (True, "ok"))
    assert server.host == "127.0.0.1"
    assert HealthServer("[::1]:9464", Metrics(), lambda: (True, "ok")).host == "::1"


def test_a_failing_gauge_refresh_still_answers_the_scrape() -> None:
    def broken() -> None:
        raise RuntimeError("database is locked")

    async def scenario() -> int:
        server = serve(Metrics(), lambda: (True, "ok"), refresh=broken)
        await server.start()
        try:
            return (await get(server.port, "/metrics"))[0]
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == 200


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("METRICS_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("METRICS_SLACK_TOKEN", SLACK_TOKEN)
    with XApi(token=X_TOKEN) as x, SlackStandIn(token=SLACK_TOKEN) as slack:
        yield x, slack


def test_the_daemons_jobs_count_mentions_by_source_decisions_by_name_and_alerts_sent_and_queued(
        tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = write_config(
        tmp_path, [{"name": "acme", "terms": ["acme"], "channel": "#acme",
                    "alert": {"spread_threshold": 5, "spike": False, "cooldown": "0s"}}],
        x={"api_url": x.url, "bearer_token_env": "METRICS_X_TOKEN"},
        slack={"api_url": slack.api_url, "token_env": "METRICS_SLACK_TOKEN", "webhook_url_env": None},
        detection={"min_reactions": 3})
    root = x.add_tweet(COMPLAINT, author="carol", followers=1000)
    for i in range(8):
        x.add_tweet(f"@carol same here, acme did this to me too ({i})", author=f"r{i}", replied_to=root["id"])
    slack.fail_next(1, status=500)  # the first attempt fails: the alert stays queued
    clock = SimulatedClock(datetime.now(UTC))

    async def scenario() -> tuple[str, str]:
        daemon = Daemon(load_config(path), clock=clock)
        server = serve(daemon.metrics, daemon.health, refresh=daemon.refresh_gauges)
        await server.start()
        try:
            await daemon.poll("x:acme")
            await daemon.detect()
            await daemon.sender.deliver_due()
            queued = (await get(server.port, "/metrics"))[2]
            clock.advance(3600)  # past the retry's backoff
            await daemon.sender.deliver_due()
            return queued, (await get(server.port, "/metrics"))[2]
        finally:
            await server.stop()
            await daemon.http.aclose()
            daemon.store.close()

    queued, sent = asyncio.run(scenario())
    assert sample(queued, "monitor_mentions_ingested_total", source="x") == 9
    assert sample(queued, "monitor_polls_total", source="x", outcome="ok") == 1
    assert sample(queued, "monitor_decisions_total", name="first_alert") == 1
    assert sample(queued, "monitor_alerts_queued") == 1 and sample(queued, "monitor_alerts_sent") == 0
    assert sample(queued, "monitor_open_cascades") == 1
    assert (sample(queued, "monitor_database_bytes") or 0) > 0
    assert sample(sent, "monitor_alerts_queued") == 0 and sample(sent, "monitor_alerts_sent") == 1
    assert len(slack.messages) == 1


def test_health_turns_unhealthy_when_detection_stops_running(config: Any) -> None:
    daemon = Daemon(config)
    try:
        assert daemon.health() == (True, "ok")
        daemon.last_detect -= 3 * config.settings.detection.every.total_seconds() + 60
        ok, why = daemon.health()
        assert not ok and why.startswith("detection has not run for")
        daemon.stopping.set()
        assert daemon.health() == (False, "stopping")
    finally:
        daemon.store.close()


def test_the_poll_histogram_uses_seconds_buckets_up_to_two_minutes() -> None:
    m = Metrics()
    m.poll_seconds.labels("x").observe(timedelta(seconds=3).total_seconds())
    body = m.render().decode()
    assert sample(body, "monitor_poll_seconds_bucket", source="x", le="2.5") == 0
    assert sample(body, "monitor_poll_seconds_bucket", source="x", le="5.0") == 1
    assert sample(body, "monitor_poll_seconds_bucket", source="x", le="120.0") == 1


def test_a_listen_address_in_use_is_a_clear_error_not_a_traceback() -> None:
    import socket

    from monitor.ops.metrics import ListenError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def scenario() -> None:
            await HealthServer(f"127.0.0.1:{port}", Metrics(), lambda: (True, "ok")).start()

        with pytest.raises(ListenError, match=rf"cannot listen on 127.0.0.1:{port} .*change http.listen") as exc:
            asyncio.run(scenario())
    assert exc.value.retryable  # exit 1: systemd restarts it, the port may be free by then


def test_one_cycle_runs_every_job_once_for_soak_tests(tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = write_config(
        tmp_path, [{"name": "acme", "terms": ["acme"], "alert": {"spread_threshold": 5, "spike": False}}],
        x={"api_url": x.url, "bearer_token_env": "METRICS_X_TOKEN"},
        slack={"api_url": slack.api_url, "token_env": "METRICS_SLACK_TOKEN", "webhook_url_env": None},
        detection={"min_reactions": 3})
    root = x.add_tweet(COMPLAINT, author="carol")
    for i in range(6):
        x.add_tweet(f"acme did this to me too ({i})", author=f"r{i}", replied_to=root["id"])

    async def scenario() -> tuple[float | None, float | None]:
        daemon = Daemon(load_config(path), clock=SimulatedClock(datetime.now(UTC)))
        try:
            await daemon.cycle()
            await daemon.cycle()
            r = daemon.metrics.registry
            return (r.get_sample_value("monitor_polls_total", {"source": "x", "outcome": "ok"}),
                    r.get_sample_value("monitor_alerts_sent"))
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    assert asyncio.run(scenario()) == (2, 1)
    assert len(slack.messages) == 1


def test_each_cluster_instance_serves_its_name_and_the_leases_it_holds(tmp_path: Path, pg_url: str) -> None:
    path = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}], database=pg_url,
                        x={"enabled": False}, blogs={"enabled": False}, cluster={"instance": "web-1:812"})

    async def scenario() -> str:
        daemon = Daemon(load_config(path), clock=SimulatedClock(datetime.now(UTC)))
        server = serve(daemon.metrics, daemon.health, refresh=daemon.refresh_gauges)
        await server.start()
        try:
            await daemon.lease()
            return (await get(server.port, "/metrics"))[2]
        finally:
            await server.stop()
            await daemon.http.aclose()
            daemon.store.close()

    body = asyncio.run(scenario())
    assert sample(body, "monitor_instance", instance="web-1:812") == 1
    assert sample(body, "monitor_leases_held") == 2  # global and watchlist:acme: it is alone
    assert sample(body, "monitor_lease_takeovers") == 0
