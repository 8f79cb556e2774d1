"""The zoo of generative families (devkit/zoo.py): each a week with storms and hard negatives in its truth.

The weeks use seed 1, a tuning seed (docs/simulator.md); the report seeds (9001 and up) are used by
``make bench`` only.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from devkit.simulate import SimSettings, Simulation, main
from devkit.zoo import FAMILIES, daily_rhythm, mean_followers, pareto_followers, real_cascades, simulation
from monitor.records.mention import Mention

# The original simulator's two days of seed 7, two brands (git main before the zoo, run once).
ORIGINAL_RECORDS_SHA256 = "91d339adf84453b9e2582d6f168fbfacf8acbefb01a2b300b1f4b497ca59a858"
ORIGINAL_TRUTH_SHA256 = "744870cf5191e42a9c222dc0787e02bb4564f990b65142fc55408c88380e66c9"

_weeks: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}


def week(family: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Seed 1's week of two brands of ``family``: its records and its truth (made once per run)."""
    if family not in _weeks:
        sim = simulation(family, SimSettings(days=7, seed=1, brands=2))
        _weeks[family] = (list(sim.records()), sim.truth.to_json())
    return _weeks[family]


def _seconds(t: str) -> float:
    return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def test_the_branching_family_is_the_original_simulator_bit_for_bit() -> None:
    for sim in (Simulation(SimSettings(days=2, seed=7, brands=2)),
                simulation("branching", SimSettings(days=2, seed=7, brands=2))):
        h = hashlib.sha256()
        for r in sim.records():
            h.update((json.dumps(r, ensure_ascii=False) + "\n").encode())
        assert h.hexdigest() == ORIGINAL_RECORDS_SHA256
        truth = json.dumps(sim.truth.to_json(), sort_keys=True).encode()
        assert hashlib.sha256(truth).hexdigest() == ORIGINAL_TRUTH_SHA256


NEEDS_FIXTURES = {"empirical"}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_makes_a_week_of_valid_records_with_storms_and_hard_negatives(family: str) -> None:
    if family in NEEDS_FIXTURES and not real_cascades():
        pytest.skip("the real cascades of ../shared/fixtures/cascades/ are not here")
    records, truth = week(family)
    assert 15_000 < len(records) == truth["mentions"] < 60_000
    observed = [r["observed_at"] for r in records]
    assert observed == sorted(observed)
    for r in records[::97]:
        m = Mention.from_json(r)
        assert m.id == r["id"] and m.observed_at >= m.created_at
    labels = Counter(c["label"] for c in truth["cascades"])
    storms = [c for c in truth["cascades"] if c["storm"]]
    assert storms and all(c["complaint"] for c in storms)
    # Hard negatives: praise and sad news that go viral, and complaints that do not become storms.
    assert labels["viral_praise"] + labels["viral_sad"] >= 1
    fizzled = [c for c in truth["cascades"] if c["complaint"] and not c["storm"] and c["final_size"] >= 50]
    assert len(fizzled) >= 3
    assert truth["outages"]
    if family != "branching":
        assert labels["just_under"] >= 1 and labels["fast_burst"] >= 1


def test_the_new_hard_negatives_stop_short_or_die_fast() -> None:
    _, truth = week("delayed")  # the original law: the negatives' own shape, without a family's twist
    under = [c for c in truth["cascades"] if c["label"] == "just_under"]
    assert under and statistics.median(c["final_size"] for c in under) < truth["threshold"]
    bursts = [c for c in truth["cascades"] if c["label"] == "fast_burst"]
    assert bursts
    for c in bursts:  # most of a burst within its first hour, none of it after two
        r = c["reactions"]
        assert sum(t < 3600 for t in r) >= 0.6 * len(r) and max(r) < 2.5 * 3600


def test_seismic_reposts_name_the_root_and_big_accounts_drive_the_spread() -> None:
    records, truth = week("seismic")
    kinds = Counter(r["kind"] for r in records if r["parent_id"])
    assert kinds["repost"] > 0.7 * sum(kinds.values())
    by_id = {r["id"]: r for r in records}
    # As on X: a repost of a repost names the original (reposts in blog cascades name their parent).
    def share_naming_a_root(records: list[dict[str, Any]]) -> float:
        by_id = {r["id"]: r for r in records}
        parents = [by_id[r["parent_id"]] for r in records if r["kind"] == "repost" and r["parent_id"] in by_id]
        return sum(p["parent_id"] is None for p in parents) / len(parents)

    assert share_naming_a_root(records) > 0.95 > share_naming_a_root(week("branching")[0])
    # Offspring proportional to followers: a notable cascade's root reaches far more people than chatter.
    root_followers = [by_id[c["root_id"]]["author"].get("followers", 0) for c in truth["cascades"]
                      if c["label"] == "storm" and c["source"] == "x" and c["root_id"] in by_id]
    assert root_followers and statistics.median(root_followers) > 10_000


def test_seismic_followers_have_a_power_law_tail() -> None:
    import random

    rng = random.Random(3)
    sample = sorted(pareto_followers(rng) for _ in range(50_000))
    assert 100 < sample[len(sample) // 2] < 250
    above = [sum(n > x for n in sample) for x in (20_000, 200_000)]
    assert 8 < above[0] / above[1] < 30  # ten times the followers, 10 ** 1.2 times fewer accounts
    assert mean_followers("pareto") > 5 * sample[len(sample) // 2]


def test_hawkes_reactions_follow_the_time_of_day() -> None:
    records, _ = week("hawkes")
    hours = Counter(int(_seconds(r["created_at"]) % 86400 // 3600) for r in records if r["parent_id"])
    afternoon = sum(hours[h] for h in range(13, 18))
    night = sum(hours[h] for h in range(1, 6))
    assert afternoon > 3 * night
    assert daily_rhythm(15 * 3600) == 1.0 and daily_rhythm(3 * 3600) < 0.3


def test_the_delayed_family_is_observed_later_than_the_original() -> None:
    def lags(records: list[dict[str, Any]]) -> list[float]:
        return sorted(_seconds(r["observed_at"]) - _seconds(r["created_at"]) for r in records if r["source"] == "x")

    original, delayed = lags(week("branching")[0]), lags(week("delayed")[0])
    assert statistics.median(delayed) > 2 * statistics.median(original)
    assert delayed[int(0.98 * len(delayed))] > 600 > original[int(0.98 * len(original))]


def test_the_dense_family_has_more_cascades_and_fewer_distinct_texts() -> None:
    def figures(records: list[dict[str, Any]]) -> tuple[float, float]:
        roots = {r["id"] for r in records if r["parent_id"] is None}
        reacted_to = roots & {r["parent_id"] for r in records}
        return len(reacted_to) / len(records), len({r["text"] for r in records}) / len(records)

    (cascades, distinct), (cascades0, distinct0) = figures(week("dense")[0]), figures(week("branching")[0])
    assert cascades > 1.2 * cascades0 and distinct < 0.6 * distinct0


def test_the_empirical_family_grows_on_the_clock_of_real_retweet_cascades() -> None:
    """Data: SEISMIC's retweet cascades (Zhao et al., KDD 2015) in ../shared/fixtures/cascades/, MIT;
    only the tuning half (files at even positions) is used."""
    if not real_cascades():
        pytest.skip("the real cascades of ../shared/fixtures/cascades/ are not here")
    assert len(real_cascades("tuning")) == len(real_cascades("held_out")) == 15
    assert not set(real_cascades("tuning")) & set(real_cascades("held_out"))
    _, truth = week("empirical")
    big = [c for c in truth["cascades"] if c["final_size"] >= 300 and c["label"] != "fast_burst"]
    within_hour = statistics.median(sum(t < 3600 for t in c["reactions"]) / len(c["reactions"]) for c in big)
    _, original = week("branching")
    big0 = [c for c in original["cascades"] if c["final_size"] >= 300]
    within_hour0 = statistics.median(sum(t < 3600 for t in c["reactions"]) / len(c["reactions"]) for c in big0)
    assert within_hour < 0.5 < within_hour0  # real cascades: about a third of the final size in the first hour


def test_the_simulator_command_takes_a_family_and_refuses_an_unknown_one(tmp_path: Any, capsys: Any) -> None:
    out = tmp_path / "w.jsonl"
    assert main(["--family", "hawkes", "--days", "0.5", "--out", str(out), "--truth", str(tmp_path / "t.json")]) == 0
    assert out.read_text().count("\n") > 100 and json.loads((tmp_path / "t.json").read_text())["mentions"] > 100
    with pytest.raises(SystemExit):
        main(["--family", "lognormal", "--out", str(out)])
    assert "unknown family 'lognormal'; one of: branching, seismic" in capsys.readouterr().err
