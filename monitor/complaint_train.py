"""Training and honest evaluation of the complaint classifier, in pure Python.

``train(rows)`` returns the model dict that ``ComplaintClassifier`` loads; ``cross_validate`` runs
stratified k-fold cross-validation repeated over seeds, refitting everything that is learnt
(vocabulary, weights, threshold) inside each training fold. Fixed a priori, never tuned on a test
fold: L2 strength, minimum n-gram document frequency, the lexicon. The data is the X-CI complaint
sample (Singh et al., ACL 2023, MIT, github.com/appy1608/ACL2023) built on Preotiuc-Pietro et al.,
"Automatically Identifying Complaints in Social Media", ACL 2019.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.complaint import analyse, probability

L2 = 0.1  # on a loss summed over examples; fixed a priori (1/C with C=10 on ~1,000 rows)
MIN_DF = 2  # an n-gram seen in one training text is noise; lexicon and shape features are always kept
# Fixed a priori, not tuned: for calibrated probabilities the F1-optimal threshold is F1*/2 (Lipton,
# Elkan and Naryanaswamy, 2014), and F1* ~ 0.8 is the target. Inner-CV tuning measured no better.
THRESHOLD = 0.4
# Chosen for the daemon, where every text is a brand mention: CV F1 on the data set is flat from 0 to
# 0.2 (0.808-0.811), while synthetic brand venting ("fed up with acme") is caught more often above 0.
TALK_FLOOR = 0.1

Vector = list[tuple[int, float]]


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled text. ``customer_talk``: is it a customer talking to or about a company (False for
    the data set's random tweets, which are never complaints); None when unknown."""

    text: str
    label: int
    customer_talk: bool | None = None


@dataclass(slots=True)
class FoldResult:
    precision: float
    recall: float
    f1: float
    auc: float
    threshold: float


@dataclass(slots=True)
class CVResult:
    """Per-fold figures of a repeated stratified k-fold run."""

    folds: list[FoldResult] = field(default_factory=list)

    def mean(self, name: str) -> float:
        values = [getattr(f, name) for f in self.folds]
        return sum(values) / len(values)

    def std(self, name: str) -> float:
        values = [getattr(f, name) for f in self.folds]
        m = sum(values) / len(values)
        return math.sqrt(sum((v - m) ** 2 for v in values) / max(1, len(values) - 1))


def read_rows(path: str | Path) -> list[Row]:
    """Rows of a CSV with ``tweet`` and ``label`` (0/1) columns, in file order. An optional ``domain``
    column marks customer talk: every domain but random_tweet/random_reply."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [Row(r["tweet"], int(r["label"]),
                    None if r.get("domain") is None else not r["domain"].startswith("random"))
                for r in csv.DictReader(fh)]


def vader_compounds(rows: Sequence[Row]) -> list[float]:
    """The VADER compound score of every row, on the raw text."""
    vader = SentimentIntensityAnalyzer()
    return [vader.polarity_scores(r.text)["compound"] for r in rows]


def featurize(rows: Sequence[Row], compounds: Sequence[float] | None = None) -> list[dict[str, float]]:
    """Features of every row, computed once (never again per fold)."""
    compounds = vader_compounds(rows) if compounds is None else compounds
    return [analyse(r.text, c)[0] for r, c in zip(rows, compounds, strict=True)]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def fit_logistic(xs: Sequence[Vector], ys: Sequence[int], dim: int, l2: float = L2,
                 max_iter: int = 300, memory: int = 10, tol: float = 1e-6) -> list[float]:
    """Weights (bias last) minimising summed log-loss + l2/2 |w|^2 (bias unpenalised), by L-BFGS.

    Deterministic: no random start, no shuffling.
    """
    n_w = dim + 1

    def loss_grad(w: list[float]) -> tuple[float, list[float]]:
        grad = [0.0] * n_w
        loss = 0.0
        for x, y in zip(xs, ys, strict=True):
            z = w[dim] + sum(w[j] * v for j, v in x)
            loss += (math.log1p(math.exp(-abs(z))) + max(0.0, z)) - (z if y else 0.0)
            r = _sigmoid(z) - y
            for j, v in x:
                grad[j] += r * v
            grad[dim] += r
        for j in range(dim):
            loss += 0.5 * l2 * w[j] * w[j]
            grad[j] += l2 * w[j]
        return loss, grad

    def dot(a: list[float], b: list[float]) -> float:
        return sum(p * q for p, q in zip(a, b, strict=True))

    w = [0.0] * n_w
    loss, grad = loss_grad(w)
    history: list[tuple[list[float], list[float], float]] = []
    for _ in range(max_iter):
        q = grad[:]
        alphas = []
        for s, y, rho in reversed(history):
            a = rho * dot(s, q)
            alphas.append(a)
            q = [qi - a * yi for qi, yi in zip(q, y, strict=True)]
        if history:
            s, y, _ = history[-1]
            gamma = dot(s, y) / dot(y, y)
        else:
            gamma = 1.0 / max(1e-12, math.sqrt(dot(grad, grad)))
        q = [gamma * v for v in q]
        for (s, y, rho), a in zip(history, reversed(alphas), strict=True):
            b = rho * dot(y, q)
            q = [qi + si * (a - b) for qi, si in zip(q, s, strict=True)]
        direction = [-v for v in q]
        slope = dot(grad, direction)
        if slope >= 0:  # lost curvature information: fall back to steepest descent
            direction, slope = [-v for v in grad], -dot(grad, grad)
        step = 1.0
        while True:
            w_new = [a + step * d for a, d in zip(w, direction, strict=True)]
            loss_new, grad_new = loss_grad(w_new)
            if loss_new <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s = [a - b for a, b in zip(w_new, w, strict=True)]
        y = [a - b for a, b in zip(grad_new, grad, strict=True)]
        sy = dot(s, y)
        if sy > 1e-12:
            history.append((s, y, 1.0 / sy))
            if len(history) > memory:
                history.pop(0)
        converged = abs(loss - loss_new) <= tol * max(1.0, abs(loss))
        w, loss, grad = w_new, loss_new, grad_new
        if converged:
            break
    return w


def _vocabulary(feats: Iterable[dict[str, float]], min_df: int) -> dict[str, int]:
    df: dict[str, int] = {}
    for f in feats:
        for name in f:
            df[name] = df.get(name, 0) + 1
    keep = sorted(n for n, c in df.items() if c >= min_df or not n.startswith(("w:", "b:")))
    return {n: i for i, n in enumerate(keep)}


def _encode(f: dict[str, float], vocab: dict[str, int]) -> Vector:
    return [(vocab[n], v) for n, v in f.items() if n in vocab]


def fit_part(feats: Sequence[dict[str, float]], labels: Sequence[int], l2: float = L2,
             min_df: int = MIN_DF) -> dict[str, Any]:
    """One logistic regression on already-featurised rows, as {"bias": b, "weights": {name: w}}."""
    vocab = _vocabulary(feats, min_df)
    w = fit_logistic([_encode(f, vocab) for f in feats], labels, len(vocab), l2=l2)
    # Rounding keeps the shipped JSON small; it moves no probability by more than ~1e-4.
    weights = {n: round(w[i], 5) for n, i in vocab.items() if abs(w[i]) >= 1e-5}
    return {"bias": round(w[-1], 5), "weights": weights}


def train_featurized(rows: Sequence[Row], feats: Sequence[dict[str, float]]) -> dict[str, Any]:
    """The model dict for rows whose features are already computed (see ``train``)."""
    talk = [i for i, r in enumerate(rows) if r.customer_talk is not False]
    model: dict[str, Any] = {"format": 1, "threshold": THRESHOLD}
    if len(talk) < len(rows):
        # Two factors: is this customer talk at all, and given that, is it a complaint. The data set's
        # random tweets are never complaints, so the second factor learns from customer talk only.
        model["customer_talk"] = fit_part(feats, [int(r.customer_talk is not False) for r in rows])
        model["talk_floor"] = TALK_FLOOR
    model["complaint"] = fit_part([feats[i] for i in talk], [rows[i].label for i in talk])
    return model


def train(rows: Sequence[Row]) -> dict[str, Any]:
    """A model dict for ``ComplaintClassifier`` trained on all ``rows``. Deterministic."""
    model = train_featurized(rows, featurize(rows))
    model["trained_on"] = {"rows": len(rows), "complaints": sum(r.label for r in rows), "l2": L2,
                           "min_df": MIN_DF}
    return model


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


def prf(scores: Sequence[float], labels: Sequence[int], threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class, calling ``score >= threshold`` positive."""
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and not y)
    fn = sum(1 for s, y in zip(scores, labels, strict=True) if s < threshold and y)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count half)."""
    pairs = sorted(zip(scores, labels, strict=True))
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        rank_sum += sum(1 for k in range(i, j + 1) if pairs[k][1]) * (i + j + 2) / 2
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def best_threshold(scores: Sequence[float], labels: Sequence[int], grid: Sequence[float]) -> float:
    """The threshold in ``grid`` with the best F1 (first one wins ties)."""
    return max(grid, key=lambda t: prf(scores, labels, t)[2])


def cross_validate(rows: Sequence[Row], folds: int = 10, repeats: int = 3, seed: int = 0,
                   feats: Sequence[dict[str, float]] | None = None,
                   on_fold: Callable[[int, int, FoldResult], None] | None = None) -> CVResult:
    """Repeated stratified k-fold CV of ``train``; repeat r shuffles with ``seed + r``.

    Vocabulary and weights are learnt on the training folds only; the threshold is the fixed THRESHOLD.
    """
    feats = featurize(rows) if feats is None else feats
    labels = [r.label for r in rows]
    result = CVResult()
    for rep in range(repeats):
        for k, test in enumerate(stratified_folds(labels, folds, seed + rep)):
            held = set(test)
            train_idx = [i for i in range(len(rows)) if i not in held]
            model = train_featurized([rows[i] for i in train_idx], [feats[i] for i in train_idx])
            scores = [probability(model, feats[i]) for i in test]
            y = [labels[i] for i in test]
            fold = FoldResult(*prf(scores, y, THRESHOLD), auc=auc(scores, y), threshold=THRESHOLD)
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
