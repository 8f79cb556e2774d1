"""Cross-validate the complaint classifier, compare it with VADER alone, and optionally ship it.

    python bench/train_complaint.py [--data PATH] [--folds 10] [--repeats 3] [--seed 0] [--write]

Prints per-fold and mean precision/recall/F1/AUC of repeated stratified k-fold CV (everything learnt
inside the training folds), and the same folds scored by VADER polarity alone. With ``--write`` it then
trains on all the data and writes monitor/data/complaint_model.json. Deterministic for a given seed.

Data: the X-CI complaint sample (Singh et al., ACL 2023, MIT, github.com/appy1608/ACL2023), built on
Preotiuc-Pietro, Gaman and Aletras, "Automatically Identifying Complaints in Social Media", ACL 2019.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from monitor import complaint_train as ct  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "fixtures" / "complaints" / "dev.csv"
MODEL_PATH = ROOT / "monitor" / "data" / "complaint_model.json"


def _line(name: str, r: ct.CVResult) -> str:
    cells = [f"{m} {r.mean(m):.3f} ± {r.std(m):.3f}" for m in ("f1", "precision", "recall", "auc")]
    return f"{name:<14}" + "   ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV with tweet,label[,domain]")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="repeat r shuffles the folds with seed + r")
    parser.add_argument("--write", action="store_true", help=f"train on all rows and write {MODEL_PATH}")
    args = parser.parse_args(argv)

    rows = ct.read_rows(args.data)
    print(f"{args.data}: {len(rows)} rows, {sum(r.label for r in rows)} complaints; "
          f"{args.folds}-fold x {args.repeats}, seed {args.seed}, threshold {ct.THRESHOLD}")
    started = time.perf_counter()
    compounds = ct.vader_compounds(rows)
    feats = ct.featurize(rows, compounds)

    def show(rep: int, k: int, f: ct.FoldResult) -> None:
        print(f"  repeat {rep} fold {k:>2}: P {f.precision:.3f}  R {f.recall:.3f}  F1 {f.f1:.3f}  AUC {f.auc:.3f}")

    model = ct.cross_validate(rows, args.folds, args.repeats, args.seed, feats=feats, on_fold=show)
    vader = ct.vader_baseline(rows, compounds, args.folds, args.repeats, args.seed)
    print(f"\nmean ± sd over {len(model.folds)} folds ({time.perf_counter() - started:.1f}s)")
    print(_line("model", model))
    print(_line("VADER alone", vader) + "   (threshold on compound, F1-best on the training folds)")

    if args.write:
        trained = ct.train(rows)
        trained["trained_on"]["data"] = args.data.name
        trained["trained_on"]["cv"] = {
            "folds": args.folds, "repeats": args.repeats, "seed": args.seed,
            **{m: round(model.mean(m), 4) for m in ("f1", "precision", "recall", "auc")},
        }
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        MODEL_PATH.write_text(json.dumps(trained, sort_keys=True, separators=(",", ":")) + "\n", "utf-8")
        size = MODEL_PATH.stat().st_size
        print(f"\nwrote {MODEL_PATH.relative_to(ROOT)} ({size / 1024:.0f} KiB, "
              f"{sum(len(p['weights']) for p in trained.values() if isinstance(p, dict) and 'weights' in p)} weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
