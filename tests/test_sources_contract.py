"""One contract, every source kind: X recent search, blog feeds, comment threads, Bluesky's Jetstream,
Mastodon hashtag timelines and Hacker News search.

Each kind runs against its local stand-in (127.0.0.1 only) through the real runner, pipeline and
SQLite store, so "stored" means committed, and "restart" means a new Store, Pipeline and source
object on the same database file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.bluesky import AppView, Jetstream
from devkit.standins.feeds import BlogHost
from devkit.standins.hn import HNSearch
from devkit.standins.mastodon import MastodonInstance
from devkit.standins.xapi import XApi
from monitor.cascades.match import Matcher
from monitor.clock import SimulatedClock
from monitor.config.settings import BlueskySettings, Config, HNSettings, MastodonSettings, Secret, XSettings
from monitor.engine.pipeline import Pipeline
from monitor.engine.runner import poll_source
from monitor.records.mention import Mention
from monitor.sources.base import PollResult, Source
from monitor.sources.blogs import BlogSource
from monitor.sources.bluesky import BlueskySource
from monitor.sources.comments import CommentSource
from monitor.sources.hn import HNSource
from monitor.sources.http import HttpFetcher
from monitor.sources.mastodon import MastodonSource
from monitor.sources.x import XSource
from monitor.store.database import Store

TOKEN = "contract-token-0123456789"
START = datetime.now(UTC).replace(microsecond=0)  # stand-ins stamp items with the wall clock


@dataclass
class Rig:
    """A source kind wired to its stand-in: add items, break the server, rebuild after a restart."""

    config: Config
    make: Callable[[Store], Source]
    add: Callable[[str], None]  # add one item whose text holds the given word
    break_server: Callable[[], None]
    clock: SimulatedClock = field(default_factory=lambda: SimulatedClock(START))
    store: Store | None = None
    pipeline: Pipeline | None = None
    source: Source | None = None

    def open(self) -> Rig:
        self.store = Store(self.config.database_path)
        self.pipeline = Pipeline(self.config, self.store, self.clock, deliver=False)
        self.source = self.make(self.store)
        return self

    def restart(self) -> Rig:
        assert self.store is not None
        self.store.close()
        return self.open()

    def poll(self) -> PollResult:
        assert self.source and self.pipeline and self.store
        self.clock.advance(600)
        return asyncio.run(poll_source(self.source, self.pipeline, self.store, self.clock))

    def stored_ids(self) -> list[str]:
        assert self.store is not None
        prefix = self.source.key.split(":")[0] if self.source else ""
        return [
            r[0]
            for r in self.store.conn.execute(
                "SELECT id FROM mentions WHERE source = ? ORDER BY id", (prefix,)
            )
        ]


def _x_rig(config: Config) -> Iterator[Rig]:
    with XApi(token=TOKEN) as api:
        settings = XSettings(api_url=api.url, monthly_read_budget=10_000_000, page_size=10)

        def add(word: str) -> None:
            api.add_tweet(f"acme {word}", author=f"user_{word}")

        def break_server() -> None:
            api.fail_next(500)

        yield Rig(config, lambda store: XSource("x:acme", "acme", Secret(TOKEN), settings), add, break_server)


def _rss_rig(config: Config) -> Iterator[Rig]:
    with BlogHost() as host:
        feed = host.add_feed("/feed/")

        def add(word: str) -> None:
            host.add_post(feed, f"acme {word}", f"<p>about acme: {word}</p>")

        def break_server() -> None:
            host.fail("/feed/", 500)

        yield Rig(
            config,
            lambda store: BlogSource("rss:feeds", [feed], HttpFetcher(config.settings.blogs)),
            add,
            break_server,
        )


def _comments_rig(config: Config) -> Iterator[Rig]:
    with BlogHost() as host:
        feed = host.add_feed("/feed/")
        post = host.add_post(feed, "acme outage", "<p>acme is down</p>")
        fetcher = HttpFetcher(config.settings.blogs)
        seed = Store(config.database_path)
        clock = SimulatedClock(START)
        asyncio.run(
            poll_source(BlogSource("rss:feeds", [feed], fetcher), Pipeline(config, seed, clock), seed, clock)
        )
        seed.close()

        def add(word: str) -> None:
            host.add_comment(post, f"me too, {word}")
            # The blog feed is read again: the stored post's comment count moves (seen-again refresh),
            # which is what tells the comment source the thread is worth fetching.
            again = asyncio.run(BlogSource("rss:feeds", [feed], fetcher).poll(None, START))
            with_store = Store(config.database_path)
            with_store.write_mentions([], again.mentions, now=START)
            with_store.close()

        def break_server() -> None:
            assert post.comments_path
            host.fail(post.comments_path, 500)

        yield Rig(
            config,
            lambda store: CommentSource("comments:threads", store, HttpFetcher(config.settings.blogs)),
            add,
            break_server,
        )


def _bluesky_rig(config: Config) -> Iterator[Rig]:
    with Jetstream() as stream, AppView() as appview:
        # The rig's clock runs ahead of the stand-in's wall clock: the first poll looks back far enough.
        settings = BlueskySettings(enabled=True, jetstream_url=stream.url, api_url=appview.url,
                                   idle_timeout="0.3s", backfill="30d")
        matcher = Matcher(config.watchlists.values())
        n = iter(range(10**6))

        def add(word: str) -> None:
            did = f"did:plc:user{next(n)}"
            appview.add_profile(did, f"{word}.bsky.social", 50)
            stream.post(did, f"acme {word}")

        yield Rig(config, lambda store: BlueskySource("bluesky:jetstream", settings, store, matcher,
                                                      HttpFetcher(config.settings.blogs)),
                  add, lambda: stream.fail_next(500))


def _mastodon_rig(config: Config) -> Iterator[Rig]:
    with MastodonInstance() as instance:
        settings = MastodonSettings()

        def add(word: str) -> None:
            instance.post(f"user_{word}", f"#acme {word}", tags=["acme"])

        def break_server() -> None:
            instance.fail_next = 500

        yield Rig(config, lambda store: MastodonSource("mastodon:instance", instance.url, ["acme"], settings,
                                                       HttpFetcher(config.settings.blogs), store),
                  add, break_server)


def _hn_rig(config: Config) -> Iterator[Rig]:
    with HNSearch() as hn:
        settings = HNSettings(enabled=True, api_url=hn.api_url, backfill="30d")

        def add(word: str) -> None:
            hn.story(f"user_{word}", f"acme {word}", url=f"https://example.com/{word}")

        def break_server() -> None:
            hn.fail_next = 500

        yield Rig(config, lambda store: HNSource("hn:acme", ["acme"], settings, HttpFetcher(config.settings.blogs),
                                                 store), add, break_server)


RIGS = {"x": _x_rig, "rss": _rss_rig, "comments": _comments_rig, "bluesky": _bluesky_rig,
        "mastodon": _mastodon_rig, "hn": _hn_rig}


@pytest.fixture(params=sorted(RIGS))
def rig(request: pytest.FixtureRequest, config: Config) -> Iterator[Rig]:
    gen = RIGS[request.param](config)
    r = next(gen).open()
    yield r
    assert r.store is not None
    r.store.close()
    next(gen, None)


def _words(result: PollResult) -> set[str]:
    return {m.text.rsplit(" ", 1)[-1] for m in result.mentions}


def test_a_first_poll_returns_valid_records_of_its_own_source(rig: Rig) -> None:
    rig.add("alpha")
    result = rig.poll()
    assert result.mentions, "nothing returned"
    for m in result.mentions:
        assert isinstance(m, Mention) and m.id.split(":")[0] == m.source == rig.source.key.split(":")[0]
        assert Mention.from_json(m.to_json()).to_json() == m.to_json()
        assert m.observed_at == rig.clock.now() and m.url and m.url.startswith("http")
    assert rig.store.get_cursor(rig.source.key) is not None


def test_a_second_poll_returns_only_what_is_new(rig: Rig) -> None:
    rig.add("alpha")
    rig.add("beta")
    first = rig.poll()
    rig.add("gamma")
    second = rig.poll()
    assert {"alpha", "beta"} <= _words(first)
    assert _words(second) == {"gamma"}
    third = rig.poll()
    assert third.mentions == []


def test_a_restart_resumes_from_the_stored_cursor_without_duplicates(rig: Rig) -> None:
    rig.add("alpha")
    rig.poll()
    before = rig.stored_ids()
    rig.add("beta")
    rig.restart()
    after_restart = rig.poll()
    assert _words(after_restart) == {"beta"}
    ids = rig.stored_ids()
    assert len(ids) == len(set(ids)) == len(before) + 1 and set(before) <= set(ids)


def test_a_crash_before_the_write_loses_nothing(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.add("alpha")
    cursor_before = rig.store.get_cursor(rig.source.key)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(rig.pipeline, "ingest", crash)
    failed = rig.poll()  # must not raise
    assert failed.detail["error"] and rig.store.get_cursor(rig.source.key) == cursor_before
    monkeypatch.undo()
    rig.clock.advance(7200)  # past the backoff
    assert "alpha" in _words(rig.poll())


def test_server_errors_do_not_escape_and_are_recorded(rig: Rig) -> None:
    rig.add("alpha")
    rig.break_server()
    result = rig.poll()  # must not raise
    said = (result.detail.get("error") or "") + " ".join(result.warnings)
    assert "500" in said or "server error" in said.lower()
    recorded = [h["last_error"] or h["detail"] or "" for h in rig.store.health()]
    assert any("500" in r or "server error" in r.lower() for r in recorded)
    assert "alpha" not in _words(result)
    rig.clock.advance(86_400)  # past any backoff; the server answers again
    assert "alpha" in _words(rig.poll())


def test_ids_are_stable_across_independent_sources(rig: Rig) -> None:
    rig.add("alpha")
    first = rig.poll()
    fresh = rig.make(rig.store)
    again = asyncio.run(fresh.poll(None, rig.clock.now()))
    assert {m.id for m in first.mentions} <= {m.id for m in again.mentions}


def test_an_unexpected_exception_in_a_source_does_not_escape(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        raise RuntimeError("a bug in a source")

    monkeypatch.setattr(rig.source, "poll", broken)
    result = rig.poll()  # must not raise
    [health] = [h for h in rig.store.health() if h["source_key"] == rig.source.key]
    assert "a bug in a source" in health["last_error"] and health["consecutive_failures"] == 1
    assert result.park_until is not None and result.park_until > rig.clock.now()


# -- building sources from the config --------------------------------------------------------------------
def _config(tmp_path: Path, watchlists: list[dict[str, Any]], **settings: Any) -> Config:
    from monitor.config.settings import load_config
    from tests.conftest import write_config

    return load_config(write_config(tmp_path, watchlists, **settings))


def test_sources_are_built_from_the_config_and_the_off_ones_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.sources import build_sources, disabled_reasons

    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    lists = [
        {
            "name": "acme",
            "terms": ["acme"],
            "feeds": ["https://blog.example/feed/", "https://other.example/rss"],
        },
        {
            "name": "globex",
            "terms": ["globex"],
            "feeds": ["https://blog.example/feed/"],
            "comment_feeds": ["https://blog.example/p/1/feed/"],
        },
    ]
    config = _config(tmp_path, lists, x={"monthly_read_budget": 9000})
    store = Store(config.database_path)
    clock = SimulatedClock(START)
    keys = sorted(s.key for s in build_sources(config, store, clock))
    assert keys == ["comments:threads", "rss:feeds"]
    assert disabled_reasons(config) == ["X: off, no token in $X_BEARER_TOKEN"]
    [blog] = [s for s in build_sources(config, store, clock) if s.key == "rss:feeds"]
    assert isinstance(blog, BlogSource) and len(blog.feeds) == 2  # a feed listed twice is polled once

    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    built = {s.key: s for s in build_sources(config, store, clock)}
    assert sorted(built) == ["comments:threads", "rss:feeds", "x:acme", "x:globex", "xlookup:open"]
    assert isinstance(built["x:acme"], XSource) and built["x:acme"].budget.budget == 4500  # one plan, shared
    assert disabled_reasons(config) == []
    assert TOKEN not in repr(built["x:acme"].__dict__)
    store.close()

    bare = _config(tmp_path / "bare", [{"name": "acme", "terms": ["acme"]}])
    assert disabled_reasons(bare) == [
        "blogs: off, no feeds in any watch-list",
        "comments: off, no feeds or comment_feeds in any watch-list",
    ]


def test_feeds_are_batched_by_host_with_stable_keys() -> None:
    from monitor.sources import feed_batches

    feeds = [f"https://blog{i % 40}.example/feed/{i}" for i in range(600)]
    batches = feed_batches(feeds)
    assert sorted(batches) == ["rss:feeds/1of3", "rss:feeds/2of3", "rss:feeds/3of3"]
    assert sum(len(b) for b in batches.values()) == 600
    for batch in batches.values():  # all feeds of a host in one batch
        hosts = {u.split("/")[2] for u in batch}
        assert all(u.split("/")[2] in hosts for u in batch)
    hosts_per_batch = [{u.split("/")[2] for u in b} for b in batches.values()]
    assert sum(len(h) for h in hosts_per_batch) == 40
    assert feed_batches(feeds + ["https://new.example/feed"]).keys() == batches.keys()
    assert feed_batches(feeds[:10]) == {"rss:feeds": feeds[:10]}


def test_retryable_failures_back_off_exponentially_with_injected_jitter(config: Config) -> None:
    import random

    from monitor.errors import SourceError

    class Flaky:
        key = "x:flaky"
        calls = 0

        async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
            Flaky.calls += 1
            raise SourceError("X server error (HTTP 503)")

    store = Store(config.database_path)
    clock = SimulatedClock(START)
    pipeline = Pipeline(config, store, clock, deliver=False)
    waits = []
    for _ in range(4):
        result = asyncio.run(poll_source(Flaky(), pipeline, store, clock, rng=random.Random(7)))
        assert result.park_until is not None
        waits.append((result.park_until - clock.now()).total_seconds())
        skipped = asyncio.run(poll_source(Flaky(), pipeline, store, clock, rng=random.Random(7)))
        assert skipped.detail == {"skipped": "parked"}
        clock.set(result.park_until)
    assert Flaky.calls == 4
    for wait, base in zip(waits, [30, 60, 120, 240], strict=True):
        assert 0.8 * base <= wait <= 1.2 * base
    [health] = store.health()
    assert health["consecutive_failures"] == 4 and "HTTP 503" in health["last_error"]
    store.close()


def test_startup_says_in_words_whether_x_runs_in_which_mode_with_lookups_and_why_mastodon_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.daemon import Daemon
    from monitor.sources import disabled_reasons, open_network_lines, x_line

    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    acme = [{"name": "acme", "terms": ["acme"]}]
    stream = _config(tmp_path / "stream", acme, x={"mode": "stream"})
    assert x_line(stream) == "X: on, mode stream (one filtered-stream connection for 1 watch-list(s)), lookups on"
    daemon = Daemon(stream)
    try:
        lines = daemon.describe()
    finally:
        daemon.store.close()
    assert x_line(stream) in lines  # what `monitor run` prints at start
    assert "Mastodon: off, no watch-list has mastodon: {instances, hashtags}" in lines

    search = _config(tmp_path / "search", acme, x={"lookup": False}, mastodon={"enabled": False})
    assert x_line(search) == "X: on, mode search (recent search for 1 watch-list(s)), lookups off"
    assert ("X lookups: off (x.lookup: false): reposts, which keyword search no longer returns, go uncounted"
            in disabled_reasons(search))
    assert "Mastodon: off, disabled in settings (mastodon.enabled: false)" in open_network_lines(search)

    monkeypatch.delenv("X_BEARER_TOKEN")
    assert x_line(search) is None  # off: disabled_reasons says why
    assert "X: off, no token in $X_BEARER_TOKEN" in disabled_reasons(search)
