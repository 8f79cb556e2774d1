"""`make bench` at toy sizes: every section runs and its figure lands in the table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the repository, not an installed package

from bench.__main__ import table  # noqa: E402
from bench.soak import _slope  # noqa: E402
from bench.throughput import throughput  # noqa: E402


@pytest.mark.slow
def test_throughput_replays_a_simulated_file_next_to_vader_alone(tmp_path: Path) -> None:
    t = throughput(tmp_path, 3000)
    assert t["replay"]["mentions"] == t["mentions"] >= 3000
    assert t["vader"] > 0 and 0 < t["ratio"] < 10
    assert t["replay"]["peak_rss_mb"] > 10
    out = table({"throughput": t})
    assert "Pipeline throughput" in out and "VADER alone" in out and "peak RSS" in out


def test_the_soak_slope_is_in_megabytes_a_minute() -> None:
    assert _slope([(0.0, 100.0), (30.0, 100.5), (60.0, 101.0)]) == pytest.approx(1.0)
    assert _slope([(0.0, 80.0), (60.0, 80.0), (120.0, 80.0)]) == 0.0
