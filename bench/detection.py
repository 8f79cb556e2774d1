"""Detection benchmark: simulated weeks through the real pipeline, against a trailing-hour baseline.

For each seed, ``devkit.simulate`` generates a week of mentions for a few brands; the week is
replayed in-process through ``Pipeline`` (temporary store, simulated clock, nothing delivered), and
its alerts are scored against the simulator's ground truth:

- storms caught: complaint cascades whose final size passes the threshold (a fifth of it for a VIP's
  own complaint) that got a ``new`` alert;
- false alerts per watch-list per week: ``new`` alerts for anything else (cascade or spike), and the
  most false alerts in any one watch-list week (the target is at most one);
- earliness: reactions at alert time as a share of the threshold (median over caught storms);
- outage delay: minutes from an outage's start to its spike alert.

The baseline alerts when a complaint cascade (same complaint classifier) gets N reactions within a
trailing hour, with N chosen in hindsight as the smallest giving no more false alerts than the
detector's cascade alerts.

    python -m bench.detection [--weeks 4] [--first-seed 1] [--brands 2] [--mentions N] [--family F] [--json]

Per family of the zoo (devkit/zoo.py), on tuning or report seeds: ``python -m bench.zoo``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.calibration import Judgements
from devkit.simulate import SimSettings, Truth, write_config
from devkit.zoo import simulation
from monitor.clock import SimulatedClock
from monitor.config.settings import load_config
from monitor.engine.pipeline import Pipeline
from monitor.records.decision import Decision
from monitor.records.mention import Mention, parse_time
from monitor.replay import ReplaySummary, run_replay
from monitor.scoring.scores import Scorer
from monitor.store.database import Store

HOUR = 3600


@dataclass
class Week:
    seed: int
    truth: Truth
    alerts: list[dict[str, Any]]
    is_complaint: dict[str, bool]        # classifier verdict on each listed cascade's root
    summary: ReplaySummary
    decisions: Counter[str] = field(default_factory=Counter)
    family: str = "branching"
    judged: Judgements | None = None     # the storm probabilities worked out, when they were recorded


def replay_week(seed: int, *, days: float = 7, brands: int = 2, mentions: int | None = None,
                threshold: int = 300, scorer: Scorer | None = None, family: str = "branching",
                sensitivity: str | None = None, judged: Judgements | None = None) -> Week:
    """Simulate one week of ``family`` (devkit/zoo.py) and replay it through the real pipeline; keep
    every alert line as emitted (all its fields, ``p_storm`` among them) and the truth. ``sensitivity``:
    every watch-list's ``alert.sensitivity``; ``judged`` records every storm probability worked out
    (bench/calibration.py)."""
    sim = simulation(family, SimSettings(days=days, seed=seed, brands=brands, mentions=mentions,
                                         threshold=threshold))
    alerts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        cfg = load_config(write_config(Path(tmp), sim.brands, sim.vips, threshold, database=f"{tmp}/bench.db",
                                       sensitivity=sensitivity))
        store = Store(cfg.database_path)
        clock = SimulatedClock(sim.s.start)
        pipeline = Pipeline(cfg, store, clock, scorer=scorer, deliver=False)
        if judged is not None:
            pipeline.detector.on_judged = judged.recorder(family, seed)

        def emit(d: Decision) -> None:
            alerts.append(d.to_json())

        records = (Mention.from_json(r) for r in sim.records())
        summary = run_replay(records, pipeline, clock, emit)
        listed = [c["root_id"] for c in sim.truth.cascades]
        texts = dict(store.conn.execute(
            f"SELECT id, record FROM mentions WHERE id IN ({','.join('?' * len(listed))})", listed).fetchall())
        sc = pipeline.scorer
        verdict = {i: sc.score(Mention.from_json(json.loads(t)).full_text).complaint.is_complaint
                   for i, t in texts.items()}
        store.close()
    return Week(seed, sim.truth, alerts, verdict, summary, Counter(summary.decisions), family, judged)


def _threshold_for(c: dict[str, Any], threshold: int) -> int:
    return max(1, threshold // 5) if c["vip_root"] else threshold


def baseline_alerts(week: Week, n: int, threshold: int) -> dict[str, int]:
    """root_id -> reactions at alert time, for "n reactions within a trailing hour" on complaint roots."""
    out = {}
    for c in week.truth.cascades:
        if not week.is_complaint.get(c["root_id"]):
            continue
        need = max(1, round(n * _threshold_for(c, threshold) / threshold))
        r, j = c.get("reactions", []), 0
        for i, t in enumerate(r):
            while t - r[j] >= HOUR:
                j += 1
            if i - j + 1 >= need:
                out[c["root_id"]] = i + 1
                break
    return out


def score_weeks(weeks: list[Week], threshold: int = 300) -> dict[str, Any]:
    """The figures: detector and baseline, over all weeks."""
    storms: dict[str, dict[str, Any]] = {}
    caught, early, before, false_cascade, false_spike, news = {}, [], 0, 0, 0, Counter[str]()
    delays: list[float] = []
    missed_outages = 0
    watchlist_weeks = 0.0
    false_by_watchlist_week = Counter[tuple[int, str]]()
    for w in weeks:
        t = w.truth
        days = (parse_time(t.end) - parse_time(t.start)).total_seconds() / 86400
        watchlist_weeks += len(t.brands) * days / 7
        for c in t.cascades:
            if c["storm"]:
                storms[c["root_id"]] = c
        for a in w.alerts:
            if a["level"] == "new":
                news[a["root_id"]] += 1
        for a in (a for a in w.alerts if a["level"] == "new" and a["kind"] == "cascade"):
            c = storms.get(a["root_id"])
            if c is None:
                false_cascade += 1
                false_by_watchlist_week[(w.seed, a["watchlist"])] += 1
                continue
            caught[a["root_id"]] = a
            share = a["reactions"] / _threshold_for(c, threshold)
            early.append(share)
            before += share < 1
        spikes = [a for a in w.alerts if a["level"] == "new" and a["kind"] == "spike"]
        matched: set[int] = set()
        for o in t.outages:
            start, end = parse_time(o["start"]), parse_time(o["end"])
            hit = [i for i, a in enumerate(spikes) if a["watchlist"] == o["brand"]
                   and start - timedelta(minutes=30) <= parse_time(a["at"]) <= end + timedelta(hours=1)]
            if hit:
                matched.update(hit)
                delays.append((parse_time(spikes[hit[0]]["at"]) - start).total_seconds() / 60)
            else:
                missed_outages += 1
        false_spike += len(spikes) - len(matched)
        for i, a in enumerate(spikes):
            if i not in matched:
                false_by_watchlist_week[(w.seed, a["watchlist"])] += 1

    # The baseline, with N tuned in hindsight to give no more false cascade alerts than the detector.
    base: dict[str, Any] = {}
    for n in range(5, 2001):
        hits: dict[str, int] = {}
        false = 0
        for w in weeks:
            for rid, size in baseline_alerts(w, n, threshold).items():
                if rid in storms:
                    hits[rid] = size
                else:
                    false += 1
        if false <= false_cascade:
            shares = [hits[r] / _threshold_for(storms[r], threshold) for r in hits]
            base = {"n": n, "caught": len(hits), "false_alerts": false,
                    "false_per_watchlist_week": round(false / watchlist_weeks, 2),
                    "median_earliness": round(statistics.median(shares), 3) if shares else None,
                    "before_threshold": sum(s < 1 for s in shares)}
            break
    speed = [w.summary.mentions / w.summary.seconds for w in weeks if w.summary.seconds]
    return {
        "weeks": len(weeks), "watchlist_weeks": round(watchlist_weeks, 2),
        "mentions": sum(w.summary.mentions for w in weeks),
        "storms": len(storms), "caught": len(caught),
        "before_threshold": before,
        "median_earliness": round(statistics.median(early), 3) if early else None,
        "false_alerts": false_cascade + false_spike, "false_cascade": false_cascade, "false_spike": false_spike,
        "false_per_watchlist_week": round((false_cascade + false_spike) / watchlist_weeks, 2),
        "max_false_in_one_watchlist_week": max(false_by_watchlist_week.values(), default=0),
        "max_new_per_cascade": max(news.values(), default=0),
        "outages": sum(len(w.truth.outages) for w in weeks), "outages_missed": missed_outages,
        "outage_delay_median_min": round(statistics.median(delays), 1) if delays else None,
        "outage_delay_max_min": round(max(delays), 1) if delays else None,
        "replay_mentions_per_s": round(statistics.median(speed)) if speed else None,
        "baseline": base,
        "missed": sorted((c["label"], c["final_size"], c["root_id"]) for r, c in storms.items() if r not in caught),
    }


def detection_figures(seeds: Iterable[int] = range(1, 5), *, brands: int = 2, days: float = 7,
                      mentions: int | None = None, threshold: int = 300, family: str = "branching") -> dict[str, Any]:
    """Run the benchmark and return its figures as a dict (what ``make bench`` prints)."""
    scorer = Scorer()
    weeks = [replay_week(s, days=days, brands=brands, mentions=mentions, threshold=threshold, scorer=scorer,
                         family=family) for s in seeds]
    return score_weeks(weeks, threshold)


def table(f: dict[str, Any]) -> str:
    b = f["baseline"] or {}
    rows = [
        ("", "detector", f"baseline (N={b.get('n')}/hour)"),
        ("storms caught", f"{f['caught']} / {f['storms']}", f"{b.get('caught')} / {f['storms']}"),
        ("caught before the threshold", str(f["before_threshold"]), str(b.get("before_threshold"))),
        ("median reactions at alert / threshold", str(f["median_earliness"]), str(b.get("median_earliness"))),
        ("false alerts per watch-list per week", f"{f['false_per_watchlist_week']} "
         f"({f['false_cascade']} cascade, {f['false_spike']} spike)", str(b.get("false_per_watchlist_week"))),
        ("most false alerts in one watch-list week", str(f.get("max_false_in_one_watchlist_week")), "-"),
        ("outages alerted", f"{f['outages'] - f['outages_missed']} / {f['outages']}", "-"),
        ("outage alert delay, median / max (min)", f"{f['outage_delay_median_min']} / {f['outage_delay_max_min']}",
         "-"),
        ("most new alerts for one cascade", str(f["max_new_per_cascade"]), "-"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [" | ".join(c.ljust(width[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in width))
    lines.append(f"({f['weeks']} simulated weeks, {f['watchlist_weeks']} watch-list weeks, {f['mentions']} "
                 f"mentions, replayed at {f['replay_mentions_per_s']} mentions/s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weeks", type=int, default=4, help="simulated weeks (seeds 1..N)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--brands", type=int, default=2)
    ap.add_argument("--mentions", type=int, help="about this many mentions per week")
    ap.add_argument("--threshold", type=int, default=300)
    ap.add_argument("--family", default="branching", help="generative family (docs/simulator.md)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    started = time.monotonic()
    f = detection_figures(range(args.first_seed, args.first_seed + args.weeks), brands=args.brands,
                          mentions=args.mentions, threshold=args.threshold, family=args.family)
    print(json.dumps(f, indent=1, default=str) if args.json else table(f))
    print(f"({time.monotonic() - started:.0f}s; missed storms: {f['missed'] or 'none'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

