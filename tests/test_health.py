"""Upkeep: a source gone quiet or failing is announced once per episode; pruning keeps the DB bounded."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.slack import SlackStandIn
from monitor.alerts.outbox import record_decisions
from monitor.clock import SimulatedClock
from monitor.config.settings import load_config
from monitor.daemon import Daemon
from monitor.ops.health import judged_quiet, quiet_sources
from monitor.records.mention import Author, Mention
from monitor.store.database import Store
from tests.conftest import write_config

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)
AFTER = timedelta(hours=6)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "health.db")


def announce(store: Store, alerts: list[dict[str, Any]], now: datetime) -> None:
    record_decisions(store, alerts, channel_for=lambda _: "#ops", now=now)


def check(store: Store, now: datetime, *keys: str, started: datetime = T0) -> list[dict[str, Any]]:
    return quiet_sources(store, keys or ["x:acme"], now, AFTER, started=started)


def test_a_source_that_stops_yielding_is_announced_once_per_episode(store: Store) -> None:
    store.record_health("x:acme", now=T0, ok=True, items=5)
    for h in range(1, 6):
        store.record_health("x:acme", now=T0 + h * HOUR, ok=True, items=0)
    assert check(store, T0 + 5 * HOUR) == []  # quiet, but not for six hours yet
    alerts = check(store, T0 + 6 * HOUR)
    assert [(a["decision"], a["source"], a["root_id"]) for a in alerts] == [("source_quiet", "x:acme", "source:x:acme")]
    assert "x:acme has returned no mentions for 6h00m" in alerts[0]["reason"]
    announce(store, alerts, T0 + 6 * HOUR)
    assert check(store, T0 + 9 * HOUR) == []  # same episode: said once

    store.record_health("x:acme", now=T0 + 10 * HOUR, ok=True, items=2)  # it yields again: episode over
    assert check(store, T0 + 15 * HOUR) == []
    again = check(store, T0 + 16 * HOUR)
    assert [a["decision"] for a in again] == ["source_quiet"]  # a new episode is announced again


def test_a_source_that_keeps_failing_is_announced_with_its_last_error(store: Store) -> None:
    store.record_health("rss:https://blog.example.org/feed/", now=T0, ok=True, items=1)
    for h in range(1, 8):
        store.record_health("rss:https://blog.example.org/feed/", now=T0 + h * HOUR, ok=False,
                            error="HTTP 503 from blog.example.org")
    alerts = check(store, T0 + 7 * HOUR, "rss:https://blog.example.org/feed/")
    assert [a["decision"] for a in alerts] == ["source_failing"]
    assert "has failed for 7h00m (7 attempts); last error: HTTP 503 from blog.example.org" in alerts[0]["reason"]
    announce(store, alerts, T0 + 7 * HOUR)
    assert check(store, T0 + 8 * HOUR, "rss:https://blog.example.org/feed/") == []


def test_a_source_that_never_succeeded_counts_as_failing_since_the_process_started(store: Store) -> None:
    store.record_health("x:acme", now=T0 + HOUR, ok=False, error="401 Unauthorized: check $X_BEARER_TOKEN")
    assert check(store, T0 + 5 * HOUR) == []
    alerts = check(store, T0 + 6 * HOUR)
    assert [a["decision"] for a in alerts] == ["source_failing"]
    announce(store, alerts, T0 + 6 * HOUR)
    # A restart does not announce the same never-ending episode again.
    assert check(store, T0 + 20 * HOUR, started=T0 + 10 * HOUR) == []


def test_silence_while_the_daemon_was_stopped_does_not_count(store: Store) -> None:
    store.record_health("x:acme", now=T0, ok=True, items=5)
    restarted = T0 + 12 * HOUR  # stopped overnight
    store.record_health("x:acme", now=restarted, ok=False, error="timeout")
    assert check(store, restarted + timedelta(minutes=1), started=restarted) == []
    assert [a["decision"] for a in check(store, restarted + AFTER, started=restarted)] == ["source_failing"]


def test_an_announced_episode_is_not_repeated_after_a_restart(store: Store) -> None:
    store.record_health("x:acme", now=T0, ok=True, items=5)
    store.record_health("x:acme", now=T0 + 7 * HOUR, ok=True, items=0)
    announce(store, check(store, T0 + 7 * HOUR), T0 + 7 * HOUR)
    later = T0 + 8 * HOUR
    assert check(store, later + AFTER, started=later) == []


def test_single_feeds_and_comment_threads_are_judged_on_failures_never_on_silence(store: Store) -> None:
    keys = ["rss:feeds", "rss:feeds/1of2", "rss:https://b.example/feed/", "comments:threads", "x:acme"]
    assert [k for k in keys if judged_quiet(k)] == ["rss:feeds", "rss:feeds/1of2", "x:acme"]
    for key in keys:
        store.record_health(key, now=T0, ok=True, items=3)
    alerts = check(store, T0 + 7 * HOUR, *keys)
    assert sorted(a["source"] for a in alerts) == ["rss:feeds", "rss:feeds/1of2", "x:acme"]


def test_sources_not_in_the_config_and_a_zero_threshold_are_ignored(store: Store) -> None:
    store.record_health("x:old-watchlist", now=T0, ok=True, items=5)
    assert check(store, T0 + 7 * HOUR, "x:acme") == []
    store.record_health("x:acme", now=T0, ok=True, items=5)
    assert quiet_sources(store, ["x:acme"], T0 + 70 * HOUR, timedelta(0), started=T0) == []


# -- through the daemon's upkeep and prune jobs ----------------------------------------------------
def test_upkeep_sends_the_gone_quiet_alert_to_slack_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HEALTH_X_TOKEN", "x-health-bearer-0123456789")
    monkeypatch.setenv("HEALTH_SLACK_TOKEN", "xoxb-health-stand-in-0123")
    clock = SimulatedClock(T0)
    with SlackStandIn(token="xoxb-health-stand-in-0123") as slack:
        path = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}], source_quiet_after="6h",
                            x={"api_url": "http://127.0.0.1:9", "bearer_token_env": "HEALTH_X_TOKEN"},
                            slack={"api_url": slack.api_url, "token_env": "HEALTH_SLACK_TOKEN",
                                   "webhook_url_env": None, "default_channel": "#ops"})

        async def scenario() -> float | None:
            daemon = Daemon(load_config(path), clock=clock)
            try:
                daemon.store.record_health("x:acme", now=T0, ok=True, items=4)
                clock.advance(7 * 3600)
                daemon.store.record_health("x:acme", now=clock.now(), ok=True, items=0)
                with caplog.at_level(logging.WARNING, logger="monitor.daemon"):
                    await daemon.upkeep()
                    await daemon.sender.deliver_due()
                    clock.advance(3600)
                    await daemon.upkeep()
                    await daemon.sender.deliver_due()
                return daemon.metrics.registry.get_sample_value("monitor_decisions_total", {"name": "source_quiet"})
            finally:
                await daemon.http.aclose()
                daemon.store.close()

        counted = asyncio.run(scenario())
    assert counted == 1
    assert [m.text.split(":")[0] for m in slack.in_channel("#ops")] == ["Source gone quiet"]
    assert "x:acme has returned no mentions for 7h00m" in slack.in_channel("#ops")[0].text
    warnings = [r for r in caplog.records if r.name == "monitor.daemon" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and vars(warnings[0]).get("decision") == "source_quiet"


def mention(i: int, at: datetime, *, parent: str | None = None) -> Mention:
    text = "my acme order never came, refund please" if parent is None else "same, acme is awful"
    return Mention(id=f"x:{i}", source="x", kind="reply" if parent else "post", parent_id=parent,
                   url=f"https://x.com/u{i}/status/{i}", author=Author(str(i), f"user{i}", followers=10),
                   text=text, links=[], created_at=at, observed_at=at)


def test_prune_deletes_mentions_and_cascades_past_the_retention_so_the_database_stays_bounded(
        tmp_path: Path) -> None:
    path = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}], retention="2d")
    clock = SimulatedClock(T0)
    daemon = Daemon(load_config(path), clock=clock)
    counts = []
    try:
        for day in range(10):  # a storm a day, each with ten reactions, pruned daily
            base = 1000 * day
            daemon.pipeline.ingest([mention(base, clock.now())])
            daemon.pipeline.ingest([mention(base + i, clock.now(), parent=f"x:{base}") for i in range(1, 11)])
            asyncio.run(daemon.prune())
            counts.append((daemon.store.count("mentions"), daemon.store.count("cascades")))
            clock.advance(86400)
        oldest = daemon.store.conn.execute("SELECT min(observed_at) FROM mentions").fetchone()[0]
    finally:
        daemon.store.close()
    assert counts[:3] == [(11, 1), (22, 2), (33, 3)]
    assert set(counts[3:]) == {(33, 3)}  # bounded: today's and the two days before
    assert oldest >= (T0 + timedelta(days=7)).strftime("%Y-%m-%d")


def test_a_graceful_stop_lets_a_poll_in_flight_store_what_it_fetched(tmp_path: Path) -> None:
    """In-process, where a slow source can be staged: SIGTERM-equivalent while a poll is half done."""
    from monitor.sources.base import PollResult

    path = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}])
    daemon = Daemon(load_config(path))
    fetching = asyncio.Event()

    class SlowSource:
        key = "x:acme"

        async def poll(self, cursor: Any, now: datetime) -> PollResult:
            fetching.set()
            await asyncio.sleep(0.5)  # the request still on the wire when the stop comes
            return PollResult([mention(1, now)], {"since_id": "1"})

    daemon.sources = {"x:acme": SlowSource()}
    daemon._build_outputs = lambda: None  # type: ignore[method-assign]  # keep the staged source

    async def scenario() -> None:
        runner = asyncio.create_task(daemon.run_forever())
        await asyncio.wait_for(fetching.wait(), 10)
        daemon.stopping.set()
        await asyncio.wait_for(runner, 20)

    asyncio.run(scenario())
    store = Store(daemon.config.database_path)
    try:
        assert [m.id for m in store.iter_mentions()] == ["x:1"]
        assert store.get_cursor("x:acme") == {"since_id": "1"}
    finally:
        store.close()


def test_a_source_parked_by_its_budget_is_announced_as_quiet_with_when_it_resumes(store: Store) -> None:
    store.record_health("x:acme", now=T0, ok=True, items=5)
    store.record_health("x:acme", now=T0 + HOUR, ok=True, items=0, paused_until=T0 + 30 * HOUR)
    alerts = check(store, T0 + 7 * HOUR)
    assert [a["decision"] for a in alerts] == ["source_quiet"]
    assert "it is paused until 2026-11-03T15:00:00" in alerts[0]["reason"]


def test_the_x_stream_is_judged_on_silence_and_the_lookups_only_on_failures() -> None:
    # The stream replaces the x:<watch-list> searches; lookups have nothing to do with no open complaint.
    assert judged_quiet("xstream:all") and not judged_quiet("xlookup:open")


@pytest.mark.parametrize("key", ["bluesky:jetstream", "mastodon:mastodon.social", "hn:acme"])
def test_the_open_networks_sources_going_quiet_are_announced_like_x(store: Store, key: str) -> None:
    assert judged_quiet(key)
    store.record_health(key, now=T0, ok=True, items=3)
    for h in range(1, 7):
        store.record_health(key, now=T0 + h * HOUR, ok=True, items=0)
    alerts = check(store, T0 + 6 * HOUR, key)
    assert [(a["decision"], a["source"]) for a in alerts] == [("source_quiet", key)]
    assert f"{key} has returned no mentions for 6h00m" in alerts[0]["reason"]
