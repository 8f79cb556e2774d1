"""The outside generator (devkit/outsider.py): a week written apart from the simulator, held out of every
choice, with storms, hard negatives and outages in its truth.

Seed 1 here; ``make bench`` reports it on the report seeds beside the zoo.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from devkit.outsider import Outsider, followers
from devkit.simulate import SimSettings, main
from devkit.zoo import FAMILIES, HELD_OUT, simulation
from monitor.records.mention import Mention

_week: dict[int, tuple[list[dict[str, Any]], dict[str, Any]]] = {}


def week(seed: int = 1) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if seed not in _week:
        sim = simulation("outsider", SimSettings(days=7, seed=seed, brands=2))
        _week[seed] = (list(sim.records()), sim.truth.to_json())
    return _week[seed]


def _seconds(t: str) -> float:
    return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def test_it_is_held_out_of_the_zoo_the_parameters_were_chosen_on() -> None:
    assert "outsider" not in FAMILIES and HELD_OUT["outsider"] is Outsider
    assert isinstance(simulation("outsider", SimSettings(days=1)), Outsider)
    with pytest.raises(ValueError, match="one of: branching, .*outsider"):
        simulation("nope", SimSettings(days=1))


def test_a_week_is_valid_records_in_observed_order_and_the_same_for_the_same_seed() -> None:
    records, truth = week()
    assert 12_000 < len(records) == truth["mentions"] < 60_000
    observed = [r["observed_at"] for r in records]
    assert observed == sorted(observed)
    for r in records[::53]:
        m = Mention.from_json(r)
        assert m.id == r["id"] and m.observed_at > m.created_at
    again = list(Outsider(SimSettings(days=7, seed=1, brands=2)).records())
    assert again == records
    assert list(Outsider(SimSettings(days=7, seed=2, brands=2)).records())[:50] != records[:50]


def test_its_truth_holds_storms_hard_negatives_and_outages() -> None:
    _, truth = week()
    labels = Counter(c["label"] for c in truth["cascades"])
    storms = [c for c in truth["cascades"] if c["storm"]]
    assert storms and all(c["complaint"] and c["final_size"] >= truth["threshold"] // (5 if c["vip_root"] else 1)
                          for c in storms)
    # A storm is not planned to pass the threshold: some end below it, as near misses.
    assert any(c["label"] == "storm" and not c["storm"] for c in truth["cascades"])
    assert labels["viral_praise"] + labels["viral_news"] >= 1  # spread, but no complaint
    assert labels["fast_burst"] >= 1 and labels["big_account"] >= 1
    fizzled = [c for c in truth["cascades"] if c["complaint"] and not c["storm"] and c["final_size"] >= 50]
    assert len(fizzled) >= 3
    assert truth["outages"] and all(o["complaints"] > 20 for o in truth["outages"])
    for c in truth["cascades"]:
        assert len(c["reactions"]) == c["final_size"] and c["reactions"] == sorted(c["reactions"])


def test_x_is_seen_at_polls_with_refused_ones_and_blogs_every_twenty_minutes() -> None:
    records, _ = week()
    lags = sorted(_seconds(r["observed_at"]) - _seconds(r["created_at"]) for r in records if r["source"] == "x")
    assert 20 < statistics.median(lags) < 120  # a 90 s poll, 5-40 s to reach the index
    late = sum(lag > 300 for lag in lags) / len(lags)
    assert 0.01 < late < 0.2  # a refused poll: the next one 10-20 minutes on
    blogs = list(Outsider(SimSettings(days=7, seed=1, brands=8)).records())  # two brands' week has no blog storm
    others = [_seconds(r["observed_at"]) - _seconds(r["created_at"]) for r in blogs if r["source"] != "x"]
    assert len(others) > 100 and all(0 < lag <= 1230 for lag in others)


def test_volume_drifts_from_hour_to_hour_beyond_a_poisson_count() -> None:
    records, _ = week()
    hours = Counter(int(_seconds(r["created_at"]) // 3600) for r in records
                    if r["parent_id"] is None and "acme" in r["text"].lower())
    first = min(hours)
    # The same hour of the day on each of the seven days: a Poisson count's variance would be its mean.
    same_hour = [[hours[first + day * 24 + h] for day in range(7)] for h in range(24)]
    ratios = [statistics.variance(c) / statistics.mean(c) for c in same_hour if statistics.mean(c) > 0]
    assert statistics.median(ratios) > 2.5


def test_followers_are_a_pure_power_law() -> None:
    rng = random.Random(5)
    sample = sorted(followers(rng) for _ in range(50_000))
    assert 60 < sample[len(sample) // 2] < 95 and sample[0] >= 40
    above = [sum(n > x for n in sample) for x in (10_000, 100_000)]
    assert 7 < above[0] / above[1] < 20  # ten times the followers, about 10 ** 1.1 times fewer accounts


def test_the_simulator_command_makes_it(tmp_path: Any) -> None:
    out = tmp_path / "w.jsonl"
    assert main(["--family", "outsider", "--days", "0.5", "--out", str(out)]) == 0
    assert out.read_text().count("\n") > 100
