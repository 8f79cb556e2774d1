"""Volume spikes: many independent complaints at once, judged against an hour-of-week robust baseline."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config.settings import DetectionSettings, Watchlist
from monitor.detect.detector import Detector
from monitor.detect.spikes import Spike, SpikeSettings, SpikeTracker
from monitor.detect.spikes import _hour as hour_index
from monitor.detect.tails import betabinom_sf, nbinom_sf, poisson_sf
from monitor.records.decision import SpikeMeasures
from monitor.records.mention import Author, Mention
from monitor.records.scores import ComplaintScore, Scores

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
    for day in (7, 8):  # two outages at 14:00 on two days running, after a clean week
        times += burst(MONDAY + timedelta(days=day, hours=14), 80, 40)
    spikes = run(SpikeTracker(), times, MONDAY + timedelta(days=10), start=MONDAY)
    assert [sp.start.date() for sp in spikes] == [(MONDAY + timedelta(days=d)).date() for d in (7, 8)]


def test_a_burst_must_beat_all_but_one_of_the_last_two_weeks_days_alerted_or_not() -> None:
    # Real volume bursts a few times a week (the brand in the news, a viral post), far beyond any law
    # fitted to its bulk. So a window must be more extreme than the fullest hour of every day but one
    # of the last two weeks, alerted days included: a third burst of the same size in three days is
    # that volume's habit, not news (an outage shows in its outage reports, judged on their own).
    rng = random.Random(4)
    times = background(rng, MONDAY, 10 * 24, 4)
    for day in (7, 8, 9):
        times += burst(MONDAY + timedelta(days=day, hours=14), 80, 40)
    spikes = run(SpikeTracker(), times, MONDAY + timedelta(days=10), start=MONDAY)
    assert [sp.start.date() for sp in spikes] == [(MONDAY + timedelta(days=d)).date() for d in (7, 8)]
    # A bigger third still alerts; with the records off, so does the same size.
    bigger = [t for t in times if t.date() != (MONDAY + timedelta(days=9)).date() or t.hour != 14]
    bigger += burst(MONDAY + timedelta(days=9, hours=14), 160, 40)
    assert len(run(SpikeTracker(), bigger, MONDAY + timedelta(days=10), start=MONDAY)) == 3
    unrecorded = run(SpikeTracker(), times, MONDAY + timedelta(days=10), start=MONDAY,
                     settings=replace(S, record_days=-1))
    assert len(unrecorded) == 3


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
def _mention(i: int, at: datetime, text: str, kind: str = "post", parent: str | None = None,
             author: int | None = None) -> Mention:
    a = i if author is None else author
    return Mention(id=f"x:{i}", source="x", kind=kind, parent_id=parent, url=f"https://x.com/u{a}/status/{i}",
                   author=Author(str(a), f"user{a}", followers=100), text=text, links=[], created_at=at,
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
    assert isinstance(f, SpikeMeasures)
    # "is it down?" reports: their own test, with its own minimum, sees them first
    assert f.scope == "outage reports" and f.observed == DetectionSettings().spike_min_outage_reports
    assert f.observed > f.baseline
    assert "down" in f.top_terms and "acme" not in f.top_terms and f.examples
    assert all(e["author"] and e["url"] for e in f.examples)  # who to get back to, and where
    assert decisions[0].root_id.startswith("spike:acme:")


def _mixed_spike(billing: int) -> SpikeMeasures:
    """A quiet watch-list, then ``billing`` billing complaints two minutes apart followed by "is it down?"
    reports 45 seconds apart: the one spike alert's measures."""
    d = _detector()
    start = MONDAY + timedelta(hours=10)
    decisions = d.evaluate(start - timedelta(hours=4))  # watching since: quiet hours
    at = start
    for i in range(20):
        outage = i >= billing
        at += timedelta(seconds=45 if outage else 120)
        text = f"is acme down? the app shows error {i}" if outage else f"acme billed me twice, refund {i}"
        d.add_root(_mention(i, at, text), "acme", _scores(True, "outage" if outage else "billing"))
        decisions += d.evaluate(at + timedelta(seconds=1))
    [spike] = [x for x in decisions if x.name == "spike_alert"]
    assert isinstance(spike.fields, SpikeMeasures)
    return spike.fields


def test_a_spike_made_mostly_of_outage_reports_shows_outage_reports_as_its_examples() -> None:
    # All complaints pass the bar before the outage reports alone do, so the spike is one of complaints, and
    # the window's oldest complaints (the examples it would show) are billing ones. Most of the window is
    # "is it down?": that is what the team must see.
    f = _mixed_spike(billing=3)
    assert f.scope == "complaints" and f.observed < 8 + 3
    assert f.examples and all("down?" in e["text"] for e in f.examples), f.examples


def test_a_spike_of_other_complaints_keeps_them_as_its_examples() -> None:
    f = _mixed_spike(billing=6)
    assert f.scope == "complaints"
    assert f.examples and all("billed me twice" in e["text"] for e in f.examples), f.examples


def test_only_complaints_count_towards_a_spike() -> None:
    assert _outage(_detector(), MONDAY + timedelta(hours=10), is_complaint=False) == []


def test_a_spike_on_a_watch_list_with_spikes_off_is_recorded_not_alerted() -> None:
    names = _outage(_detector(spike=False), MONDAY + timedelta(hours=10))
    assert names == ["suppressed_spike_disabled"]


def test_outage_reports_are_judged_against_their_own_far_lower_baseline() -> None:
    # A busy watch-list: a dozen billing complaints an hour. Ten "is it down?" reports in twenty
    # minutes are lost in that volume, but outage reports are rare until something is down.
    decisions = _reports_on_a_steady_watch_list(10, minutes=20, per_hour=12, seed=6)
    outage = MONDAY + timedelta(days=3, hours=14)
    assert [(x.name, x.fields.scope) for x in decisions] == [("spike_alert", "outage reports")]
    assert outage <= decisions[0].at <= outage + timedelta(minutes=20)
    assert "outage reports in 30m" in decisions[0].reason



def _reports_on_a_steady_watch_list(n: int, category: str = "outage", *, minutes: float | None = None,
                                    per_hour: float = 4, seed: int = 8, authors: int | None = None) -> list:
    """Three days and fourteen hours of ``per_hour`` billing complaints an hour, then ``n`` complaints of
    ``category`` evenly over ``minutes`` (two minutes apart by default), each from its own author or
    in turn from ``authors`` of them: the decisions after the first day (a new watch-list has no
    baseline)."""
    d = _detector()
    rng = random.Random(seed)
    times = [(t, "billing") for t in background(rng, MONDAY, 3 * 24 + 14, per_hour)]
    start = MONDAY + timedelta(days=3, hours=14)
    times += [(t, category) for t in burst(start, n, 2 * n if minutes is None else minutes)]
    decisions, now, reports = [], MONDAY, 0
    for i, (at, cat) in enumerate(sorted(times)):
        while now < at:
            decisions += d.evaluate(now)
            now += CHECK
        author = None
        if authors is not None and at >= start:
            author, reports = -1 - reports % authors, reports + 1
        d.add_root(_mention(i, at, f"acme problem {cat} {i}", author=author), "acme", _scores(True, cat))
    decisions += d.evaluate(now + CHECK)
    return [x for x in decisions if x.at >= MONDAY + timedelta(days=1)]


def test_five_outage_reports_in_ten_minutes_alert_before_all_complaints_reach_their_minimum() -> None:
    # A small outage: five "is it down?" reports in ten minutes on a watch-list that sees about one in
    # a day. All complaints together stay under spike_min_complaints (8); the outage reports alone have
    # their own minimum (spike_min_outage_reports, 5), the smallest count their test can pass at the
    # floor of 0.5 an hour (P(5 or more | 0.25 expected) = 7e-6; 4 would be 1.3e-4).
    decisions = _reports_on_a_steady_watch_list(5)
    assert [(x.name, x.fields.scope) for x in decisions] == [("spike_alert", "outage reports")]
    assert decisions[0].fields.observed == 5


def test_four_outage_reports_or_five_other_complaints_are_no_spike() -> None:
    assert _reports_on_a_steady_watch_list(4) == []
    assert _reports_on_a_steady_watch_list(5, category="delivery") == []


def test_one_author_posting_again_and_again_is_no_spike() -> None:
    # A spike is many people. One account posting "is it down?" ten times in twenty minutes, or two
    # accounts taking turns, counts once each in the window; five accounts are an outage.
    assert _reports_on_a_steady_watch_list(10, authors=1) == []
    assert _reports_on_a_steady_watch_list(10, authors=2) == []
    decisions = _reports_on_a_steady_watch_list(10, authors=5)
    assert [(x.name, x.fields.scope) for x in decisions] == [("spike_alert", "outage reports")]
    assert decisions[0].fields.observed == 5


def test_an_author_counts_once_a_window_and_again_after_it() -> None:
    t = SpikeTracker()
    for minutes in (0, 10, 29, 31, 45):
        t.add(MONDAY + timedelta(minutes=minutes), f"x:{minutes}", "acme down", author="x:7")
    t.add(MONDAY + timedelta(minutes=12), "x:99", "acme down", author="x:8")
    assert [x[1] for x in t.recent] == ["x:0", "x:99", "x:31"]
    assert sum(t.hourly.values()) == 3


def test_the_outage_report_minimum_is_its_own_setting() -> None:
    assert DetectionSettings().spike_min_outage_reports == 5
    d = Detector({"acme": Watchlist(name="acme", terms=["acme"])}, DetectionSettings(spike_min_outage_reports=8))
    assert d._outage_each.min_complaints == 8 and d._spike_each.min_complaints == 8


def test_top_terms_do_not_depend_on_hash_order() -> None:
    """Replays must be repeatable: equal counts rank in the order the words first appeared."""
    import subprocess
    import sys

    code = ("from datetime import datetime, timezone; from monitor.detect.spikes import SpikeTracker\n"
            "t = SpikeTracker(); at = datetime(2026, 11, 2, tzinfo=timezone.utc)\n"
            "for i, text in enumerate(['router modem billing outage', 'outage billing modem router'] * 2):\n"
            "    t.add(at, str(i), text)\n"
            "print(t.top_terms())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout for seed in range(4)}
    assert runs == {"['router', 'modem', 'billing', 'outage']\n"}


# -- overdispersed volume: the count's law is measured from the watch-list's own history -----------
def bursty(rng: random.Random, start: datetime, days: int, per_hour: float, shape: float = 5.0,
           bursts_per_day: float = 2.0) -> list[datetime]:
    """Complaints as real volume has them: a daily rhythm, each hour's rate gamma-distributed around
    it (so hourly counts are negative binomial, variance far above the mean), and news bursts of
    1.5 to 2.5 times the usual rate on top for half an hour or so, every day; none is an incident."""
    out: list[datetime] = []
    for h in range(days * 24):
        hour = start + timedelta(hours=h)
        usual = per_hour * (0.3 + 0.7 * math.exp(-(((hour.hour - 15) / 5) ** 2)))
        out += background(rng, hour, 1, usual * rng.gammavariate(shape, 1 / shape))
        if rng.random() < bursts_per_day / 24:
            at = hour + timedelta(minutes=rng.uniform(0, 60))
            out += background(rng, at, rng.uniform(0.4, 0.7), usual * rng.uniform(1.5, 2.5))
    return out


def quiet_days(rng: random.Random, start: datetime, days: int, per_day: float = 5) -> list[datetime]:
    """A handful of complaints a day in waking hours, some as someone's thread of two or three."""
    out: list[datetime] = []
    for day in range(days):
        for at in background(rng, start + timedelta(days=day, hours=8), 14, per_day / 14):
            out += [at + timedelta(minutes=3 * i) for i in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1))]
    return out


DAY_ONE = MONDAY + timedelta(days=1)  # a new watch-list's first day has no baseline (see docs/detection.md)


def run_timed(tracker: SpikeTracker, times: list[datetime], start: datetime, until: datetime,
              settings: SpikeSettings = S) -> list[tuple[datetime, Spike]]:
    """As ``run``, with when each spike was raised; spikes of the first day left out."""
    times, now, out, i = sorted(times), start, [], 0
    while now <= until:
        while i < len(times) and times[i] <= now:
            tracker.add(times[i], f"x:{i}", "acme app down again")
            i += 1
        found = tracker.check(now, settings)
        if found is not None and found.start >= DAY_ONE:
            out.append((now, found))
        now += CHECK
    return out


def _nbinom_direct(k: int, mean: float, phi: float) -> float:
    r = 1 / phi
    q = mean / (mean + r)
    log_pmf = [math.lgamma(i + r) - math.lgamma(r) - math.lgamma(i + 1) + r * math.log1p(-q) + i * math.log(q)
               for i in range(k)]
    return 1 - sum(math.exp(x) for x in log_pmf)


def test_negative_binomial_tail_matches_the_direct_sum_and_is_poisson_without_dispersion() -> None:
    for k, mean, phi in ((1, 2.0, 0.5), (5, 2.0, 0.5), (12, 4.5, 0.2), (40, 10.0, 1.0), (150, 100.0, 0.05)):
        assert nbinom_sf(k, mean, phi) == pytest.approx(_nbinom_direct(k, mean, phi), rel=1e-8, abs=1e-14)
    for k, mean in ((5, 2.0), (30, 10.0)):
        assert nbinom_sf(k, mean, 0.0) == nbinom_sf(k, mean, 1e-15) == poisson_sf(k, mean)
    # Dispersion fattens the tail: 60 in a window expecting 30 is a freak under Poisson, not here.
    assert poisson_sf(60, 30.0) < 1e-6 < 1e-2 < nbinom_sf(60, 30.0, 0.25)


def test_the_dispersion_is_measured_from_the_watch_lists_own_history() -> None:
    rng = random.Random(7)
    steady = [MONDAY + timedelta(seconds=s) for s in range(0, 7 * 86400, 120)]  # one every 2 minutes
    poisson_like = background(rng, MONDAY, 7 * 24, 30)
    gamma = [t for h in range(7 * 24)  # each hour's rate gamma-distributed, shape 4: phi = 1/4
             for t in background(rng, MONDAY + timedelta(hours=h), 1, 30 * rng.gammavariate(4, 1 / 4))]
    phis = []
    for times in (steady, poisson_like, gamma):
        tracker = SpikeTracker()
        run(tracker, times, MONDAY + timedelta(days=7), start=MONDAY)
        phis.append(tracker.baseline(hour_index((MONDAY + timedelta(days=7)).timestamp()), S).dispersion)
    assert phis[0] == 0.0 and phis[1] < 0.03 and 0.15 < phis[2] < 0.4


def test_bursty_volume_raises_at_most_a_spike_a_week_where_a_poisson_law_alerts_every_day() -> None:
    rng = random.Random(8)
    times = bursty(rng, MONDAY, 21, 40)
    until = MONDAY + timedelta(days=21)
    ours = run_timed(SpikeTracker(), times, MONDAY, until)
    # The same weeks judged as if the count were Poisson (no dispersion: shrunk to nothing by its prior,
    # and no tail or records measured):
    poisson = run_timed(SpikeTracker(), times, MONDAY, until, settings=replace(S, dispersion_prior=1e18,
                                                                                  tail_share=1.0, record_days=-1))
    assert len(ours) <= 3 and len(poisson) >= 20


def test_an_outage_on_bursty_volume_alerts_within_half_an_hour() -> None:
    rng = random.Random(9)
    outage = MONDAY + timedelta(days=17, hours=14)
    times = bursty(rng, MONDAY, 21, 40) + background(rng, outage, 1, 5 * 40)  # five times the peak rate
    found = run_timed(SpikeTracker(), times, MONDAY, MONDAY + timedelta(days=21))
    assert len(found) == 1
    at, sp = found[0]
    assert outage <= at <= outage + timedelta(minutes=30) and sp.start >= outage - timedelta(minutes=30)
    assert sp.baseline.dispersion > 0.1  # the bar was raised for the bursts, and the outage still passed it


def test_a_quiet_watch_lists_outage_of_eight_complaints_in_half_an_hour_alerts() -> None:
    rng = random.Random(10)
    outage = MONDAY + timedelta(days=20, hours=11)
    times = quiet_days(rng, MONDAY, 21) + burst(outage, 8, 30)
    found = run_timed(SpikeTracker(), times, MONDAY, MONDAY + timedelta(days=21))
    assert [(at - outage) <= timedelta(minutes=30) for at, _ in found] == [True]
    assert found[0][1].observed >= 8


def test_an_alerted_outage_is_no_measure_of_ordinary_volume() -> None:
    rng = random.Random(11)
    times = bursty(rng, MONDAY, 10, 40)
    until = MONDAY + timedelta(days=10)
    plain, with_outage = SpikeTracker(), SpikeTracker()
    assert run_timed(plain, times, MONDAY, until) == []
    outage = background(rng, MONDAY + timedelta(days=8, hours=12), 2, 300)
    assert len(run_timed(with_outage, times + outage, MONDAY, until)) == 1
    hour = hour_index(until.timestamp())
    assert with_outage.baseline(hour, S).dispersion == pytest.approx(plain.baseline(hour, S).dispersion, rel=0.25)


def test_a_restart_measures_the_same_dispersion_from_the_stored_history() -> None:
    rng = random.Random(12)
    times = bursty(rng, MONDAY, 7, 40)
    until = MONDAY + timedelta(days=7)
    live = SpikeTracker()  # watching for six days, after a first day it knows from the store
    live.known_since(MONDAY)
    for t in times:
        if t < DAY_ONE:
            live.count_history(t)
    assert run_timed(live, [t for t in times if t >= DAY_ONE], DAY_ONE, until) == []
    rebuilt = SpikeTracker()
    rebuilt.known_since(MONDAY)
    for t in times:
        rebuilt.count_history(t)
    hour = hour_index(until.timestamp())
    assert rebuilt.baseline(hour, S).dispersion == pytest.approx(live.baseline(hour, S).dispersion, rel=1e-9)
    assert len(rebuilt.bins) < 5 * 12  # the bins of measured hours are not kept


def test_a_spike_reports_the_smallest_count_that_would_have_been_one() -> None:
    rng = random.Random(13)
    outage = MONDAY + timedelta(days=17, hours=14)
    times = bursty(rng, MONDAY, 18, 40) + background(rng, outage, 1, 300)
    _, sp = run_timed(SpikeTracker(), times, MONDAY, MONDAY + timedelta(days=18))[-1]
    assert sp.start >= outage - timedelta(minutes=30)
    t, e, phi = sp.threshold, sp.expected, sp.baseline.dispersion
    assert sp.observed >= t and nbinom_sf(t, e, phi) <= S.p_value and t >= S.ratio * e
    assert nbinom_sf(t - 1, e, phi) > S.p_value or t - 1 < S.ratio * e or t - 1 < S.min_complaints


def test_skipping_checks_with_nothing_new_finds_the_same_spikes_as_checking_every_time() -> None:
    """A check in an hour whose last check found nothing, with no complaint counted since, is skipped;
    a tracker handed an equal but new settings object at every check never skips."""
    rng = random.Random(11)
    times = sorted(background(rng, MONDAY, 5 * 24, 3) + burst(MONDAY + timedelta(days=3, hours=9), 60, 30)
                   + burst(MONDAY + timedelta(days=4, hours=20), 40, 20))
    skipping, checking = SpikeTracker(), SpikeTracker()
    found: tuple[list[Spike], list[Spike]] = ([], [])
    skipped, now, i = 0, MONDAY, 0
    while now <= MONDAY + timedelta(days=5):
        while i < len(times) and times[i] <= now:
            for t in (skipping, checking):
                t.add(times[i], f"x:{i}", f"is acme down? error {i % 7}")
            i += 1
        skipped += skipping.settled(hour_index(now.timestamp()), S)
        for t, out, s in ((skipping, found[0], S), (checking, found[1], replace(S))):
            if (sp := t.check(now, s)) is not None:
                out.append(sp)
        now += CHECK
    assert len(found[0]) == 2 and found[0] == found[1]
    assert skipped > 3000  # most minutes bring no complaint: most checks were skipped


def test_beta_binomial_tail_matches_the_direct_sum_and_a_binomial_when_the_share_is_sure() -> None:
    def direct(k: int, n: int, a: float, b: float) -> float:
        beta = lambda x, y: math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)  # noqa: E731
        return sum(math.comb(n, x) * math.exp(beta(x + a, n - x + b) - beta(a, b)) for x in range(k, n + 1))
    cases = ((0, 5, 1.0, 1.0), (3, 10, 1.0, 1.0), (8, 20, 2.5, 30.5), (21, 100, 10.5, 90.5), (9, 8, 1.0, 1.0))
    for k, n, a, b in cases:
        assert betabinom_sf(k, n, a, b) == pytest.approx(direct(k, n, a, b), rel=1e-9, abs=1e-15)
    binomial = sum(math.comb(100, x) * 0.1**x * 0.9 ** (100 - x) for x in range(21, 101))
    assert betabinom_sf(21, 100, 1e6 * 0.1, 1e6 * 0.9) == pytest.approx(binomial, rel=1e-3)
    assert betabinom_sf(21, 100, 10.5, 90.5) > binomial  # an uncertain share widens the tail


def _share_of_a_burst(every_nth: int, part_of: bool) -> list[Spike]:
    """Two weeks of 20 complaints an hour, every tenth an outage report, then 100 complaints in half an
    hour with every ``every_nth`` an outage report: the outage reports' spikes, judged as a part of
    all complaints or alone."""
    rng = random.Random(14)
    burst_at = MONDAY + timedelta(days=14, hours=14)
    times = [(t, i % 10 == 0) for i, t in enumerate(background(rng, MONDAY, 14 * 24 + 14, 20))]
    times += [(t, i % every_nth == 0) for i, t in enumerate(burst(burst_at, 100, 30))]
    every, outage = SpikeTracker(), SpikeTracker()
    reports = replace(S, min_complaints=5)
    now, i, found = MONDAY, 0, []
    times.sort()
    while now <= burst_at + timedelta(hours=1):
        while i < len(times) and times[i][0] <= now:
            every.add(times[i][0], f"x:{i}", "acme is broken")
            if times[i][1]:
                outage.add(times[i][0], f"x:{i}", "is acme down?")
            i += 1
        every.check(now, S)
        sp = outage.check(now, reports, part_of=every if part_of else None)
        if sp is not None and sp.start >= burst_at - timedelta(minutes=30):
            found.append(sp)
        now += CHECK
    return found


def test_outage_reports_at_their_usual_share_of_a_busy_hour_are_that_hours_not_an_outage() -> None:
    # A burst of every kind of complaint (the brand in the news) carries outage reports at their usual
    # share: ten of a hundred. Alone, ten against one expected is a spike; as a part of all complaints
    # it is what that burst brings, and the all-complaints test judges the burst. Half of them being
    # outage reports is an outage.
    assert len(_share_of_a_burst(10, part_of=False)) == 1
    assert _share_of_a_burst(10, part_of=True) == []
    assert len(_share_of_a_burst(2, part_of=True)) == 1
