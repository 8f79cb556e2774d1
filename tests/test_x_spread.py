"""X as it works today (2026): keyword search returns no reposts, so a complaint's spread is counted
from its public_metrics by post lookup, on a cadence that follows its growth; its replies and quotes
are read while the budget allows; every X source spends one paced budget, in money as well as posts.
All against the local X stand-in (devkit/standins/xapi.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.slack import SlackStandIn
from devkit.standins.xapi import XApi
from monitor.clock import SimulatedClock
from monitor.config.settings import Secret, XSettings, load_config
from monitor.daemon import Daemon
from monitor.ops.status import status
from monitor.sources.spend import Priority, XLedger
from monitor.sources.x import XSource
from tests.conftest import write_config
from tests.test_detect_soon import settle

X_TOKEN = "x-spread-bearer-0123456789"
SLACK_TOKEN = "xoxb-spread-stand-in-0123456789"
COMPLAINT = "@acme charged me twice for order #55123 and support hung up on me. Absolutely furious."


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SPREAD_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("SPREAD_SLACK_TOKEN", SLACK_TOKEN)
    with XApi(token=X_TOKEN) as x, SlackStandIn(token=SLACK_TOKEN) as slack:
        yield x, slack


def config_path(tmp_path: Path, x: XApi, slack: SlackStandIn, **xs: Any) -> Path:
    return write_config(
        tmp_path, [{"name": "acme", "terms": ["acme", "@acme"], "channel": "#acme",
                    "alert": {"spread_threshold": 500, "spike": False}}],
        x={"api_url": x.url, "bearer_token_env": "SPREAD_X_TOKEN", "monthly_read_budget": 100_000, **xs},
        slack={"api_url": slack.api_url, "token_env": "SPREAD_SLACK_TOKEN", "webhook_url_env": None},
        detection={"min_reactions": 3, "every": "1h", "debounce": "1s"})


def run_storm(path: Path, x: XApi, reposts: list[int]) -> tuple[list[dict[str, Any]], Daemon]:
    """A complaint found by search, then reposted (``reposts[i]`` more at each 2-minute step) with two
    replies: polls of search and lookups at each step. Returns the decisions (fields) and the daemon."""

    async def scenario() -> tuple[list[dict[str, Any]], Daemon]:
        clock = SimulatedClock(datetime.now(UTC))
        daemon = Daemon(load_config(path), clock=clock)
        try:
            root = x.add_tweet(COMPLAINT, author="carol", followers=2400)
            await daemon.poll("x:acme")
            x.add_tweet("@carol @acme same thing happened to me", author="dan", followers=300, replied_to=root["id"])
            x.add_tweet("@carol wow, acme again", author="erin", followers=150, replied_to=root["id"])
            for n in reposts:
                clock.advance(120)
                x.add_reposts(root["id"], n)
                await daemon.poll("x:acme")
                if "xlookup:open" in daemon.sources:
                    await daemon.poll("xlookup:open")
                await daemon.judge.run()
                await settle(daemon.judge)
            rows = daemon.store.conn.execute("SELECT name, payload FROM decisions ORDER BY id").fetchall()
            import json
            return [{"name": name, **json.loads(payload)} for name, payload in rows], daemon
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    return asyncio.run(scenario())


STORM = [40, 60, 80, 90, 100]  # 370 reposts in 10 minutes, none of which keyword search returns


def test_a_complaint_spreading_by_reposts_is_alerted_from_its_lookup_counts_before_the_threshold(
        tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    decisions, _ = run_storm(config_path(tmp_path, x, slack), x, STORM)
    first = [d for d in decisions if d["name"] == "first_alert"]
    assert len(first) == 1, decisions
    fields = first[0]
    assert fields["reactions"] < 500  # projected: before it passed the threshold
    assert fields["unseen_reactions"] > 0.9 * fields["reactions"]  # almost all counted, not seen
    assert "public metrics" in first[0]["reason"]
    # keyword search never returned a repost: the stand-in behaves like today's X
    searched = [r for r in x.requests if r.path == "/2/tweets/search/recent"]
    assert searched and all("is:retweet" not in r.query.get("query", [""])[0] for r in searched)


def test_without_lookups_the_same_storm_is_invisible_to_keyword_search(tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    decisions, _ = run_storm(config_path(tmp_path, x, slack, lookup=False), x, STORM)
    assert not [d for d in decisions if d["name"] == "first_alert"]


def test_lookups_batch_ids_follow_growth_and_rereads_the_same_day_cost_nothing(
        tmp_path: Path, stand_ins: Any, capsys: pytest.CaptureFixture[str]) -> None:
    x, slack = stand_ins
    _, daemon = run_storm(config_path(tmp_path, x, slack), x, [50, 50, 0, 0, 0, 0])
    lookups = [r for r in x.requests if r.path == "/2/tweets"]
    assert lookups and all(1 <= len(r.query["ids"][0].split(",")) <= 100 for r in lookups)
    # two steps of growth (every 2 minutes: looked up at each), then quiet: the cadence doubles
    assert 3 <= len(lookups) < 6
    store = type(daemon.store)(load_config(tmp_path / "monitor.yaml").database_path, read_only=True)
    try:
        cursor = store.get_cursor("xlookup:open")
    finally:
        store.close()
    assert cursor is not None
    spend = cursor["spend"]
    assert spend["free"] >= len(lookups) - 1  # the root was billed once today, whatever the lookups
    post = next(iter(cursor["posts"].values()))
    assert post["every"] > 120  # quiet since: looked up less often
    # X's own count of the cycle's post reads (GET /2/usage/tweets), asked hourly, is kept beside ours
    assert cursor["x_usage"]["project_cap"] == 3_000_000 and cursor["x_usage"]["project_usage"] > 0
    capsys.readouterr()
    status(load_config(tmp_path / "monitor.yaml"))
    assert "post reads this billing cycle" in capsys.readouterr().out


def test_the_replies_of_a_growing_complaint_are_read_by_conversation_and_join_its_cascade(
        tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = config_path(tmp_path, x, slack)

    async def scenario() -> list[tuple[str, str]]:
        clock = SimulatedClock(datetime.now(UTC))
        daemon = Daemon(load_config(path), clock=clock)
        try:
            root = x.add_tweet(COMPLAINT, author="carol", followers=2400)
            await daemon.poll("x:acme")
            # replies that name no term: keyword search cannot find them, the conversation can
            x.add_tweet("@carol this is outrageous", author="fay", replied_to=root["id"])
            q = x.add_tweet("look at this", author="gus", quoted=root["id"])
            clock.advance(120)
            await daemon.poll("xlookup:open")
            rows = daemon.store.conn.execute("SELECT id, root_id FROM mentions WHERE id <> root_id").fetchall()
            assert any(r.path.endswith(f"/2/tweets/{root['id']}/quote_tweets") for r in x.requests)
            assert q
            return rows
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    rows = asyncio.run(scenario())
    convo = [r for r in x.requests if r.path == "/2/tweets/search/recent"
             and r.query["query"][0].startswith("conversation_id:")]
    assert convo
    assert len(rows) == 2 and all(root.startswith("x:") for _, root in rows)


# -- money -----------------------------------------------------------------------------------------------
def test_search_spends_no_more_money_than_the_months_pace_allows_and_status_shows_it(
        tmp_path: Path, stand_ins: Any, capsys: pytest.CaptureFixture[str]) -> None:
    x, slack = stand_ins
    for i in range(300):
        x.add_tweet(f"acme thing {i}", author=f"u{i % 9}")
    # $31 a month, a day in: the pace allows $1 + the 1% burst, $1.31: not the 300 posts there are
    path = config_path(tmp_path, x, slack, monthly_budget_usd=31.0, volume_counts="off")

    async def scenario() -> None:
        clock = SimulatedClock(datetime(2026, 5, 2, 0, 0, tzinfo=UTC))
        daemon = Daemon(load_config(path), clock=clock)
        try:
            await daemon.poll("x:acme")
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    asyncio.run(scenario())
    searched = sum(int(r.query["max_results"][0]) for r in x.requests if r.path == "/2/tweets/search/recent")
    assert 10 <= searched < 300
    capsys.readouterr()
    status(load_config(path))
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("X spend"))
    assert "of $31.00 in 2026-05" in line and "projected month $" in line and "post reads" in line
    status(load_config(path), as_json=True)
    import json
    spend = json.loads(capsys.readouterr().out)["x_spend"]
    assert 1.0 < spend["spent_usd"] <= spend["allowed_so_far_usd"] == pytest.approx(1.31)
    x_row = next(r for r in json.loads(json.dumps(spend_rows(path))) if r["source_key"] == "x:acme")
    assert x_row["paused_until"]  # parked until the pace allows another page
    assert spend["projected_usd"] == pytest.approx(spend["spent_usd"] * 31, rel=0.01)


def spend_rows(path: Path) -> list[dict[str, Any]]:
    from monitor.ops.status import collect
    rows: list[dict[str, Any]] = collect(load_config(path))["sources"]
    return rows


def test_open_complaints_win_the_budget_over_chatter() -> None:
    ledger = XLedger(XSettings(monthly_read_budget=100_000, monthly_budget_usd=100.0))
    now = datetime(2026, 5, 10, tzinfo=UTC)
    before = ledger.affordable_posts(now, Priority.CHATTER)
    ledger.demand(500)
    assert ledger.affordable_posts(now, Priority.CHATTER) == before - 500
    assert ledger.affordable_posts(now, Priority.COMPLAINT) == before
    ledger.demand(10**9)  # never more than the reserve (25%) is held back from chatter
    assert ledger.affordable_posts(now, Priority.CHATTER) >= 0.74 * before


def test_a_post_read_again_the_same_utc_day_is_not_charged_and_the_next_day_it_is() -> None:
    ledger = XLedger(XSettings())
    day = datetime(2026, 5, 10, 9, tzinfo=UTC)
    assert ledger.charge("xlookup:open", day, post_ids=["1", "2"]) == pytest.approx(0.010)
    assert ledger.charge("xlookup:open", day + timedelta(hours=14), post_ids=["1", "2", "3"]) == pytest.approx(0.005)
    assert ledger.charge("xlookup:open", day + timedelta(days=1), post_ids=["1"]) == pytest.approx(0.005)
    assert ledger.status(day)["free_rereads"] == 2


def test_the_spend_of_every_x_source_survives_a_restart_through_their_cursors() -> None:
    s = XSettings(monthly_budget_usd=50.0)
    now = datetime(2026, 5, 10, tzinfo=UTC)
    a = XLedger(s)
    a.charge("x:acme", now, posts=100, users=50)
    a.charge("xlookup:open", now, post_ids=["7"])
    b = XLedger(s)
    b.seed("x:acme", {"spend": a.record("x:acme", now)})
    b.seed("xlookup:open", {"spend": a.record("xlookup:open", now), "read_today": a.read_today(now)})
    assert b.spent_usd(now) == pytest.approx(100 * 0.005 + 50 * 0.010 + 0.005)
    assert b.charge("xlookup:open", now, post_ids=["7"]) == 0.0


def test_searching_bills_posts_and_their_authors(stand_ins: Any) -> None:
    x, _ = stand_ins
    for i in range(12):
        x.add_tweet(f"acme {i}", author=f"u{i % 3}")
    ledger = XLedger(XSettings())
    src = XSource("x:acme", "acme", Secret(X_TOKEN), XSettings(api_url=x.url, volume_counts="off"), ledger=ledger)
    result = asyncio.run(src.poll(None, datetime(2026, 5, 10, tzinfo=UTC)))
    assert len(result.mentions) == 12
    assert result.detail["spend"]["posts"] == 12 and result.detail["spend"]["users"] == 3
    assert result.detail["spend"]["spent_usd"] == pytest.approx(12 * 0.005 + 3 * 0.010)


def test_a_lookup_cadence_whose_longest_interval_is_shorter_than_its_shortest_is_refused() -> None:
    from pydantic import ValidationError
    with pytest.raises(ValidationError, match="must not be shorter than lookup_min_interval"):
        XSettings.model_validate({"lookup_min_interval": "10m", "lookup_max_interval": "5m"})


def test_replies_are_read_while_the_budget_allows_and_the_unread_ones_once_it_allows_again(
        tmp_path: Path, stand_ins: Any) -> None:
    x, slack = stand_ins
    path = config_path(tmp_path, x, slack, monthly_budget_usd=31.0, volume_counts="off")

    def conversation_searches() -> int:
        return len([r for r in x.requests if r.path == "/2/tweets/search/recent"
                    and r.query["query"][0].startswith("conversation_id:")])

    async def scenario() -> tuple[int, int, int, int]:
        clock = SimulatedClock(datetime(2026, 5, 2, 0, 0, tzinfo=UTC))  # $1.31 allowed so far
        daemon = Daemon(load_config(path), clock=clock)
        try:
            root = x.add_tweet(COMPLAINT, author="carol", followers=2400)
            await daemon.poll("x:acme")
            for i in range(3):
                x.add_tweet(f"@carol this is outrageous ({i})", author=f"r{i}", replied_to=root["id"])
            ledger = daemon.sources["xlookup:open"].ledger
            now = clock.now()
            # Chatter has spent all but 5 cents of the pace: a lookup fits, a page of replies does not.
            left = ledger.allowed_usd(now) - ledger.spent_usd(now) - 0.05
            ledger.charge("x:acme", now, posts=round(left / 0.005))
            clock.advance(60)
            await daemon.poll("xlookup:open")
            looked = len([r for r in x.requests if r.path == "/2/tweets"])
            before = conversation_searches()
            clock.advance(86400)  # a day later the pace allows a dollar more
            await daemon.poll("xlookup:open")
            replies = daemon.store.conn.execute("SELECT count(*) FROM mentions WHERE kind = 'reply'").fetchone()[0]
            return looked, before, conversation_searches(), replies
        finally:
            await daemon.http.aclose()
            daemon.store.close()

    looked, before, after, replies = asyncio.run(scenario())
    assert looked == 1 and before == 0  # measured, but its replies not read: the budget did not allow it
    assert after == 1 and replies == 3  # read once it did, though the post did not grow again


# -- lookups of X posts in cascades rooted elsewhere, and of a nearly spent budget -----------------------
def _pipeline(tmp_path: Path, x: XApi, **xs: Any) -> Any:
    from monitor.engine.pipeline import Pipeline
    from monitor.store.database import Store

    path = write_config(tmp_path, [{"name": "acme", "terms": ["acme", "@acme"], "alert": {"spread_threshold": 500}}],
                        x={"api_url": x.url, "monthly_read_budget": 100_000, "volume_counts": "off", **xs})
    config = load_config(path)
    store = Store(config.database_path)
    clock = SimulatedClock(datetime(2026, 5, 2, tzinfo=UTC))
    return config, store, clock, Pipeline(config, store, clock, deliver=False)


def _lookup_source(config: Any, store: Any, ledger: XLedger) -> Any:
    from monitor.sources.xlookup import XLookupSource

    return XLookupSource("xlookup:open", store, Secret(X_TOKEN), config.settings.x, ledger=ledger,
                         window=timedelta(hours=6))


def test_an_x_post_linking_a_tracked_blog_complaint_is_looked_up_and_its_unseen_reposts_count_in_that_cascade(
        tmp_path: Path, stand_ins: Any) -> None:
    from devkit.standins.feeds import BlogHost
    from monitor.engine.runner import poll_source
    from monitor.sources.blogs import BlogSource
    from monitor.sources.http import HttpFetcher

    x, _ = stand_ins
    config, store, clock, pipeline = _pipeline(tmp_path, x)
    ledger = XLedger(config.settings.x)
    try:
        with BlogHost() as host:
            feed = host.add_feed("/feed/")
            post = host.add_post(feed, "Acme charged me twice", f"<p>{COMPLAINT}</p>")
            asyncio.run(poll_source(BlogSource("rss:feeds", [feed], HttpFetcher(config.settings.blogs)),
                                    pipeline, store, clock))
        tweet = x.add_tweet("Read this before you buy acme", author="carol", followers=900, urls=[post.link])
        clock.advance(60)
        search = XSource("x:acme", "acme", Secret(X_TOKEN), config.settings.x, ledger=ledger)
        asyncio.run(poll_source(search, pipeline, store, clock))
        root = store.conn.execute("SELECT root_id FROM mentions WHERE id = ?", (f"x:{tweet['id']}",)).fetchone()[0]
        assert root.startswith("rss:")  # the tweet joined the blog post's cascade
        lookups = _lookup_source(config, store, ledger)
        for grown in (40, 60):  # its reposts grow; keyword search shows none of them
            x.add_reposts(tweet["id"], grown)
            clock.advance(120)
            asyncio.run(poll_source(lookups, pipeline, store, clock))
        asked = [r.query["ids"][0].split(",") for r in x.requests if r.path == "/2/tweets"]
        counts = pipeline.detector.cascades[(root, "acme")].counts
    finally:
        store.close()
    assert asked == [[tweet["id"]], [tweet["id"]]]  # the linking tweet, not only roots on X, is looked up
    assert counts is not None and counts.unseen[f"x:{tweet['id']}"] == 100  # all its reposts, in the blog's cascade


def test_with_the_pace_nearly_spent_fewer_posts_are_looked_up_and_the_rest_wait_parked(
        tmp_path: Path, stand_ins: Any) -> None:
    import math

    from monitor.engine.runner import poll_source

    x, _ = stand_ins
    config, store, clock, pipeline = _pipeline(tmp_path, x, monthly_budget_usd=31.0)
    ledger = XLedger(config.settings.x)
    try:
        for i in range(5):
            x.add_tweet(f"{COMPLAINT} ({i})", author=f"c{i}", followers=1000)
        search = XSource("x:acme", "(acme OR @acme)", Secret(X_TOKEN), config.settings.x, ledger=ledger)
        asyncio.run(poll_source(search, pipeline, store, clock))
        clock.advance(60)
        now = clock.now()
        # Others have spent the pace but for two post reads.
        ledger.charge("x:other", now, posts=math.floor((ledger.allowed_usd(now) - ledger.spent_usd(now)) / 0.005) - 2)
        lookups = _lookup_source(config, store, ledger)
        result = asyncio.run(poll_source(lookups, pipeline, store, clock))
        demand = ledger.demand_posts
        clock.advance(10)
        again = asyncio.run(poll_source(lookups, pipeline, store, clock))
        asked = [r.query["ids"][0].split(",") for r in x.requests if r.path == "/2/tweets"]
    finally:
        store.close()
    assert result.detail["due"] == 5 and result.detail["looked_up"] == 2  # what the pace pays for
    assert demand == 3  # the other three are held back from chatter meanwhile
    assert again.detail["due"] == 3 and again.detail["looked_up"] == 0  # the pace still spent: nothing asked,
    assert again.park_until is not None and again.park_until > clock.now()  # parked until it allows one more
    assert [len(ids) for ids in asked] == [2]


def test_under_a_tight_money_budget_an_open_complaints_lookups_run_and_keyword_search_gets_less(
        tmp_path: Path) -> None:
    from monitor.engine.runner import poll_source

    def world(folder: Path, complaint: bool) -> tuple[int, int, float, float]:
        """Search reads, lookup requests, what chatter could still spend, what complaints still can."""
        with XApi(token=X_TOKEN) as x:
            config, store, clock, pipeline = _pipeline(folder, x, monthly_budget_usd=31.0)
            ledger = XLedger(config.settings.x)
            try:
                root = x.add_tweet(COMPLAINT if complaint else "acme opens a new shop on main street", author="carol")
                search = XSource("x:acme", "(acme OR @acme)", Secret(X_TOKEN), config.settings.x, ledger=ledger)
                asyncio.run(poll_source(search, pipeline, store, clock))
                x.add_reposts(root["id"], 50)
                for i in range(40):
                    x.add_tweet(f"acme chatter {i}", author=f"fan{i}")
                clock.advance(120)
                now = clock.now()
                # The month's pace leaves 55 cents: 36 posts of search with their authors, all told.
                ledger.charge("x:other", now, posts=round((ledger.allowed_usd(now) - ledger.spent_usd(now) - 0.55)
                                                          / 0.005))
                asyncio.run(poll_source(_lookup_source(config, store, ledger), pipeline, store, clock))
                result = asyncio.run(poll_source(search, pipeline, store, clock))
                lookups = len([r for r in x.requests if r.path == "/2/tweets"])
                left = ledger.allowed_usd(now, Priority.COMPLAINT) - ledger.spent_usd(now)
                return result.detail["reads"], lookups, ledger.affordable_posts(now, Priority.CHATTER), left
            finally:
                store.close()

    (tmp_path / "chatter").mkdir()
    (tmp_path / "complaint").mkdir()
    calm_reads, calm_lookups, _, _ = world(tmp_path / "chatter", complaint=False)
    reads, lookups, chatter_room, complaint_room = world(tmp_path / "complaint", complaint=True)
    assert calm_lookups == 0 and calm_reads >= 30          # no open complaint: chatter has the whole pace
    assert lookups == 1                                     # the open complaint was measured
    assert reads < calm_reads - 10                          # and keyword search read less for it
    assert chatter_room < 10 <= complaint_room / 0.005      # what is left, chatter may not touch: a reaction
    #                                                         page of the growing complaint is kept for it


LOOKUP_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "x-api" / "official-examples"


def test_the_recorded_x_lookup_examples_map_through_the_lookup_source_and_a_deleted_post_is_set_aside(
        tmp_path: Path, stand_ins: Any) -> None:
    """The X developer team's recorded ``Tweet_Lookup_*`` answers (twitterdev/postman-twitter-api,
    Apache-2.0), served by the stand-in as one ``GET /2/tweets?ids=`` answer: ``data`` as a list (the
    single-post endpoint's object, as the many-post endpoint sends it) and the deleted post's ``errors``
    entry as recorded (``value``, no ``resource_id``)."""
    import json

    from monitor.sources.xlookup import XLookupSource
    from monitor.store.database import SpreadTarget, Store

    examples = sorted(LOOKUP_EXAMPLES.glob("Tweet_Lookup_*_200_*.json"))
    if not examples:
        pytest.skip("../shared/fixtures is not beside the repo")
    recorded = [json.loads(p.read_text()) for p in examples]
    data = [r["body"]["data"] for r in recorded if "data" in r["body"]]
    errors = [e for r in recorded for e in r["body"].get("errors") or []]
    includes: dict[str, list[Any]] = {}
    for r in recorded:
        for kind, items in (r["body"].get("includes") or {}).items():
            includes.setdefault(kind, []).extend(items)
    assert len(data) == 5 and [e["title"] for e in errors] == ["Not Found Error"]
    deleted = errors[0]["value"]
    headers = {k: v for k, v in recorded[0]["headers"].items()
               if k in ("content-type", "x-rate-limit-limit", "x-rate-limit-reset")}
    x, _ = stand_ins
    x.answer_next({"data": data, "errors": errors, "includes": includes},
                  headers={**headers, "x-rate-limit-remaining": "14"})

    ids = [str(t["id"]) for t in data] + [deleted]
    targets = [SpreadTarget(f"x:{i}", f"x:{ids[0]}", "post", None, None, None) for i in ids]
    settings = XSettings(api_url=x.url, fetch_reactions=False)
    store = Store(tmp_path / "monitor.db")
    try:
        src = XLookupSource("xlookup:open", store, Secret(X_TOKEN), settings, ledger=XLedger(settings),
                            window=timedelta(hours=6))
        now = datetime(2026, 5, 10, 12, tzinfo=UTC)
        result = src._poll({}, targets, now)
    finally:
        store.close()
    [asked] = [r for r in x.requests if r.path == "/2/tweets"]
    assert asked.query["ids"][0].split(",") == ids  # one request, every id
    got = {m.id: m for m in result.mentions}
    assert sorted(got) == sorted(f"x:{t['id']}" for t in data)  # the deleted one maps to no mention
    for tweet in data:
        m = got[f"x:{tweet['id']}"]
        assert m.text == tweet["text"].replace("&amp;", "&") and m.source == "x"
        assert m.created_at == (datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))
                                if "created_at" in tweet else now)
        assert m.author.handle != "None" and "None" not in (m.url or "")
        if "author_id" in tweet:
            assert m.author.id == tweet["author_id"]
    deleted_state = result.cursor["posts"][deleted]
    assert deleted_state["gone"] is True  # asked again only at the slowest pace
    assert deleted_state["every"] == settings.lookup_max_interval.total_seconds()
    assert result.detail["spend"]["posts"] == 5  # a post that is gone bills nothing
    assert result.warnings == []
