"""Detection and throughput per generative family (devkit/zoo.py), each next to its own baseline.

For every family, seeded weeks are simulated and replayed through the real pipeline, and scored as
``bench.detection`` scores them (storms caught, caught late, false alerts per watch-list-week, the
most in one watch-list-week, median share of the threshold at the first alert, outages), next to
the trailing-hour baseline tuned in hindsight on the same weeks. Then a file of a few hundred
thousand mentions of the family goes through ``monitor replay`` next to VADER alone on its texts.

Seeds come in two sets (docs/simulator.md):

- ``TUNING_SEEDS`` (1-8999): choose anything on these: a family's parameters, the detector's
  settings, a calibration.
- ``REPORT_SEEDS`` (9001-9006 by default, and anything from 9001 up): only measured, never used to
  choose. ``make bench`` reports on these.

    python -m bench.zoo [--set report|tuning] [--weeks 6] [--families seismic,hawkes] [--json]
    python -m bench.zoo --throughput 250000      # also the replay throughput per family
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.calibration import Judgements, by_sensitivity, calibration, first_judgements
from bench.detection import Week, baseline_alerts, replay_week, score_weeks
from devkit.zoo import FAMILIES, HELD_OUT
from monitor.config.settings import SENSITIVITY
from monitor.scoring.scores import Scorer

TUNING_SEEDS = range(1, 9000)
REPORT_SEEDS = range(9001, 10_000)
BRANDS = 2  # watch-lists per simulated week, as in bench.detection


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def seeds_of(which: str, weeks: int) -> list[int]:
    """The first ``weeks`` seeds of the ``tuning`` or ``report`` set."""
    pool = {"tuning": TUNING_SEEDS, "report": REPORT_SEEDS}[which]
    return list(pool[:weeks])


def family_weeks(family: str, seeds: Iterable[int], *, brands: int = BRANDS, threshold: int = 300,
                 scorer: Scorer | None = None, sensitivity: str | None = None,
                 judged: Judgements | None = None) -> list[Week]:
    """Each seed's week of ``family``, replayed; a ``Week`` keeps its truth and every alert line."""
    scorer = scorer or Scorer()
    return [replay_week(s, brands=brands, threshold=threshold, scorer=scorer, family=family,
                        sensitivity=sensitivity, judged=judged) for s in seeds]


def first_alerts(weeks: Sequence[Week]) -> list[dict[str, Any]]:
    """One row per cascade that got a ``new`` cascade alert at the default sensitivity: its reactions and
    ``p_storm`` then, whether the truth calls it a storm, and its final size (None for a cascade too small
    to be listed in the truth). A week replayed with its judgements recorded (at another sensitivity, as
    ``zoo_figures`` replays) has them read off those; else off its alert lines."""
    rows = []
    for w in weeks:
        listed = {c["root_id"]: c for c in w.truth.cascades}
        if w.judged is not None:
            found = {k[2]: (w.judged.watchlist.get(k), size, p)
                     for k, (size, p) in first_judgements([w], w.judged, SENSITIVITY["normal"]).items()
                     if k[:2] == (w.family, w.seed)}
        else:
            found = {}
            for a in w.alerts:
                if a["kind"] == "cascade" and a["level"] == "new" and a["root_id"] not in found:
                    found[a["root_id"]] = (a["watchlist"], a["reactions"], a.get("p_storm"))
        for rid, (watchlist, reactions, p_storm) in found.items():
            c = listed.get(rid)
            rows.append({"family": w.family, "seed": w.seed, "root_id": rid, "watchlist": watchlist,
                         "reactions": reactions, "p_storm": p_storm, "storm": bool(c and c["storm"]),
                         "final_size": c["final_size"] if c else None, "label": c["label"] if c else None})
    return rows


def zoo_figures(families: Iterable[str] = FAMILIES, *, which: str = "report", weeks: int = 6,
                brands: int = BRANDS, threshold: int = 300,
                keep: dict[str, list[Week]] | None = None) -> dict[str, Any]:
    """Per family: ``score_weeks`` figures (detector and tuned baseline) over the same seeds. ``keep``:
    a dict that receives each family's replayed weeks (truth and alert lines), for further tables."""
    seeds = seeds_of(which, weeks)
    scorer = Scorer()
    out: dict[str, Any] = {"set": which, "seeds": seeds, "families": {}}
    pooled: list[tuple[list[Week], Judgements]] = []
    for fam in families:
        started = time.monotonic()
        # Replayed at the least sensitive setting, so that every judgement a more sensitive setting's first
        # alert depends on is recorded; each setting's first alerts are then read off the same judgements
        # (bench/calibration.py). Spikes and outages come from the replay itself.
        judged = Judgements()
        ws = family_weeks(fam, seeds, brands=brands, threshold=threshold, scorer=scorer, sensitivity="low",
                          judged=judged)
        if keep is not None:
            keep[fam] = ws
        f = score_weeks(ws, threshold)
        settings = by_sensitivity(ws, judged, threshold, baseline=baseline_alerts)
        n = settings["normal"]  # the default: what the headline row shows
        false = n["false_alerts"] + f["false_spike"]
        f.update(caught=n["caught"], before_threshold=n["before_threshold"], median_earliness=n["median_share"],
                 false_cascade=n["false_alerts"], false_alerts=false,
                 false_per_watchlist_week=round(false / f["watchlist_weeks"], 2),
                 max_false_in_one_watchlist_week=n["max_false_in_one_watchlist_week"], baseline=n["baseline"])
        f["late"] = f["caught"] - f["before_threshold"]
        f["sensitivity"] = settings
        f["calibration"] = calibration(ws, judged, threshold)
        f["seconds"] = round(time.monotonic() - started, 1)
        out["families"][fam] = f
        if fam in HELD_OUT:
            out.setdefault("held_out", []).append(fam)
        else:  # the pooled calibration is the zoo's; a held-out family's own is in its figures
            pooled.append((ws, judged))
        log(f"  {fam}: {f['caught']}/{f['storms']} storms, {f['false_per_watchlist_week']} false/watch-list-week "
            f"({f['seconds']:.0f}s)")
    out["calibration"] = pooled_calibration(pooled, threshold)
    return out


def pooled_calibration(runs: list[tuple[list[Week], Judgements]], threshold: int) -> list[dict[str, Any]]:
    """The calibration table over every family: each bucket's cascades and storms added up."""
    total: list[dict[str, Any]] = []
    for ws, judged in runs:
        for i, row in enumerate(calibration(ws, judged, threshold)):
            if i == len(total):
                total.append(dict(row))
            else:
                total[i]["cascades"] += row["cascades"]
                total[i]["storms"] += row["storms"]
    for row in total:
        row["share"] = round(row["storms"] / row["cascades"], 3) if row["cascades"] else None
    return total


def zoo_throughput(out: Path, mentions: int, families: Iterable[str] = FAMILIES) -> dict[str, Any]:
    """Per family: ``monitor replay`` (default workers) on about ``mentions`` mentions of it (8 brands, a
    week, seed 9001: a report seed), next to VADER alone on the same texts before and after."""
    from bench.throughput import run_replay, simulated_file, texts_of, vader_alone

    res: dict[str, Any] = {}
    for fam in families:
        corpus = simulated_file(out, mentions, seed=REPORT_SEEDS[0], family=fam, strict=False)
        texts = texts_of(corpus.path)
        before = vader_alone(texts)
        replay = run_replay(corpus, out)
        after = vader_alone(texts)
        vader = (before + after) / 2
        res[fam] = {"mentions": corpus.mentions, "unique_texts": len(set(texts)), "vader_before": before,
                    "vader_after": after, "vader": vader, "replay": replay, "ratio": replay["rate"] / vader}
        log(f"  {fam}: replay {replay['rate']:,.0f}/s, VADER alone {vader:,.0f}/s, ratio {replay['rate'] / vader:.2f}")
    return res


def cpu_budget(vader_per_s: float, workers: int, cores: int) -> float:
    """CPU microseconds a mention may cost, in all of a replay's processes, for it to run at half VADER
    alone's rate: half the rate is twice VADER's time a text of wall time, on each core the replay can
    use (its own process and its ``workers``, at most ``cores``)."""
    return 2 * 1e6 / vader_per_s * max(1, min(cores, 1 + workers))


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def both_caught(f: dict[str, Any]) -> str:
    """The default setting's median shares over the storms both it and the baseline caught."""
    both = ((f.get("sensitivity") or {}).get("normal") or {}).get("both_caught")
    if not both or not both["storms"]:
        return "-"
    return f"{_share(both['median_share'])} / {_share(both['baseline_median_share'])} ({both['storms']})"


def table(z: dict[str, Any], tp: dict[str, Any] | None = None) -> str:
    """The per-family table: detector next to the baseline, and the throughput ratio when measured."""
    head = ("family", "storms caught (late)", "baseline (late)", "false/wl-week (most in one)", "baseline false",
            "median share at 1st alert", "baseline share", "both caught: share / baseline's", "outages (median delay)",
            "K/hour")
    rows = [head]
    held_out = set(z.get("held_out") or ())
    for fam, f in z["families"].items():
        b = f["baseline"] or {}
        b_late = None if not b else b["caught"] - b["before_threshold"]
        rows.append((fam + ("*" if fam in held_out else ""), f"{f['caught']}/{f['storms']} ({f['late']})",
                     f"{b.get('caught', '-')}/{f['storms']} ({b_late if b_late is not None else '-'})",
                     f"{f['false_per_watchlist_week']} ({f['max_false_in_one_watchlist_week']})",
                     str(b.get("false_per_watchlist_week", "-")),
                     _share(f["median_earliness"]), _share(b.get("median_earliness")), both_caught(f),
                     f"{f['outages'] - f['outages_missed']}/{f['outages']} ({f['outage_delay_median_min']} min)",
                     str(b.get("n", "-"))))
    width = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [" | ".join(c.ljust(width[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in width))
    lines.append(f"({z['set']} seeds {z['seeds'][0]}-{z['seeds'][-1]}: {len(z['seeds'])} weeks x {BRANDS} watch-lists "
                 "per family; late = first alert after the threshold; baseline: K reactions in a trailing hour "
                 "on a complaint root, K tuned in hindsight to the detector's false cascade alerts; both caught: "
                 "the median shares over the storms both caught, how many in brackets)")
    if held_out:
        lines.append("(* held out: a generator written apart from the simulator after every parameter was chosen, "
                     "devkit/outsider.py; not in the pooled calibration)")
    lines.append("")
    lines.append("by alert.sensitivity (cascade alerts; the baseline gets as many false alerts):")
    for fam, f in z["families"].items():
        for level, sv in (f.get("sensitivity") or {}).items():
            sb = sv.get("baseline") or {}
            most = sv["max_false_in_one_watchlist_week"]
            lines.append(f"  {fam:<10} {level:<6} p_storm >= {sv['p_alert']:.1f}: {sv['caught']}/{sv['storms']} "
                         f"caught, {sv['false_per_watchlist_week']} false/wl-week (most {most}), share "
                         f"{_share(sv['median_share'])}; baseline K={sb.get('n')} {sb.get('caught')} caught, share "
                         f"{_share(sb.get('median_share'))}")
    if z.get("calibration"):
        from bench.calibration import calibration_table

        lines.append("")
        lines.append("calibration, every family of the zoo pooled:")
        lines.append(calibration_table(z["calibration"]))
        for fam in sorted(held_out):
            lines.append(f"calibration, {fam} (held out):")
            lines.append(calibration_table(z["families"][fam]["calibration"]))
    if tp:
        lines.append("")
        # CPU time a mention (the replay's and its workers') varies less with the machine's load than
        # the ratio of two wall-clock rates does.
        lines.append("family    | replay mentions/s | VADER alone texts/s | ratio | replay CPU us/mention | "
                     "budget at 0.5 | VADER us/text | mentions | distinct texts")
        cores = os.cpu_count() or 1
        for fam, t in tp.items():
            cpu = t["replay"]["cpu_seconds"] / t["mentions"] * 1e6
            budget = cpu_budget(t["vader"], t["replay"]["workers"], cores)
            lines.append(f"{fam:<9} | {t['replay']['rate']:>17,.0f} | {t['vader']:>19,.0f} | {t['ratio']:>5.2f} | "
                         f"{cpu:>21.0f} | {budget:>13.0f} | {1e6 / t['vader']:>13.0f} | {t['mentions']:>8,} | "
                         f"{t['unique_texts'] / t['mentions']:.0%}")
        lines.append(f"(budget at 0.5: the CPU a mention may cost, in all the replay's processes together, for a ratio "
                     f"of 0.5 on this machine's {cores} core(s): 2 x VADER's time a text x the cores the replay can "
                     "use. Above it no division of the work between processes reaches 0.5; below it, the main "
                     "process must also stay within 2 x VADER's time a text)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.zoo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("report", "tuning"), default="report",
                    help="seed set: report (9001-, never used to choose) or tuning (1-8999)")
    ap.add_argument("--weeks", type=int, default=6, help="weeks per family")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--threshold", type=int, default=300)
    ap.add_argument("--throughput", type=int, metavar="MENTIONS", help="also the replay throughput per family")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = set(families) - set(FAMILIES) - set(HELD_OUT)
    if unknown:
        ap.error(f"unknown families: {', '.join(sorted(unknown))}; one of {', '.join([*FAMILIES, *HELD_OUT])}")
    started = time.monotonic()
    z = zoo_figures(families, which=args.set, weeks=args.weeks, threshold=args.threshold)
    tp = None
    if args.throughput:
        from bench import OUT

        OUT.mkdir(parents=True, exist_ok=True)
        tp = zoo_throughput(OUT, args.throughput, families)
    print(json.dumps({"detection": z, "throughput": tp}, indent=1, default=str) if args.json else table(z, tp))
    print(f"({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["REPORT_SEEDS", "TUNING_SEEDS", "both_caught", "family_weeks", "first_alerts", "zoo_figures"]
