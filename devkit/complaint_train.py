"""Training and honest evaluation of the complaint classifier.

The labelled sample is split once, by a seeded split stratified by domain and label, into a
development part and a held-out part. Every choice (which feature blocks, the regularisation, the
threshold) is made by cross-validation on the development part only; the held-out part is scored
once, by the model that ships. ``nested_cv`` repeats the whole selection inside each outer fold, so
its figure measures the procedure, not one lucky choice; ``leave_one_domain_out`` runs it with one
industry left out entirely, as the stand-in for an industry the model never saw.

Selection folds group the customer domains (a fold holds whole industries), because what the model
must do in the field is work on brands and industries it was not trained on; measured on folds that
mix every domain, a choice favours what is particular to the sample.

The data is the X-CI complaint sample (Singh et al., ACL 2023, MIT, github.com/appy1608/ACL2023)
built on Preotiuc-Pietro et al., "Automatically Identifying Complaints in Social Media", ACL 2019.
Fitting uses scikit-learn (the ``dev`` extra), imported only when a model is fitted: nested
selection takes some thousand fits, which its L-BFGS does in about a minute where a pure-Python
one took about two seconds a fit. Scoring (``monitor.scoring.complaint``) needs none of it.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from devkit.complaint_metrics import CVResult, FoldResult, auc, best_threshold, measure, prf
from monitor.scoring.complaint import analyse, probability

SPLIT_SEED = 13     # the one split of the sample; never changed to get a better held-out figure
HOLDOUT = 0.3       # share of every (domain, label) stratum held out
INNER_FOLDS = 5     # selection folds on the development part (domain-grouped)
MIN_DF = 2          # an n-gram seen in one training text is noise; lexicon and shape features are always kept
# Chosen for the daemon, where every text is a brand mention: the text alone often cannot show it is
# addressed to a company ("acme sucks"); the floor keeps such complaints in reach.
TALK_FLOOR = 0.1
# Feature blocks by the prefix of their names (see monitor.scoring.complaint.analyse).
BLOCKS: dict[str, tuple[str, ...]] = {
    "ngrams": ("w:", "b:"), "cues": ("cat:", "agg:"), "sentiment": ("v:",), "shape": ("s:",),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One model configuration the selection may choose: feature blocks and inverse L2 strength C
    (on the summed log-loss)."""

    blocks: tuple[str, ...]
    c: float

    @property
    def name(self) -> str:
        return f"{'+'.join(self.blocks)} C={self.c:g}"


# Fixed before any figure was seen: the blocks with and without the hand-written lexicon (the cues
# must earn their place against learned n-grams), and without n-grams; three strengths a decade
# apart. Character n-grams were left out on cost: 3-5-grams take some 65 us a text in pure Python,
# more than the whole budget the classifier has beside VADER.
CANDIDATES: tuple[Candidate, ...] = tuple(
    Candidate(blocks, c)
    for blocks in (("ngrams", "cues", "sentiment", "shape"), ("ngrams", "sentiment", "shape"),
                   ("cues", "sentiment", "shape"))
    for c in (1.0, 3.0, 10.0))
DEFAULT = Candidate(("ngrams", "cues", "sentiment", "shape"), 10.0)  # the model before selection
# The customer-talk factor is not selected: it tells customers' tweets from random ones, a task of
# vocabulary ("my order", "bought") more than of complaint cues, and what it must do in the field
# (every text is a brand mention) differs from what the sample can measure. All blocks, C as before.
TALK = DEFAULT
DEFAULT_THRESHOLD = 0.4


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled text. ``customer_talk``: is it a customer talking to or about a company (False for
    the data set's random tweets, which are never complaints); None when unknown. ``domain``: the
    industry (or random_tweet/random_reply), None when unknown."""

    text: str
    label: int
    customer_talk: bool | None = None
    domain: str | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    candidate: Candidate
    threshold: float
    table: tuple[tuple[Candidate, float, float], ...]  # (candidate, F1 at its best threshold, that threshold)


def read_rows(path: str | Path) -> list[Row]:
    """Rows of a CSV with ``tweet`` and ``label`` (0/1) columns, in file order. An optional ``domain``
    column marks customer talk: every domain but random_tweet/random_reply."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [Row(r["tweet"], int(r["label"]),
                    None if r.get("domain") is None else not r["domain"].startswith("random"), r.get("domain"))
                for r in csv.DictReader(fh)]


def vader_compounds(rows: Sequence[Row]) -> list[float]:
    """The VADER compound score of every row, on the raw text."""
    vader = SentimentIntensityAnalyzer()
    return [vader.polarity_scores(r.text)["compound"] for r in rows]


def featurize(rows: Sequence[Row], compounds: Sequence[float] | None = None) -> list[dict[str, float]]:
    """Features of every row, computed once (never again per fold)."""
    compounds = vader_compounds(rows) if compounds is None else compounds
    return [analyse(r.text, c)[0] for r, c in zip(rows, compounds, strict=True)]


# -- the split and the folds ----------------------------------------------------------------------

def split(rows: Sequence[Row], fraction: float = HOLDOUT, seed: int = SPLIT_SEED) -> tuple[list[int], list[int]]:
    """(development, held-out) row indices: ``fraction`` of every (domain, label) stratum, rounded,
    is held out. Deterministic for ``seed``; the two parts are disjoint and cover every row."""
    strata: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(rows):
        strata.setdefault((r.domain or "", r.label), []).append(i)
    rng = random.Random(seed)
    held: set[int] = set()
    for key in sorted(strata):
        idx = strata[key][:]
        rng.shuffle(idx)
        held.update(idx[: round(fraction * len(idx))])
    return [i for i in range(len(rows)) if i not in held], sorted(held)


def split_digest(rows: Sequence[Row], idx: Sequence[int]) -> str:
    """A short digest of the texts at ``idx``: the shipped model records its held-out part's."""
    h = hashlib.sha256()
    for i in sorted(idx):
        h.update(rows[i].text.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def stratified_folds(labels: Sequence[int], k: int, seed: int) -> list[list[int]]:
    """k disjoint index lists, each with the label mix of the whole, shuffled by ``seed``."""
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for value in (0, 1):
        idx = [i for i, y in enumerate(labels) if y == value]
        rng.shuffle(idx)
        for n, i in enumerate(idx):
            folds[n % k].append(i)
    return [sorted(f) for f in folds]


def domain_folds(rows: Sequence[Row], idx: Sequence[int], k: int, seed: int) -> list[list[int]]:
    """k disjoint folds of ``idx`` in which each customer domain lies whole in one fold (the largest
    domains dealt first, each to the smallest fold); rows of no industry (random tweets) are spread
    evenly. Folds that left a domain out entirely measure how a choice carries to a new industry."""
    rng = random.Random(seed)
    by_domain: dict[str, list[int]] = {}
    loose: list[int] = []
    for i in idx:
        d = rows[i].domain
        if d is None or rows[i].customer_talk is False:
            loose.append(i)
        else:
            by_domain.setdefault(d, []).append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    names = sorted(by_domain)
    rng.shuffle(names)
    for d in sorted(names, key=lambda d: -len(by_domain[d])):
        min(folds, key=len).extend(by_domain[d])
    rng.shuffle(loose)
    for i in loose:
        min(folds, key=len).append(i)
    return [sorted(f) for f in folds if f]


# -- fitting --------------------------------------------------------------------------------------

def _prefixes(candidate: Candidate) -> tuple[str, ...]:
    return tuple(p for b in candidate.blocks for p in BLOCKS[b])


def _keep(f: dict[str, float], prefixes: tuple[str, ...]) -> dict[str, float]:
    return {n: v for n, v in f.items() if n.startswith(prefixes)}


def fit_part(feats: Sequence[dict[str, float]], labels: Sequence[int], c: float = DEFAULT.c,
             min_df: int = MIN_DF) -> dict[str, Any]:
    """One L2 logistic regression (bias unpenalised) on featurised rows: {"bias": b, "weights": {name: w}}.

    Deterministic: L-BFGS from zero, no shuffling. Raises ImportError without scikit-learn."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    df: dict[str, int] = {}
    for f in feats:
        for name in f:
            df[name] = df.get(name, 0) + 1
    names = sorted(n for n, k in df.items() if k >= min_df or not n.startswith(("w:", "b:")))
    vocab = {n: j for j, n in enumerate(names)}
    rows_, cols, vals = [], [], []
    for r, f in enumerate(feats):
        for name, v in f.items():
            j = vocab.get(name)
            if j is not None:
                rows_.append(r)
                cols.append(j)
                vals.append(v)
    x = csr_matrix((vals, (rows_, cols)), shape=(len(feats), len(names)))
    model = LogisticRegression(C=c, solver="lbfgs", max_iter=5000, tol=1e-8)
    model.fit(x, np.asarray(labels))
    w = model.coef_[0]
    # Rounding keeps the shipped JSON small; it moves no probability by more than ~1e-4.
    weights = {n: round(float(w[j]), 5) for n, j in vocab.items() if abs(w[j]) >= 1e-5}
    return {"bias": round(float(model.intercept_[0]), 5), "weights": weights}


def fit_talk(rows: Sequence[Row], feats: Sequence[dict[str, float]]) -> dict[str, Any] | None:
    """The customer-talk factor for these rows; None when every row is customer talk."""
    if all(r.customer_talk is not False for r in rows):
        return None
    talk_feats = [_keep(f, _prefixes(TALK)) for f in feats]
    return fit_part(talk_feats, [int(r.customer_talk is not False) for r in rows], TALK.c)


def train_featurized(rows: Sequence[Row], feats: Sequence[dict[str, float]], candidate: Candidate = DEFAULT,
                     threshold: float = DEFAULT_THRESHOLD, talk_part: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model dict for rows whose features are already computed, with ``candidate``'s blocks.
    ``talk_part``: the customer-talk factor ``fit_talk`` gave for these very rows (it depends on no
    candidate, so a selection fits it once per fold)."""
    talk = [i for i, r in enumerate(rows) if r.customer_talk is not False]
    model: dict[str, Any] = {"format": 1, "threshold": threshold}
    if len(talk) < len(rows):
        # Two factors: is this customer talk at all, and given that, is it a complaint. The data set's
        # random tweets are never complaints, so the second factor learns from customer talk only.
        model["customer_talk"] = talk_part or fit_talk(rows, feats)
        model["talk_floor"] = TALK_FLOOR
    prefixes = _prefixes(candidate)
    model["complaint"] = fit_part([_keep(feats[i], prefixes) for i in talk], [rows[i].label for i in talk],
                                  candidate.c)
    return model


# -- measuring and choosing -----------------------------------------------------------------------

def out_of_fold(rows: Sequence[Row], feats: Sequence[dict[str, float]], folds: Sequence[Sequence[int]],
                candidate: Candidate, talk_parts: dict[int, dict[str, Any] | None] | None = None) -> dict[int, float]:
    """Row index -> score from a model trained on the other folds. ``talk_parts`` (fold number -> its
    customer-talk factor) is filled on the way, and reused when given again for the same folds."""
    out: dict[int, float] = {}
    every = [i for f in folds for i in f]
    talk_parts = {} if talk_parts is None else talk_parts
    for k, test in enumerate(folds):
        held = set(test)
        train_rows = [rows[i] for i in every if i not in held]
        train_feats = [feats[i] for i in every if i not in held]
        if k not in talk_parts:
            talk_parts[k] = fit_talk(train_rows, train_feats)
        model = train_featurized(train_rows, train_feats, candidate, talk_part=talk_parts[k])
        out.update((i, probability(model, feats[i])) for i in test)
    return out


def select(rows: Sequence[Row], feats: Sequence[dict[str, float]], idx: Sequence[int], seed: int = SPLIT_SEED,
           candidates: Sequence[Candidate] = CANDIDATES) -> Selection:
    """The candidate, and its threshold, with the best F1 on out-of-fold scores of domain-grouped
    folds of ``idx``. Only rows in ``idx`` are read."""
    folds = domain_folds(rows, idx, INNER_FOLDS, seed)
    order = [i for f in folds for i in f]
    labels = [rows[i].label for i in order]
    table = []
    talk_parts: dict[int, dict[str, Any] | None] = {}
    for cand in candidates:
        oof = out_of_fold(rows, feats, folds, cand, talk_parts)
        scores = [oof[i] for i in order]
        t = best_threshold(scores, labels)
        table.append((cand, prf(scores, labels, t)[2], t))
    best = max(table, key=lambda row: row[1])  # the first candidate wins ties
    return Selection(best[0], best[2], tuple(table))


def fit_selected(rows: Sequence[Row], feats: Sequence[dict[str, float]], idx: Sequence[int],
                 seed: int = SPLIT_SEED) -> tuple[dict[str, Any], Selection]:
    """Select on ``idx`` and train the chosen candidate on all of ``idx``."""
    sel = select(rows, feats, idx, seed)
    model = train_featurized([rows[i] for i in idx], [feats[i] for i in idx], sel.candidate, sel.threshold)
    return model, sel


def nested_cv(rows: Sequence[Row], feats: Sequence[dict[str, float]], idx: Sequence[int], folds: int = 5,
              seed: int = 0, on_fold: Callable[[int, FoldResult], None] | None = None) -> CVResult:
    """Stratified outer folds of ``idx``; in each, the whole selection runs on the outer training part
    and its model scores the outer test fold, at the threshold it chose."""
    labels = [rows[i].label for i in idx]
    result = CVResult()
    for k, test_pos in enumerate(stratified_folds(labels, folds, seed)):
        test = [idx[p] for p in test_pos]
        held = set(test)
        model, sel = fit_selected(rows, feats, [i for i in idx if i not in held], seed)
        fold = measure([probability(model, feats[i]) for i in test], [rows[i].label for i in test], sel.threshold,
                       sel.candidate.name)
        result.folds.append(fold)
        if on_fold:
            on_fold(k, fold)
    return result


def leave_one_domain_out(rows: Sequence[Row], feats: Sequence[dict[str, float]], idx: Sequence[int],
                         seed: int = SPLIT_SEED,
                         on_domain: Callable[[str, FoldResult], None] | None = None,
                         ) -> tuple[dict[str, FoldResult], FoldResult]:
    """For each customer domain: select and train on the rows of ``idx`` outside it, and score every
    row of the domain (none of which any choice of that run saw). Returns per-domain results and the
    pooled one (all domains' scores together, each at its own run's threshold)."""
    domains = sorted({r.domain for r in rows if r.domain and r.customer_talk is not False})
    per: dict[str, FoldResult] = {}
    hits: list[int] = []
    labels: list[int] = []
    scores: list[float] = []  # for the pooled AUC
    for d in domains:
        model, sel = fit_selected(rows, feats, [i for i in idx if rows[i].domain != d], seed)
        test = [i for i, r in enumerate(rows) if r.domain == d]
        s = [probability(model, feats[i]) for i in test]
        y = [rows[i].label for i in test]
        per[d] = measure(s, y, sel.threshold, sel.candidate.name)
        hits += [int(v >= sel.threshold) for v in s]
        labels += y
        scores += s
        if on_domain:
            on_domain(d, per[d])
    pooled = measure([float(h) for h in hits], labels, 0.5)
    pooled.auc = auc(scores, labels)
    return per, pooled


def cross_validate(rows: Sequence[Row], folds: int = 10, repeats: int = 3, seed: int = 0,
                   feats: Sequence[dict[str, float]] | None = None, candidate: Candidate = DEFAULT,
                   threshold: float = DEFAULT_THRESHOLD,
                   on_fold: Callable[[int, int, FoldResult], None] | None = None) -> CVResult:
    """Repeated stratified k-fold CV of one fixed candidate and threshold (no selection inside); repeat
    r shuffles with ``seed + r``. Vocabulary and weights are learnt on the training folds only."""
    feats = featurize(rows) if feats is None else feats
    labels = [r.label for r in rows]
    result = CVResult()
    for rep in range(repeats):
        for k, test in enumerate(stratified_folds(labels, folds, seed + rep)):
            held = set(test)
            train_idx = [i for i in range(len(rows)) if i not in held]
            model = train_featurized([rows[i] for i in train_idx], [feats[i] for i in train_idx], candidate,
                                     threshold)
            fold = measure([probability(model, feats[i]) for i in test], [labels[i] for i in test], threshold)
            result.folds.append(fold)
            if on_fold:
                on_fold(rep, k, fold)
    return result


def vader_baseline(rows: Sequence[Row], compounds: Sequence[float], folds: int = 10, repeats: int = 3,
                   seed: int = 0) -> CVResult:
    """VADER alone on the same folds: score = -compound, threshold = the F1-best one on the training
    folds (so the figure is as honest as the model's)."""
    labels = [r.label for r in rows]
    scores = [-c for c in compounds]
    grid = [i / 20 for i in range(-20, 21)]
    result = CVResult()
    for rep in range(repeats):
        for test in stratified_folds(labels, folds, seed + rep):
            held = set(test)
            train_idx = [i for i in range(len(rows)) if i not in held]
            t = best_threshold([scores[i] for i in train_idx], [labels[i] for i in train_idx], grid)
            s, y = [scores[i] for i in test], [labels[i] for i in test]
            result.folds.append(FoldResult(*prf(s, y, t), auc=auc(s, y), threshold=-t))
    return result


def train(rows: Sequence[Row], feats: Sequence[dict[str, float]] | None = None,
          selection: Selection | None = None) -> dict[str, Any]:
    """The shipped model: split ``rows`` (SPLIT_SEED), select on the development part (or take
    ``selection``, made so), and fit the chosen candidate on every row. Once the choice is made on the
    development part and measured on the held-out part, refitting it on all the data adds 43% more
    training rows and makes no choice; the held-out figure is that of the same configuration trained
    on the development part alone. ``trained_on`` names the choice and the held-out part (size and
    digest). Deterministic."""
    feats = featurize(rows) if feats is None else feats
    dev, held = split(rows)
    sel = select(rows, feats, dev) if selection is None else selection
    model = train_featurized(rows, feats, sel.candidate, sel.threshold)
    model["trained_on"] = {
        "rows": len(rows), "complaints": sum(r.label for r in rows), "min_df": MIN_DF,
        "blocks": list(sel.candidate.blocks), "c": sel.candidate.c, "split_seed": SPLIT_SEED,
        "selected_on": {"rows": len(dev), "digest": split_digest(rows, dev)},
        "held_out": {"rows": len(held), "digest": split_digest(rows, held)},
    }
    return model
