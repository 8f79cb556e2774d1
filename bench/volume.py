"""Volume-spike benchmark: overdispersed complaint volume from a zoo of generators, through the real pipeline.

Real social volume is overdispersed: its variance is far above its mean, it has a daily and weekly
rhythm, news bursts, trends and level shifts. Each family below generates weeks of one watch-list's
complaint posts with a different mechanism for that, at a different volume, and with labelled
incidents (outages) of several shapes and sizes. Ordinary news bursts and busy spells are *not*
incidents: an alert on one is a false alert.

Each series is replayed as one watch-list's complaint posts through ``monitor.replay.run_replay``
(temporary config and store, simulated clock, nothing delivered; texts the complaint classifier
calls complaints, checked when the pool of texts is built) and scored per family:

- incidents alerted: a ``spike_alert`` from 30 minutes before an incident's start to an hour after
  its end;
- delay: minutes from an incident's start to its first such alert;
- false alerts per week: spike alerts matching no incident.

Next to it, on the same series, the plain baseline: an hour's count above the mean + 4 standard
deviations of the hourly counts of the last 14 days (at least a day of them); it can only alert at
the end of an hour, and consecutive alerting hours count as one alert. The first two days of every
series are a warm-up: no incident is placed there and no alert there is scored.

Seeds 1-2 were used while the spike test was designed (the family ``regimes`` not at all); the
default report seeds, 101-102, were only run to report. ``make bench`` runs the report seeds.

    python -m bench.volume [--seeds 101,102] [--families steady,quiet] [--weeks 4] [--json]
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from devkit.branching import poisson
from devkit.simtext import COMPLAINT, OUTAGE, VAGUE, fill
from monitor.clock import SimulatedClock
from monitor.config.settings import load_config
from monitor.engine.pipeline import Pipeline
from monitor.records.decision import Decision
from monitor.records.mention import Author, Mention, parse_time
from monitor.replay import run_replay
from monitor.scoring.scores import Scorer
from monitor.store.database import Store

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
MINUTE, HOUR, DAY, WEEK = 60.0, 3600.0, 86400.0, 7 * 86400.0
WARM_UP = 2 * DAY
BRAND = "acme"
REPORT_SEEDS = (101, 102)


@dataclass(frozen=True)
class Incident:
    start: float          # seconds after the series' start
    end: float
    shape: str            # step, ramp, spike, decay or cluster
    peak_per_hour: float  # the incident's own complaints per hour at its worst
    usual_per_hour: float  # the series' expected rate (rhythm and level, no noise) at its start
    complaints: int


@dataclass
class Series:
    family: str
    seed: int
    days: float
    times: list[float]    # when each complaint was posted, seconds after START, sorted
    incidents: list[Incident]
    bursts: int = 0       # ordinary news bursts or busy spells generated (not incidents)
    notes: dict[str, float] = field(default_factory=dict)  # the drawn parameters, for the record

    @property
    def scored_weeks(self) -> float:
        return (self.days * DAY - WARM_UP) / WEEK


# -- the shapes every family shares ---------------------------------------------------------------
class Rhythm:
    """A daily curve (a peak hour and a night trough) and a weekend factor, drawn per series."""

    def __init__(self, rng: random.Random):
        self.peak = rng.uniform(11, 20)
        self.width = rng.uniform(3, 6)
        self.night = rng.uniform(0.1, 0.45)     # the rate at the trough, as a share of the peak
        self.weekend = rng.uniform(0.55, 1.15)

    def __call__(self, t: float) -> float:
        hour = (t % DAY) / HOUR
        d = min(abs(hour - self.peak), 24 - abs(hour - self.peak))
        day = int(t // DAY) % 7  # START is a Monday
        return (self.night + (1 - self.night) * math.exp(-((d / self.width) ** 2))) * (self.weekend if day >= 5
                                                                                        else 1.0)


@dataclass(frozen=True)
class _Shape:
    kind: str
    duration: float
    rise: float = 0.0
    tau: float = 0.0

    def __call__(self, t: float) -> float:
        if t < 0 or t >= self.duration:
            return 0.0
        if self.kind == "ramp":
            return min(1.0, (t + MINUTE) / self.rise)
        if self.kind == "decay":
            return math.exp(-t / self.tau)
        return 1.0  # step, spike


def _draw_shape(rng: random.Random) -> _Shape:
    kind = rng.choice(("step", "ramp", "spike", "decay"))
    if kind == "step":
        return _Shape(kind, rng.uniform(40, 150) * MINUTE)
    if kind == "ramp":
        return _Shape(kind, rng.uniform(60, 180) * MINUTE, rise=rng.uniform(15, 45) * MINUTE)
    if kind == "spike":
        return _Shape(kind, rng.uniform(12, 25) * MINUTE)
    tau = rng.uniform(20, 60) * MINUTE
    return _Shape(kind, 3 * tau, tau=tau)


@dataclass(frozen=True)
class Family:
    name: str
    what: str
    make: Callable[[random.Random, float], Series]
    max_weeks: float = 8.0  # the busiest family is replayed for fewer weeks, to keep the run short


def _incident_starts(rng: random.Random, days: float, n: int) -> list[float]:
    """Up to ``n`` incident starts after the warm-up, at least two days apart, mostly in waking hours."""
    out: list[float] = []
    for _ in range(100_000):  # a short series holds fewer than n
        if len(out) == n:
            break
        t = rng.uniform(WARM_UP + 6 * HOUR, days * DAY - 6 * HOUR)
        hour = (t % DAY) / HOUR
        if not 7 <= hour <= 23 and rng.random() < 0.7:
            continue
        if all(abs(t - u) > 2 * DAY for u in out):
            out.append(t)
    return sorted(out)


def _rate_series(rng: random.Random, family: str, days: float, expected: Callable[[float], float],
                 noise: Callable[[float], float], n_incidents: int = 3,
                 excess: Callable[[float], float] | None = None) -> Series:
    """Posts from a rate: ``expected(t)`` (level and rhythm, per hour) times ``noise(t)``, plus
    ``excess(t)`` (bursts, per hour), plus incidents, drawn minute by minute."""
    incidents: list[tuple[float, _Shape, float]] = []
    for start in _incident_starts(rng, days, n_incidents):
        usual = expected(start)
        # The incident's own rate at its worst: 3 to 12 times the usual rate, and never under 24 an
        # hour (an outage anyone would call one on a quiet watch-list: a dozen complaints in 30 minutes).
        peak = max(24.0, usual * math.exp(rng.uniform(math.log(3), math.log(12))))
        incidents.append((start, _draw_shape(rng), peak))
    times: list[float] = []
    counts = [0] * len(incidents)
    t, end = 0.0, days * DAY
    while t < end:
        rate = expected(t) * noise(t) + (excess(t) if excess else 0.0)
        own = [peak * shape(t - start) for start, shape, peak in incidents]
        for i, r in enumerate(own):
            n = poisson(rng, r / 60)
            counts[i] += n
            times.extend(t + rng.random() * MINUTE for _ in range(n))
        times.extend(t + rng.random() * MINUTE for _ in range(poisson(rng, rate / 60)))
        t += MINUTE
    times.sort()
    labelled = [Incident(start, start + shape.duration, shape.kind, round(peak, 1), round(expected(start), 1),
                         counts[i]) for i, (start, shape, peak) in enumerate(incidents)]
    return Series(family, 0, days, times, labelled)


class _PerStep:
    """A piecewise-constant random process: a new value every ``step`` seconds from ``draw``."""

    def __init__(self, step: float, draw: Callable[[float | None], float]):
        self.step, self.draw = step, draw
        self._at, self._value = -1, 1.0
        self._last: float | None = None

    def __call__(self, t: float) -> float:
        i = int(t // self.step)
        while self._at < i:
            self._at += 1
            self._last = self._value = self.draw(self._last)
        return self._value


def _gamma(rng: random.Random, k: float) -> Callable[[float | None], float]:
    return lambda _prev: rng.gammavariate(k, 1 / k)


# -- the families ---------------------------------------------------------------------------------
def _level(rng: random.Random, days: float, name: str, levels: tuple[float, float], ks: tuple[float, float]
           ) -> Series:
    """A daily rhythm at a peak drawn from ``levels`` per hour, each hour's rate gamma-noised (shape from ``ks``)."""
    level, k = rng.uniform(*levels), rng.uniform(*ks)
    rhythm = Rhythm(rng)
    s = _rate_series(rng, name, days, lambda t: level * rhythm(t), _PerStep(HOUR, _gamma(rng, k)))
    s.notes = {"peak_per_hour": round(level, 1), "gamma_k_hourly": round(k, 2)}
    return s


def steady(rng: random.Random, days: float) -> Series:
    return _level(rng, days, "steady", (15, 60), (3, 12))


def few_per_hour(rng: random.Random, days: float) -> Series:
    return _level(rng, days, "few-per-hour", (2, 6), (1.5, 5))


def busy(rng: random.Random, days: float) -> Series:
    """Hundreds per 5 minutes at the daily peak; the log-rate wanders (AR(1) every 5 minutes)."""
    level = rng.uniform(300, 1200)
    sd, rho = rng.uniform(0.15, 0.4), rng.uniform(0.85, 0.98)
    step_sd = sd * math.sqrt(1 - rho * rho)

    def walk(prev: float | None) -> float:
        x = 0.0 if prev is None else math.log(prev) + sd * sd / 2
        return math.exp(rho * x + rng.gauss(0, step_sd) - sd * sd / 2)

    rhythm = Rhythm(rng)
    bursts = _Bursts(rng, days, per_day=rng.uniform(1, 4), base=lambda t: level * rhythm(t), tau_minutes=(5, 60))
    s = _rate_series(rng, "busy", days, lambda t: level * rhythm(t), _PerStep(5 * MINUTE, walk), excess=bursts)
    s.bursts = len(bursts.events)
    s.notes = {"peak_per_hour": round(level), "log_sd": round(sd, 2), "ar_5min": round(rho, 3)}
    return s


class _Bursts:
    """Ordinary news bursts: a sudden excess over the usual rate that decays within minutes to an
    hour or two; heavy-tailed in size (Pareto, shape 1.3, from 0.4 times the usual rate, at most 8
    times), they come and go every day and are not incidents."""

    def __init__(self, rng: random.Random, days: float, per_day: float, base: Callable[[float], float],
                 tau_minutes: tuple[float, float] = (5, 90)):
        self.events: list[tuple[float, float, float]] = []  # (start, excess per hour at the peak, tau)
        for _ in range(poisson(rng, per_day * days)):
            at = rng.uniform(0, days * DAY)
            size = min(8.0, 0.4 * rng.paretovariate(1.3))
            self.events.append((at, size * base(at), rng.uniform(*tau_minutes) * MINUTE))
        self.events.sort()

    def __call__(self, t: float) -> float:
        total = 0.0
        i = bisect.bisect_left(self.events, (t - 6 * 90 * MINUTE,))
        for start, peak, tau in self.events[i:]:
            if start > t:
                break
            if t - start < 6 * tau:
                rise = min(1.0, (t - start + MINUTE) / (3 * MINUTE))
                total += peak * rise * math.exp(-(t - start) / tau)
        return total


def news_bursts(rng: random.Random, days: float) -> Series:
    level, k = rng.uniform(20, 120), rng.uniform(4, 15)
    rhythm = Rhythm(rng)
    bursts = _Bursts(rng, days, per_day=rng.uniform(1, 5), base=lambda t: level * rhythm(t))
    s = _rate_series(rng, "news-bursts", days, lambda t: level * rhythm(t), _PerStep(HOUR, _gamma(rng, k)),
                     excess=bursts)
    s.bursts = len(bursts.events)
    s.notes = {"peak_per_hour": round(level, 1), "gamma_k_hourly": round(k, 2),
               "bursts_per_day": round(len(bursts.events) / days, 2)}
    return s


def hawkes(rng: random.Random, days: float) -> Series:
    """Self-exciting: every complaint draws more (a branching ratio of 0.3-0.8, each after minutes),
    so complaints come in clusters of every size, as posts answering a shared experience do."""
    level, branching, delay = rng.uniform(5, 40), rng.uniform(0.3, 0.8), rng.uniform(2, 15) * MINUTE
    rhythm = Rhythm(rng)
    immigrants = _rate_series(rng, "hawkes", days, lambda t: level * (1 - branching) * rhythm(t), lambda t: 1.0)
    times, stack = [], list(immigrants.times)
    incident_posts = sum(i.complaints for i in immigrants.incidents)
    while stack:
        t = stack.pop()
        times.append(t)
        for _ in range(poisson(rng, branching)):
            stack.append(t + rng.expovariate(1 / delay))
    times = sorted(x for x in times if x < days * DAY)
    s = Series("hawkes", 0, days, times, immigrants.incidents)
    s.notes = {"peak_per_hour": round(level, 1), "branching": round(branching, 2),
               "delay_minutes": round(delay / MINUTE, 1), "incident_posts_before_echoes": incident_posts}
    return s


def regimes(rng: random.Random, days: float) -> Series:
    """Calm and busy spells (a two-state Markov chain, busy 1.5-3 times calm for hours), with
    5-minute gamma noise on top."""
    level, k = rng.uniform(10, 80), rng.uniform(5, 20)
    busy_factor, enter, stay = rng.uniform(1.5, 3), rng.uniform(0.5, 2) / DAY, rng.uniform(1, 4) * HOUR
    state = {"busy": False, "spells": 0}

    def flip(_prev: float | None) -> float:
        if state["busy"]:
            state["busy"] = rng.random() >= 5 * MINUTE / stay
        elif rng.random() < enter * 5 * MINUTE:
            state["busy"] = True
            state["spells"] += 1
        return (busy_factor if state["busy"] else 1.0) * rng.gammavariate(k, 1 / k)

    rhythm = Rhythm(rng)
    s = _rate_series(rng, "regimes", days, lambda t: level * rhythm(t), _PerStep(5 * MINUTE, flip))
    s.bursts = state["spells"]
    s.notes = {"peak_per_hour": round(level, 1), "busy_factor": round(busy_factor, 2),
               "busy_hours_mean": round(stay / HOUR, 1), "gamma_k_5min": round(k, 1)}
    return s


def shifting(rng: random.Random, days: float) -> Series:
    """A trend over the whole series and a level shift (down to half, or up to double) on one day."""
    level, k = rng.uniform(10, 80), rng.uniform(3, 10)
    trend = rng.uniform(-0.4, 0.4)
    shift_at = rng.uniform(WARM_UP + DAY, days * DAY - 3 * DAY)
    factor = rng.uniform(1.5, 2.5) if rng.random() < 0.5 else rng.uniform(0.4, 0.7)
    rhythm = Rhythm(rng)

    def expected(t: float) -> float:
        return level * rhythm(t) * math.exp(trend * t / (days * DAY)) * (factor if t >= shift_at else 1.0)

    s = _rate_series(rng, "shifting", days, expected, _PerStep(HOUR, _gamma(rng, k)))
    s.notes = {"peak_per_hour": round(level, 1), "gamma_k_hourly": round(k, 2), "trend": round(trend, 2),
               "shift_day": round(shift_at / DAY, 1), "shift_factor": round(factor, 2)}
    return s


def quiet(rng: random.Random, days: float) -> Series:
    """A handful of complaints a day, in clusters (someone's thread of two or three); incidents are
    small outages of 8 to 20 complaints within 15 to 30 minutes."""
    per_day = rng.uniform(2, 10)
    rhythm = Rhythm(rng)
    times: list[float] = []
    t = 0.0
    top = 1.2
    while True:  # thinning: events at the day's peak rate, kept in proportion to the rhythm
        t += rng.expovariate(per_day * 2.2 / DAY)
        if t >= days * DAY:
            break
        if rng.random() * top < rhythm(t):
            size = 1
            while rng.random() < 0.35:
                size += 1
            times.extend(t + rng.uniform(0, 10 * MINUTE) * (i > 0) for i in range(size))
    incidents = []
    for start in _incident_starts(rng, days, 3):
        n, span = rng.randint(8, 20), rng.uniform(15, 30) * MINUTE
        times.extend(start + rng.uniform(0, span) for _ in range(n))
        incidents.append(Incident(start, start + span, "cluster", round(n * HOUR / span, 1), 0.0, n))
    times = sorted(x for x in times if x < days * DAY)
    s = Series("quiet", 0, days, times, incidents)
    s.notes = {"complaints_per_day": round(len(times) / days, 1)}
    return s


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("steady", "negative-binomial counts (hourly gamma rate) with a daily and weekly rhythm, 15-60/h", steady),
    Family("few-per-hour", "the same at 2-6 an hour, burstier (gamma shape 1.5-5)", few_per_hour),
    Family("busy", "25-100 per 5 minutes at the daily peak (hundreds in bursts), log-rate AR(1) every 5 minutes, "
           "news bursts", busy, max_weeks=2),
    Family("news-bursts", "20-120/h with 1-5 news bursts a day (0.4-8 times the usual rate on top, heavy-tailed)",
           news_bursts),
    Family("hawkes", "self-exciting clusters (branching 0.3-0.8, minutes apart), 5-40/h", hawkes),
    Family("regimes", "calm and busy spells (1.5-3 times, for hours), 5-minute gamma noise", regimes),
    Family("shifting", "a trend over the series and a level shift (x0.4-0.7 or x1.5-2.5)", shifting),
    Family("quiet", "2-10 complaints a day in small clusters; outages of 8-20 in 15-30 minutes", quiet),
)}


def generate(family: str, seed: int, weeks: float) -> Series:
    """One series of ``family``: a warm-up and ``weeks`` scored weeks (at most the family's
    ``max_weeks``); the same (family, seed, weeks) gives the same series."""
    rng = random.Random(f"{family}:{seed}")
    days = WARM_UP / DAY + 7 * min(weeks, FAMILIES[family].max_weeks)
    s = FAMILIES[family].make(rng, days)
    s.seed = seed
    return s


# -- through the real pipeline --------------------------------------------------------------------
def complaint_texts(scorer: Scorer, n: int = 400, seed: int = 0) -> list[str]:
    """Texts the complaint classifier calls complaints, about a tenth of them outage reports (what a
    brand's complaints look like on an ordinary day). Raises if the classifier calls too few of
    the templates complaints, since the benchmark would then measure nothing."""
    rng = random.Random(seed)
    out: list[str] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 20 * n:
            raise RuntimeError(f"only {len(out)} of {tries} template texts are complaints to the classifier")
        r = rng.random()
        pool = OUTAGE if r < 0.1 else VAGUE if r < 0.25 else COMPLAINT
        text = fill(rng.choice(pool), rng, BRAND)
        if scorer.score(text, explain=False).complaint.is_complaint:
            out.append(text)
    return out


def mentions(series: Series, texts: Sequence[str]) -> Iterator[Mention]:
    """The series as X posts in observed order (each seen 5 to 60 seconds after it was posted)."""
    rng = random.Random(f"posts:{series.family}:{series.seed}")
    heap: list[tuple[float, int, float]] = []
    for i, t in enumerate(series.times):
        heapq.heappush(heap, (t + rng.uniform(5, 60), i, t))
        while heap and heap[0][0] < t:
            yield _post(*heapq.heappop(heap), rng, texts)
    while heap:
        yield _post(*heapq.heappop(heap), rng, texts)


def _post(observed: float, i: int, created: float, rng: random.Random, texts: Sequence[str]) -> Mention:
    n = 10**15 + i
    user = rng.randrange(20_000)
    return Mention(id=f"x:{n}", source="x", kind="post", parent_id=None, url=f"https://x.com/u{user}/status/{n}",
                   author=Author(str(user), f"u{user}", followers=int(rng.lognormvariate(math.log(150), 1.2))),
                   text=rng.choice(texts), links=[], created_at=START + timedelta(seconds=created),
                   observed_at=START + timedelta(seconds=observed))


def replay(series: Series, scorer: Scorer, texts: Sequence[str]) -> tuple[list[dict[str, Any]], float]:
    """Replay a series through the pipeline (temporary store); its spike alerts and replay seconds."""
    alerts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="monitor-volume-") as tmp:
        folder = Path(tmp)
        (folder / "watchlists").mkdir()
        (folder / "watchlists" / f"{BRAND}.yaml").write_text(yaml.safe_dump({"name": BRAND, "terms": [BRAND]}))
        (folder / "monitor.yaml").write_text(yaml.safe_dump({"database": str(folder / "volume.db"),
                                                             "watchlists": "watchlists/"}))
        cfg = load_config(folder / "monitor.yaml")
        store = Store(cfg.database_path)
        clock = SimulatedClock(START)
        pipeline = Pipeline(cfg, store, clock, scorer=scorer, deliver=False)

        def emit(d: Decision) -> None:
            if d.kind == "spike" and d.level == "new":
                alerts.append(d.to_json())

        summary = run_replay(mentions(series, texts), pipeline, clock, emit)
        store.close()
    return alerts, summary.seconds


def baseline_alerts(times: Sequence[float], days: float, sds: float = 4.0, history: int = 14 * 24) -> list[float]:
    """When "an hour above the mean + ``sds`` standard deviations of the last 14 days' hours" alerts:
    at the end of each such hour, consecutive ones as one alert (seconds after START)."""
    hours = [0] * math.ceil(days * 24)
    for t in times:
        hours[int(t // HOUR)] += 1
    out, alerting = [], False
    for h, count in enumerate(hours):
        past = hours[max(0, h - history):h]
        if len(past) < 24:
            continue
        mean = sum(past) / len(past)
        sd = math.sqrt(sum((x - mean) ** 2 for x in past) / (len(past) - 1))
        hit = count > mean + sds * sd
        if hit and not alerting:
            out.append((h + 1) * HOUR)
        alerting = hit
    return out


def score(series: Series, alert_times: Iterable[float]) -> dict[str, Any]:
    """Incidents alerted, delays (minutes) and false alerts, for alerts after the warm-up."""
    alerts = sorted(t for t in alert_times if t >= WARM_UP)
    matched: set[int] = set()
    delays: list[float | None] = []
    for inc in series.incidents:
        hit = [i for i, a in enumerate(alerts) if inc.start - 30 * MINUTE <= a <= inc.end + HOUR]
        matched.update(hit)
        delays.append(round((alerts[hit[0]] - inc.start) / MINUTE, 1) if hit else None)
    return {"incidents": len(series.incidents), "alerted": sum(d is not None for d in delays), "delays": delays,
            "false": len(alerts) - len(matched), "weeks": series.scored_weeks}


def run(families: Sequence[str], seeds: Sequence[int], weeks: float,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Generate, replay and score every (family, seed); the figures per family and in all."""
    scorer = Scorer()
    texts = complaint_texts(scorer)
    per_family: dict[str, Any] = {}
    posts, replay_seconds = 0, 0.0
    for name in families:
        rows = []
        for seed in seeds:
            s = generate(name, seed, weeks)
            alerts, seconds = replay(s, scorer, texts)
            posts, replay_seconds = posts + len(s.times), replay_seconds + seconds
            at = [(parse_time(a["at"]) - START).total_seconds() for a in alerts]
            det, base = score(s, at), score(s, baseline_alerts(s.times, s.days))
            rows.append({"seed": seed, "posts": len(s.times), "notes": s.notes, "bursts": s.bursts,
                         "incidents": [vars(i) for i in s.incidents], "detector": det, "baseline": base,
                         "false_alerts_at": [a["at"] for a, t in zip(alerts, at, strict=True) if t >= WARM_UP
                                             and not any(i.start - 30 * MINUTE <= t <= i.end + HOUR
                                                         for i in s.incidents)]})
            if progress:
                progress(f"{name} seed {seed}: {len(s.times)} posts, detector {det['alerted']}/{det['incidents']} "
                         f"alerted, {det['false']} false; baseline {base['alerted']}/{base['incidents']}, "
                         f"{base['false']} false ({seconds:.0f}s)")
        per_family[name] = {"what": FAMILIES[name].what, "series": rows,
                            "detector": _sum(r["detector"] for r in rows),
                            "baseline": _sum(r["baseline"] for r in rows)}
    every = [r for f in per_family.values() for r in f["series"]]
    return {"seeds": list(seeds), "weeks_scored_per_series": weeks, "families": per_family,
            "all": {"detector": _sum(r["detector"] for r in every), "baseline": _sum(r["baseline"] for r in every)},
            "posts": posts, "replay_posts_per_s": round(posts / replay_seconds) if replay_seconds else None}


def _sum(scores: Iterable[dict[str, Any]]) -> dict[str, Any]:
    scores = list(scores)
    delays = [d for s in scores for d in s["delays"] if d is not None]
    weeks = sum(s["weeks"] for s in scores)
    false = sum(s["false"] for s in scores)
    return {"incidents": sum(s["incidents"] for s in scores), "alerted": sum(s["alerted"] for s in scores),
            "delay_median_min": round(statistics.median(delays), 1) if delays else None,
            "delay_max_min": max(delays) if delays else None,
            "false": false, "weeks": round(weeks, 2), "false_per_week": round(false / weeks, 2) if weeks else None,
            "max_false_per_week_in_a_series": round(max((s["false"] / s["weeks"] for s in scores), default=0.0), 2)}


def table(f: dict[str, Any]) -> str:
    def cells(x: dict[str, Any]) -> list[str]:
        delay = "-" if x["delay_median_min"] is None else f"{x['delay_median_min']:g} / {x['delay_max_min']:g}"
        return [f"{x['alerted']} / {x['incidents']}", delay, f"{x['false_per_week']:.2f} ({x['false']})"]

    rows = [("family", "detector: alerted", "delay med / max (min)", "false / week", "baseline: alerted",
             "delay med / max", "false / week")]
    for name, fam in [*f["families"].items(), ("all", f["all"])]:
        rows.append((name, *cells(fam["detector"]), *cells(fam["baseline"])))
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(width[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in width))
    busy = min(f["weeks_scored_per_series"], FAMILIES["busy"].max_weeks)
    lines.append(f"(seeds {', '.join(map(str, f['seeds']))}; {f['weeks_scored_per_series']:g} scored weeks per "
                 f"series (busy: {busy:g}) after a 2-day warm-up; {f['posts']:,} posts replayed at "
                 f"{f['replay_posts_per_s']}/s; baseline: an hour above mean + 4 SD of the last 14 days' hours)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.volume", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default=",".join(map(str, REPORT_SEEDS)), help="comma-separated seeds")
    ap.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated: {', '.join(FAMILIES)}")
    ap.add_argument("--weeks", type=float, default=4, help="scored weeks per series (after the warm-up)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    families = args.families.split(",")
    unknown = set(families) - set(FAMILIES)
    if unknown:
        ap.error(f"unknown families: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    f = run(families, [int(x) for x in args.seeds.split(",")], args.weeks,
            progress=lambda m: print(f"volume: {m}", flush=True) if not args.json else None)
    print(json.dumps(f, indent=1, default=str) if args.json else table(f))
    print(f"({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
