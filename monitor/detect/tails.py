"""How improbable a window's count is: the Poisson and negative binomial upper tails, and the
dispersion at which a count becomes a given tail probability (what monitor/detect/spikes.py judges
volume by). Pure functions of numbers; the regularised incomplete beta by its continued fraction."""

from __future__ import annotations

import math


def poisson_sf(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean), summed in log space (exact enough for alerting)."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    # Sum the upper tail from k upward; terms fall fast once past the mean.
    log_term = -mean + k * math.log(mean) - math.lgamma(k + 1)
    total, i, term = 0.0, k, math.exp(log_term)
    while term > 1e-300 and i < k + 10_000:
        total += term
        i += 1
        term *= mean / i
        if i > mean and term < total * 1e-12:
            break
    return min(1.0, total)


def nbinom_sf(k: int, mean: float, dispersion: float) -> float:
    """P(X >= k) for X negative binomial with this mean and variance mean + dispersion * mean^2
    (Poisson at dispersion 0): the regularised incomplete beta I_q(k, 1/phi), q = mean / (mean + 1/phi)."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if dispersion * mean < 1e-9:  # no dispersion the history can tell from Poisson noise
        return poisson_sf(k, mean)
    shape = 1.0 / dispersion
    return _betainc(float(k), shape, mean / (mean + shape))


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return min(1.0, front * _betacf(a, b, x) / a)
    return max(0.0, 1.0 - front * _betacf(b, a, 1.0 - x) / b)


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-13:
            break
    return h


def dispersion_for(k: int, mean: float, p: float) -> float:
    """The dispersion at which a count of ``k`` or more has probability ``p`` (0 if it has that
    much already under Poisson), by bisection on a log scale; at most 10."""
    if nbinom_sf(k, mean, 0.0) >= p:
        return 0.0
    lo, hi = 1e-4, 10.0
    if nbinom_sf(k, mean, hi) < p:
        return hi
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if nbinom_sf(k, mean, mid) < p else (lo, mid)
    return hi


def betabinom_sf(k: int, n: int, a: float, b: float) -> float:
    """P(X >= k) for X beta-binomial: ``n`` draws at a share that is Beta(a, b), so the share's own
    uncertainty is in the tail (a binomial at a / (a + b) would be too sure of it)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) - math.lgamma(n + a + b)
    log_n = math.lgamma(n + 1)
    mean = n * a / (a + b)
    total = 0.0
    for x in range(k, n + 1):
        term = math.exp(log_n - math.lgamma(x + 1) - math.lgamma(n - x + 1) + math.lgamma(x + a)
                        + math.lgamma(n - x + b) + log_norm)
        total += term
        if x > mean and term < total * 1e-12:  # past the mode the terms only fall
            break
    return min(1.0, total)
