"""Volume spikes on real tweet volume: 5-minute counts replayed as one watch-list's complaint posts.

Real social volume is the test the simulator cannot pass for us: its bursts come from news, viral
posts and campaigns, not from a law anyone here chose. This replays count series in the Numenta
Anomaly Benchmark's format (one CSV per brand, ``timestamp,value``, a count every 5 minutes; NAB's
``data/realTweets/Twitter_volume_*.csv``) through the real pipeline, each as one watch-list's
complaint posts (each count spread evenly at random over its 5 minutes, the texts those of
``bench.volume``: complaints, a tenth of them outage reports), and scores its spike alerts against
labelled anomaly windows (NAB's ``labels/combined_windows.json``: file name -> list of [start, end]):

- windows alerted: a spike alert from 30 minutes before a window's start to an hour after its end;
- false alerts a week: spike alerts outside every window, after a 2-day warm-up.

Next to it, on the same series, the plain baseline of ``bench.volume`` (an hour above the mean + 4
standard deviations of the last 14 days' hours). The data is not shipped (NAB's licence is not
ours), nothing here fetches it, and ``make bench`` does not run this:

    python -m bench.realvolume --data DIR --labels combined_windows.json [--only KO,UPS] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.volume import DAY, START, WEEK, Series, baseline_alerts, complaint_texts, replay
from monitor.records.mention import parse_time
from monitor.scoring.scores import Scorer

WARM_UP = 2 * DAY


def log(msg: str) -> None:
    print(f"realvolume: {msg}", file=sys.stderr, flush=True)


def _time(text: str) -> datetime:
    return datetime.strptime(text.split(".")[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def load(path: Path, windows: list[list[str]]) -> tuple[Series, list[tuple[float, float]], float]:
    """The series (seconds after START, a Monday, standing for the Monday before the first count, so
    weekdays and hours are kept), its
    windows in the same seconds, and when its data starts."""
    with open(path, newline="") as fh:
        rows = [(_time(r["timestamp"]), int(float(r["value"]))) for r in csv.DictReader(fh)]
    if not rows:
        raise ValueError(f"{path}: no rows")
    first = rows[0][0]
    monday = (first - timedelta(days=first.weekday())).replace(hour=0, minute=0, second=0)
    rng = random.Random(path.name)
    times: list[float] = []
    for at, count in rows:
        end = (at - monday).total_seconds()  # a count is of the 5 minutes up to its timestamp
        times.extend(end - rng.uniform(0, 300) for _ in range(count))
    times.sort()
    spans = [((_time(a) - monday).total_seconds(), (_time(b) - monday).total_seconds()) for a, b in windows]
    days = (rows[-1][0] - monday).total_seconds() / DAY
    series = Series(family=path.stem, seed=0, days=days, times=times, incidents=[])
    return series, spans, (first - monday).total_seconds()


def score(alerts: list[float], windows: list[tuple[float, float]], data_start: float, days: float) -> dict[str, Any]:
    scored = sorted(a for a in alerts if a >= data_start + WARM_UP)

    def inside(a: float) -> bool:
        return any(lo - 1800 <= a <= hi + 3600 for lo, hi in windows)

    alerted = sum(any(lo - 1800 <= a <= hi + 3600 for a in scored) for lo, hi in windows)
    return {"windows": len(windows), "alerted": alerted, "false": sum(not inside(a) for a in scored),
            "weeks": (days * DAY - data_start - WARM_UP) / WEEK}


def run(files: list[Path], labels: dict[str, list[list[str]]]) -> dict[str, Any]:
    scorer = Scorer()
    texts = complaint_texts(scorer)
    out: dict[str, Any] = {}
    for path in files:
        windows = next((w for k, w in labels.items() if Path(k).name == path.name), [])
        series, spans, data_start = load(path, windows)
        started = time.monotonic()
        found, _ = replay(series, scorer, texts)
        at = [(parse_time(a["at"]) - START).total_seconds() for a in found]
        ours = score(at, spans, data_start, series.days)
        base = score(baseline_alerts(series.times, series.days), spans, data_start, series.days)
        out[path.stem] = {"posts": len(series.times), "detector": ours, "baseline": base}
        log(f"{path.stem}: {len(series.times):,} posts, {ours['weeks']:.1f} weeks; detector {ours['alerted']}/"
            f"{ours['windows']} windows, {ours['false']} false; baseline {base['alerted']}/{base['windows']}, "
            f"{base['false']} false ({time.monotonic() - started:.0f}s)")
    return out


def table(r: dict[str, Any]) -> str:
    lines = ["series | posts | detector: windows alerted | false / week | baseline: windows alerted | false / week",
             "---|---|---|---|---|---"]
    total = {k: {"windows": 0, "alerted": 0, "false": 0, "weeks": 0.0} for k in ("detector", "baseline")}
    for name, x in r.items():
        cells = [name, f"{x['posts']:,}"]
        for k in ("detector", "baseline"):
            f = x[k]
            cells += [f"{f['alerted']} / {f['windows']}", f"{f['false'] / f['weeks']:.2f} ({f['false']})"]
            for m in total[k]:
                total[k][m] += f[m]
        lines.append(" | ".join(cells))
    cells = ["all", f"{sum(x['posts'] for x in r.values()):,}"]
    for k in ("detector", "baseline"):
        f = total[k]
        cells += [f"{f['alerted']} / {f['windows']}", f"{f['false'] / max(f['weeks'], 1e-9):.2f} ({f['false']})"]
    lines.append(" | ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="folder of CSVs with timestamp,value (5-minute counts)")
    ap.add_argument("--labels", type=Path, required=True, help="JSON: file name -> [[start, end], ...]")
    ap.add_argument("--only", help="comma-separated series names (file stems or their last part: KO, UPS)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    try:
        labels = json.loads(args.labels.read_text())
    except (OSError, ValueError) as e:
        ap.error(f"cannot read labels {args.labels}: {e}")
    files = sorted(args.data.glob("*.csv"))
    if args.only:
        wanted = {w.strip() for w in args.only.split(",") if w.strip()}
        files = [f for f in files if f.stem in wanted or f.stem.rsplit("_", 1)[-1] in wanted]
    if not files:
        ap.error(f"no CSV files to replay in {args.data}")
    started = time.monotonic()
    r = run(files, labels)
    print(json.dumps(r, indent=2) if args.json else table(r))
    log(f"{len(files)} series in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
