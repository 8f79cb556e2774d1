"""Complaint classifier speed: texts a second, next to VADER alone on the same texts, same run.

    python -m bench.classifier [--model PATH] [--repeat 5]

Real texts (the X-CI sample in ../shared/fixtures/complaints/dev.csv; Singh et al., ACL 2023, MIT)
and simulated brand mentions (devkit.simtext, as the replay scores them). Per text it times VADER's
polarity_scores alone, the classifier alone given the compound (as the pipeline calls it: without
cues, which only roots get), and with cues; best of ``--repeat`` runs of CPU time, so other processes
on a busy machine count less. ``--model`` times another model file (the one before a change, say).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the repository, not an installed package

from monitor.scoring.complaint import ComplaintClassifier  # noqa: E402

DEV_CSV = ROOT.parent / "shared" / "fixtures" / "complaints" / "dev.csv"


def _best(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def simulated_texts(n: int, seed: int = 1) -> list[str]:
    """``n`` simulated brand mentions of every kind, as the simulator writes them."""
    from devkit import simtext

    rng = random.Random(seed)
    kinds = [simtext.COMPLAINT, simtext.VAGUE, simtext.OUTAGE, simtext.PRAISE, simtext.NEUTRAL, simtext.SAD,
             simtext.NEG_OTHER]
    return [simtext.fill(rng.choice(rng.choice(kinds)), rng, "acme") for _ in range(n)]


def speed(texts: list[str], model: Path | None = None, repeat: int = 5) -> dict[str, Any]:
    """Texts a second (and microseconds a text) of VADER alone, the classifier alone, and both."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    clf = ComplaintClassifier.load(model)
    compounds = [vader.polarity_scores(t)["compound"] for t in texts]
    pairs = list(zip(texts, compounds, strict=True))

    def run_vader() -> None:
        for t in texts:
            vader.polarity_scores(t)

    def run_classifier() -> None:
        for t, c in pairs:
            clf.score(t, c, explain=False)

    def run_explained() -> None:
        for t, c in pairs:
            clf.score(t, c)

    n = len(texts)
    v, k, e = (_best(f, repeat) for f in (run_vader, run_classifier, run_explained))
    return {"texts": n, "vader_per_s": n / v, "classifier_per_s": n / k, "classifier_explained_per_s": n / e,
            "vader_us": 1e6 * v / n, "classifier_us": 1e6 * k / n, "classifier_explained_us": 1e6 * e / n,
            "both_per_s": n / (v + k), "ratio_both_to_vader": v / (v + k)}


def _fmt(name: str, r: dict[str, Any]) -> str:
    return (f"{name:<22} {r['texts']:>5} texts  VADER {r['vader_us']:6.1f} us ({r['vader_per_s']:>7,.0f}/s)  "
            f"classifier {r['classifier_us']:6.1f} us ({r['classifier_per_s']:>7,.0f}/s), with cues "
            f"{r['classifier_explained_us']:6.1f} us  VADER+classifier {r['both_per_s']:>6,.0f}/s = "
            f"{r['ratio_both_to_vader']:.2f} of VADER alone")


def text_sets() -> dict[str, list[str]]:
    """The texts timed: the real sample when ../shared/fixtures is there, and simulated mentions."""
    sets: dict[str, list[str]] = {}
    if DEV_CSV.is_file():
        import csv

        with open(DEV_CSV, newline="", encoding="utf-8") as fh:
            sets["X-CI sample (real)"] = [r["tweet"] for r in csv.DictReader(fh)]
    sets["simulated mentions"] = simulated_texts(2000)
    return sets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.classifier", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a model file (default: the shipped one)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    for name, texts in text_sets().items():
        print(_fmt(name, speed(texts, args.model, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
