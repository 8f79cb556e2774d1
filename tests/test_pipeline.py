"""The pipeline: match, link cascades, score, store, detect, decide; the same for replay and daemon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import SimulatedClock
from monitor.config.settings import Config, load_config
from monitor.detect.detector import spike_settings
from monitor.detect.spikes import _hour as hour_index
from monitor.engine.pipeline import Pipeline
from monitor.records.mention import Author, Mention
from monitor.store.database import Store
from tests.conftest import ACME, write_config

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
COMPLAINT = "I tried to cancel my @acme subscription 3 times and nobody answers. Charged again, order #55123."


def post(i: int, text: str, *, kind: str = "post", parent: str | None = None, links: list[str] | None = None,
         url: str | None = None, source: str = "x", followers: int = 100, minutes: float = 0) -> Mention:
    at = T0 + timedelta(minutes=minutes)
    return Mention(id=f"{source}:{i}", source=source, kind=kind, parent_id=parent,
                   url=url or f"https://x.com/u{i}/status/{i}", author=Author(str(i), f"user{i}", followers=followers),
                   text=text, links=links or [], created_at=at, observed_at=at)


@pytest.fixture
def config(tmp_path: Path, db_target: str | Path) -> Config:
    """The pipeline's tests run over both engines: its store is SQLite or PostgreSQL."""
    return load_config(write_config(tmp_path, [ACME], database=str(db_target)))


def pipeline(config: Config, clock: SimulatedClock | None = None) -> Pipeline:
    return Pipeline(config, Store(config.database), clock or SimulatedClock(T0), deliver=False)


def test_mentions_that_name_no_term_and_react_to_nothing_tracked_are_dropped(config: Config) -> None:
    p = pipeline(config)
    result = p.ingest([post(1, "lovely weather"), post(2, "acme is down again")])
    assert (result.new, result.dropped) == (1, 1)


def test_a_reaction_stays_with_its_cascade_even_without_a_term(config: Config) -> None:
    p = pipeline(config)
    p.ingest([post(1, COMPLAINT)])
    p.ingest([post(2, "same here, awful", kind="reply", parent="x:1"),
              post(3, "RT", kind="repost", parent="x:2")])
    roots = p.store.tracked(["x:2", "x:3"])
    assert roots["x:2"].root_id == "x:1" and roots["x:3"].root_id == "x:1"


def test_a_reply_and_its_parent_in_one_batch_are_linked(config: Config) -> None:
    p = pipeline(config)
    p.ingest([post(1, COMPLAINT), post(2, "ugh", kind="reply", parent="x:1")])
    assert p.store.tracked(["x:2"])["x:2"].root_id == "x:1"


def test_replies_polled_newest_first_join_their_parents_cascade_even_when_they_name_a_term(
        config: Config) -> None:
    p = pipeline(config)
    # X returns newest first: the reply to the reply, the reply, then the root, all naming acme.
    p.ingest([post(3, "@acme same, and acme never called back", kind="reply", parent="x:2"),
              post(2, "@acme this happened to me too", kind="reply", parent="x:1"),
              post(1, COMPLAINT)])
    roots = p.store.tracked(["x:1", "x:2", "x:3"])
    assert {k: v.root_id for k, v in roots.items()} == {"x:1": "x:1", "x:2": "x:1", "x:3": "x:1"}


def test_a_post_linking_a_tracked_blog_post_joins_its_cascade(config: Config) -> None:
    p = pipeline(config)
    blog = post(1, "My acme router died and support hung up on me", source="rss",
                url="https://blog.example.org/2026/11/router/")
    p.ingest([blog])
    share = post(2, "read this", links=["HTTPS://Blog.Example.org/2026/11/router?utm_source=x#top"])
    p.ingest([share])
    assert p.store.tracked(["x:2"])["x:2"].root_id == "rss:1"


def test_a_spreading_complaint_alerts_once_then_updates_the_same_cascade(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)  # threshold 20
    p.ingest([post(1, COMPLAINT)])
    levels = []
    for i in range(2, 80):
        p.ingest([post(i, "this happened to me too", kind="reply", parent="x:1", minutes=i)])
        clock.set(T0 + timedelta(minutes=i, seconds=30))
        levels += [(d.level, d.name) for d in p.detect()]
    assert levels[0] == ("new", "first_alert")
    assert [lv for lv, _ in levels].count("new") == 1
    assert ("update", "growth_update") in levels


def test_praise_that_spreads_is_suppressed_with_a_named_reason(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)
    p.ingest([post(1, "@acme thanks for the quick refund, great service!")])
    p.ingest([post(i, "RT", kind="repost", parent="x:1", minutes=1) for i in range(2, 40)])
    clock.set(T0 + timedelta(minutes=2))
    decisions = p.detect()
    assert [(d.name, d.level) for d in decisions] == [("suppressed_not_complaint", None)]
    assert "not a complaint" in decisions[0].reason


def test_a_restart_never_sends_a_second_new_alert_for_the_same_cascade(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)
    p.ingest([post(1, COMPLAINT)])
    p.ingest([post(i, "me too", kind="reply", parent="x:1", minutes=1) for i in range(2, 30)])
    clock.set(T0 + timedelta(minutes=2))
    assert [d.level for d in p.detect()] == ["new"]
    p.store.close()
    again = pipeline(config, clock)
    again.ingest([post(i, "me too", kind="reply", parent="x:1", minutes=3) for i in range(30, 34)])
    clock.set(T0 + timedelta(minutes=4))
    assert all(d.level != "new" for d in again.detect())


def test_a_tweet_sharing_a_blog_post_seen_before_the_post_joins_its_cascade_when_the_post_arrives(
        config: Config) -> None:
    p = pipeline(config)
    share = post(2, "read this", links=["https://blog.example.org/2026/11/router?utm_medium=social"])
    assert p.ingest([share]).new == 0  # nothing tracked to react to yet: it waits
    blog = post(1, "My acme router died and support hung up on me", source="rss",
                url="https://blog.example.org/2026/11/router/")
    result = p.ingest([blog])
    assert result.new == 2
    assert p.store.tracked(["x:2"])["x:2"].root_id == "rss:1"


def test_a_blog_post_linking_a_tweet_seen_before_the_tweet_joins_its_cascade_under_any_form_of_its_address(
        config: Config) -> None:
    p = pipeline(config)
    blog = post(2, "look at what this customer went through", source="rss", url="https://blog.example.org/p",
                links=["https://twitter.com/user1/status/1?s=20"])
    assert p.ingest([blog]).new == 0  # the tweet is not tracked yet: it waits
    assert p.ingest([post(1, COMPLAINT)]).new == 2  # at x.com/u1/status/1
    assert p.store.tracked(["rss:2"])["rss:2"].root_id == "x:1"


def test_a_reply_seen_before_its_parent_is_adopted_with_its_own_replies(config: Config) -> None:
    p = pipeline(config)
    p.ingest([post(3, "so true", kind="reply", parent="x:2", minutes=2)])
    p.ingest([post(2, "same here", kind="reply", parent="x:1", minutes=1)])
    p.ingest([post(1, COMPLAINT)])
    tracked = p.store.tracked(["x:2", "x:3"])
    assert tracked["x:2"].root_id == "x:1" and tracked["x:3"].root_id == "x:1"
    assert p.store.conn.execute("SELECT count(*) FROM orphans").fetchone()[0] == 0


OUTAGE = ["@acme is down again, I cannot log in", "acme app not loading for anyone? error every time",
          "is acme down? no service since this morning", "acme outage again, can't pay for anything",
          "@acme your website is down and the app crashes", "no internet from acme for 2 hours now"]


def outage_reports(first: int, count: int, minutes: float) -> list[Mention]:
    return [post(first + k, OUTAGE[k % len(OUTAGE)], minutes=minutes + k * 0.5, followers=50 + k)
            for k in range(count)]


def test_an_outage_that_outlasts_a_restart_gets_no_second_spike_alert(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)
    p.ingest(outage_reports(100, 12, minutes=0))
    clock.set(T0 + timedelta(minutes=8))
    assert [(d.kind, d.level) for d in p.detect()] == [("spike", "new")]
    p.store.close()
    again = pipeline(config, clock)
    again.ingest(outage_reports(200, 6, minutes=9))
    clock.set(T0 + timedelta(minutes=14))
    assert not [d for d in again.detect() if d.kind == "spike" and d.level == "new"]


def test_a_spikes_examples_show_the_author_and_link_of_reports_nobody_reacted_to(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)
    reports = {m.id: m for m in outage_reports(100, 12, minutes=0)}
    p.ingest(list(reports.values()))
    clock.set(T0 + timedelta(minutes=8))
    [spike] = p.detect()
    examples = spike.fields.examples
    assert examples and all(e["author"] == reports[e["id"]].author.handle and e["url"] == reports[e["id"]].url
                            and e["followers"] == reports[e["id"]].author.followers for e in examples)


def test_a_restart_keeps_the_complaint_baseline_of_past_weeks(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = pipeline(config, clock)
    for day in range(1, 8):  # a week of four complaints an hour, three days back and more
        for hour in range(24):
            at = T0 - timedelta(days=day, hours=hour)
            p.ingest([post(day * 1000 + hour * 10 + k, OUTAGE[k], minutes=(at - T0).total_seconds() / 60 + k * 7)
                      for k in range(4)])
    p.store.close()
    again = pipeline(config, clock)
    tracker = again.detector.spikes["acme"]
    assert sum(tracker.hourly.values()) == 7 * 24 * 4
    baseline = tracker.baseline(hour_index(T0.timestamp()), spike_settings(config.settings.detection))
    assert baseline.basis == "hour of day" and baseline.median == 4
