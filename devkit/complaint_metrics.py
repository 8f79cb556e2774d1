"""How good a complaint classifier is: precision, recall and F1 at a threshold, ROC AUC, the
F1-best threshold, and the per-fold figures of a cross-validation. Pure functions of scores and
labels; ``devkit.complaint_train`` measures and chooses with them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

THRESHOLDS = tuple(i / 100 for i in range(20, 71, 2))  # where the F1-best threshold is looked for


@dataclass(slots=True)
class FoldResult:
    precision: float
    recall: float
    f1: float
    auc: float
    threshold: float
    chosen: str = ""  # the candidate chosen for this fold, when there was a choice
    n: int = 0


@dataclass(slots=True)
class CVResult:
    """Per-fold figures of a cross-validation."""

    folds: list[FoldResult] = field(default_factory=list)

    def mean(self, name: str) -> float:
        values = [getattr(f, name) for f in self.folds]
        return sum(values) / len(values)

    def std(self, name: str) -> float:
        values = [getattr(f, name) for f in self.folds]
        m = sum(values) / len(values)
        return math.sqrt(sum((v - m) ** 2 for v in values) / max(1, len(values) - 1))



def prf(scores: Sequence[float], labels: Sequence[int], threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class, calling ``score >= threshold`` positive."""
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and not y)
    fn = sum(1 for s, y in zip(scores, labels, strict=True) if s < threshold and y)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count half); NaN with only one class."""
    pairs = sorted(zip(scores, labels, strict=True))
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return math.nan
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        rank_sum += sum(1 for k in range(i, j + 1) if pairs[k][1]) * (i + j + 2) / 2
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def best_threshold(scores: Sequence[float], labels: Sequence[int], grid: Sequence[float] = THRESHOLDS) -> float:
    """The threshold in ``grid`` with the best F1 (first one wins ties)."""
    return max(grid, key=lambda t: prf(scores, labels, t)[2])


def measure(scores: Sequence[float], labels: Sequence[int], threshold: float, chosen: str = "") -> FoldResult:
    return FoldResult(*prf(scores, labels, threshold), auc=auc(scores, labels), threshold=threshold,
                      chosen=chosen, n=len(labels))


__all__ = ["THRESHOLDS", "CVResult", "FoldResult", "auc", "best_threshold", "measure", "prf"]
