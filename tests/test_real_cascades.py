"""Thirty real retweet cascades through ``monitor replay``'s code: alerted, and early.

The cascades are real (SEISMIC data, Zhao et al., KDD 2015, as aggregated by TiDeH, github
NII-Kobayashi/TiDeH, data/training, MIT licence; ``../shared/fixtures/cascades/``): the original
tweet and every retweet of it, 2,000 to 8,000 each, with the follower count of each retweeter. Each
becomes a complaint about the watch-list's brand and its reposts, observed at the next poll of a
one-minute cadence (bench/cascades.py). Nothing in the detector was tuned on them alone; they are
all storms, so they say nothing of false alerts (the simulated families in ``make bench`` do).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from bench import cascades

THRESHOLD = 2000


@pytest.fixture(scope="module")
def replayed() -> dict[str, Any]:
    folder = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "cascades"
    if not folder.is_dir():
        pytest.skip("../shared/fixtures/cascades is not beside the repo")
    return cascades.figures(THRESHOLD, folder)


def test_the_fixture_holds_thirty_real_cascades_that_all_pass_two_thousand(replayed: dict[str, Any]) -> None:
    assert replayed["cascades"] == 30
    assert all(r["final"] >= THRESHOLD for r in replayed["rows"])


def test_every_real_cascade_is_alerted_at_a_threshold_of_two_thousand(replayed: dict[str, Any]) -> None:
    assert replayed["alerted"] == 30, [r["cascade"] for r in replayed["rows"] if not r["alerted"]]


def test_the_median_real_cascade_is_alerted_with_at_most_a_fifth_of_its_final_size(replayed: dict[str, Any]
                                                                                  ) -> None:
    # Alerting when the count reaches 2,000 comes at about 71% of the final size; the median real cascade
    # shows about a fifth of its final size in its first ten minutes.
    assert replayed["median_share"] <= 0.20
    assert statistics.median(r["minutes"] for r in replayed["rows"]) < 60


def test_each_real_alert_reports_its_projection_error_and_storm_probability(replayed: dict[str, Any]) -> None:
    for r in replayed["rows"]:
        assert r["error"] >= 0 and r["projected"] >= r["reactions"]
        assert r["p_storm"] is not None and 0.0 <= r["p_storm"] <= 1.0
    # Reported, not a target: the point estimate at the alert against the real final size.
    print(f"median projection error at the alert: {replayed['median_error']:.0%}")
    assert replayed["median_error"] < 1.0


def test_a_malformed_cascade_file_is_refused_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "RT1.txt").write_text("12 0.5\n0 90\nnot a line\n")
    with pytest.raises(ValueError, match="RT1.txt"):
        cascades.load(tmp_path)
