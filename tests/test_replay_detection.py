"""End to end: a simulated week of two brands through ``monitor replay``, scored against its truth.

The week comes from devkit/simulate.py (seed 1, the first seed, not a chosen one): self-exciting
complaint cascades of every size, storms, hard negatives (viral praise, viral sad news, big
accounts' complaints that fizzle), chatter and outages. What ops must see: most storms alerted
before they reach the threshold, at most one false alert per watch-list per week, exactly one
``new`` per cascade, and every outage alerted as a spike within 30 minutes of its start.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from devkit.simulate import SimSettings, Simulation, Truth, write_config
from monitor.cli import main
from monitor.records.mention import parse_time

THRESHOLD = 300


@dataclass
class Replayed:
    truth: Truth
    alerts: list[dict[str, Any]]
    stderr: str

    def new(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["level"] == "new" and kind in (None, a["kind"])]


def _limit(c: dict[str, Any]) -> int:
    return THRESHOLD // 5 if c["vip_root"] else THRESHOLD


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    folder = tmp_path_factory.mktemp("week")
    sim = Simulation(SimSettings(days=7, seed=1, brands=2, threshold=THRESHOLD))
    events = folder / "week.jsonl"
    with events.open("w", encoding="utf-8") as out:
        for rec in sim.records():
            out.write(json.dumps(rec) + "\n")
    cfg = write_config(folder, sim.brands, sim.vips, THRESHOLD)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["replay", str(events), "--config", str(cfg)]) == 0
    alerts = [json.loads(line) for line in stdout.getvalue().splitlines() if line.startswith("{")]
    return Replayed(sim.truth, alerts, stderr.getvalue())


def test_the_week_holds_storms_hard_negatives_and_outages(week: Replayed) -> None:
    labels = Counter(c["label"] for c in week.truth.cascades)
    assert sum(c["storm"] for c in week.truth.cascades) >= 3 and week.truth.outages
    assert labels["viral_praise"] + labels["viral_sad"] + labels["big_account"] >= 2
    assert f"replayed {week.truth.mentions} mentions" in week.stderr


def test_most_complaint_storms_are_alerted_before_they_reach_the_threshold(week: Replayed) -> None:
    storms = {c["root_id"]: c for c in week.truth.cascades if c["storm"]}
    early = [a for a in week.new("cascade") if a["root_id"] in storms
             and a["reactions"] < _limit(storms[a["root_id"]])]
    assert len(early) > len(storms) / 2


def test_at_most_one_false_alert_per_watch_list_in_the_week(week: Replayed) -> None:
    storms = {c["root_id"] for c in week.truth.cascades if c["storm"]}
    outages = [(o["brand"], parse_time(o["start"]), parse_time(o["end"])) for o in week.truth.outages]
    false = Counter[str]()
    for a in week.new():
        at = parse_time(a["at"])
        if a["kind"] == "cascade" and a["root_id"] not in storms:
            false[a["watchlist"]] += 1
        elif a["kind"] == "spike" and not any(b == a["watchlist"] and s - timedelta(minutes=30) <= at
                                              <= e + timedelta(hours=1) for b, s, e in outages):
            false[a["watchlist"]] += 1
    assert all(n <= 1 for n in false.values()), false


def test_hard_negatives_are_never_alerted(week: Replayed) -> None:
    hard = {c["root_id"] for c in week.truth.cascades if c["label"] in ("viral_praise", "viral_sad", "big_account")}
    assert not [a for a in week.alerts if a["root_id"] in hard]


def test_exactly_one_new_per_cascade_and_updates_only_after_it(week: Replayed) -> None:
    news = Counter(a["root_id"] for a in week.new())
    assert news and set(news.values()) == {1}
    seen: set[str] = set()
    for a in week.alerts:  # in the order replay printed them
        if a["level"] == "new":
            seen.add(a["root_id"])
        else:
            assert a["level"] == "update" and a["root_id"] in seen


def test_every_outage_is_alerted_as_a_spike_within_30_minutes_of_its_start(week: Replayed) -> None:
    spikes = week.new("spike")
    for o in week.truth.outages:
        start = parse_time(o["start"])
        assert any(a["watchlist"] == o["brand"] and start <= parse_time(a["at"]) <= start + timedelta(minutes=30)
                   for a in spikes), o


def test_alert_lines_carry_projection_rate_reach_and_spike_counts(week: Replayed) -> None:
    for a in week.alerts:
        assert a["decision"] and a["reason"]
        if a["kind"] == "cascade":
            assert {"projected", "projected_low", "rate", "reach", "reactions", "threshold"} <= set(a)
        else:
            assert a["decision"] == "spike_alert" and a["observed"] > a["baseline"]
            assert a["top_terms"] and a["examples"]
