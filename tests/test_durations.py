"""Durations as text and retry delays: one implementation, each caller's output as it always was."""

from __future__ import annotations

import random
from datetime import timedelta

from monitor.records.durations import backoff_delay, duration_text


def test_parts_name_every_unit_that_is_not_zero() -> None:
    assert duration_text(timedelta(minutes=90)) == "1h30m"
    assert duration_text(timedelta(days=1, seconds=5)) == "1d5s"
    assert duration_text(timedelta(0)) == "0s"


def test_unit_writes_one_number_in_the_largest_whole_unit() -> None:
    assert duration_text(7200, "unit", largest="h") == "2h"
    assert duration_text(5400, "unit", largest="h") == "90m"
    assert duration_text(45, "unit", largest="h") == "45s"
    assert duration_text(timedelta(hours=1), "unit", largest="m") == "60m"
    assert duration_text(timedelta(seconds=90), "unit", largest="m") == "90s"


def test_clock_writes_whole_minutes_with_two_digit_minutes_past_an_hour() -> None:
    assert duration_text(timedelta(minutes=65, seconds=59), "clock") == "1h05m"
    assert duration_text(timedelta(minutes=5), "clock") == "5m"
    assert duration_text(timedelta(hours=25), "clock") == "25h00m"


def test_backoff_doubles_up_to_the_cap_within_its_jitter() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(n, base=2.0, cap=300.0, rng=rng, jitter=(0.5, 1.0)) for n in range(1, 12)]
    assert all(0.5 * min(300.0, 2.0 * 2 ** (n - 1)) <= d < min(300.0, 2.0 * 2 ** (n - 1))
               for n, d in enumerate(delays, 1))
    assert backoff_delay(40, base=30.0, cap=3600.0, rng=random.Random(1), jitter=(0.8, 1.2)) <= 3600 * 1.2
