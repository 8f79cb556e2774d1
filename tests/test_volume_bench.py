"""bench/volume.py: the zoo of overdispersed volume, its plain baseline and its scoring, on small series."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is a folder of the repository

from bench.volume import (  # noqa: E402
    DAY,
    FAMILIES,
    HOUR,
    MINUTE,
    START,
    WARM_UP,
    Incident,
    Series,
    baseline_alerts,
    complaint_texts,
    generate,
    replay,
    score,
)
from monitor.records.mention import parse_time  # noqa: E402
from monitor.scoring.scores import Scorer  # noqa: E402


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


def test_the_posts_are_texts_the_complaint_classifier_calls_complaints(scorer: Scorer) -> None:
    texts = complaint_texts(scorer, n=60)
    assert len(set(texts)) > 40
    assert all(scorer.score(t).complaint.is_complaint for t in texts)
    assert any(scorer.score(t).complaint.category == "outage" for t in texts)  # the outage-report volume too


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_is_overdispersed_with_its_incidents_after_the_warm_up(family: str) -> None:
    s = generate(family, 1, 1)
    assert s.times == sorted(s.times) and s.days == WARM_UP / DAY + 7
    assert s.incidents and all(WARM_UP < i.start < i.end <= s.days * DAY for i in s.incidents)
    hours = [0] * int(s.days * 24)
    for t in s.times:
        hours[int(t // HOUR)] += 1
    assert statistics.variance(hours) > 1.5 * statistics.mean(hours)
    assert generate(family, 1, 1).times == s.times  # seeded: the same series every time


def test_the_baseline_alerts_at_the_end_of_an_hour_far_above_the_last_fortnight() -> None:
    steady = [h * HOUR + k * 360.0 for h in range(72) for k in range(10)]  # ten an hour for three days
    outage = [72 * HOUR + k * 12.0 for k in range(400)] + [73 * HOUR + k * 18.0 for k in range(200)]
    assert baseline_alerts(sorted(steady + outage), 4) == [73 * HOUR]  # two hours above: one alert
    assert baseline_alerts(steady, 4) == []


def test_scoring_matches_alerts_to_incidents_and_counts_the_rest_as_false() -> None:
    s = Series("steady", 1, 9, [], [Incident(3 * DAY, 3 * DAY + HOUR, "step", 100, 10, 100),
                                     Incident(6 * DAY, 6 * DAY + HOUR, "step", 100, 10, 100)])
    got = score(s, [DAY, 3 * DAY + 12 * MINUTE, 3 * DAY + 20 * MINUTE, 4 * DAY, 6 * DAY + 3 * HOUR])
    assert got["alerted"] == 1 and got["delays"] == [12.0, None]
    assert got["false"] == 2  # day 4, and the one three hours after the second's end; day 1 is warm-up


def test_a_quiet_watch_lists_outages_alert_through_the_real_pipeline(scorer: Scorer) -> None:
    s = generate("quiet", 7, 1)
    alerts, _ = replay(s, scorer, complaint_texts(scorer, n=60))
    assert alerts and all(a["kind"] == "spike" and a["decision"] == "spike_alert" for a in alerts)
    got = score(s, [(parse_time(a["at"]) - START).total_seconds() for a in alerts])
    assert got["alerted"] == got["incidents"] >= 2 and got["false"] == 0


def test_make_bench_prints_the_volume_rows() -> None:
    from bench.__main__ import table
    from bench.volume import run

    out = table({"volume": run(["quiet"], [7], 1)})
    assert "Volume spikes: incidents alerted" in out and "false spike alerts per watch-list-week" in out
    assert "baseline (an hour above mean + 4 SD of 14 days)" in out
