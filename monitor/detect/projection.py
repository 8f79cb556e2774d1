"""How far will a cascade spread, and how likely is it to pass a threshold.

A cascade's reactions come from two sources (SEISMIC, Zhao et al., "SEISMIC: A Self-Exciting Point
Process Model for Predicting Tweet Popularity", KDD 2015, in spirit):

- the root's own audience: its **direct** reactions (replies, reposts, quotes of the root, comments
  on it, posts linking it; on X a repost of a repost names the original, so most of a real retweet
  cascade is direct) arrive at a rate ``A * phi(s)``, ``A`` the root's total and ``phi`` a
  reaction-time kernel: constant density for ``s0``, then a power law ``s^-(1+theta)``;
- the reactions: each reaction's reach (damped followers) exposes more people, each exposure worth
  ``p`` further reactions, estimated from reactions to reactions (**deep** ones), with a prior; each
  future reaction then brings ``p * n_star`` more (the branching factor).

Nobody knows the kernel of a cascade that is minutes old, and real cascades differ widely (a big
account's followers answer within a minute; a story passed on through many small accounts builds for
hours). So the kernel is not fixed: the estimate averages over a grid of kernels (``s0`` from a fifth
to six times the configured one, ``theta`` from half to twice it), each weighted by how well it
explains the direct reactions' timing and by how plausible the audience it implies is. A heavy-tailed
prior on cascade sizes (most cascades are small, ``P(size > s) ~ s^-size_prior``) makes a kernel
that explains 30 reactions in two minutes as the first 2% of a 1,500-reaction audience less likely
than one that explains them as the first 40% of 75. The timing evidence is tempered (counted as at
most ``evidence`` reactions): a real cascade's shape is never exactly any kernel's, and an untempered
likelihood of 1,000 reactions would trust one kernel completely.

Each kernel gives a log-normal estimate of the reactions still to come (its median the SEISMIC
estimate, its spread the Poisson uncertainty of the two rates plus a model error ``model_error``);
the mixture gives a point estimate, a lower bound at ``confidence``, and the probability that the
final size passes any threshold: ``storm_probability(threshold)``, what alerts are decided on.

Events are kept in one-minute buckets (for rates and the growth chart) and in coarse bins that widen
with age (for the estimate), so an estimate costs the grid times about 80 bins, whatever the
cascade's age or number of reactions.
"""
from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass, field

BUCKET = 60.0  # seconds per bucket of events


def _edges() -> tuple[float, ...]:
    """Edges (seconds) of the coarse bins the projection works on: a minute wide for the first ten
    minutes, wider as the cascade ages (two hours wide past a day), so an estimate costs the same at
    two days as at two hours. The last bin is open."""
    out, t = [0.0], 0.0
    for width, until in ((1, 10), (2, 30), (5, 60), (10, 120), (15, 240), (30, 480), (60, 1440), (120, 2880),
                         (360, 10080)):
        while t < until:
            t += width
            out.append(t * 60.0)
    return tuple(out)


EDGES = _edges()


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
    kernel: Kernel = Kernel()      # the centre of the grid of kernels (detection.kernel_s0, kernel_theta)
    n_star: float = 100.0          # followers of a typical future reactor (prior)
    n_star_weight: float = 20.0    # how many observed reactors that prior counts as
    reach_exponent: float = 0.5    # a reaction's pull grows as followers ** this (the paper: 1)
    follower_cap: int = 100_000    # one account's followers count at most this much
    default_followers: int = 100   # followers of an author whose count is unknown
    prior_branching: float = 0.3   # reactions to reactions, per reaction, before any is seen
    prior_weight: float = 5.0      # how many observed reactions-to-reactions that prior counts as
    confidence: float = 0.9        # ``projected_low`` holds with this probability
    max_branching: float = 0.9     # the branching factor is capped here: beyond it nothing is trusted
    rate_window: float = 900.0     # seconds over which rate and acceleration are measured
    # The grid of kernels the timing is weighed against (docs/detection.md): s0 and theta as multiples of
    # kernel's. Direct reactions' prior spreads over the lighter tails, flat ones' (Activity.add) over the
    # heaviest: a real retweet cascade, all its generations naming the root, grows about evenly in log-time
    # for a day (theta near 0), while one generation's delays fall off as SEISMIC's s^-1.24 or faster.
    speeds: tuple[float, ...] = (0.2, 0.5, 1.0, 2.5, 6.0)
    tails: tuple[float, ...] = (0.125, 0.5, 1.0, 2.0, 4.0, 8.0)
    direct_tails: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    flat_tails: tuple[float, ...] = (0.125, 0.5)
    size_prior: float = 1.5        # P(final size > s) ~ s^-size_prior before anything is seen
    evidence: float = 30.0         # the timing of direct reactions counts as at most this many of them
    model_error: float = 0.35      # log-normal spread of a kernel's estimate beyond Poisson noise


@dataclass(frozen=True, slots=True)
class Projection:
    observed: int
    projected: float               # point estimate of the final size (the mixture's mean), never below ``observed``
    root_final: float              # expected direct reactions to the root, in all
    infectiousness: float          # p: reactions to reactions per unit of reach (the likeliest kernel's)
    branching: float               # p * n_star: reactions each future reaction brings, before capping
    n_star: float                  # model reach of a typical future reactor
    rate: float                    # reactions per hour over the last rate window
    acceleration: float            # change of that rate per hour, per hour
    window: float                  # seconds of history the estimate was made on (the cascade's age)
    confidence: float = 0.9
    # (weight, median of the reactions still to come, log-normal sigma) per kernel of the mixture
    components: tuple[tuple[float, float, float], ...] = ()

    @property
    def supercritical(self) -> bool:
        return self.branching >= 1.0

    def storm_probability(self, threshold: float) -> float:
        """The probability that the final size reaches ``threshold``: 1 once it has."""
        need = threshold - self.observed
        if need <= 0:
            return 1.0
        log_need = math.log(need)
        return min(1.0, sum(w * 0.5 * math.erfc((log_need - math.log(m)) / (s * _SQRT2))
                            for w, m, s in self.components if m > 0))

    @property
    def projected_low(self) -> float:
        """The lower bound at ``confidence``: the final size reaches it with that probability."""
        if not self.components:
            return float(self.observed)
        target = self.confidence
        # storm_probability falls as the threshold rises: bisect on the log of what is still to come.
        lo, hi = -10.0, math.log(max(m for _, m, _ in self.components) + 1.0) + 10.0
        for _ in range(40):
            mid = (lo + hi) / 2
            if self.storm_probability(self.observed + math.exp(mid)) >= target:
                lo = mid
            else:
                hi = mid
        return min(self.projected, self.observed + math.exp(lo))


_SQRT2 = math.sqrt(2.0)


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
    bins: dict[int, list[float]] = field(default_factory=dict)  # the same, in the coarse bins of EDGES
    count: int = 0
    deep: int = 0
    flat: int = 0          # direct ones whose generation is hidden (see ``add``)
    reach_sum: float = 0.0
    timing: _Timing | None = field(default=None, repr=False, compare=False)  # kept by ``project``
    # bins that gained direct reactions since ``timing`` was brought up to date (None until it exists)
    fresh: set[int] | None = field(default=None, repr=False, compare=False)

    def add(self, seconds: float, reach: float, direct: bool = True, flat: bool = False) -> None:
        """Count a reaction ``seconds`` after the root. ``flat``: a direct reaction that may belong to any
        generation, because its source names only the original (on X a repost of a repost names the
        root): a cascade of those shows all its generations together, on a slower, heavier-tailed clock."""
        self.flat += flat
        seconds = max(0.0, seconds)
        _tally(self.buckets, int(seconds // BUCKET), direct, reach, seconds)
        j = bisect.bisect_right(EDGES, seconds) - 1
        _tally(self.bins, j, direct, reach, seconds)
        if direct and self.fresh is not None:
            self.fresh.add(j)
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

    def histogram(self, last: float, width: float, n: int) -> list[int]:
        """Reaction counts in ``n`` consecutive bins of ``width`` seconds, the last ending with the bucket
        that holds second ``last``. Bins end on bucket edges, so no bucket is counted in two of them."""
        end = (last // BUCKET + 1) * BUCKET
        return [self.counts_between(end - (n - k) * width, end - (n - k - 1) * width) for k in range(n)]


@dataclass(slots=True)
class _Timing:
    """Per kernel of one grid, the sum over the direct reactions' coarse bins of count * log(bin's mass),
    brought up to date from the bins that gained reactions since (``Activity.fresh``): the timing
    likelihood of every bin before the one holding ``t`` costs nothing at each estimate."""

    kernels: tuple[Kernel, ...]
    sums: list[float]
    counted: dict[int, float] = field(default_factory=dict)  # bin -> direct reactions already in ``sums``

    def update(self, a: Activity) -> None:
        for j in a.fresh or ():
            if j >= len(EDGES) - 1:
                continue  # the open last bin has no whole mass: it is only ever the bin holding t
            now = a.bins[j][0]
            delta = now - self.counted.get(j, 0.0)
            if delta:
                self.counted[j] = now
                for k, kern in enumerate(self.kernels):
                    self.sums[k] += delta * _edge_cdf(kern)[1][j]
        if a.fresh:
            a.fresh.clear()


def _timing(a: Activity, kernels: tuple[Kernel, ...]) -> _Timing:
    if a.timing is None or a.timing.kernels is not kernels:
        a.timing = _Timing(kernels, [0.0] * len(kernels))
        a.fresh = {j for j, b in a.bins.items() if b[0]}
    a.timing.update(a)
    return a.timing


def _tally(table: dict[int, list[float]], key: int, direct: bool, reach: float, seconds: float) -> None:
    """Count one reaction in ``table[key]``: [direct, deep, reach, reach * seconds]."""
    b = table.get(key)
    if b is None:
        b = table[key] = [0.0, 0.0, 0.0, 0.0]
    b[0 if direct else 1] += 1
    b[2] += reach
    b[3] += reach * seconds


@functools.lru_cache(maxsize=16)
def kernel_grid(settings: ProjectionSettings) -> tuple[Kernel, ...]:
    """The kernels a cascade's timing is weighed against, around ``settings.kernel``."""
    k = settings.kernel
    return tuple(Kernel(k.s0 * f, k.theta * g, k.horizon) for f in settings.speeds for g in settings.tails)


def _kernel_prior(settings: ProjectionSettings, flat_share: float) -> list[float]:
    """log prior of each kernel of the grid: uniform over the speeds; over the tails, a mix of the direct
    reactions' tails and the flat ones', by the share of flat reactions."""
    direct = [1.0 / len(settings.direct_tails) if g in settings.direct_tails else 0.0 for g in settings.tails]
    flat = [1.0 / len(settings.flat_tails) if g in settings.flat_tails else 0.0 for g in settings.tails]
    by_tail = [(1 - flat_share) * d + flat_share * f for d, f in zip(direct, flat, strict=True)]
    return [math.log(w) if w > 0 else _IMPOSSIBLE for _ in settings.speeds for w in by_tail]


_IMPOSSIBLE = -1e9  # the log prior of a kernel the prior rules out


@functools.lru_cache(maxsize=64)
def _edge_cdf(kernel: Kernel) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The kernel's cdf at every edge of the coarse bins, and the log of each whole bin's mass."""
    cdf = tuple(kernel.cdf(e) for e in EDGES)
    log_mass = tuple(math.log(hi - lo) if hi > lo else -700.0 for lo, hi in zip(cdf, cdf[1:], strict=False))
    return cdf, log_mass


def project(a: Activity, t: float, settings: ProjectionSettings) -> Projection:
    """The estimate for a cascade observed up to ``t`` seconds after its root was posted.

    Every kernel of the grid is weighed by the direct reactions' timing (given their number,
    tempered to ``evidence`` reactions) and by the size prior (a kernel that has delivered only the
    share ``Phi(t)`` of its audience implies an audience ``1/Phi(t)`` times what was seen, and
    ``P(size > s) ~ s^-size_prior`` makes that ``Phi(t)^size_prior`` as likely). Under each kernel the
    reactions still to come are the root's (its audience's posterior mean times the kernel's share
    still to come) plus the reactions' (their remaining exposure times the infectiousness measured
    from reactions to reactions), both multiplied by ``1 / (1 - branching)``.
    """
    t = max(t, 1.0)
    rate_w = settings.rate_window
    recent = a.counts_between(t - rate_w, t + BUCKET)
    before = a.counts_between(t - 2 * rate_w, t - rate_w)
    rate = recent * 3600.0 / rate_w
    accel = (recent - before) * 3600.0 / rate_w / (rate_w / 3600.0)
    prior_reach = effective_reach(round(settings.n_star), settings)
    n_star = (prior_reach * settings.n_star_weight + a.reach_sum) / (settings.n_star_weight + a.count)
    if a.count == 0:
        return Projection(0, 0.0, 0.0, 0.0, 0.0, n_star, 0.0, 0.0, 0.0, settings.confidence)

    direct = a.count - a.deep
    alpha = settings.size_prior
    temper = min(1.0, settings.evidence / direct) if direct else 0.0
    kernels = kernel_grid(settings)
    priors = _kernel_prior(settings, a.flat / direct if direct else 0.0)
    # The direct reactions' timing, binned: each bin's share of the kernel's mass up to the end of what was
    # seen, so the likelihood is the multinomial one of the binned counts. That end is a second after t, so
    # that a reaction at t itself (t is the latest reaction's time) falls inside the last bin.
    # Every bin from the one holding ``end`` on counts as that bin cut at ``end``; the bins before it are
    # whole, and their part of the likelihood is kept up to date by _Timing.
    end = t + 1.0
    last = bisect.bisect_right(EDGES, end) - 1
    tail = [(j, b[0]) for j, b in a.bins.items() if j >= last and b[0]]
    at_end = sum(c for _, c in tail)
    whole = len(EDGES) - 1
    sums = _timing(a, kernels).sums
    scores = []
    for kern, log_prior, ll in zip(kernels, priors, sums, strict=True):
        if log_prior <= _IMPOSSIBLE:
            scores.append(-math.inf)  # weight 0 whatever the timing
            continue
        cdf, log_masses = _edge_cdf(kern)
        cdf_t = kern.cdf(end)
        for j, c in tail:
            if j < whole:
                ll -= c * log_masses[j]
        if at_end:
            mass = cdf_t - cdf[last]
            ll += at_end * math.log(mass) if mass > 0 else -700.0 * at_end
        log_mass = math.log(cdf_t) if cdf_t > 0 else -700.0
        scores.append(temper * (ll - direct * log_mass) + alpha * log_mass + log_prior)
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)

    deep = a.deep + settings.prior_weight
    shape = max(direct - alpha, 0.5)  # the root's audience: Gamma(direct - alpha, Phi(t)) under each kernel
    prior_exposure = settings.prior_weight * n_star / max(settings.prior_branching, 1e-9)
    components: list[tuple[float, float, float]] = []
    reached = [(b[3] / b[2], b[2]) for b in a.bins.values() if b[2] > 0]
    point = root_final = best_p = best_w = 0.0
    kept = 0.0
    for kern, w in zip(kernels, weights, strict=True):
        w /= total
        if w < 1e-2:  # a kernel this unlikely moves the estimate by less than its own noise
            continue
        kept += w
        cdf_t = kern.cdf(t)
        audience = shape / cdf_t if direct and cdf_t > 0 else 0.0
        root_left = audience * (1.0 - cdf_t)
        exposure, remaining = _exposure(reached, t, kern)
        p = deep / (exposure + prior_exposure)
        branching = min(p * n_star, settings.max_branching)
        from_reactions = p * remaining
        future = (root_left + from_reactions) / (1.0 - branching)
        share = root_left / (root_left + from_reactions) if root_left + from_reactions > 0 else 0.0
        # The spread of log(future): the two rates' Poisson noise, each by its share of the future, and the
        # branching's, which 1 / (1 - branching) amplifies (d log future / d log branching = b / (1 - b)).
        amplified = branching / (1.0 - branching)
        sigma = math.sqrt(settings.model_error ** 2 + share ** 2 / shape + ((1 - share) ** 2 + amplified ** 2) / deep)
        components.append((w, future, sigma))
        point += w * future
        root_final += w * audience
        if w > best_w:
            best_w, best_p = w, p
    components = [(w / kept, m, s) for w, m, s in components]
    point /= kept
    root_final /= kept
    return Projection(a.count, a.count + point, root_final, best_p, best_p * n_star, n_star, rate, accel, t,
                      settings.confidence, tuple(components))


def _exposure(reached: list[tuple[float, float]], t: float, kernel: Kernel) -> tuple[float, float]:
    """(exposure so far, exposure still to come) under ``kernel`` of the reactions' reach, given as
    (mean time, reach) per coarse bin.

    Kernel.cdf written out (the same operations in the same order, so the same floats): this loop runs
    over every coarse bin, for every likely kernel of every judged cascade, and a call per bin cost more
    than the loop."""
    s0, horizon, norm = kernel.s0, kernel.horizon, kernel._norm
    head, tail_exp, tail_div = kernel.theta / (1 + kernel.theta), -kernel.theta, 1 + kernel.theta
    exposure = remaining = 0.0
    for at, reach in reached:
        s = t - at if at < t else 0.0
        done = (1.0 if s >= horizon else 0.0 if s <= 0 else head * s / s0 / norm if s <= s0
                else (1.0 - (s / s0) ** tail_exp / tail_div) / norm)
        exposure += reach * done
        remaining += reach * (1.0 - done)
    return exposure, remaining
