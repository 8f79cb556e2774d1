"""Comment threads: matched posts' comment feeds followed for a while, comments linked to their post."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devkit.standins.feeds import BlogHost, Post
from monitor.clock import SimulatedClock
from monitor.config.settings import Config
from monitor.records.mention import Mention, canonical_url
from monitor.sources.blogs import BlogSource
from monitor.sources.comments import CommentSource, followed_threads
from monitor.sources.http import HttpFetcher
from monitor.store.database import MentionRow, Store
from tests.conftest import local_settings

NOW = datetime.now(UTC).replace(microsecond=0)  # the stand-in dates posts with the wall clock


@pytest.fixture
def host():
    with BlogHost() as h:
        yield h


@pytest.fixture
def store(config: Config):
    s = Store(config.database_path)
    yield s
    s.close()


def store_posts(store: Store, feed: str, now: datetime = NOW) -> list[Mention]:
    """Poll a blog feed and store its posts as tracked (what the pipeline does for a matched post)."""
    result = asyncio.run(BlogSource("rss:feeds", [feed], HttpFetcher(local_settings())).poll(None, now))
    rows = [
        MentionRow(m, m.id, ("acme",), canonical_url=canonical_url(m.url) if m.url else None)
        for m in result.mentions
    ]
    store.write_mentions(rows, now=now)
    return result.mentions


def refresh_posts(store: Store, feed: str) -> None:
    """The blog feed read again: stored posts get their new comment counts (seen-again refresh)."""
    result = asyncio.run(BlogSource("rss:feeds", [feed], HttpFetcher(local_settings())).poll(None, NOW))
    store.write_mentions([], result.mentions, now=NOW)


def comments(store: Store, **kw: Any) -> CommentSource:
    settings = kw.pop("settings", local_settings())
    return CommentSource("comments:threads", store, HttpFetcher(settings), settings=settings, **kw)


def poll(src: CommentSource, cursor: dict[str, Any] | None = None, now: datetime = NOW):
    return asyncio.run(src.poll(cursor, now + timedelta(minutes=1)))


@pytest.mark.parametrize("flavour", ["rss", "atom"], ids=["wordpress-commentRss", "blogger-thr-replies"])
def test_a_matched_posts_comments_become_comment_records_of_that_post(
    host: BlogHost, store: Store, flavour: str
) -> None:
    feed = host.add_feed("/feed/", flavour=flavour)
    post = host.add_post(feed, "acme outage", "<p>acme is down</p>")
    host.add_comment(
        post, '<p>Same here, see <a href="https://status.example/acme">status</a></p>', author="Zoe"
    )
    [stored] = store_posts(store, feed)
    result = poll(comments(store))
    [c] = result.mentions
    assert c.id.startswith("comments:") and c.source == "comments" and c.kind == "comment"
    assert c.parent_id == stored.id and c.text == "Same here, see status" and c.author.name == "Zoe"
    assert c.links == [post.link, "https://status.example/acme"] and c.url.startswith(post.link)
    assert c.extra["comments_feed"] == post.comments_url


def test_only_new_comments_come_on_the_next_poll(host: BlogHost, store: Store) -> None:
    feed = host.add_feed("/feed/")
    post = host.add_post(feed, "acme outage", "<p>acme is down</p>")
    host.add_comment(post, "first")
    store_posts(store, feed)
    src = comments(store)
    first = poll(src)
    host.add_comment(post, "second")
    refresh_posts(store, feed)
    second = poll(src, first.cursor)
    assert [c.text for c in first.mentions] == ["first"] and [c.text for c in second.mentions] == ["second"]


def test_a_thread_whose_comment_count_has_not_moved_is_not_fetched(host: BlogHost, store: Store) -> None:
    feed = host.add_feed("/feed/")
    post = host.add_post(feed, "acme outage", "<p>acme is down</p>")
    host.add_comment(post, "first")
    store_posts(store, feed)
    src = comments(store)
    first = poll(src)
    asked = len(host.requests_for(post.comments_path))
    second = poll(src, first.cursor)
    assert asked == 1 and len(host.requests_for(post.comments_path)) == 1
    assert second.detail["unchanged_count"] == 1 and second.cursor is None


def test_a_grown_count_refetches_the_thread(host: BlogHost, store: Store) -> None:
    feed = host.add_feed("/feed/")
    post = host.add_post(feed, "acme outage", "<p>acme is down</p>")
    store_posts(store, feed)
    src = comments(store)
    first = poll(src)
    host.add_comment(post, "late comment")
    refresh_posts(store, feed)  # the blog feed saw the count move
    second = poll(src, first.cursor)
    assert [c.text for c in second.mentions] == ["late comment"]


def test_a_thread_without_a_count_is_asked_with_a_conditional_get(host: BlogHost, store: Store) -> None:
    feed = host.add_feed("/feed/")
    post = host.add_post(feed, "acme outage", "<p>acme is down</p>")
    [m] = store_posts(store, feed)
    store.conn.execute("UPDATE mentions SET record = json_remove(record, '$.metrics', '$.comment_count')")
    src = comments(store)
    first = poll(src)
    second = poll(src, first.cursor)
    [_, again] = host.requests_for(post.comments_path)
    assert "if-none-match" in again.headers and second.not_modified and second.cursor is None


def test_threads_are_followed_only_for_follow_comments_for_after_publication(
    host: BlogHost, store: Store
) -> None:
    feed = host.add_feed("/feed/")
    old = host.add_post(feed, "acme old", "<p>x</p>", published=NOW - timedelta(days=9))
    new = host.add_post(feed, "acme new", "<p>y</p>", published=NOW - timedelta(days=2))
    store_posts(store, feed)
    settings = local_settings(follow_comments_for="7d")
    threads = followed_threads(store, NOW - settings.follow_comments_for)
    assert [t.feed for t in threads] == [new.comments_url]
    src = comments(store, settings=settings)
    cursor = poll(src).cursor
    assert list(cursor["threads"]) == [new.comments_url] and host.requests_for(old.comments_path) == []
    later = poll(src, cursor, NOW + timedelta(days=6))
    assert later.cursor == {"threads": {}}  # past the window: dropped from the cursor


def test_a_listed_comment_feed_is_read_and_tied_to_its_stored_post(host: BlogHost, store: Store) -> None:
    feed = host.add_feed("/feed/")
    tracked = host.add_post(feed, "acme outage", "<p>acme is down</p>", comments=True)
    other_feed = host.add_feed("/other/feed/")
    stranger: Post = host.add_post(other_feed, "unrelated", "<p>z</p>")
    host.add_comment(tracked, "on the tracked post")
    host.add_comment(stranger, "on a post we do not track")
    [stored] = store_posts(store, feed)
    store.conn.execute("UPDATE mentions SET record = json_remove(record, '$.comments_feed')")  # not followed
    src = comments(store, direct_feeds=[tracked.comments_url, stranger.comments_url])
    got = {c.text: c for c in poll(src).mentions}
    assert got["on the tracked post"].parent_id == stored.id
    assert got["on a post we do not track"].parent_id is None
    assert got["on a post we do not track"].links[0] == stranger.link  # can still join by URL later


def test_one_failing_thread_does_not_stop_the_others(host: BlogHost, store: Store) -> None:
    feed = host.add_feed("/feed/")
    a = host.add_post(feed, "acme a", "<p>a</p>")
    b = host.add_post(feed, "acme b", "<p>b</p>")
    host.add_comment(a, "on a")
    host.add_comment(b, "on b")
    store_posts(store, feed)
    host.fail(a.comments_path, 500, times=3)
    result = poll(comments(store))
    assert [c.text for c in result.mentions] == ["on b"] and result.detail["failed"] == 1
    assert len(result.warnings) == 1 and "HTTP 500" in result.warnings[0]


def test_a_comment_thread_of_a_matched_post_is_followed_and_linked(host: BlogHost, config: Config) -> None:
    """End to end through the runner and pipeline: comments naming no term join the post's cascade."""
    from monitor.engine.pipeline import Pipeline
    from monitor.engine.runner import poll_source

    store = Store(config.database_path)
    clock = SimulatedClock(NOW)
    pipeline = Pipeline(config, store, clock, deliver=False)
    feed = host.add_feed("/feed/")
    post = host.add_post(feed, "Acme ruined my weekend", "<p>The acme app lost my booking.</p>")
    host.add_post(feed, "Gardening tips", "<p>nothing to see</p>")
    fetcher = HttpFetcher(config.settings.blogs, clock=clock)
    asyncio.run(poll_source(BlogSource("rss:feeds", [feed], fetcher), pipeline, store, clock))
    host.add_comment(post, "Happened to me as well, awful.")
    host.add_comment(post, "Did they refund you?")
    clock.advance(60)
    result = asyncio.run(
        poll_source(CommentSource("comments:threads", store, fetcher), pipeline, store, clock)
    )
    rows = store.conn.execute("SELECT id, kind, root_id FROM mentions ORDER BY kind").fetchall()
    post_id = next(r[0] for r in rows if r[1] == "post")
    assert len(result.mentions) == 2
    assert sorted(r[1] for r in rows) == ["comment", "comment", "post"]  # the gardening post was dropped
    assert all(r[2] == post_id for r in rows)
    store.close()
