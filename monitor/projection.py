"""How far will a cascade spread: a SEISMIC estimate of its final size, plus rate and acceleration.

SEISMIC (Zhao et al., "SEISMIC: A Self-Exciting Point Process Model for Predicting Tweet
Popularity", KDD 2015) models every mention in a cascade (the root and each reaction) as a source of
further reactions: a mention seen by ``n`` followers triggers on average ``p * n`` reactions, spread
over time by a human reaction-time kernel ``phi`` (constant for ``s0``, then a power law with
exponent ``1 + theta``). From what has been observed by time ``t`` it estimates the infectiousness

    p_t = R_t / sum_i n_i * Phi(t - t_i)

(R_t reactions observed, Phi the kernel's cumulative distribution) and the final size

    R_inf = R_t + p_t * sum_i n_i * (1 - Phi(t - t_i)) / (1 - p_t * n_star)

where ``n_star`` is the reach of a typical future reactor, so ``p_t * n_star`` is the branching
factor of later generations. Two departures from the paper, both documented in docs/detection.md:
the kernel is truncated at a horizon (reactions come within a day or two, or never), and ``p_t`` is
estimated over a trailing window (the paper's locally weighted estimate, with a box window), so a
cascade that has stopped spreading projects low even if it started fast. The lower bound that
alerts are tested on must also hold for an audience that reacts faster than the kernel (a big
account's followers answer within a minute or two) when the reactions' timing fits one, so an
early burst is not read as a storm.

Events are kept in one-minute buckets, so the work per estimate is bounded by the cascade's age in
minutes, not by its number of reactions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

BUCKET = 60.0  # seconds per bucket of events


@dataclass(frozen=True, slots=True)
class Kernel:
    """The human reaction-time distribution, truncated at ``horizon`` seconds and renormalised."""

    s0: float = 300.0        # seconds of constant density before the power law starts
    theta: float = 0.242     # power-law exponent of the tail (density ~ s^-(1+theta))
    horizon: float = 86400.0
    # _raw_cdf(horizon), the truncation's normaliser: a constant, computed once (cdf runs millions of
    # times in a replay). Not a parameter, so left out of init, repr, equality and hash.
    _norm: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_norm", self._raw_cdf(self.horizon))  # frozen: set once, here

    def _raw_cdf(self, s: float) -> float:
        if s <= 0:
            return 0.0
        if s <= self.s0:
            # c = theta / (s0 * (1 + theta)) makes the untruncated kernel integrate to one.
            return self.theta / (1 + self.theta) * s / self.s0
        return 1.0 - (s / self.s0) ** -self.theta / (1 + self.theta)

    @property
    def density(self) -> float:
        """c, the constant density before s0 (per second), of the untruncated kernel."""
        return self.theta / (self.s0 * (1 + self.theta))

    def cdf(self, s: float) -> float:
        """Share of a mention's reactions expected within ``s`` seconds of it."""
        if s >= self.horizon:
            return 1.0
        return self._raw_cdf(s) / self._norm

    def pdf(self, s: float) -> float:
        """Density of reactions ``s`` seconds after a mention (per second)."""
        if s < 0 or s > self.horizon:
            return 0.0
        raw = self.density if s <= self.s0 else self.density * (s / self.s0) ** -(1 + self.theta)
        return raw / self._norm


@dataclass(frozen=True, slots=True)
class ProjectionSettings:
    kernel: Kernel = Kernel()
    n_star: float = 100.0          # followers of a typical future reactor (prior)
    n_star_weight: float = 20.0    # how many observed reactors that prior counts as
    reach_exponent: float = 0.5    # a reaction's pull grows as followers ** this (the paper: 1)
    follower_cap: int = 100_000    # one account's followers count at most this much
    default_followers: int = 100   # followers of an author whose count is unknown
    prior_branching: float = 0.3   # reactions to reactions, per reaction, before any is seen
    prior_weight: float = 5.0      # how many observed reactions-to-reactions that prior counts as
    window_min: float = 600.0      # trailing window for infectiousness, seconds
    window_max: float = 7200.0
    window_min_count: int = 10     # widen the window until it holds this many reactions
    confidence: float = 0.9        # the lower bound holds with this probability
    max_branching: float = 0.9     # the branching factor is capped here: beyond it nothing is trusted
    rate_window: float = 900.0     # seconds over which rate and acceleration are measured
    fast_s0_share: float = 0.4     # the lower bound also holds for an audience this much faster (s0 * it),
                                   # when the reactions' timing fits one; 1.0 turns that off


@dataclass(frozen=True, slots=True)
class Projection:
    observed: int
    projected: float               # point estimate of the final size, never below ``observed``
    projected_low: float           # lower confidence bound, what the alert threshold is tested on
    root_final: float              # expected direct reactions to the root, in all
    infectiousness: float          # p_t: reactions to reactions per unit of reach
    branching: float               # p_t * n_star: reactions each future reaction brings, before capping
    n_star: float                  # model reach of a typical future reactor
    rate: float                    # reactions per hour over the last rate window
    acceleration: float            # change of that rate per hour, per hour
    window: float                  # seconds of history the estimate was made on

    @property
    def supercritical(self) -> bool:
        return self.branching >= 1.0


def effective_reach(followers: int | None, settings: ProjectionSettings) -> float:
    """An author's pull as the model counts it: capped followers to ``reach_exponent``."""
    n = settings.default_followers if followers is None else min(max(0, followers), settings.follower_cap)
    return float(n) ** settings.reach_exponent


@dataclass(slots=True)
class Activity:
    """A cascade's reactions in one-minute buckets, relative to the root's creation time.

    A bucket holds [direct reactions, reactions to reactions, reach, reach * seconds]: direct ones
    answer the root (replies, reposts, quotes of it, comments on it, posts linking it); the others
    answer a reaction, and measure how far the cascade spreads beyond the root's own audience.
    """

    buckets: dict[int, list[float]] = field(default_factory=dict)
    count: int = 0
    deep: int = 0
    reach_sum: float = 0.0

    def add(self, seconds: float, reach: float, direct: bool = True) -> None:
        seconds = max(0.0, seconds)
        i = int(seconds // BUCKET)
        b = self.buckets.get(i)
        if b is None:
            b = self.buckets[i] = [0.0, 0.0, 0.0, 0.0]
        b[0 if direct else 1] += 1
        b[2] += reach
        b[3] += reach * seconds
        self.count += 1
        self.deep += not direct
        self.reach_sum += reach

    def counts_between(self, start: float, end: float, which: tuple[int, ...] = (0, 1)) -> int:
        """Reactions in [start, end) seconds, to bucket precision."""
        lo, hi = int(start // BUCKET), int(math.ceil(end / BUCKET))
        if hi - lo > len(self.buckets):
            found = [b for i, b in self.buckets.items() if lo <= i < hi]
        else:
            found = [self.buckets[i] for i in range(lo, hi) if i in self.buckets]
        return int(sum(b[w] for b in found for w in which))

    def histogram(self, end: float, width: float, n: int) -> list[int]:
        """Reaction counts in ``n`` consecutive bins of ``width`` seconds ending at ``end``."""
        return [self.counts_between(end - (n - k) * width, end - (n - k - 1) * width) for k in range(n)]


def project(a: Activity, t: float, settings: ProjectionSettings) -> Projection:
    """The estimate for a cascade observed up to ``t`` seconds after its root was posted.

    Two sources of future reactions, each estimated over a trailing window:
    the root (its direct reactions so far, scaled by the share of the kernel still to come) and
    the reactions (their reach times the infectiousness measured from reactions to reactions, with a
    prior of ``prior_branching``). Every future reaction then brings ``branching`` more.
    """
    k = settings.kernel
    t = max(t, 1.0)
    rate_w = settings.rate_window
    recent = a.counts_between(t - rate_w, t + BUCKET)
    before = a.counts_between(t - 2 * rate_w, t - rate_w)
    rate = recent * 3600.0 / rate_w
    accel = (recent - before) * 3600.0 / rate_w / (rate_w / 3600.0)
    prior_reach = effective_reach(round(settings.n_star), settings)
    n_star = (prior_reach * settings.n_star_weight + a.reach_sum) / (settings.n_star_weight + a.count)
    if a.count == 0:
        return Projection(0, 0.0, 0.0, 0.0, 0.0, 0.0, n_star, 0.0, 0.0, 0.0)

    # Trailing window: t/2 within [window_min, window_max], widened to hold window_min_count reactions.
    window = min(max(t / 2, settings.window_min), settings.window_max, t)
    if a.counts_between(t - window, t + BUCKET) < settings.window_min_count:
        seen = 0
        for i in sorted(a.buckets, reverse=True):
            seen += int(a.buckets[i][0] + a.buckets[i][1])
            window = max(window, t - i * BUCKET)
            if seen >= settings.window_min_count:
                break
    start = max(0.0, t - window)
    direct_w = a.counts_between(start, t + BUCKET, (0,))
    deep_w = a.counts_between(start, t + BUCKET, (1,)) + settings.prior_weight
    alpha = 1 - settings.confidence

    masses: dict[Kernel, tuple[float, float, float, float]] = {}

    def mass(kernel: Kernel) -> tuple[float, float, float, float]:
        """(root's final direct reactions, the share of them still to come, exposure, remaining) under
        ``kernel``: what the point estimate and the lower bound share, so worked out once per kernel."""
        if kernel in masses:
            return masses[kernel]
        cdf = kernel.cdf
        cdf_t = cdf(t)
        # The root: direct reactions in the window over the kernel's mass there give its total.
        root_mass = cdf_t - cdf(start)
        root_final = direct_w / root_mass if root_mass > 0 else 0.0
        # The reactions: exposure in the window (reach times kernel mass) and what is still to come.
        # Kernel.cdf written out (the same operations in the same order, so the same floats): this loop
        # runs over every bucket of every judged cascade, and two calls per bucket cost more than it.
        s0, horizon, norm = kernel.s0, kernel.horizon, kernel._norm
        head, tail_exp, tail_div = kernel.theta / (1 + kernel.theta), -kernel.theta, 1 + kernel.theta
        exposure = remaining = 0.0
        for _, _, reach, weighted in a.buckets.values():
            if reach <= 0:
                continue
            at = weighted / reach
            if at > t:
                at = t
            s = t - at
            done = (1.0 if s >= horizon else 0.0 if s <= 0 else head * s / s0 / norm if s <= s0
                    else (1.0 - (s / s0) ** tail_exp / tail_div) / norm)
            s = start - at
            if s < 0.0:
                s = 0.0
            before = (1.0 if s >= horizon else 0.0 if s <= 0 else head * s / s0 / norm if s <= s0
                      else (1.0 - (s / s0) ** tail_exp / tail_div) / norm)
            exposure += reach * (done - before)
            remaining += reach * (1.0 - done)
        masses[kernel] = out = (root_final, root_final * (1.0 - cdf_t), exposure, remaining)
        return out

    def final(kernel: Kernel, direct_factor: float, deep_factor: float) -> tuple[float, float, float]:
        """(final size, root's final direct reactions, infectiousness) under ``kernel``, the root's and
        the reactions' rates scaled by the given factors (1 for the point estimate)."""
        root_final, root_share_left, exposure, remaining = mass(kernel)
        root_left = root_share_left * direct_factor
        p = deep_w / (exposure + settings.prior_weight * n_star / max(settings.prior_branching, 1e-9))
        branching = min(p * deep_factor * n_star, settings.max_branching)
        return a.count + (root_left + p * deep_factor * remaining) / (1.0 - branching), root_final, p

    point, root_final, p = final(k, 1.0, 1.0)
    projected = max(float(a.count), point)
    # The lower bound holds for the Poisson noise of both rates, and for an audience that reacts
    # faster than the kernel says (then more of the reactions are already in) as long as the direct
    # reactions' timing does not rule that out: a burst in the first minutes fits a fast audience as
    # well as the kernel, a steady stream for ten minutes does not.
    kernels = [k]
    fast = Kernel(k.s0 * settings.fast_s0_share, k.theta, k.horizon)
    if _timing_loglik(a, t, fast) >= _timing_loglik(a, t, k) - _NORMAL.inv_cdf((1 + settings.confidence) / 2) ** 2 / 2:
        kernels.append(fast)
    low = min(final(kern, _low(direct_w, alpha), _low(deep_w, alpha))[0] for kern in kernels)
    low = min(projected, max(float(a.count), low))
    return Projection(a.count, projected, low, root_final, p, p * n_star, n_star, rate, accel, window)


def _timing_loglik(a: Activity, t: float, kernel: Kernel) -> float:
    """Log-likelihood of the direct reactions' times (bucket midpoints) given their number, if the
    root's audience reacts by ``kernel``; compared between kernels, it says which timing fits."""
    mass = kernel.cdf(t)
    # Kernel.pdf written out, as in project's mass(): the same floats, without a call per bucket.
    density_c, s0, horizon, norm = kernel.density, kernel.s0, kernel.horizon, kernel._norm
    tail_exp = -(1 + kernel.theta)
    log = math.log
    ll = 0.0
    for i, b in a.buckets.items():
        if b[0]:
            s = (i + 0.5) * BUCKET
            if s > t:
                s = t
            density = (0.0 if s < 0 or s > horizon else
                       (density_c if s <= s0 else density_c * (s / s0) ** tail_exp) / norm)
            ll += b[0] * (log(density / mass) if density > 0 and mass > 0 else -1e9)
    return ll


def _low(count: float, alpha: float) -> float:
    """Lower confidence factor for a rate estimated from ``count`` Poisson events."""
    if count <= 0:
        return 0.0
    dof = max(2, round(2 * count))
    return _chi2_quantile(alpha, dof) / dof


_NORMAL = NormalDist()


def _chi2_quantile(q: float, dof: int) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile (good to about 1% for dof >= 2)."""
    z = _NORMAL.inv_cdf(q)
    h = 2.0 / (9.0 * dof)
    return max(0.0, dof * (1.0 - h + z * math.sqrt(h)) ** 3)
