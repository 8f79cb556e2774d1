"""What a hostile feed can cost: no entity expansion, entries and text capped per entry and per feed
(comment feeds too), parsing, mapping and scoring off the event loop within a time budget, and a bad
feed failing alone while the others in its batch are stored (issue 15, item 3)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from devkit.standins.feeds import BlogHost
from monitor.clock import SimulatedClock
from monitor.config.settings import Config
from monitor.engine.pipeline import Pipeline
from monitor.engine.runner import poll_source
from monitor.records.mention import Author, Mention
from monitor.records.scores import Scores
from monitor.scoring.scores import SCORE_CACHE, Scorer
from monitor.sources import blogs, comments
from monitor.sources.blogs import BlogSource
from monitor.sources.comments import CommentSource
from monitor.sources.feeds import MAX_ENTRY_TEXT, MAX_FEED_ENTRIES, MAX_FEED_TEXT, without_internal_subset
from monitor.sources.http import HttpFetcher
from monitor.store.database import Store
from tests.conftest import local_settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RSS = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def host():
    with BlogHost() as h:
        yield h


def rss(items: str, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0"?>\n{prolog}<rss version="2.0"><channel><title>t</title>{items}'
            "</channel></rss>").encode()


def item(i: int, text: str) -> str:
    return f"<item><title>acme {i}</title><link>https://b.example/{i}</link><description>{text}</description></item>"


def entity_bomb(entity_size: int = 200_000, uses: int = 200) -> bytes:
    """One large internal entity used in every entry: expat refuses the amplification, and feedparser's
    loose parser used to expand it anyway (40 MB of text from a 200 KB feed here)."""
    prolog = f'<!DOCTYPE rss [\n<!ENTITY big "{"A" * entity_size}">\n]>\n'
    return rss("".join(item(i, "acme &big; broke") for i in range(uses)), prolog)


def poll_batch(config: Config, feeds: list[str]) -> Store:
    store = Store(config.database_path)
    clock = SimulatedClock(NOW)
    src = BlogSource("rss:feeds", feeds, HttpFetcher(local_settings(), clock=clock))
    asyncio.run(poll_source(src, Pipeline(config, store, clock, deliver=False), store, clock))
    return store


def test_an_entity_bomb_is_not_expanded_and_the_good_feed_beside_it_is_stored(host: BlogHost, config: Config) -> None:
    good = host.add_feed("/good/")
    host.add_post(good, "acme good news", "<p>acme</p>")
    bomb = host.serve_raw("/bomb.xml", entity_bomb(), RSS)
    store = poll_batch(config, [good, bomb])
    texts = [m.text for m in store.iter_mentions()]
    assert any("acme good news" in m.title for m in store.iter_mentions() if m.title)
    assert texts and max(len(t) for t in texts) < 1000
    assert not any("AAAA" in t for t in texts)
    health = {h["source_key"]: h for h in store.health()}
    assert health[f"rss:{good}"]["items_seen"] == 1 and health["rss:feeds"]["consecutive_failures"] == 0


def test_the_internal_subset_goes_and_the_doctype_name_and_external_id_stay() -> None:
    netscape = (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
                b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"/>')
    assert without_internal_subset(netscape) == (netscape, False)
    tricky = b'<!DOCTYPE x SYSTEM "x.dtd" [<!ENTITY a "]>"> <!-- ]> --> <!ENTITY b \'&a;&a;\'> ]><x>&a;</x>'
    assert without_internal_subset(tricky) == (b'<!DOCTYPE x SYSTEM "x.dtd"><x>&a;</x>', True)
    assert without_internal_subset(b"<rss><!DOCTYPE-ish text/></rss>")[1] is False
    long_prolog = b"<?xml version='1.0'?><!--" + b" " * 10_000 + b'--><!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>'
    assert without_internal_subset(long_prolog)[0].endswith(b"--><!DOCTYPE r><r>&a;</r>")
    utf16 = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>'
    stripped, found = without_internal_subset(b"\xff\xfe" + utf16.encode("utf-16-le"))
    assert found and stripped[2:].decode("utf-16-le").endswith("<!DOCTYPE r><r>&a;</r>")


def test_an_entry_s_text_is_cut_at_the_cap_and_a_feed_past_its_cap_leaves_entries_out(host: BlogHost) -> None:
    one_long = host.serve_raw("/long.xml", rss(item(1, "acme " + "word " * (MAX_ENTRY_TEXT // 2))), RSS)
    per_entry = MAX_ENTRY_TEXT - 10_000
    many = host.serve_raw("/many.xml", rss("".join(item(i, "x" * per_entry) for i in range(30))), RSS)
    src = BlogSource("rss:feeds", [one_long, many], HttpFetcher(local_settings()))
    result = asyncio.run(src.poll(None, NOW))
    by_feed: dict[str, list[Any]] = {}
    for m in result.mentions:
        by_feed.setdefault(m.extra["feed"], []).append(m)
    assert [len(m.text) for m in by_feed[one_long]] == [MAX_ENTRY_TEXT]
    kept = by_feed[many]
    assert 0 < len(kept) < 30 and sum(len(m.text) for m in kept) <= MAX_FEED_TEXT + MAX_ENTRY_TEXT
    assert any("left" in w and many in w for w in result.warnings)


def test_a_parse_past_its_time_budget_fails_that_feed_alone(host: BlogHost, config: Config,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    good = host.add_feed("/good/")
    host.add_post(good, "acme fine", "<p>acme</p>")
    slow = host.serve_raw("/slow.xml", rss(item(1, "acme slow")), RSS)
    real = blogs.parse_document

    def parse(body: bytes, *, url: str, headers: dict[str, str]) -> Any:
        if url == slow:
            time.sleep(2)  # in the worker thread: the loop goes on meanwhile
        return real(body, url=url, headers=headers)

    monkeypatch.setattr(blogs, "parse_document", parse)
    monkeypatch.setattr(blogs, "PARSE_BUDGET", 0.5)
    store = poll_batch(config, [good, slow])
    assert [m.title for m in store.iter_mentions()] == ["acme fine"]
    health = {h["source_key"]: h for h in store.health()}
    assert "took longer than" in health[f"rss:{slow}"]["last_error"]
    assert health[f"rss:{good}"]["items_seen"] == 1


# -- many entries: capped per feed, read and scored off the event loop ----------------------------------------
def dated_items(n: int) -> str:
    """``n`` entries written oldest first (the newest last, as some feeds do), one minute apart."""
    return "".join(f"<item><title>acme {i}</title><link>https://b.example/{i}</link><guid>g{i}</guid>"
                   f"<pubDate>{format_datetime(NOW - timedelta(minutes=n - i), usegmt=True)}</pubDate>"
                   f"<description>acme broke {i}</description></item>" for i in range(n))


def comment_source(store: Store, feed: str) -> CommentSource:
    return CommentSource("comments:threads", store, HttpFetcher(local_settings()), direct_feeds=[feed])


def source(kind: str, store: Store, feed: str) -> BlogSource | CommentSource:
    """A blog source polling ``feed``, or a comment source following it as a listed comment feed."""
    if kind == "blog":
        return BlogSource("rss:feeds", [feed], HttpFetcher(local_settings()))
    return comment_source(store, feed)


@pytest.mark.parametrize("kind", ["blog", "comments"])
def test_only_the_newest_entries_of_a_feed_are_read_and_a_warning_says_how_many_were_left_out(
        host: BlogHost, config: Config, kind: str) -> None:
    n = MAX_FEED_ENTRIES + 200
    feed = host.serve_raw("/many.xml", rss(dated_items(n)), RSS)
    result = asyncio.run(source(kind, Store(config.database_path), feed).poll(None, NOW))
    assert sorted(int(m.text.split()[-1]) for m in result.mentions) == list(range(200, n))
    [warning] = result.warnings
    assert f"{n:,}" in warning and f"more than the {MAX_FEED_ENTRIES:,} read from one feed" in warning
    assert "left 200 out" in warning


def test_a_comment_feed_past_its_text_cap_leaves_entries_out(host: BlogHost, config: Config) -> None:
    per_entry = MAX_ENTRY_TEXT - 10_000
    feed = host.serve_raw("/comments.xml", rss("".join(item(i, "x" * per_entry) for i in range(30))), RSS)
    result = asyncio.run(comment_source(Store(config.database_path), feed).poll(None, NOW))
    assert 0 < len(result.mentions) < 30
    assert sum(len(m.text) for m in result.mentions) <= MAX_FEED_TEXT + MAX_ENTRY_TEXT
    assert any("left" in w and feed in w for w in result.warnings)


@pytest.mark.parametrize("kind", ["blog", "comments"])
def test_a_feed_s_entries_are_read_in_a_worker_thread_not_on_the_event_loop(
        host: BlogHost, config: Config, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    threads: set[int] = set()
    module: Any = blogs if kind == "blog" else comments
    name = "post_mention" if kind == "blog" else "comment_mention"
    real = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    feed = host.serve_raw("/feed.xml", rss(dated_items(50)), RSS)
    assert len(asyncio.run(source(kind, Store(config.database_path), feed).poll(None, NOW)).mentions) == 50
    assert threads and threading.get_ident() not in threads  # asyncio.run's loop runs on this thread


class ThreadNotingScorer(Scorer):
    """A scorer that notes the thread of every text it is asked to score."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.threads: list[int] = []

    def score(self, text: str, *, explain: bool = True) -> Scores:
        self.threads.append(threading.get_ident())
        return super().score(text, explain=explain)


def batch(n: int) -> list[Mention]:
    return [Mention(id=f"rss:{i}", source="rss", kind="post", parent_id=None, url=f"https://b.example/{i}",
                    author=Author(str(i), f"blog{i}"), text=f"acme broke my order {i}", links=[],
                    created_at=NOW, observed_at=NOW) for i in range(n)]


@pytest.mark.parametrize("size, cache", [(SCORE_CACHE // 2 + 1, SCORE_CACHE), (300, 100)],
                         ids=["more than half the cache", "more than the whole cache"])
def test_a_polled_batch_is_scored_in_worker_threads_and_ingest_scores_none_of_it_on_the_loop(
        config: Config, size: int, cache: int) -> None:
    scorer = ThreadNotingScorer(cache=cache)
    clock = SimulatedClock(NOW)
    store = Store(config.database_path)
    pipeline = Pipeline(config, store, clock, scorer=scorer, deliver=False)
    scorer.threads.clear()  # what the pipeline scored when it was built

    async def poll_and_ingest() -> int:
        mentions = batch(size)
        scored = await pipeline.score_ahead(mentions)
        return pipeline.ingest(mentions, scored=scored).new

    assert asyncio.run(poll_and_ingest()) == size
    assert len(scorer.threads) >= size and threading.get_ident() not in scorer.threads
