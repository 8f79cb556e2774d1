"""Volume spikes: many independent complaints at once, judged against an hour-of-week robust baseline."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.complaint import ComplaintScore
from monitor.config import DetectionSettings, Watchlist
from monitor.detect import Detector
from monitor.records import Author, Mention
from monitor.scoring import Scores
from monitor.spikes import Spike, SpikeSettings, SpikeTracker, poisson_sf

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
S = SpikeSettings()
CHECK = timedelta(minutes=1)


def background(rng: random.Random, start: datetime, hours: float, per_hour: float) -> list[datetime]:
    """Poisson arrivals of ordinary complaints (the steady trickle every brand gets)."""
    out: list[datetime] = []
    t = 0.0
    while True:
        t += rng.expovariate(per_hour / 3600)
        if t > hours * 3600:
            return out
        out.append(start + timedelta(seconds=t))


def burst(start: datetime, n: int, minutes: float) -> list[datetime]:
    return [start + timedelta(seconds=i * minutes * 60 / n) for i in range(n)]


def run(tracker: SpikeTracker, times: list[datetime], until: datetime, start: datetime | None = None,
        settings: SpikeSettings = S) -> list[Spike]:
    """Feed complaints in time order, checking every minute as the detector does; return the spikes."""
    times = sorted(times)
    now = start or times[0]
    spikes, i = [], 0
    while now <= until:
        while i < len(times) and times[i] <= now:
            tracker.add(times[i], f"x:{i}", f"is acme down? error {i % 7} on checkout")
            i += 1
        found = tracker.check(now, settings)
        if found is not None:
            spikes.append(found)
        now += CHECK
    return spikes


def test_poisson_tail_matches_the_direct_sum() -> None:
    for k, mean in ((0, 3.0), (1, 2.0), (5, 2.0), (12, 4.5), (30, 10.0)):
        direct = 1 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k))
        assert poisson_sf(k, mean) == pytest.approx(direct, rel=1e-9, abs=1e-15)


def test_an_ordinary_week_of_complaints_raises_no_spike() -> None:
    rng = random.Random(1)
    times = background(rng, MONDAY, 7 * 24, 4)
    assert run(SpikeTracker(), times, MONDAY + timedelta(days=7), start=MONDAY) == []


def test_a_burst_far_above_the_baseline_alerts_once_with_counts_against_the_baseline() -> None:
    rng = random.Random(2)
    outage = MONDAY + timedelta(days=3, hours=14)
    times = background(rng, MONDAY, 4 * 24, 4) + burst(outage, 60, 30)
    spikes = run(SpikeTracker(), times, MONDAY + timedelta(days=4), start=MONDAY)
    assert len(spikes) == 1
    sp = spikes[0]
    assert outage - timedelta(minutes=30) <= sp.start <= outage + timedelta(minutes=10)
    assert sp.observed >= S.min_complaints and sp.observed >= S.ratio * sp.expected
    assert sp.p_value <= S.p_value
    assert sp.baseline.basis == "hour of day" and sp.baseline.median <= 6


def test_a_long_outage_is_one_episode_and_a_later_one_is_another() -> None:
    rng = random.Random(3)
    first = MONDAY + timedelta(days=2, hours=10)
    second = MONDAY + timedelta(days=2, hours=18)
    times = background(rng, MONDAY, 3 * 24, 3) + burst(first, 300, 180) + burst(second, 60, 30)
    spikes = run(SpikeTracker(), times, MONDAY + timedelta(days=3), start=MONDAY)
    assert len(spikes) == 2
    assert spikes[0].start < first + timedelta(minutes=15)
    assert second - timedelta(minutes=30) <= spikes[1].start <= second + timedelta(minutes=15)


def test_an_earlier_outage_does_not_raise_the_bar_for_the_next() -> None:
    rng = random.Random(4)
    times = background(rng, MONDAY, 10 * 24, 4)
    for day in (7, 8, 9):  # three outages at 14:00 on three days running, after a clean week
        times += burst(MONDAY + timedelta(days=day, hours=14), 80, 40)
    spikes = run(SpikeTracker(), times, MONDAY + timedelta(days=10), start=MONDAY)
    assert [sp.start.date() for sp in spikes] == [(MONDAY + timedelta(days=d)).date() for d in (7, 8, 9)]


def test_the_baseline_median_ignores_a_spike_that_was_never_alerted() -> None:
    tracker = SpikeTracker()
    hour0 = int((MONDAY - datetime(1970, 1, 5, tzinfo=UTC)).total_seconds() // 3600)
    tracker.since = hour0
    for day in range(7):
        for h in range(24):
            tracker.hourly[hour0 + day * 24 + h] = 4
    tracker.hourly[hour0 + 2 * 24 + 14] = 90  # a spike at 14:00 on Wednesday, say with alerts switched off
    base = tracker.baseline(hour0 + 7 * 24 + 14, S)
    assert base.basis == "hour of day"
    assert base.median == 4 and base.mad == 0


def test_a_rush_hour_alerts_at_most_until_history_shows_it_comes_every_day() -> None:
    rng = random.Random(5)
    times: list[datetime] = []
    for day in range(7):
        noon = MONDAY + timedelta(days=day)
        times += background(rng, noon, 12, 2) + background(rng, noon + timedelta(hours=12), 3, 24)
        times += background(rng, noon + timedelta(hours=15), 9, 2)
    spikes = run(SpikeTracker(), times, MONDAY + timedelta(days=7), start=MONDAY)
    assert spikes and all(sp.start < MONDAY + timedelta(days=1) for sp in spikes)


def test_a_few_complaints_on_a_quiet_watch_list_are_no_spike() -> None:
    start = MONDAY + timedelta(days=1, hours=3)
    spikes = run(SpikeTracker(), burst(start, S.min_complaints - 1, 10), start + timedelta(hours=1),
                 start=MONDAY + timedelta(days=1))
    assert spikes == []


def test_many_posts_sharing_one_link_count_once() -> None:
    tracker = SpikeTracker()
    start = MONDAY + timedelta(days=1, hours=10)
    for i in range(40):
        tracker.add(start + timedelta(seconds=20 * i), f"x:{i}", "acme is down, read this",
                    link="https://news.example.org/acme-outage")
    assert len(tracker.recent) == 1


def test_a_spike_reports_shared_terms_but_not_the_brand_and_distinct_examples() -> None:
    tracker = SpikeTracker(ignore=frozenset({"acme"}))
    start = MONDAY + timedelta(days=1, hours=10)
    tracker.check(start - timedelta(hours=4), S)  # watching since: a baseline of quiet hours
    texts = ["is acme down? checkout error", "acme checkout keeps failing", "acme checkout error 503",
             "is acme down? checkout error"] * 5
    for i, text in enumerate(texts):
        tracker.add(start + timedelta(seconds=30 * i), f"x:{i}", text)
    sp = tracker.check(start + timedelta(minutes=10), S)
    assert sp is not None
    assert sp.top_terms[0] == "checkout" and "acme" not in sp.top_terms and "error" in sp.top_terms
    assert len({t for _, t in sp.examples}) == len(sp.examples) == 3


# -- through the detector: what counts, and the decision ------------------------------------------
def _mention(i: int, at: datetime, text: str, kind: str = "post", parent: str | None = None) -> Mention:
    return Mention(id=f"x:{i}", source="x", kind=kind, parent_id=parent, url=f"https://x.com/u{i}/status/{i}",
                   author=Author(str(i), f"user{i}", followers=100), text=text, links=[], created_at=at,
                   observed_at=at)


def _scores(is_complaint: bool, category: str = "outage") -> Scores:
    c = ComplaintScore(0.9 if is_complaint else 0.05, is_complaint, False, category if is_complaint else None, ())
    return Scores(-0.4 if is_complaint else 0.5, c)


def _detector(spike: bool = True) -> Detector:
    wl = Watchlist(name="acme", terms=["acme"], alert={"spike": spike})
    return Detector({"acme": wl}, DetectionSettings())


def _outage(d: Detector, start: datetime, n: int = 30, is_complaint: bool = True) -> list[str]:
    names = [x.name for x in d.evaluate(start - timedelta(hours=4))]  # watching since: quiet hours
    for i in range(n):
        at = start + timedelta(seconds=40 * i)
        d.add_root(_mention(i, at, f"is acme down? app error {i}"), "acme", _scores(is_complaint))
        names += [x.name for x in d.evaluate(at + timedelta(seconds=1))]
    return names


def test_an_outage_becomes_one_spike_alert_with_terms_and_examples() -> None:
    d = _detector()
    start = MONDAY + timedelta(hours=10)
    decisions = d.evaluate(start - timedelta(hours=4))  # watching since: quiet hours
    for i in range(30):
        at = start + timedelta(seconds=40 * i)
        d.add_root(_mention(i, at, f"is acme down? app error {i}"), "acme", _scores(True))
        decisions += d.evaluate(at + timedelta(seconds=1))
    assert [(x.name, x.kind, x.level) for x in decisions] == [("spike_alert", "spike", "new")]
    f = decisions[0].fields
    assert f["observed"] >= 8 and f["observed"] > f["baseline"]
    assert "down" in f["top_terms"] and "acme" not in f["top_terms"] and f["examples"]
    assert all(e["author"] and e["url"] for e in f["examples"])  # who to get back to, and where
    assert decisions[0].root_id.startswith("spike:acme:")


def test_only_complaints_count_towards_a_spike() -> None:
    assert _outage(_detector(), MONDAY + timedelta(hours=10), is_complaint=False) == []


def test_a_spike_on_a_watch_list_with_spikes_off_is_recorded_not_alerted() -> None:
    names = _outage(_detector(spike=False), MONDAY + timedelta(hours=10))
    assert names == ["suppressed_spike_disabled"]


def test_outage_reports_are_judged_against_their_own_far_lower_baseline() -> None:
    # A busy watch-list: a dozen billing complaints an hour. Ten "is it down?" reports in twenty
    # minutes are lost in that volume, but outage reports are rare until something is down.
    d = _detector()
    rng = random.Random(6)
    times = [(t, "billing") for t in background(rng, MONDAY, 3 * 24 + 14, 12)]
    outage = MONDAY + timedelta(days=3, hours=14)
    times += [(t, "outage") for t in burst(outage, 10, 20)]
    decisions, now = [], MONDAY
    for i, (at, category) in enumerate(sorted(times)):
        while now < at:
            decisions += d.evaluate(now)
            now += CHECK
        d.add_root(_mention(i, at, f"acme problem {category} {i}"), "acme", _scores(True, category))
    decisions += d.evaluate(now + CHECK)
    decisions = [x for x in decisions if x.at >= MONDAY + timedelta(days=1)]  # a new watch-list has no baseline
    assert [(x.name, x.fields["scope"]) for x in decisions] == [("spike_alert", "outage reports")]
    assert outage <= decisions[0].at <= outage + timedelta(minutes=20)
    assert "outage reports in 30m" in decisions[0].reason



def test_top_terms_do_not_depend_on_hash_order() -> None:
    """Replays must be repeatable: equal counts rank in the order the words first appeared."""
    import subprocess
    import sys

    code = ("from datetime import datetime, timezone; from monitor.spikes import SpikeTracker\n"
            "t = SpikeTracker(); at = datetime(2026, 11, 2, tzinfo=timezone.utc)\n"
            "for i, text in enumerate(['router modem billing outage', 'outage billing modem router'] * 2):\n"
            "    t.add(at, str(i), text)\n"
            "print(t.top_terms())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout for seed in range(4)}
    assert runs == {"['router', 'modem', 'billing', 'outage']\n"}
