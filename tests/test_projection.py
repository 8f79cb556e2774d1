"""How far a cascade will spread: the SEISMIC-style projection of its final size, rate and bounds.

The accuracy tests generate cascades from the model's own law (a self-exciting process with the
projection's reaction-time kernel and follower-dependent offspring), using the simulator's
follower distribution and delay sampler, so they test the estimator and not the simulator's choices.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
from collections.abc import Sequence

import pytest

from devkit.simulate import Spread, followers, poisson
from monitor.detect.projection import Activity, Kernel, ProjectionSettings, effective_reach, kernel_grid, project

SETTINGS = ProjectionSettings()
HOUR = 3600.0


def activity(events: Sequence[tuple[float, int | None, bool]], until: float = float("inf")) -> Activity:
    """An Activity from (seconds after the root, followers, direct) events up to ``until``."""
    a = Activity()
    for t, n, direct in events:
        if t <= until:
            a.add(t, effective_reach(n, SETTINGS), direct)
    return a


def self_exciting(rng: random.Random, root_offspring: float, ratio: float) -> list[tuple[float, int | None, bool]]:
    """One cascade of the projection's own law: (time, followers, direct) of every reaction in a day."""
    k = SETTINGS.kernel
    law = Spread(root_offspring, ratio, beta=0.5, s0=k.s0, theta=k.theta, lifetime=k.horizon)
    kappa = law.kappa()
    out: list[tuple[float, int | None, bool]] = []
    queue: list[tuple[float, int, bool]] = [(0.0, 0, True)]
    while queue:
        at, n, is_root = queue.pop()
        mean = root_offspring if is_root else kappa * (max(1, n) / 150) ** 0.5
        for _ in range(poisson(rng, mean)):
            t = at + law.delay(rng)
            if t <= k.horizon:
                f = followers(rng)
                out.append((t, f, is_root))
                queue.append((t, f, False))
    return sorted(out)


def test_the_kernel_gives_the_share_of_reactions_expected_by_a_given_age() -> None:
    k = Kernel(s0=300, theta=0.242, horizon=86400)
    ages = [0, 60, 300, 600, 3600, 6 * 3600, 86400, 2 * 86400]
    shares = [k.cdf(s) for s in ages]
    assert shares[0] == 0.0 and shares[-2] == shares[-1] == 1.0
    assert shares == sorted(shares)
    # constant density up to s0: a fifth of the way to s0 holds a fifth of what s0 holds
    assert k.cdf(60) == pytest.approx(k.cdf(300) / 5)
    # a power-law tail: a good share of the day's reactions are still to come after an hour
    assert 0.2 < 1 - k.cdf(3600) < 0.5


def test_a_cascade_with_no_reactions_projects_nothing() -> None:
    p = project(Activity(), 600, SETTINGS)
    assert (p.observed, p.projected, p.projected_low) == (0, 0.0, 0.0)


@pytest.mark.parametrize(("root_offspring", "ratio"), [(200, 0.3), (400, 0.1)])
def test_a_root_driven_cascade_is_projected_within_a_third_of_its_final_size_an_hour_in(
        root_offspring: float, ratio: float) -> None:
    rng = random.Random(3)
    ratios, lows = [], []
    for _ in range(12):
        events = self_exciting(rng, root_offspring, ratio)
        p = project(activity(events, HOUR), HOUR, SETTINGS)
        ratios.append(p.projected / len(events))
        lows.append(p.projected_low / len(events))
    assert 0.75 <= statistics.median(ratios) <= 1.33
    assert statistics.median(lows) < 1.0  # the lower bound errs low: alerts wait for evidence


def test_the_projection_is_never_below_what_was_observed_and_the_bound_never_above_the_estimate() -> None:
    rng = random.Random(5)
    for ratio in (0.1, 0.5, 0.9):
        events = self_exciting(rng, 60, ratio)
        for t in (300, 1800, HOUR, 6 * HOUR):
            p = project(activity(events, t), t, SETTINGS)
            assert p.observed <= p.projected_low <= p.projected or p.observed == 0


def test_a_cascade_that_stopped_spreading_projects_little_more_than_it_has() -> None:
    burst = [(i * 10.0, 150, True) for i in range(60)]  # 60 reactions in the first ten minutes, then silence
    early = project(activity(burst), 600, SETTINGS)
    late = project(activity(burst), 8 * HOUR, SETTINGS)
    assert early.projected > 2 * 60
    assert late.projected < 1.2 * 60


def test_the_same_reactions_come_faster_means_a_bigger_projection() -> None:
    fast = [(i * 10.0, 150, True) for i in range(40)]      # 40 reactions in under 7 minutes
    slow = [(i * 180.0, 150, True) for i in range(40)]     # 40 reactions over 2 hours
    assert project(activity(fast), 400, SETTINGS).projected > 1.4 * project(activity(slow), 7200, SETTINGS).projected


def test_a_big_account_joining_raises_the_projection_before_its_audience_reacts() -> None:
    t = 900.0
    so_far = [(i * 30.0, 150, True) for i in range(29)]
    small = project(activity([*so_far, (t - 10, 100, True)]), t, SETTINGS)
    big = project(activity([*so_far, (t - 10, 50_000, True)]), t, SETTINGS)
    assert big.projected > small.projected
    assert big.n_star > small.n_star  # and the typical future reactor is thought bigger


def test_reactions_to_reactions_raise_the_branching_estimate() -> None:
    t = 900.0
    shallow = project(activity([(i * 30.0, 150, True) for i in range(30)]), t, SETTINGS)
    deep = project(activity([(i * 30.0, 150, i % 2 == 0) for i in range(30)]), t, SETTINGS)
    assert deep.branching > shallow.branching
    assert deep.projected > shallow.projected


def test_the_same_reactions_seen_by_bigger_audiences_mean_content_less_infectious() -> None:
    # SEISMIC's reading: if many more people saw it and no more reacted, each view is worth less.
    t = 900.0
    small = project(activity([(i * 30.0, 100, i % 2 == 0) for i in range(30)]), t, SETTINGS)
    big = project(activity([(i * 30.0, 20_000, i % 2 == 0) for i in range(30)]), t, SETTINGS)
    assert big.infectiousness < small.infectiousness


def test_one_huge_account_counts_no_more_than_the_follower_cap() -> None:
    assert effective_reach(5_000_000, SETTINGS) == effective_reach(SETTINGS.follower_cap, SETTINGS)
    assert effective_reach(None, SETTINGS) == effective_reach(SETTINGS.default_followers, SETTINGS)
    assert effective_reach(10_000, SETTINGS) == pytest.approx(100.0)  # followers ** reach_exponent (0.5)


def test_the_lower_bound_tightens_as_evidence_grows() -> None:
    def shares(n: int) -> float:
        events = [(i * 600.0 / n, 150, True) for i in range(n)]  # n reactions in the first ten minutes
        p = project(activity(events), 600, SETTINGS)
        return p.projected_low / p.projected

    assert shares(10) < shares(40) < shares(200) < 1.0


def test_the_rate_is_reactions_per_hour_over_the_last_quarter_hour() -> None:
    events = [(i * 60.0, 150, True) for i in range(60)] + [(3600 + i * 30.0, 150, True) for i in range(30)]
    p = project(activity(events), 3600 + 900, SETTINGS)
    assert p.rate == pytest.approx(30 * 4, rel=0.1)
    assert p.acceleration > 0


def test_a_big_cascade_costs_no_more_memory_than_its_age_in_minutes() -> None:
    events = [(i * 0.36, 150, True) for i in range(10_000)]  # ten thousand reactions in an hour
    a = activity(events)
    assert a.count == 10_000 and len(a.buckets) <= 61
    assert project(a, HOUR, SETTINGS).observed == 10_000


def test_thirty_replies_in_ninety_seconds_are_not_yet_a_storm_of_three_hundred() -> None:
    # A big account's followers answer within a minute or two; read with one slow kernel, 28 replies in
    # the first 90 seconds once projected to 338+ and alerted on a complaint that ended at 200.
    burst = project(activity([(i * 3.0, 150, True) for i in range(30)]), 100, SETTINGS)
    assert burst.storm_probability(300) < 0.4
    assert burst.projected > 60  # still a cascade worth watching


def test_the_storm_probability_is_one_once_reached_and_falls_as_the_threshold_rises() -> None:
    p = project(activity([(i * 20.0, 150, True) for i in range(60)]), 1200, SETTINGS)
    odds = [p.storm_probability(x) for x in (30, 60, 100, 200, 400, 800, 100_000)]
    assert odds[:2] == [1.0, 1.0]
    assert odds[2:] == sorted(odds[2:], reverse=True) and odds[2] > 0.5 > odds[4] and odds[-1] < 1e-6
    assert p.storm_probability(p.projected_low) >= SETTINGS.confidence - 1e-6


def test_reposts_that_may_be_of_any_generation_are_projected_further_than_direct_replies() -> None:
    # On X a repost of a repost names the root: a cascade of such reposts hides its later generations,
    # which keep it growing for a day, so the same timing means more to come than from one audience.
    events = [(i * 20.0, 150, True) for i in range(60)]
    replies = project(activity(events), 1200, SETTINGS)
    flat = Activity()
    for t, n, direct in events:
        flat.add(t, effective_reach(n, SETTINGS), direct, flat=True)
    reposts = project(flat, 1200, SETTINGS)
    assert reposts.projected > 1.3 * replies.projected
    assert reposts.storm_probability(300) > replies.storm_probability(300)


def test_the_size_prior_makes_a_huge_unseen_audience_unlikely() -> None:
    events = [(i * 4.0, 150, True) for i in range(30)]  # 30 reactions in two minutes
    flat_prior = dataclasses.replace(SETTINGS, size_prior=0.0)
    assert project(activity(events), 120, SETTINGS).storm_probability(1000) < \
        project(activity(events), 120, flat_prior).storm_probability(1000)


def test_on_cascades_of_its_own_law_the_storm_probability_is_roughly_calibrated() -> None:
    """Cascades drawn from kernels of the grid (not only the centre) with root audiences of every size,
    each judged 20 minutes in: of those given a high probability of passing 150, most do; of those given
    a low one, few do."""
    rng = random.Random(11)
    high, low = [], []
    for _ in range(240):
        kernel = rng.choice(kernel_grid(SETTINGS)[::4])
        law = Spread(0, 0.0, s0=kernel.s0, theta=kernel.theta, lifetime=kernel.horizon)
        audience = rng.lognormvariate(4.0, 1.0)
        times = sorted(law.delay(rng) for _ in range(poisson(rng, audience)))
        seen = [(t, 150, True) for t in times if t <= 1200]
        if len(seen) < 10:
            continue
        p = project(activity(seen), 1200, SETTINGS).storm_probability(150)
        (high if p >= 0.7 else low if p < 0.2 else []).append(len(times) >= 150)
    assert len(high) >= 10 and len(low) >= 10
    assert sum(high) / len(high) >= 0.6
    assert sum(low) / len(low) <= 0.25


def test_an_estimate_kept_up_to_date_reaction_by_reaction_equals_one_made_afresh() -> None:
    """The timing likelihood of whole bins is kept per kernel as reactions come (_Timing): estimating
    after every reaction gives what one estimate of all of them at once gives."""
    rng = random.Random(8)
    events = sorted(self_exciting(rng, 120, 0.4))[:400]
    kept = Activity()
    for t, n, direct in events:
        kept.add(t, effective_reach(n, SETTINGS), direct)
        live = project(kept, t, SETTINGS)
    fresh = project(activity(events), events[-1][0], SETTINGS)
    assert live.projected == pytest.approx(fresh.projected, rel=1e-9)
    assert live.storm_probability(800) == pytest.approx(fresh.storm_probability(800), rel=1e-9, abs=1e-12)
    assert kept.timing is not None and not kept.fresh
