"""The calibration bench reads each sensitivity's first alerts off one replay's judgements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.calibration import Judgements, by_sensitivity, calibration, first_alert_sizes


@dataclass
class Truth:
    brands: list[str]
    cascades: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Week:
    seed: int
    truth: Truth
    family: str = "branching"


def cascade(root: str, storm: bool) -> dict[str, Any]:
    return {"root_id": root, "storm": storm, "vip_root": False, "final_size": 400 if storm else 200,
            "reactions": []}


def judged(seq: dict[str, list[tuple[int, float]]]) -> Judgements:
    j = Judgements()
    record = j.recorder("branching", 1)

    class P:
        projected, window = 0.0, 0.0

    for root, steps in seq.items():
        for size, p in steps:
            record("acme", root, None, size, P(), p)
    return j


WEEK = Week(1, Truth(["acme"], [cascade("storm", True), cascade("fizzle", False)]))
J = judged({"storm": [(20, 0.3), (40, 0.5), (80, 0.7), (120, 0.9)], "fizzle": [(20, 0.2), (40, 0.45), (60, 0.3)]})


def test_each_setting_alerts_at_the_first_judgement_at_or_above_its_probability() -> None:
    assert first_alert_sizes([WEEK], J, 0.4) == {("branching", 1, "storm"): 40, ("branching", 1, "fizzle"): 40}
    assert first_alert_sizes([WEEK], J, 0.8) == {("branching", 1, "storm"): 120}


def test_a_more_sensitive_setting_alerts_earlier_and_pays_in_false_alerts() -> None:
    s = by_sensitivity([WEEK], J, levels={"low": 0.8, "normal": 0.6, "high": 0.4})
    assert (s["low"]["caught"], s["low"]["false_alerts"], s["low"]["median_share"]) == (1, 0, 0.4)
    assert (s["high"]["caught"], s["high"]["false_alerts"], s["high"]["median_share"]) == (1, 1, round(40 / 300, 3))
    assert s["high"]["max_false_in_one_watchlist_week"] == 1


def test_calibration_counts_each_cascade_once_in_each_bucket_it_was_given_a_probability_in() -> None:
    rows = {(r["from"], r["to"]): r for r in calibration([WEEK], J)}
    assert rows[(0.4, 0.6)]["cascades"] == 2 and rows[(0.4, 0.6)]["storms"] == 1
    assert rows[(0.8, 0.95)]["cascades"] == 1 and rows[(0.8, 0.95)]["share"] == 1.0


def test_shares_are_also_compared_on_the_storms_both_the_detector_and_the_baseline_caught() -> None:
    week = Week(1, Truth(["acme"], [cascade("fast", True), cascade("slow", True)]))
    j = judged({"fast": [(60, 0.7)], "slow": [(240, 0.7)]})

    def baseline(w: Any, n: int, threshold: int) -> dict[str, int]:
        return {"fast": 90}  # the trailing-hour rule never catches the slow storm

    s = by_sensitivity([week], j, baseline=baseline, levels={"normal": 0.6})["normal"]
    # Over what each caught, the detector (60 and 240) looks later than the baseline (90 alone) ...
    assert s["median_share"] == 0.5 and s["baseline"]["median_share"] == 0.3
    # ... over the storm both caught, it is earlier.
    assert s["both_caught"] == {"storms": 1, "median_share": 0.2, "baseline_median_share": 0.3}
