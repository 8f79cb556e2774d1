"""Alert as soon as the data says so: a cascade is judged right after the poll that stored its
reactions (debounced), not only on the ``detection.every`` tick, and after a restart the cascades
rebuilt from the store are judged at the first pass, without a second ``new``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.slack import SlackStandIn
from devkit.standins.xapi import XApi
from monitor.clock import SimulatedClock
from monitor.config.settings import Config, load_config
from monitor.daemon import Daemon
from monitor.engine.debounce import Debounced
from monitor.engine.pipeline import Pipeline
from monitor.records.mention import Author, Mention
from monitor.store.database import Store
from tests.conftest import write_config

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
COMPLAINT = "I tried to cancel my @acme subscription 3 times and nobody answers. Charged again, order #55123."
X_TOKEN = "x-soon-bearer-0123456789"
SLACK_TOKEN = "xoxb-soon-stand-in-0123456789"


class Passes:
    """An action that records when each pass ran (on the injected clock) and how many ran at once."""

    def __init__(self, clock: SimulatedClock, hold: asyncio.Event | None = None):
        self.clock, self.hold = clock, hold
        self.at: list[datetime] = []
        self.running = self.most_at_once = 0

    async def __call__(self) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.at.append(self.clock.now())
        try:
            if self.hold is not None:
                await self.hold.wait()
        finally:
            self.running -= 1


async def settle(d: Debounced) -> None:
    """Let the event loop run until no pass is waiting or under way."""
    for _ in range(1000):
        await asyncio.sleep(0)
        if d.idle:
            return
    raise AssertionError("a debounced pass never finished")


# -- the debounce itself ---------------------------------------------------------------------------
def test_polls_finishing_within_the_debounce_share_one_pass_run_that_long_after_the_first() -> None:
    async def scenario() -> tuple[list[datetime], list[float]]:
        clock = SimulatedClock(T0)
        passes = Passes(clock)
        d = Debounced(passes, 2.0, clock)
        d.poke()
        d.poke()  # a second source finishing its poll at the same moment
        d.poke()
        await settle(d)
        return passes.at, clock.slept

    at, slept = asyncio.run(scenario())
    assert at == [T0 + timedelta(seconds=2)]
    assert slept == [2.0]


def test_a_poll_after_a_pass_began_gets_a_pass_of_its_own() -> None:
    async def scenario() -> int:
        clock = SimulatedClock(T0)
        hold = asyncio.Event()
        passes = Passes(clock, hold)
        d = Debounced(passes, 2.0, clock)
        d.poke()
        while not passes.running:
            await asyncio.sleep(0)
        d.poke()  # stored while the first pass runs: that pass may already have read past it
        hold.set()
        await settle(d)
        return len(passes.at)

    assert asyncio.run(scenario()) == 2


def test_passes_never_overlap_the_tick_waits_for_a_pass_in_progress() -> None:
    async def scenario() -> tuple[int, int]:
        clock = SimulatedClock(T0)
        hold = asyncio.Event()
        passes = Passes(clock, hold)
        d = Debounced(passes, 0.0, clock)
        d.poke()
        while not passes.running:
            await asyncio.sleep(0)
        tick = asyncio.create_task(d.run())
        for _ in range(20):
            await asyncio.sleep(0)
        ran_before_release = len(passes.at)
        hold.set()
        await tick
        return ran_before_release, passes.most_at_once

    ran_before_release, most_at_once = asyncio.run(scenario())
    assert ran_before_release == 1  # the tick waited
    assert most_at_once == 1


def test_the_tick_takes_in_a_pass_asked_for_and_not_yet_begun() -> None:
    async def scenario() -> tuple[int, bool]:
        clock = SimulatedClock(T0)
        passes = Passes(clock)
        d = Debounced(passes, 2.0, clock)
        d.poke()
        await d.run()  # the tick comes first: it sees everything the poll stored
        await settle(d)
        return len(passes.at), d.due

    assert asyncio.run(scenario()) == (1, False)


def test_a_stop_runs_the_pass_asked_for_and_refuses_later_pokes() -> None:
    async def scenario() -> tuple[int, bool]:
        clock = SimulatedClock(T0)
        passes = Passes(clock)
        d = Debounced(passes, 60.0, clock)
        d.poke()
        await d.close()
        d.poke()  # a poll still finishing after the stop: the store is about to close
        await asyncio.sleep(0)
        return len(passes.at), d.due

    assert asyncio.run(scenario()) == (1, False)


# -- the daemon: a poll that grows a cascade asks for a pass --------------------------------------
@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SOON_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("SOON_SLACK_TOKEN", SLACK_TOKEN)
    with XApi(token=X_TOKEN) as x, SlackStandIn(token=SLACK_TOKEN) as slack:
        yield x, slack


def daemon_config(tmp_path: Path, x: XApi, slack: SlackStandIn, **detection: Any) -> Path:
    return write_config(
        tmp_path, [{"name": "acme", "terms": ["acme"], "channel": "#acme",
                    "alert": {"spread_threshold": 5, "spike": False}}],
        x={"api_url": x.url, "bearer_token_env": "SOON_X_TOKEN"},
        slack={"api_url": slack.api_url, "token_env": "SOON_SLACK_TOKEN", "webhook_url_env": None},
        detection={"min_reactions": 3, "every": "1h", "debounce": "2s", **detection})


def test_a_reaction_stored_by_a_poll_is_judged_the_debounce_after_it_long_before_the_next_tick(
        tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = daemon_config(tmp_path, x, slack)

    async def scenario() -> tuple[list[tuple[str, str]], float, int]:
        clock = SimulatedClock(datetime.now(UTC))
        daemon = Daemon(load_config(path), clock=clock)
        try:
            await daemon.judge.run()  # the tick at start: nothing yet
            root = x.add_tweet(COMPLAINT, author="carol", followers=1000)
            for i in range(6):
                x.add_tweet(f"acme did this to me too ({i})", author=f"r{i}", replied_to=root["id"])
            polled = clock.now()
            await daemon.poll("x:acme")
            await settle(daemon.judge)
            rows = daemon.store.conn.execute("SELECT name, at FROM decisions").fetchall()
            waited = (clock.now() - polled).total_seconds()
            await daemon.sender.deliver_due()
            return rows, waited, len(slack.in_channel("#acme"))
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    rows, waited, posted = asyncio.run(scenario())
    assert [name for name, _ in rows] == ["first_alert"]
    assert waited == 2.0  # the debounce, not the hour to the next tick
    assert posted == 1


def test_a_poll_that_grows_no_open_cascade_asks_for_no_pass(tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = daemon_config(tmp_path, x, slack)

    async def scenario() -> tuple[bool, int]:
        daemon = Daemon(load_config(path), clock=SimulatedClock(datetime.now(UTC)))
        try:
            x.add_tweet("anyone tried the acme speaker?", author="dan")  # a new root: nothing to judge yet
            await daemon.poll("x:acme")
            return daemon.judge.due, daemon.judge.runs
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    assert asyncio.run(scenario()) == (False, 0)


# -- restarts: the rebuilt cascades are judged at the first pass ---------------------------------
def reply(i: int, minutes: float) -> Mention:
    at = T0 + timedelta(minutes=minutes)
    return Mention(id=f"x:{i}", source="x", kind="reply", parent_id="x:1", url=f"https://x.com/u{i}/status/{i}",
                   author=Author(str(i), f"user{i}", followers=100), text="me too, awful", links=[],
                   created_at=at, observed_at=at)


def root() -> Mention:
    return Mention(id="x:1", source="x", kind="post", parent_id=None, url="https://x.com/u1/status/1",
                   author=Author("1", "user1", followers=100), text=COMPLAINT, links=[], created_at=T0,
                   observed_at=T0)


def pipeline(config: Config, clock: SimulatedClock) -> Pipeline:
    return Pipeline(config, Store(config.database_path), clock, deliver=False)


def test_a_cascade_stored_but_not_judged_before_a_crash_alerts_at_the_first_pass_after_the_restart(
        config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)  # threshold 20
    p.ingest([root()])
    p.ingest([reply(i, 1) for i in range(2, 30)])  # committed; the process dies before detecting
    p.store.close()
    clock.set(T0 + timedelta(minutes=3))
    again = pipeline(config, clock)
    assert again.restored == 1
    assert [(d.name, d.level) for d in again.detect()] == [("first_alert", "new")]


def test_no_second_new_after_a_restart_when_the_first_pass_judges_an_alerted_cascade(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)
    p.ingest([root()])
    p.ingest([reply(i, 1) for i in range(2, 30)])
    clock.set(T0 + timedelta(minutes=2))
    assert [d.level for d in p.detect()] == ["new"]
    p.store.close()
    clock.set(T0 + timedelta(minutes=3))
    again = pipeline(config, clock)
    assert again.detect() == []  # judged at once, and the stored alert state says it was alerted
    again.ingest([reply(i, 4) for i in range(30, 34)])
    clock.set(T0 + timedelta(minutes=5))
    assert all(d.level != "new" for d in again.detect())


def test_a_suppression_recorded_before_a_restart_is_not_recorded_again_at_the_first_pass(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)
    p.ingest([Mention(id="x:1", source="x", kind="post", parent_id=None, url="https://x.com/u1/status/1",
                      author=Author("1", "user1", followers=100), text="@acme thanks for the quick refund, great!",
                      links=[], created_at=T0, observed_at=T0)])
    p.ingest([reply(i, 1) for i in range(2, 40)])
    clock.set(T0 + timedelta(minutes=2))
    assert [d.name for d in p.detect()] == ["suppressed_not_complaint"]
    p.store.close()
    again = pipeline(config, clock)
    assert again.restored == 1 and again.detect() == []


def test_a_root_polled_together_with_its_first_reactions_counts_as_a_grown_cascade(config: Config) -> None:
    p = pipeline(config, SimulatedClock(T0))
    p.ingest([reply(3, 1), reply(2, 1), root()])  # newest first, as X returns them
    assert p.grown == {("x:1", "acme")}
    p.detect()
    assert p.grown == set()
    p.ingest([Mention(id="x:9", source="x", kind="post", parent_id=None, url="https://x.com/u9/status/9",
                      author=Author("9", "user9", followers=100), text="anyone tried the acme speaker?", links=[],
                      created_at=T0, observed_at=T0)])
    assert p.grown == set()  # a new root without reactions: nothing to judge yet
