"""X recent search through tweepy against the local X API stand-in (real response shapes from
../shared/fixtures/x-api: the X developer team's examples, Apache-2.0, and tweepy's cassettes, MIT)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devkit.standins.xapi import XApi
from monitor.clock import SimulatedClock
from monitor.config.settings import Config, Secret, Watchlist, XSettings
from monitor.errors import PermanentSourceError, SourceError
from monitor.sources.base import RateLimited
from monitor.sources.x import XSource, build_query
from monitor.sources.xclient import search_mentions
from monitor.store.database import Store

TOKEN = "AAAAAAAAAAAAAAAAAAAAAsecret%2Fbearer%3Dtoken0123456789"
X_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "x-api"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def api():
    with XApi(token=TOKEN) as a:
        yield a


def make(api: XApi, query: str = "acme", **settings: object) -> XSource:
    settings = {"monthly_read_budget": 10_000_000, **settings}
    return XSource("x:acme", query, Secret(TOKEN), XSettings(api_url=api.url, **settings))  # type: ignore[arg-type]


def poll(src: XSource, cursor: dict | None = None, now: datetime = NOW):
    return asyncio.run(src.poll(cursor, now))


# -- query -------------------------------------------------------------------------------------------------
def test_the_query_is_built_from_terms_and_exclusions() -> None:
    wl = Watchlist(
        name="acme", terms=["acme", "@acme", "#acmefail", '"acme support"'], exclude=["acme anvil"]
    )
    assert build_query(wl) == '(acme OR @acme OR #acmefail OR "acme support") -"acme anvil"'
    assert build_query(Watchlist(name="a", terms=["acme"])) == "acme"
    assert (
        build_query(Watchlist(name="a", terms=["acme"], x_query="acme lang:en -is:retweet"))
        == "acme lang:en -is:retweet"
    )


def test_a_query_longer_than_x_allows_is_a_permanent_error_saying_what_to_do(api: XApi) -> None:
    with pytest.raises(PermanentSourceError, match="set a shorter x_query"):
        poll(make(api, "acme " * 200))
    assert api.requests == []


# -- mapping -----------------------------------------------------------------------------------------------
def test_the_recorded_x_example_maps_replies_with_parents_links_and_authors() -> None:
    sample = json.loads(
        (
            X_FIXTURES
            / "official-examples"
            / "Search_Tweets_Recent_search_200_Success_Request_Tweet_Fields_with_Expanded_User_Fields.json"
        ).read_text()
    )
    mentions = {m.id: m for m in search_mentions(sample["body"], NOW)}
    first = mentions["x:1276035977375477760"]
    assert first.kind == "reply" and first.parent_id == "x:1275653067283759104"
    assert first.links == ["https://twitter.com/happycamper/status/1276035977375477760/photo/1"]
    assert first.author.handle == "happycamper" and first.author.description.startswith("Part-time fiddler")
    assert first.url == "https://x.com/happycamper/status/1276035977375477760"
    assert first.created_at == datetime(2020, 6, 25, 6, 14, 19, tzinfo=UTC) and first.observed_at == NOW
    assert "x:1273733248749690880" in mentions  # a referenced tweet from includes, as a record too
    assert "&amp;" not in " ".join(m.text for m in mentions.values())


def test_tweepys_recorded_search_maps_to_plain_posts() -> None:
    cassette = json.loads(
        (X_FIXTURES / "tweepy-cassettes" / "test_client_search_recent_tweets.decoded.json").read_text()
    )
    mentions = search_mentions(cassette[0]["body"], NOW)
    assert len(mentions) == 10 and all(m.kind == "post" and m.parent_id is None for m in mentions)


def test_referenced_tweets_map_to_reply_and_quote_and_search_returns_no_reposts(api: XApi) -> None:
    # Since 4 May 2026 keyword search returns no reposts: dan's repost shows only in the root's metrics.
    root = api.add_tweet("acme lost my parcel", author="carol", followers=5400, metrics={"like_count": 7})
    api.add_tweet("", author="dan", retweeted=root["id"])
    api.add_tweet("@carol same with acme", author="erin", replied_to=root["id"])
    api.add_tweet(
        "acme, explain this",
        author="fay",
        quoted=root["id"],
        urls=[f"https://twitter.com/carol/status/{root['id']}", "https://blog.example/acme?utm_source=x"],
    )
    got = {m.author.handle: m for m in poll(make(api)).mentions}
    parent = f"x:{root['id']}"
    assert "dan" not in got
    assert (got["erin"].kind, got["erin"].parent_id) == ("reply", parent)
    assert (got["fay"].kind, got["fay"].parent_id) == ("quote", parent)
    assert got["fay"].links == [
        f"https://twitter.com/carol/status/{root['id']}",
        "https://blog.example/acme?utm_source=x",
    ]
    assert got["carol"].kind == "post" and got["carol"].author.followers == 5400
    assert got["carol"].metrics == {"reposts": 1, "replies": 1, "likes": 7, "quotes": 1}
    assert got["carol"].extra["conversation_id"] == root["id"]
    sent = api.requests[0].query
    assert sent["expansions"] == ["author_id,referenced_tweets.id,referenced_tweets.id.author_id"]
    assert {"created_at", "public_metrics", "conversation_id", "entities"} <= set(
        sent["tweet.fields"][0].split(",")
    )
    assert set(sent["user.fields"][0].split(",")) == {"public_metrics", "description", "verified"}


def test_a_tweet_seen_again_comes_with_its_new_metrics(api: XApi) -> None:
    root = api.add_tweet("acme again", author="carol")
    src = make(api)
    first = poll(src)
    api.add_tweet("@carol acme again?", author="dan", replied_to=root["id"])
    api.set_metrics(root["id"], retweet_count=40)
    second = poll(src, first.cursor)
    again = {m.id: m for m in second.mentions}[f"x:{root['id']}"]
    assert again.metrics["reposts"] == 40


# -- cursor and pagination ----------------------------------------------------------------------------------
def test_the_second_poll_asks_only_for_tweets_after_since_id(api: XApi) -> None:
    api.add_tweet("acme one", author="a")
    src = make(api)
    first = poll(src)
    newest = first.cursor["since_id"]
    api.add_tweet("acme two", author="b")
    second = poll(src, first.cursor)
    assert api.requests[-1].query["since_id"] == [newest]
    assert [m.text for m in second.mentions] == ["acme two"]
    assert second.cursor["since_id"] != newest


def test_pagination_is_bounded_per_cycle_and_the_rest_is_read_next_cycle(api: XApi) -> None:
    api.add_tweet("acme zero", author="z")
    src = make(api, page_size=10, max_pages_per_cycle=2)
    start = poll(src)
    for i in range(35):
        api.add_tweet(f"acme {i}", author=f"u{i}")
    first = poll(src, start.cursor)
    searches = [r for r in api.requests if r.path == "/2/tweets/search/recent"]
    assert len(searches) == 3 and len(first.mentions) == 20
    assert first.cursor["backlog"]["next_token"] and first.cursor["since_id"] == start.cursor["since_id"]
    second = poll(src, first.cursor)
    assert len(second.mentions) == 15 and "backlog" not in second.cursor
    assert [r for r in api.requests if r.path == "/2/tweets/search/recent"][-1].query.get("next_token")
    seen = {m.id for m in first.mentions} | {m.id for m in second.mentions}
    assert len(seen) == 35  # every tweet once, none skipped
    assert second.cursor["since_id"] == max(seen, key=lambda i: int(i[2:]))[2:]


def test_the_first_poll_reads_one_cycle_and_does_not_drain_the_week(api: XApi) -> None:
    for i in range(50):
        api.add_tweet(f"acme {i}", author=f"u{i}")
    first = poll(make(api, page_size=10, max_pages_per_cycle=2))
    assert len(first.mentions) == 20 and "backlog" not in first.cursor
    assert int(first.cursor["since_id"]) == max(int(t) for t in api.tweets)


# -- rate limits ---------------------------------------------------------------------------------
def test_a_429_parks_this_poller_exactly_until_the_reset(api: XApi) -> None:
    reset = int(NOW.timestamp()) + 600
    api.fail_next(429, reset=reset)
    with pytest.raises(RateLimited) as err:
        poll(make(api))
    assert err.value.until == datetime.fromtimestamp(reset, UTC) and err.value.retry_after == 600


def test_a_429_backs_off_even_when_remaining_was_above_zero(api: XApi) -> None:
    api.fail_next(429, remaining=37, reset=int(NOW.timestamp()) - 5)  # a stale reset, requests "left"
    with pytest.raises(RateLimited) as err:
        poll(make(api))
    assert err.value.until == NOW + timedelta(seconds=60)


def test_a_spent_monthly_cap_parks_until_next_month(api: XApi) -> None:
    api.fail_next(
        429,
        remaining=300,
        body={
            "title": "UsageCapExceeded",
            "detail": "Usage cap exceeded: Monthly product cap",
            "type": "https://api.twitter.com/2/problems/usage-capped",
        },
    )
    with pytest.raises(RateLimited) as err:
        poll(make(api))
    assert err.value.until == datetime(2026, 4, 1, tzinfo=UTC)


def test_remaining_zero_stops_paging_and_parks_until_the_reset(api: XApi) -> None:
    for i in range(30):
        api.add_tweet(f"acme {i}", author=f"u{i}")
    api.remaining, api.reset = 2, int(NOW.timestamp()) + 300
    result = poll(make(api, page_size=10, max_pages_per_cycle=5))
    assert len(api.requests) == 2 and len(result.mentions) == 20
    assert result.park_until == datetime.fromtimestamp(api.reset, UTC)


def test_a_429_after_some_pages_keeps_them_and_parks(api: XApi) -> None:
    api.add_tweet("acme zero", author="z")
    src = make(api, page_size=10, max_pages_per_cycle=5)
    start = poll(src)
    for i in range(30):
        api.add_tweet(f"acme {i}", author=f"u{i}")
    reset = int(NOW.timestamp()) + 900
    api.fail_next(429, after=1, reset=reset, remaining=12)  # page one answers, page two gets a 429
    result = poll(src, start.cursor)
    assert len(api.requests) == 3 and len(result.mentions) == 10
    assert result.park_until == datetime.fromtimestamp(reset, UTC) and result.cursor["backlog"]["next_token"]


# -- refusals and failures -----------------------------------------------------------------------
@pytest.mark.parametrize(("status", "cause"), [(401, "bearer token is wrong"), (403, "plan level")])
def test_401_and_403_pause_the_source_with_the_likely_cause(api: XApi, status: int, cause: str) -> None:
    api.fail_next(status)
    src = make(api)
    with pytest.raises(PermanentSourceError) as err:
        poll(src)
    assert cause in str(err.value) and "$X_BEARER_TOKEN" in str(err.value) and TOKEN not in str(err.value)
    with pytest.raises(PermanentSourceError):
        poll(src)
    assert len(api.requests) == 1  # paused: X is not asked again


def test_a_wrong_token_is_refused_by_the_stand_in_like_by_x(api: XApi) -> None:
    src = XSource("x:acme", "acme", Secret("not-the-token"), XSettings(api_url=api.url))
    with pytest.raises(PermanentSourceError, match="HTTP 401"):
        poll(src)


def test_server_errors_and_network_errors_are_retryable(api: XApi) -> None:
    api.fail_next(503)
    with pytest.raises(SourceError) as err:
        poll(make(api))
    assert err.value.retryable and not isinstance(err.value, PermanentSourceError)
    dead = XSource("x:acme", "acme", Secret(TOKEN), XSettings(api_url="http://127.0.0.1:9"))
    with pytest.raises(SourceError, match="network error") as err2:
        poll(dead)
    assert err2.value.retryable


def test_the_bearer_token_appears_in_no_log_line_at_debug(
    api: XApi, caplog: pytest.LogCaptureFixture, config: Config
) -> None:
    from monitor.engine.pipeline import Pipeline
    from monitor.engine.runner import poll_source

    for name in ("", "tweepy", "tweepy.client", "urllib3", "requests", "httpx", "httpcore", "monitor"):
        caplog.set_level(logging.DEBUG, logger=name)
    api.add_tweet("acme is broken", author="carol")
    store = Store(config.database_path)
    clock = SimulatedClock(NOW)
    pipeline = Pipeline(config, store, clock, deliver=False)
    src = make(api)
    asyncio.run(poll_source(src, pipeline, store, clock))  # a good poll
    api.fail_next(429, reset=int(NOW.timestamp()) + 60)
    clock.advance(300)
    asyncio.run(poll_source(src, pipeline, store, clock))  # a rate limit
    api.fail_next(401)
    clock.advance(300)
    asyncio.run(poll_source(src, pipeline, store, clock))  # a refusal
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "tweepy.client Making API request" in text and "Bearer <secret>" in text  # DEBUG was captured
    assert TOKEN not in text
    assert TOKEN not in json.dumps(store.health()) and TOKEN not in json.dumps(store.get_cursor("x:acme"))
    assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"  # but X got it
    store.close()


def test_a_parked_source_is_not_polled_until_the_reset(api: XApi, config: Config) -> None:
    from monitor.engine.pipeline import Pipeline
    from monitor.engine.runner import poll_source

    store = Store(config.database_path)
    clock = SimulatedClock(NOW)
    pipeline = Pipeline(config, store, clock, deliver=False)
    src = make(api)
    reset = int(NOW.timestamp()) + 900
    api.fail_next(429, reset=reset)
    asyncio.run(poll_source(src, pipeline, store, clock))
    [health] = store.health()
    assert health["paused_until"] == "2026-03-10T12:15:00.000000Z" and "rate limit" in health["last_error"]
    clock.advance(899)
    asyncio.run(poll_source(src, pipeline, store, clock))
    assert len(api.requests) == 1  # parked: X not asked
    clock.advance(1)
    api.add_tweet("acme back", author="carol")
    result = asyncio.run(poll_source(src, pipeline, store, clock))
    assert len(api.requests) == 2 and [m.text for m in result.mentions] == ["acme back"]
    store.close()


def test_a_401_through_the_runner_is_recorded_with_what_to_fix(api: XApi, config: Config) -> None:
    from monitor.engine.pipeline import Pipeline
    from monitor.engine.runner import poll_source

    store = Store(config.database_path)
    clock = SimulatedClock(NOW)
    api.fail_next(401)
    result = asyncio.run(poll_source(make(api), Pipeline(config, store, clock, deliver=False), store, clock))
    [health] = store.health()
    assert result.detail["permanent"] and "bearer token" in health["last_error"]
    assert json.loads(health["detail"])["paused"] == "until the config changes"
    store.close()


def test_a_tweet_linking_a_tracked_blog_post_joins_its_cascade(api: XApi, config: Config) -> None:
    """Across channels: the post is matched and stored from its feed; a tweet sharing its URL (with a
    tracking parameter) is stored with the post as its cascade root."""
    from devkit.standins.feeds import BlogHost
    from monitor.engine.pipeline import Pipeline
    from monitor.engine.runner import poll_source
    from monitor.sources.blogs import BlogSource
    from monitor.sources.http import HttpFetcher

    store = Store(config.database_path)
    clock = SimulatedClock(datetime.now(UTC))
    pipeline = Pipeline(config, store, clock, deliver=False)
    with BlogHost() as host:
        feed = host.add_feed("/feed/")
        post = host.add_post(feed, "Acme charged me twice", "<p>Two charges, no answer from acme.</p>")
        asyncio.run(
            poll_source(
                BlogSource("rss:feeds", [feed], HttpFetcher(config.settings.blogs)), pipeline, store, clock
            )
        )
    tweet = api.add_tweet("Read this before you buy acme", author="carol", urls=[post.link + "?utm_source=x"])
    clock.advance(60)
    asyncio.run(poll_source(make(api), pipeline, store, clock))
    roots = dict(store.conn.execute("SELECT id, root_id FROM mentions").fetchall())
    post_id = next(i for i in roots if i.startswith("rss:"))
    assert roots[f"x:{tweet['id']}"] == post_id and roots[post_id] == post_id
    store.close()


def test_a_server_error_after_some_pages_keeps_them_for_the_next_poll_to_continue(api: XApi) -> None:
    api.add_tweet("acme zero", author="z")
    src = make(api, page_size=10, max_pages_per_cycle=5)
    start = poll(src)
    for i in range(25):
        api.add_tweet(f"acme {i}", author=f"u{i}")
    api.fail_next(500, after=1)  # page one answers, page two fails
    result = poll(src, start.cursor)
    assert len(result.mentions) == 10 and result.cursor["backlog"]["next_token"]
    assert result.warnings and "server error" in result.warnings[0]
    rest = poll(src, result.cursor)
    assert len(rest.mentions) == 15 and "backlog" not in rest.cursor
