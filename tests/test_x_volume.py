"""Volume from X's counts endpoint (a watch-list's posts per minute for one request's price) feeding the
spike detector, and the detector's reported counts: reactions known only as numbers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.xapi import XApi
from monitor.config.settings import DetectionSettings, Secret, Watchlist, XSettings
from monitor.detect.detector import Detector
from monitor.records.mention import Author, Mention
from monitor.records.scores import ComplaintScore, Scores
from monitor.records.volume import VolumeCount
from monitor.sources.spend import XLedger
from monitor.sources.x import XSource
from monitor.sources.xclient import count_buckets

X_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "x-api"
TOKEN = "x-volume-bearer-0123456789"


@pytest.fixture
def api() -> Any:
    with XApi(token=TOKEN) as a:
        yield a


def test_tweepys_recorded_counts_answer_maps_to_volume_counts() -> None:
    # tweepy's cassette (MIT): a real /2/tweets/counts/recent answer, hourly buckets
    cassette = json.loads((X_FIXTURES / "tweepy-cassettes" / "test_client_get_recent_tweets_count.decoded.json")
                          .read_text())
    body = cassette[0]["body"]
    counts = count_buckets(body, "acme")
    assert counts and all(v.watchlist == "acme" and v.source == "x" and v.count > 0 for v in counts)
    assert sum(v.count for v in counts) == body["meta"]["total_tweet_count"]
    assert all(v.end > v.start for v in counts)


def test_the_stand_ins_counts_agree_with_its_search_and_leave_out_reposts(api: XApi) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    root = api.add_tweet("acme is down", author="a", created_at=now - timedelta(minutes=3, seconds=10))
    api.add_tweet("acme down for me too", author="b", created_at=now - timedelta(minutes=3, seconds=40))
    api.add_tweet("", author="c", retweeted=root["id"], created_at=now - timedelta(minutes=2, seconds=30))
    api.add_tweet("acme?", author="d", created_at=now - timedelta(minutes=1, seconds=5))
    src = XSource("x:acme", "acme", Secret(TOKEN), XSettings(api_url=api.url))
    resp = src.client.get_recent_tweets_count("acme", granularity="minute", start_time=now - timedelta(minutes=5),
                                              end_time=now)
    body = resp.json()
    assert [b["tweet_count"] for b in body["data"]] == [0, 2, 0, 1, 0]  # the repost is not counted
    assert body["meta"]["total_tweet_count"] == 3


def test_an_x_source_counts_whole_minutes_once_each_at_most_every_counts_every(api: XApi) -> None:
    now = datetime.now(UTC)
    for i in range(5):
        api.add_tweet(f"acme {i}", author=f"u{i}", created_at=now - timedelta(minutes=10 + i))
    ledger = XLedger(XSettings())
    settings = XSettings(api_url=api.url, volume_counts="always", counts_every="10m")
    src = XSource("x:acme", "acme", Secret(TOKEN), settings, ledger=ledger)
    first = asyncio.run(src.poll(None, now))
    assert sum(v.count for v in first.volumes) == 5
    assert first.detail["spend"]["count_requests"] == 1
    until = first.cursor["counts"]["until"]
    again = asyncio.run(src.poll(first.cursor, now + timedelta(minutes=5)))  # within counts_every: not asked
    assert again.volumes == [] and (again.cursor or first.cursor)["counts"]["until"] == until
    later = asyncio.run(src.poll(again.cursor or first.cursor, now + timedelta(minutes=11)))
    asked = [r for r in api.requests if r.path == "/2/tweets/counts/recent"]
    assert len(asked) == 2
    assert asked[1].query["start_time"][0].startswith(until[:16])  # from where the last count ended
    assert later.volumes == []  # nothing new in those minutes
    assert ledger.status(now)["count_requests"] == 2


def test_auto_counts_only_once_search_stops_reading_everything(api: XApi) -> None:
    api.add_tweet("acme one", author="a")
    src = XSource("x:acme", "acme", Secret(TOKEN), XSettings(api_url=api.url))  # volume_counts: auto
    first = asyncio.run(src.poll(None, datetime.now(UTC)))
    assert first.volumes == [] and not [r for r in api.requests if r.path == "/2/tweets/counts/recent"]


def detector(**alert: Any) -> Detector:
    wl = Watchlist.model_validate({"name": "acme", "terms": ["acme"], "alert": {"spread_threshold": 500, **alert}})
    return Detector({"acme": wl}, DetectionSettings.model_validate({"min_reactions": 3}))


def test_a_burst_of_counted_volume_is_a_spike_of_x_post_volume_with_no_example() -> None:
    d = detector()
    t0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
    for h in range(48):  # two quiet days: a post every twenty minutes
        at = t0 + timedelta(hours=h)
        d.add_volume([VolumeCount("acme", "x", at + timedelta(minutes=m), at + timedelta(minutes=m + 1), 1)
                      for m in (0, 20, 40)])
        assert not [x for x in d.evaluate(at + timedelta(minutes=59)) if x.kind.value == "spike"]
    burst = t0 + timedelta(hours=48)
    d.add_volume([VolumeCount("acme", "x", burst + timedelta(minutes=m), burst + timedelta(minutes=m + 1), 12)
                  for m in range(10)])
    spikes = [x for x in d.evaluate(burst + timedelta(minutes=10)) if x.kind.value == "spike"]
    assert len(spikes) == 1
    assert spikes[0].fields.scope == "X post volume" and spikes[0].fields.observed >= 120
    assert spikes[0].fields.examples == []


COMPLAINT = Scores(-0.6, ComplaintScore(0.9, True, True, "billing", ("charged",)))


def mention(mid: str, parent: str | None, kind: str, at: datetime, followers: int = 100) -> Mention:
    return Mention(id=mid, source="x", kind=kind, parent_id=parent, url=None,
                   author=Author(mid, f"h{mid}", followers=followers), text="acme charged me twice", links=[],
                   created_at=at, observed_at=at)


def test_reported_counts_make_a_cascade_at_least_as_big_as_reported_and_a_seen_reaction_takes_an_unseen_place(
        ) -> None:
    d = detector()
    t0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
    d.add_root(mention("x:1", None, "post", t0, 2000), "acme", COMPLAINT)
    d.add_reaction(mention("x:2", "x:1", "reply", t0 + timedelta(minutes=1)), "x:1", "acme", COMPLAINT)
    assert d.report_counts("x:1", "x:1", "acme", 41, t0 + timedelta(minutes=2))  # 40 unseen, 1 seen
    c = d.cascades[("x:1", "acme")]
    assert c.size == 41 and c.counts is not None and c.counts.total_unseen == 40
    d.add_reaction(mention("x:3", "x:1", "quote", t0 + timedelta(minutes=3)), "x:1", "acme", COMPLAINT)
    assert c.size == 41 and c.counts.total_unseen == 39  # seen now, counted once
    assert not d.report_counts("x:1", "x:1", "acme", 30, t0 + timedelta(minutes=4))  # a count that fell
    assert c.size == 41


def test_a_posts_first_reported_count_does_not_count_again_the_answers_to_it_already_seen() -> None:
    # A post that links the root (not the root itself) is answered twice, both answers seen one by one;
    # its public_metrics then report those two replies: nothing is unseen, the cascade does not grow.
    d = detector()
    t0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
    d.add_root(mention("x:1", None, "post", t0, 2000), "acme", COMPLAINT)
    d.add_reaction(mention("x:2", "x:1", "post", t0 + timedelta(minutes=1)), "x:1", "acme", COMPLAINT)
    d.add_reaction(mention("x:3", "x:2", "reply", t0 + timedelta(minutes=2)), "x:1", "acme", COMPLAINT)
    d.add_reaction(mention("x:4", "x:2", "reply", t0 + timedelta(minutes=3)), "x:1", "acme", COMPLAINT)
    c = d.cascades[("x:1", "acme")]
    assert c.size == 3
    assert not d.report_counts("x:2", "x:1", "acme", 2, t0 + timedelta(minutes=4))
    assert c.size == 3 and c.counts is not None and c.counts.total_unseen == 0
    assert d.report_counts("x:2", "x:1", "acme", 5, t0 + timedelta(minutes=5))  # three more it did not see
    assert c.size == 6 and c.counts.total_unseen == 3


def test_reported_counts_open_a_cascade_with_no_reaction_seen_and_a_replay_without_them_is_unchanged() -> None:
    d = detector()
    t0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
    d.add_root(mention("x:1", None, "post", t0), "acme", COMPLAINT)
    assert not d.has_reactions(("x:1", "acme"))
    assert d.report_counts("x:1", "x:1", "acme", 600, t0 + timedelta(minutes=5))
    decisions = d.evaluate(t0 + timedelta(minutes=5))
    assert [x.name.value for x in decisions] == ["first_alert"]
    assert decisions[0].fields.unseen_reactions == 600 and "public metrics" in decisions[0].reason
    plain = detector()
    plain.add_root(mention("x:1", None, "post", t0), "acme", COMPLAINT)
    for i in range(600):  # the same storm, every reaction seen
        plain.add_reaction(mention(f"x:{i + 2}", "x:1", "reply", t0 + timedelta(seconds=i / 2)), "x:1", "acme",
                           COMPLAINT)
    lines = [x.to_json() for x in plain.evaluate(t0 + timedelta(minutes=5))]
    assert lines and all("unseen_reactions" not in line and "reported_reactions" not in line for line in lines)


@pytest.mark.parametrize("short", ["backlog", "spent pace"])
def test_auto_counts_ask_once_when_search_falls_short_and_the_volume_reaches_the_spike_detector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short: str) -> None:
    from monitor.clock import SimulatedClock
    from monitor.config.settings import load_config
    from monitor.daemon import Daemon
    from tests.conftest import write_config

    monkeypatch.setenv("VOLUME_X_TOKEN", TOKEN)
    with XApi(token=TOKEN) as api:
        path = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}],
                            x={"api_url": api.url, "bearer_token_env": "VOLUME_X_TOKEN", "monthly_budget_usd": 31.0,
                               "page_size": 10, "max_pages_per_cycle": 1, "lookup": False})

        async def scenario() -> tuple[list[Any], int, Any]:
            now = datetime.now(UTC).replace(second=30, microsecond=0)
            clock = SimulatedClock(now)
            daemon = Daemon(load_config(path), clock=clock)
            try:
                api.add_tweet("acme first", author="a", created_at=now - timedelta(minutes=30))
                await daemon.poll("x:acme")  # all read: auto mode asks for no counts
                assert not [r for r in api.requests if r.path == "/2/tweets/counts/recent"]
                for i in range(25):
                    api.add_tweet(f"acme {i}", author=f"u{i}", created_at=now - timedelta(minutes=5, seconds=i))
                clock.advance(60)
                if short == "spent pace":  # others left 5 cents: no page of search, one count request
                    ledger = daemon.sources["x:acme"].ledger
                    at = clock.now()
                    ledger.charge("x:other", at, posts=round((ledger.allowed_usd(at) - ledger.spent_usd(at) - 0.05)
                                                             / 0.005))
                await daemon.poll("x:acme")
                asked = [r for r in api.requests if r.path == "/2/tweets/counts/recent"]
                searched = len([r for r in api.requests if r.path == "/2/tweets/search/recent"])
                tracker = daemon.pipeline.detector.volumes.get(("acme", "x"))
                return asked, searched, tracker
            finally:
                await daemon.http.aclose()
                daemon.store.close()

        asked, searched, tracker = asyncio.run(scenario())
    assert len(asked) == 1                                          # one request, $0.005
    assert searched == (2 if short == "backlog" else 1)             # a page of the backlog, or none: paced
    assert tracker is not None and sum(tracker.hourly.values()) == 26  # the last hour's posts, counted
