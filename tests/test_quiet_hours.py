"""Noise control per watch-list: quiet hours with a morning digest, silences, cooldown, daily digest."""

from __future__ import annotations

import argparse
import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.standins.slack import SlackStandIn
from monitor.alerts import Sender, SlackBot, quiet_hours
from monitor.alerts import outbox as ob
from monitor.alerts.cli import cmd_silence
from monitor.alerts.outbox import record_decisions
from monitor.clock import SimulatedClock
from monitor.config.settings import Config, QuietHours, Secret, load_config
from monitor.records.mention import Mention, format_time
from monitor.scoring.scores import Scorer
from monitor.store.database import MentionRow, Store

TOKEN = "xoxb-stand-in-token"
NIGHT = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)   # London is on UTC in early March
QUIET = {"from": "22:00", "to": "07:00", "timezone": "Europe/London", "min_severity": 2}


def write_config(tmp: Path, api_url: str, *, slack: dict[str, Any] | None = None,
                 watchlists: list[dict[str, Any]] | None = None, database: str | None = None) -> Config:
    (tmp / "watchlists").mkdir(exist_ok=True)
    default = {"name": "acme", "terms": ["acme"], "channel": "#acme-alerts", "vip_authors": ["@bigvoice"],
               "quiet_hours": QUIET, "alert": {"cooldown": "10m"}}
    for w in watchlists or [default]:
        (tmp / "watchlists" / f"{w['name']}.yaml").write_text(yaml.safe_dump(w))
    settings = {"database": database or str(tmp / "monitor.db"), "watchlists": "watchlists/",
                "slack": {"api_url": api_url, **(slack or {})}}
    (tmp / "monitor.yaml").write_text(yaml.safe_dump(settings))
    return load_config(tmp / "monitor.yaml")


def alert(root_id: str, at: datetime, *, level: str = "new", **over: Any) -> dict[str, Any]:
    d = {"at": format_time(at), "kind": "cascade", "level": level, "watchlist": "acme", "root_id": root_id,
         "decision": "first_alert" if level == "new" else "growth_update", "reason": "growing",
         "reactions": 120, "projected": 330, "rate": 40, "threshold": 300, "vip": False, "vips": [],
         "root": {"id": root_id, "source": "x", "text": f"complaint {root_id}", "url": f"https://x.com/s/{root_id}",
                  "author": {"handle": "jane", "followers": 800}}}
    d.update(over)
    return d


class Env:
    def __init__(self, tmp: Path, stand_in: SlackStandIn, clock: SimulatedClock, **kw: Any):
        self.tmp, self.slack, self.clock = tmp, stand_in, clock
        self.config = write_config(tmp, stand_in.api_url, **kw)
        self.store = Store(self.config.database)
        self.sender = self.new_sender()

    def new_sender(self) -> Sender:
        return Sender(self.config, self.store, SlackBot(Secret(TOKEN), api_url=self.slack.api_url),
                      self.clock, rng=random.Random(3))

    def record(self, *lines: dict[str, Any]) -> list[int]:
        return record_decisions(self.store, list(lines), channel_for=self.config.channel_for,
                                now=self.clock.now())

    def deliver(self) -> int:
        return asyncio.run(self.sender.deliver_due())

    def status(self, did: int) -> str:
        row = ob.get(self.store, did)
        assert row is not None
        return row.status


@pytest.fixture
def env(tmp_path: Path, db_target: str | Path) -> Any:
    """Over both engines: quiet hours, digests and silences read and write the store."""
    clock = SimulatedClock(NIGHT)
    with SlackStandIn(token=TOKEN, clock=clock) as slack:
        e = Env(tmp_path, slack, clock, database=str(db_target))
        yield e
        e.store.close()


# -- quiet hours ----------------------------------------------------------------------------------
def test_an_ordinary_alert_in_quiet_hours_waits_and_goes_out_as_a_morning_digest(env: Env) -> None:
    [did] = env.record(alert("x:1", NIGHT))
    env.deliver()
    assert env.slack.messages == [] and env.status(did) == "held"
    env.clock.set(datetime(2026, 3, 3, 6, 59, tzinfo=UTC))
    env.deliver()
    assert env.slack.messages == []
    env.clock.set(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    env.deliver()
    [digest] = env.slack.messages
    assert "Held overnight" in digest.blocks[0]["text"]["text"] and "complaint x:1" in str(digest.blocks)
    assert "22:00–07:00 Europe/London" in str(digest.blocks)
    assert env.status(did) == "digested"


def test_a_vip_complaint_goes_through_quiet_hours_at_once(env: Env) -> None:
    [did] = env.record(alert("x:1", NIGHT, vip=True, vips=["bigvoice"], decision="vip_joined"))
    env.deliver()
    assert env.status(did) == "sent" and len(env.slack.roots("#acme-alerts")) == 1


def test_a_very_fast_storm_goes_through_quiet_hours_at_once(env: Env) -> None:
    [slow, fast] = env.record(alert("x:1", NIGHT), alert("x:2", NIGHT, rate=900, projected=600))
    env.deliver()
    assert env.status(slow) == "held" and env.status(fast) == "sent"


def test_held_alerts_survive_a_restart(env: Env) -> None:
    [did] = env.record(alert("x:1", NIGHT))
    env.deliver()
    env.store.close()
    env.store = Store(env.config.database)  # a new process on the same database
    env.sender = env.new_sender()
    env.clock.set(datetime(2026, 3, 3, 7, 30, tzinfo=UTC))
    env.deliver()
    assert len(env.slack.messages) == 1 and env.status(did) == "digested"


def test_a_held_storm_appears_once_in_the_digest_with_its_latest_figures(env: Env) -> None:
    env.record(alert("x:1", NIGHT), alert("x:2", NIGHT))
    env.deliver()
    env.clock.advance(1800)
    env.record(alert("x:1", env.clock.now(), level="update", reactions=222))
    env.deliver()
    env.clock.set(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    env.deliver()
    [digest] = env.slack.messages
    text = str(digest.blocks)
    assert "2 storm(s)" in text and text.count("complaint x:1") == 1 and "222 reactions" in text


def test_quiet_hours_cross_midnight_in_their_own_timezone() -> None:
    qh = QuietHours.model_validate({"from": "22:00", "to": "07:00", "timezone": "Europe/London"})
    assert quiet_hours.is_quiet(qh, datetime(2026, 3, 2, 22, 30, tzinfo=UTC))
    assert quiet_hours.is_quiet(qh, datetime(2026, 3, 3, 6, 59, tzinfo=UTC))
    assert not quiet_hours.is_quiet(qh, datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    assert not quiet_hours.is_quiet(qh, datetime(2026, 7, 1, 20, 30, tzinfo=UTC))  # 21:30 BST
    assert quiet_hours.is_quiet(qh, datetime(2026, 7, 1, 21, 0, tzinfo=UTC))  # 22:00 BST
    # The night the clocks go forward, the quiet hours end at 07:00 BST = 06:00 UTC.
    ends = quiet_hours.quiet_ends(qh, datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert ends == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    daytime = QuietHours.model_validate({"from": "12:00", "to": "13:00"})
    assert quiet_hours.is_quiet(daytime, datetime(2026, 3, 2, 12, 30, tzinfo=UTC))
    assert not quiet_hours.is_quiet(daytime, datetime(2026, 3, 2, 13, 30, tzinfo=UTC))


def test_severity_grows_with_projection_and_speed_and_vips_always_pass() -> None:
    assert quiet_hours.severity({"projected": 300, "rate": 0, "threshold": 300}) == 1.0
    assert quiet_hours.severity({"projected": 300, "rate": 300, "threshold": 300}) == 2.0
    assert quiet_hours.severity({"reactions": 150, "threshold": 300}) == 0.5
    assert quiet_hours.severity({"vip": True}) == float("inf")
    assert quiet_hours.severity({"kind": "spike", "observed": 36, "baseline": 6}) == 2.0
    assert quiet_hours.severity({"severity": 0.3, "vip": True}) == 0.3
    assert quiet_hours.severity({}) == 0.0


# -- silences -------------------------------------------------------------------------------------
def test_a_silenced_watchlist_gets_no_messages_until_the_silence_ends(env: Env) -> None:
    env.clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    quiet_hours.add_silence(env.store, watchlist="acme", until=env.clock.now() + timedelta(hours=2),
                      reason="known outage")
    [a] = env.record(alert("x:1", env.clock.now()))
    env.deliver()
    row = ob.get(env.store, a)
    assert row is not None and row.status == "silenced" and "known outage" in (row.last_error or "")
    env.clock.advance(2 * 3600)
    [b] = env.record(alert("x:2", env.clock.now()))
    env.deliver()
    assert env.status(b) == "sent" and len(env.slack.messages) == 1


def test_silencing_one_cascade_leaves_the_others_alone(env: Env) -> None:
    env.clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    quiet_hours.add_silence(env.store, root_id="x:1", until=env.clock.now() + timedelta(hours=1))
    [a, b] = env.record(alert("x:1", env.clock.now()), alert("x:2", env.clock.now()))
    env.deliver()
    assert env.status(a) == "silenced" and env.status(b) == "sent"


def test_silence_command_adds_lists_and_lifts(env: Env, capsys: Any) -> None:
    def run(**kw: Any) -> int:
        args = {"config": str(env.config.path), "watchlist": None, "cascade": None, "list": False,
                "lift": None, "duration": None, "reason": None}
        args.update(kw)
        return cmd_silence(argparse.Namespace(**args))

    assert run(watchlist="acme", duration="2h", reason="PR knows") == 0
    assert "Silenced watch-list acme until" in capsys.readouterr().out
    assert run(cascade="x:9", duration="30m") == 0
    assert run(list=True) == 0
    listing = capsys.readouterr().out
    assert "watch-list acme until" in listing and "PR knows" in listing and "cascade x:9" in listing
    assert run(lift=1) == 0 and run(list=True) == 0
    assert "watch-list acme" not in capsys.readouterr().out
    assert run(watchlist="nope", duration="1h") == 2
    assert "no watch-list named 'nope'" in capsys.readouterr().err
    assert run(watchlist="acme", duration="soon") == 2 and "not a duration" in capsys.readouterr().err


# -- cooldown -------------------------------------------------------------------------------------
def test_cooldown_delays_updates_of_a_storm_and_never_drops_them(env: Env) -> None:
    env.clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    env.record(alert("x:1", env.clock.now()))
    env.deliver()
    env.clock.advance(120)
    [u] = env.record(alert("x:1", env.clock.now(), level="update", reactions=500))
    env.deliver()
    row = ob.get(env.store, u)
    assert row is not None and row.status == "pending" and row.next_attempt_at == datetime(2026, 3, 3, 10, 10,
                                                                                             tzinfo=UTC)
    env.clock.set(datetime(2026, 3, 3, 10, 10, tzinfo=UTC))
    env.deliver()
    assert env.status(u) == "sent"
    assert len(env.slack.replies("#acme-alerts", env.slack.roots("#acme-alerts")[0].ts)) == 1


def test_a_vip_joining_skips_the_cooldown(env: Env) -> None:
    env.clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    env.record(alert("x:1", env.clock.now()))
    env.deliver()
    env.clock.advance(60)
    [u] = env.record(alert("x:1", env.clock.now(), level="update", decision="vip_joined", vip=True))
    env.deliver()
    assert env.status(u) == "sent"


def test_one_storm_cooling_down_does_not_hold_back_another(env: Env) -> None:
    env.clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    env.record(alert("x:1", env.clock.now()))
    env.deliver()
    env.clock.advance(60)
    [u, other] = env.record(alert("x:1", env.clock.now(), level="update"), alert("x:2", env.clock.now()))
    env.deliver()
    assert env.status(u) == "pending" and env.status(other) == "sent"


# -- daily digest ---------------------------------------------------------------------------------
def _mention(mid: str, at: datetime, text: str) -> Mention:
    return Mention.from_json({"id": mid, "source": "x", "kind": "post", "parent_id": None, "url": None,
                              "author": {"id": "1", "handle": "jane"}, "text": text,
                              "created_at": format_time(at), "observed_at": format_time(at)})


def test_the_daily_digest_goes_out_once_at_the_configured_time(tmp_path: Path) -> None:
    clock = SimulatedClock(datetime(2026, 3, 3, 8, 59, tzinfo=UTC))
    with SlackStandIn(token=TOKEN, clock=clock) as slack:
        e = Env(tmp_path, slack, clock, slack={"digest_at": "09:00", "digest_timezone": "UTC"},
                watchlists=[{"name": "acme", "terms": ["acme"], "channel": "#acme-alerts"}])
        earlier = clock.now() - timedelta(hours=2)
        rows = [MentionRow(_mention(f"x:{i}", earlier, "acme broke"), f"x:{i}", ("acme",), sentiment=-0.5,
                           complaint=0.9 if i % 2 else 0.1,  # a category only on complaints, as scoring writes them
                           category="billing" if i % 2 else None)
                for i in range(10)]
        e.store.write_mentions(rows, now=clock.now())
        e.record(alert("x:1", clock.now() - timedelta(hours=1), reactions=700))
        e.deliver()
        assert len(slack.messages) == 1  # the storm itself, no digest before 09:00
        clock.set(datetime(2026, 3, 3, 9, 0, 30, tzinfo=UTC))
        e.deliver()
        clock.advance(3600)
        e.deliver()
        digests = [m for m in slack.messages if "Daily digest" in str(m.blocks)]
        assert len(digests) == 1
        text = str(digests[0].blocks)
        assert "*10* mentions, *5* complaints (50%), 1 storm alert(s)" in text and "complaint x:1" in text
        assert "Sentiment: average -0.50" in text
        clock.set(datetime(2026, 3, 4, 9, 1, tzinfo=UTC))
        e.deliver()
        assert len([m for m in slack.messages if "Daily digest" in str(m.blocks)]) == 2
        e.store.close()


def test_the_daily_digest_counts_what_the_complaint_model_called_a_complaint(env: Env) -> None:
    now = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    scorer = Scorer()
    texts = ["acme charged me twice and support never answered", "love my new acme phone",
             "acme cancelled my order without a refund, third time", "acme keynote at 9"]
    scores = [scorer.score(t).complaint for t in texts]
    rows = [MentionRow(_mention(f"x:{i}", now - timedelta(hours=1), t), f"x:{i}", ("acme",), sentiment=-0.5,
                       complaint=c.probability, specific=c.specific, category=c.category)
            for i, (t, c) in enumerate(zip(texts, scores, strict=True))]
    env.store.write_mentions(rows, now=now)
    digest = quiet_hours.daily_digest(env.store, "acme", now)
    assert 0 < sum(c.is_complaint for c in scores) < len(texts)
    assert digest["mentions"] == 4 and digest["complaints"] == sum(c.is_complaint for c in scores)


def test_no_digest_time_configured_means_no_daily_digest(env: Env) -> None:
    assert env.config.settings.slack.digest_at is None
    assert quiet_hours.queue_daily_digests(env.store, env.config, datetime(2026, 3, 3, 9, 0, tzinfo=UTC)) == []
