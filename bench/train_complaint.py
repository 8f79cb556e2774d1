"""Train the complaint classifier with a held-out part nothing is chosen on, and report honestly.

    python -m bench.train_complaint [--data PATH] [--write]

1. Splits the sample once (seed ``SPLIT_SEED``, stratified by domain and label) into a development
   part and a held-out part (30%).
2. Selection on the development part: every candidate (feature blocks x L2 strength) scored by
   domain-grouped 5-fold CV, its F1-best threshold with it; the best is chosen.
3. Nested CV on the development part: the whole selection repeated inside each of 5 outer folds.
4. The chosen model, trained on the development part, scores the held-out part once.
5. Leave-one-domain-out: for each industry, the selection and training run without any of its rows,
   and the model scores all of them: the stand-in for an industry the model never saw.

With ``--write`` the configuration chosen in step 2 is refitted on every row (no choice is made
there) and written to monitor/scoring/data/complaint_model.json, with the figures. Needs scikit-learn (the
``dev`` extra). Deterministic.

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

from devkit import complaint_train as ct  # noqa: E402
from monitor.scoring.complaint import probability  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "fixtures" / "complaints" / "dev.csv"
MODEL_PATH = ROOT / "monitor" / "scoring" / "data" / "complaint_model.json"


def _fig(f: ct.FoldResult) -> str:
    return f"F1 {f.f1:.3f}  P {f.precision:.3f}  R {f.recall:.3f}  AUC {f.auc:.3f}"


def _figures(f: ct.FoldResult) -> dict[str, float]:
    return {m: round(getattr(f, m), 4) for m in ("f1", "precision", "recall", "auc")} | {"n": f.n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV with tweet,label,domain")
    parser.add_argument("--write", action="store_true", help=f"refit the choice on all rows, write {MODEL_PATH}")
    parser.add_argument("--skip-lodo", action="store_true", help="leave out the leave-one-domain-out runs")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rows = ct.read_rows(args.data)
    dev, held = ct.split(rows)
    print(f"{args.data}: {len(rows)} rows, {sum(r.label for r in rows)} complaints; split seed {ct.SPLIT_SEED}: "
          f"development {len(dev)} ({sum(rows[i].label for i in dev)} complaints), "
          f"held out {len(held)} ({sum(rows[i].label for i in held)} complaints)")
    compounds = ct.vader_compounds(rows)
    feats = ct.featurize(rows, compounds)

    print("\nselection on the development part (domain-grouped 5-fold CV, F1 at each candidate's best threshold):")
    model, sel = ct.fit_selected(rows, feats, dev)
    for cand, f1, t in sel.table:
        mark = "  <- chosen" if cand == sel.candidate else ""
        print(f"  {cand.name:<38} F1 {f1:.3f} at {t:.2f}{mark}")

    print("\nnested CV on the development part (selection repeated inside each of 5 outer folds):")
    nested = ct.nested_cv(rows, feats, dev, on_fold=lambda k, f: print(
        f"  outer fold {k}: {_fig(f)}  (chose {f.chosen} at {f.threshold:.2f})"))
    print(f"  mean: F1 {nested.mean('f1'):.3f} ± {nested.std('f1'):.3f}  P {nested.mean('precision'):.3f}  "
          f"R {nested.mean('recall'):.3f}  AUC {nested.mean('auc'):.3f}")

    held_scores = [probability(model, feats[i]) for i in held]
    held_labels = [rows[i].label for i in held]
    on_held = ct.measure(held_scores, held_labels, sel.threshold)
    customer = [k for k, i in enumerate(held) if rows[i].customer_talk is not False]
    on_customer = ct.measure([held_scores[k] for k in customer], [held_labels[k] for k in customer], sel.threshold)
    grid = [i / 20 for i in range(-20, 21)]
    t_vader = ct.best_threshold([-compounds[i] for i in dev], [rows[i].label for i in dev], grid)
    vader = ct.measure([-compounds[i] for i in held], held_labels, t_vader)
    print(f"\nheld out ({len(held)} rows, scored once by the model trained on the development part, "
          f"threshold {sel.threshold:.2f}):")
    print(f"  all rows            {_fig(on_held)}")
    print(f"  customer talk only  {_fig(on_customer)}  ({len(customer)} rows: no random tweets)")
    print(f"  VADER alone         {_fig(vader)}  (threshold on -compound {t_vader:+.2f}, F1-best on development)")

    report: dict[str, object] = {"held_out": _figures(on_held), "held_out_customer": _figures(on_customer),
                                 "nested_cv": {m: round(nested.mean(m), 4) for m in ("f1", "precision", "recall",
                                                                                     "auc")}}
    if not args.skip_lodo:
        print("\nleave one domain out (selection and training without any row of the domain; all its rows "
              "scored):")
        per, pooled = ct.leave_one_domain_out(rows, feats, dev, on_domain=lambda d, f: print(
            f"  {d:<12} {f.n:>4} rows  {_fig(f)}  (chose {f.chosen} at {f.threshold:.2f})"))
        macro = sum(f.f1 for f in per.values()) / len(per)
        print(f"  pooled       {pooled.n:>4} rows  F1 {pooled.f1:.3f}  P {pooled.precision:.3f}  "
              f"R {pooled.recall:.3f}  AUC {pooled.auc:.3f}; mean of the domains' F1 {macro:.3f}")
        report["leave_one_domain_out"] = _figures(pooled) | {"mean_domain_f1": round(macro, 4)}
    print(f"\n({time.perf_counter() - started:.0f}s)")

    if args.write:
        # The choice above, refitted on every row (see ct.train): no new choice is made.
        trained = ct.train(rows, feats, sel)
        trained["trained_on"]["data"] = args.data.name
        trained["trained_on"]["figures"] = report
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        MODEL_PATH.write_text(json.dumps(trained, sort_keys=True, separators=(",", ":")) + "\n", "utf-8")
        size = MODEL_PATH.stat().st_size
        n = sum(len(p["weights"]) for p in trained.values() if isinstance(p, dict) and "weights" in p)
        print(f"wrote {MODEL_PATH.relative_to(ROOT)} ({size / 1024:.0f} KiB, {n} weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
