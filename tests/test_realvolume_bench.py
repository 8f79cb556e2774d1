"""bench/realvolume.py: real 5-minute count series (NAB's format) replayed as complaint posts, scored
against labelled windows. Here on a small series written in that format: the real data is not shipped."""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is a folder of the repository

from bench.realvolume import DAY, load, main, score  # noqa: E402

FIRST = datetime(2015, 3, 5, 9, 2, 53)  # a Thursday, as NAB's series start on one


def _series(tmp_path: Path, burst_day: float | None, days: int = 6) -> Path:
    """``days`` of 5-minute counts around 6 (a daily rhythm), with a burst of 90 a count for half an
    hour ``burst_day`` days in."""
    rng = random.Random(1)
    lines = ["timestamp,value"]
    for i in range(days * 288):
        at = FIRST + timedelta(minutes=5 * i)
        count = rng.randint(3, 9) if 8 <= at.hour < 22 else rng.randint(0, 3)
        if burst_day is not None and 0 <= i - burst_day * 288 < 6:
            count = 90
        lines.append(f"{at:%Y-%m-%d %H:%M:%S},{count}")
    path = tmp_path / "data" / "Twitter_volume_ACME.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_series_keeps_its_weekday_and_hour_and_every_count(tmp_path: Path) -> None:
    path = _series(tmp_path, None, days=3)
    series, spans, data_start = load(path, [["2015-03-06 10:00:00.000000", "2015-03-06 12:00:00.000000"]])
    assert len(series.times) == sum(int(x.split(",")[1]) for x in path.read_text().split()[1:] if "," in x)
    assert data_start == 3 * DAY + 9 * 3600 + 2 * 60 + 53  # Thursday 09:02:53, after the Monday
    assert spans == [(4 * DAY + 10 * 3600, 4 * DAY + 12 * 3600)]
    assert series.times == sorted(series.times) and series.times[0] >= data_start - 300


def test_score_counts_windows_alerted_and_alerts_outside_them_after_the_warm_up() -> None:
    windows = [(3 * DAY, 3.5 * DAY), (5 * DAY, 5.5 * DAY)]
    alerts = [0.5 * DAY, 3 * DAY - 1000, 4 * DAY, 4.2 * DAY]  # warm-up, window 1 (30 min early), two false
    assert score(alerts, windows, 0.0, 7.0) == {"windows": 2, "alerted": 1, "false": 2, "weeks": 5 / 7}


def test_a_burst_in_its_labelled_window_is_alerted_and_nothing_else(tmp_path: Path, capsys) -> None:
    _series(tmp_path, burst_day=4.2)
    labels = tmp_path / "windows.json"
    at = FIRST + timedelta(days=4.2)
    window = [f"{t:%Y-%m-%d %H:%M:%S}.000000" for t in (at - timedelta(hours=6), at + timedelta(hours=6))]
    labels.write_text(json.dumps({"realTweets/Twitter_volume_ACME.csv": [window]}))
    assert main(["--data", str(tmp_path / "data"), "--labels", str(labels), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)["Twitter_volume_ACME"]
    assert r["detector"]["alerted"] == 1 and r["detector"]["false"] == 0
    assert r["posts"] > 6 * 288
