"""The simulator's cascade law: heavy-tailed followers, follower-dependent branching, power-law delays.

Every mention with ``n`` followers triggers on average ``kappa * (n / 150) ** beta`` reactions,
each after a delay with constant density up to ``s0`` and a power-law tail ``s^-(1+theta)`` (or a
log-normal clock), truncated at the cascade's lifetime.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

MEDIAN_FOLLOWERS = 150.0


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def followers(rng: random.Random) -> int:
    """Heavy-tailed: median about 150, one account in a hundred in the tens of thousands or more."""
    if rng.random() < 0.01:
        return int(min(5e6, rng.lognormvariate(math.log(40_000), 1.3)))
    return int(min(2e6, rng.lognormvariate(math.log(MEDIAN_FOLLOWERS), 1.7)))


@dataclass
class Spread:
    """One cascade's law: offspring of the root, branching of reactions, delays, lifetime."""

    root_offspring: float
    ratio: float                      # mean offspring of a typical reaction
    beta: float = 0.7                 # how steeply offspring grow with followers
    s0: float = 300.0
    theta: float = 0.3
    lifetime: float = 86400.0
    max_size: int = 8000
    vip_at: float | None = None       # seconds after the root a VIP quotes it
    lognormal: float | None = None    # when set, delays are log-normal with this sigma and median s0 instead

    def kappa(self) -> float:
        return self.ratio / _mean_weight(round(self.beta, 1))

    def offspring(self, is_root: bool, followers: int, age: float) -> float:
        """Mean reactions to one mention (the root, or a reaction ``age`` seconds after the root)."""
        if is_root:
            return self.root_offspring
        return self.kappa() * (max(1, followers) / MEDIAN_FOLLOWERS) ** self.beta

    def keeps(self, rng: random.Random, at: float) -> bool:
        """Whether a reaction drawn for ``at`` (seconds after the simulation's start) happens: always,
        here; a law whose intensity varies with the time of day thins its reactions."""
        return True

    def root_followers(self, followers: int) -> int:
        """The root author's followers, given the ones drawn for it: unchanged, here; a law whose
        offspring are proportional to followers picks the root's to match its offspring."""
        return followers

    def delay(self, rng: random.Random) -> float:
        """A power-law reaction delay (constant density to s0, then ~ s^-(1+theta)), below the lifetime."""
        if self.lognormal is not None:
            for _ in range(20):
                s = rng.lognormvariate(math.log(self.s0), self.lognormal)
                if s <= self.lifetime:
                    return s
            return rng.uniform(0, self.lifetime)
        head = self.theta / (1 + self.theta)  # share of delays shorter than s0

        def cdf(s: float) -> float:
            return head * s / self.s0 if s <= self.s0 else 1 - (s / self.s0) ** -self.theta / (1 + self.theta)

        u = rng.random() * cdf(self.lifetime)
        if u < head:
            return u / head * self.s0
        return self.s0 * ((1 - u) * (1 + self.theta)) ** (-1 / self.theta)


@functools.cache
def _mean_weight(beta: float) -> float:
    """The mean of (followers / median) ** beta over the follower law, so kappa gives ``ratio`` offspring."""
    rng = random.Random(12345)
    sample = [followers(rng) for _ in range(20000)]
    return sum((max(1, n) / MEDIAN_FOLLOWERS) ** beta for n in sample) / len(sample)


def random_spread(rng: random.Random, root_offspring: float, ratio: float) -> Spread:
    """A cascade law drawn from a wide family, so no single kernel fits every cascade."""
    spread = Spread(root_offspring, ratio, beta=round(rng.uniform(0.4, 0.9), 1), s0=rng.uniform(120, 1200),
                    theta=rng.uniform(0.2, 0.6), lifetime=rng.uniform(12, 36) * 3600)
    if rng.random() < 0.3:  # a third react on a log-normal clock: median 10 to 60 minutes
        spread.s0, spread.lognormal = rng.uniform(600, 3600), rng.uniform(1.2, 2.0)
    return spread
