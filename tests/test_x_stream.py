"""X's filtered stream (x.mode: stream) against the local stand-in: rules synced from the watch-lists,
posts stored as they stream, and after a disconnect (or a restart) a search backfill, so that every
post of the gap is stored once: none lost, none twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.slack import SlackStandIn
from devkit.standins.xapi import XApi
from monitor.config.settings import load_config
from monitor.daemon import Daemon
from monitor.errors import PermanentSourceError
from monitor.sources.xstream import XStreamSource
from tests.conftest import write_config

X_TOKEN = "x-stream-bearer-0123456789"
SLACK_TOKEN = "xoxb-stream-stand-in-0123456789"


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STREAM_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("STREAM_SLACK_TOKEN", SLACK_TOKEN)
    with XApi(token=X_TOKEN, heartbeat=0.05) as x, SlackStandIn(token=SLACK_TOKEN) as slack:
        yield x, slack


def config_path(tmp_path: Path, x: XApi, slack: SlackStandIn, terms: list[str] | None = None) -> Path:
    return write_config(
        tmp_path, [{"name": "acme", "terms": terms or ["acme", "@acme"], "channel": "#acme"}],
        x={"api_url": x.url, "bearer_token_env": "STREAM_X_TOKEN", "mode": "stream", "monthly_read_budget": 100_000},
        slack={"api_url": slack.api_url, "token_env": "STREAM_SLACK_TOKEN", "webhook_url_env": None})


async def until(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def stream_source(daemon: Daemon) -> XStreamSource:
    src = daemon.sources["xstream:all"]
    assert isinstance(src, XStreamSource)
    return src


def stored(daemon: Daemon) -> list[str]:
    return [r[0] for r in daemon.store.conn.execute("SELECT id FROM mentions WHERE source = 'x'")]


def test_stream_mode_replaces_search_with_one_connection_and_syncs_its_rules(tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    x.rules = {"1": {"id": "1", "value": "acme OR old", "tag": "monitor:acme"},     # stale: its query changed
               "2": {"id": "2", "value": "globex", "tag": "monitor:globex"},        # a watch-list since removed
               "3": {"id": "3", "value": "someone else's", "tag": "other-team"}}    # not ours: left alone
    path = config_path(tmp_path, x, slack)

    async def scenario() -> tuple[list[str], dict[str, dict[str, str]]]:
        daemon = Daemon(load_config(path))
        try:
            await daemon.poll("xstream:all")
            await until("the stream connected", lambda: x.streaming)
            return sorted(daemon.sources), dict(x.rules)
        finally:
            await stream_source(daemon).aclose()
            await daemon.http.aclose()
            daemon.store.close()

    keys, rules = asyncio.run(scenario())
    assert keys == ["xlookup:open", "xstream:all"]  # no x:acme search
    assert sorted((r.get("tag"), r["value"]) for r in rules.values()) == [
        ("monitor:acme", "(acme OR @acme)"), ("other-team", "someone else's")]


def test_streamed_posts_are_stored_and_a_disconnect_is_backfilled_by_search_without_loss_or_duplicates(
        tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = config_path(tmp_path, x, slack)
    added: list[str] = []

    def post(text: str) -> None:
        added.append("x:" + x.add_tweet(text, author=f"u{len(added)}")["id"])

    async def scenario() -> tuple[list[str], list[Any], int]:
        daemon = Daemon(load_config(path))
        src = stream_source(daemon)
        src._network_backoff = (0.05, 0.2)  # reconnect within the test's patience
        try:
            await daemon.poll("xstream:all")
            await until("the stream connected", lambda: x.streaming)
            for i in range(3):
                post(f"acme streamed {i}")
            await until("three posts delivered", lambda: len(src._inbox) == 3)
            await daemon.poll("xstream:all")
            assert sorted(stored(daemon)) == sorted(added)  # stored as streamed; no search needed
            assert not [r for r in x.requests if r.path == "/2/tweets/search/recent"]
            before_gap = added[-1]

            x.disconnect_stream()
            await until("the stream dropped", lambda: not x.streaming)
            for i in range(25):  # posted while nobody listens: the stream never delivers these
                post(f"acme in the gap {i}")
            await until("the stream reconnected", lambda: x.stream_connections == 2 and x.streaming)
            for i in range(2):
                post(f"acme after the gap {i}")
            await until("the posts after the gap delivered", lambda: len(src._inbox) >= 2)
            for _ in range(5):  # the backfill may take more than one poll
                await daemon.poll("xstream:all")
            searches = [r for r in x.requests if r.path == "/2/tweets/search/recent"]
            return stored(daemon), [(r.query.get("since_id"), before_gap) for r in searches], x.stream_connections
        finally:
            await src.aclose()
            await daemon.http.aclose()
            daemon.store.close()

    ids, searches, connections = asyncio.run(scenario())
    assert len(ids) == len(set(ids))                # none twice
    assert sorted(ids) == sorted(added)             # none lost: 3 streamed, 25 backfilled, 2 streamed again
    assert searches and searches[0][0] == [searches[0][1][2:]]  # the backfill started from the last post stored
    assert connections == 2


def test_after_a_restart_the_posts_made_while_it_was_down_are_backfilled(tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = config_path(tmp_path, x, slack)

    async def run(posts_while_up: int) -> list[str]:
        daemon = Daemon(load_config(path))
        src = stream_source(daemon)
        try:
            await daemon.poll("xstream:all")
            await until("the stream connected", lambda: x.streaming)
            before = len(src._inbox)
            for i in range(posts_while_up):
                x.add_tweet(f"acme up {i}", author="carol")
            await until("delivered", lambda: len(src._inbox) >= before + posts_while_up)
            await daemon.poll("xstream:all")
            return stored(daemon)
        finally:
            await src.aclose()
            await daemon.http.aclose()
            daemon.store.close()

    first = asyncio.run(run(2))
    down = [x.add_tweet(f"acme while down {i}", author="dan")["id"] for i in range(4)]
    second = asyncio.run(run(1))
    assert len(first) == 2 and len(second) == len(set(second)) == 7
    assert {f"x:{i}" for i in down} <= set(second)


def test_a_watch_list_query_longer_than_a_stream_rule_may_be_is_a_permanent_error(
        tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = config_path(tmp_path, x, slack, terms=[f"term{i:04d}" for i in range(130)])

    async def scenario() -> str:
        daemon = Daemon(load_config(path))
        try:
            with pytest.raises(PermanentSourceError) as caught:
                await stream_source(daemon).poll(None, daemon.clock.now())
            return str(caught.value)
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    message = asyncio.run(scenario())
    assert "1024" in message and "'acme'" in message and "x_query" in message


def test_a_refused_connection_backs_off_and_connects_once_the_slot_is_free(tmp_path: Path, stand_ins: Any) -> None:
    import threading

    import httpx

    x, slack = stand_ins
    path = config_path(tmp_path, x, slack)
    stop = threading.Event()

    def squat() -> None:  # another client holds the app's one connection
        with httpx.Client() as c, c.stream("GET", f"{x.url}/2/tweets/search/stream",
                                           headers={"Authorization": f"Bearer {X_TOKEN}"}) as r:
            for _ in r.iter_raw():
                if stop.is_set():
                    return

    squatter = threading.Thread(target=squat, daemon=True)
    squatter.start()

    async def scenario() -> tuple[str | None, int]:
        await until("the other client connected", lambda: x.streaming)
        daemon = Daemon(load_config(path))
        src = stream_source(daemon)
        src._http_backoff = (0.02, 0.1)
        try:
            await daemon.poll("xstream:all")
            await until("refused: one connection per app", lambda: (src.last_error or "").startswith("stream refused"))
            refused = src.last_error
            stop.set()
            await asyncio.to_thread(squatter.join, 5)
            await until("connected once the slot was free", lambda: src.connected)
            return refused, src.connections
        finally:
            await src.aclose()
            await daemon.http.aclose()
            daemon.store.close()

    refused, connections = asyncio.run(scenario())
    assert refused is not None and "429" in refused and "TooManyConnections" in refused
    assert connections == 1


def test_a_backfill_the_budget_cannot_pay_for_yet_is_kept_and_read_once_the_pace_allows() -> None:
    from datetime import UTC, datetime

    from monitor.config.settings import Secret, XSettings
    from monitor.sources.spend import XLedger

    with XApi(token=X_TOKEN, heartbeat=0.05) as api:
        first = api.add_tweet("acme first", author="a")
        gap = ["x:" + api.add_tweet(f"acme while down {i}", author=f"u{i}")["id"] for i in range(5)]
        settings = XSettings(api_url=api.url, monthly_read_budget=10_000, monthly_budget_usd=31.0)
        ledger = XLedger(settings)
        now = datetime(2026, 5, 2, tzinfo=UTC)
        ledger.charge("x:other", now, posts=int(ledger.allowed_usd(now) / 0.005))  # others spent the pace
        src = XStreamSource("xstream:all", {"acme": "acme"}, Secret(X_TOKEN), settings, ledger=ledger)

        async def scenario() -> tuple[Any, Any, Any, list[Any]]:
            try:
                spent = await src.poll({"since_id": first["id"]}, now)
                searches = len([r for r in api.requests if r.path == "/2/tweets/search/recent"])
                later = await src.poll(spent.cursor, datetime(2026, 5, 3, 12, tzinfo=UTC))
                return spent, later, searches, [r for r in api.requests if r.path == "/2/tweets/search/recent"]
            finally:
                await src.aclose()

        spent, later, searches_while_spent, searches = asyncio.run(scenario())
    assert spent.mentions == [] and searches_while_spent == 0  # nothing read: the pace is used up
    run = spent.cursor["backfill"]["acme"]
    assert run["since_id"] == first["id"] and run["park_until"]  # kept, waiting for the pace
    assert spent.detail["backfill_running"] == ["acme"]
    assert sorted(m.id for m in later.mentions) == sorted(gap)  # the gap's posts, read when the pace allows
    assert "backfill" not in later.cursor and len(searches) == 1


def test_x_stream_recovery_replays_the_gap_on_a_reconnect_within_backfill_minutes() -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.config.settings import Secret, XSettings
    from monitor.sources.spend import XLedger

    with XApi(token=X_TOKEN, heartbeat=0.05) as api:
        settings = XSettings(api_url=api.url, monthly_read_budget=100_000, stream_backfill_minutes=2)
        reconnect = asyncio.Event()

        async def held(_: float) -> None:  # the reconnect waits for the test, so the gap is a gap
            await reconnect.wait()
            reconnect.clear()

        src = XStreamSource("xstream:all", {"acme": "acme"}, Secret(X_TOKEN), settings,
                            ledger=XLedger(settings), sleep=held)

        async def scenario() -> tuple[list[str], list[str], list[str], dict[str, str]]:
            try:
                await src.poll(None, datetime.now(UTC))
                await until("the stream connected", lambda: api.streaming)
                first_query = dict(api._stream_query)
                api.disconnect_stream()
                await until("the stream dropped", lambda: not api.streaming and not src.connected)
                gap = [api.add_tweet(f"acme in the gap {i}", author=f"g{i}")["id"] for i in range(3)]
                old = api.add_tweet("acme long before", author="o",
                                    created_at=datetime.now(UTC) - timedelta(minutes=10))["id"]
                api.add_tweet("nothing to do with us", author="n")
                reconnect.set()
                await until("the gap replayed by the stream", lambda: len(src._inbox) >= 3)
                await asyncio.sleep(0.2)  # anything more it would send
                delivered = [str(m["data"]["id"]) for m in src._inbox]
                return gap, [old], delivered, first_query
            finally:
                await src.aclose()

        gap, old, delivered, first_query = asyncio.run(scenario())
        recovered = api._stream_query
    assert "backfill_minutes" not in first_query            # the first connection has no gap to recover
    assert recovered["backfill_minutes"] == "2"             # the reconnect asks X for the last 2 minutes
    assert delivered == gap                                 # the gap's matching posts, from the stream itself
    assert not set(old) & set(delivered)                    # older than 2 minutes: the search backfill's job
