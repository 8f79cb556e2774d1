"""Volume spikes: many independent complaints at once (an outage), with no single cascade behind them.

Per watch-list we keep the count of complaint roots in every hour (by when they were posted) and the
complaints of the trailing window. The baseline for the current hour is the median and MAD of
comparable past hours (each with the hours either side of it): the same hour of the week in the
earlier weeks once there are two, else the same hour of the day on earlier days, else the hours just
past. A median ignores an earlier outage, and hours that were part of an alerted episode are left out
of baselines, so one spike never raises the bar for the next; unless alerted hours are most of the
comparable ones, when they are the hour's norm (a daily rush) and an alert every day would be noise.

The trailing window is a spike when it holds at least ``min_complaints``, at least ``ratio`` times
what the baseline expects, and a count that improbable under a Poisson law whose hourly mean is the
baseline median plus one robust standard deviation (1.4826 * MAD). One alert per episode: the episode
ends once the window has stayed unremarkable for a whole window length.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

HOUR = 3600.0
_EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday, so hour index % 168 is the hour of the week

_WORD = re.compile(r"[a-z][a-z']{2,}")
_STOP = frozenset("""
the and for you your are was were has have had not but with this that what why how who when where can cant
cannot did does doesnt dont just got get all any our out now its it's again still anyone else since about
been being from into they them then than too very really will would could should there their here also
one two three four five six seven eight nine ten times day days week weeks minutes hours today tbh lol
""".split())


@dataclass(frozen=True, slots=True)
class SpikeSettings:
    window: float = 1800.0          # seconds of trailing window
    min_complaints: int = 8
    p_value: float = 1e-4           # how improbable the window's count must be under the baseline
    ratio: float = 2.0              # and how many times the baseline expectation it must reach
    history_hours: int = 4 * 168    # how far back baselines look
    floor: float = 0.5              # complaints per hour assumed when history is quiet or missing


@dataclass(frozen=True, slots=True)
class Baseline:
    median: float                    # complaints per hour
    mad: float
    basis: str                       # "hour of week", "hour of day", "recent hours" or "none"
    hours: int                       # how many past hours it was computed from

    def expected(self, window: float, floor: float) -> float:
        """The Poisson mean for a window: median plus one robust standard deviation, per window."""
        return max(self.median + 1.4826 * self.mad, floor) * window / HOUR


@dataclass(frozen=True, slots=True)
class Spike:
    start: datetime
    observed: int
    expected: float
    baseline: Baseline
    p_value: float
    examples: list[tuple[str, str]]  # (mention id, text)
    top_terms: list[str]


@dataclass(slots=True)
class SpikeTracker:
    """One watch-list's complaint volume: hourly history, the trailing window, the open episode."""

    ignore: frozenset[str] = frozenset()            # words not worth reporting (the watch-list's terms)
    hourly: dict[int, int] = field(default_factory=dict)
    since: int | None = None                        # first hour we have seen at all
    excluded: set[int] = field(default_factory=set)  # hours that were part of an alerted episode
    recent: list[tuple[float, str, str]] = field(default_factory=list)  # (epoch seconds, id, text), sorted
    links: dict[str, float] = field(default_factory=dict)  # canonical link -> when last counted
    link_memory: float = 1800.0
    episode_start: datetime | None = None
    quiet_since: float | None = None
    _cache: tuple[int, Baseline] | None = None

    def add(self, at: datetime, mention_id: str, text: str, link: str | None = None) -> None:
        """Count one complaint root; posts sharing the same link within a window count once."""
        ts = at.timestamp()
        if link is not None:
            seen = self.links.get(link)
            self.links[link] = ts
            if seen is not None and abs(ts - seen) < self.link_memory:
                return
        self._count(_hour(ts))
        bisect.insort(self.recent, (ts, mention_id, text))

    def count_history(self, at: datetime) -> None:
        """Count a complaint root from before a restart in the hourly history (baselines only)."""
        self._count(_hour(at.timestamp()))
        self._cache = None

    def known_since(self, at: datetime) -> None:
        """Hours from ``at`` on were observed (a quiet hour counts as zero, not as unknown)."""
        hour = _hour(at.timestamp())
        self.since = hour if self.since is None else min(self.since, hour)
        self._cache = None

    def _count(self, hour: int) -> None:
        self.hourly[hour] = self.hourly.get(hour, 0) + 1
        self.since = hour if self.since is None else min(self.since, hour)

    def restore_episode(self, start: datetime) -> None:
        """An episode alerted before a restart: do not alert it again."""
        self.episode_start = start

    def check(self, now: datetime, s: SpikeSettings) -> Spike | None:
        """A newly started episode, or None. Costs O(complaints that left the window)."""
        ts = now.timestamp()
        cut = bisect.bisect_left(self.recent, (ts - s.window,))
        if cut:
            del self.recent[:cut]
        if len(self.links) > 1000:
            self.links = {u: t for u, t in self.links.items() if ts - t < self.link_memory}
        self.link_memory = s.window
        hour = _hour(ts)
        if self.since is None:
            self.since = hour
        self._prune(hour, s)
        observed = len(self.recent)
        base = self.baseline(hour, s)
        expected = base.expected(s.window, s.floor)
        elevated = observed >= s.min_complaints and observed >= s.ratio * expected
        p = poisson_sf(observed, expected) if elevated else 1.0
        if self.episode_start is not None:
            self.excluded.add(hour)
            if observed >= s.ratio * expected:
                self.quiet_since = None
            elif self.quiet_since is None:
                self.quiet_since = ts
            elif ts - self.quiet_since >= s.window:
                self.episode_start, self.quiet_since = None, None
            return None
        if not elevated or p > s.p_value:
            return None
        start = datetime.fromtimestamp(self.recent[0][0], UTC)
        self.episode_start, self.quiet_since = start, None
        self.excluded.update(range(_hour(self.recent[0][0]), hour + 1))
        examples = _examples(self.recent)
        return Spike(start, observed, expected, base, p, examples, self.top_terms())

    def baseline(self, hour: int, s: SpikeSettings) -> Baseline:
        """Median and MAD of comparable completed hours before ``hour`` (cached per hour).

        Comparable hours are the same hour of the week, and the hours either side of it, in earlier
        weeks (used from two weeks of history on); else the same hours of the day on the last seven
        days (from one day on); else the last 24 hours. Hours of alerted episodes are left out unless
        they are most of the comparable hours (then they are the norm, not an exception). The median
        is never below the median of the last three hours, so a day busier than usual does not read
        as a spike at every hour.
        """
        if self._cache is not None and self._cache[0] == hour:
            return self._cache[1]
        first = self.since if self.since is not None else hour

        def known(hours: Iterable[int], always_drop: bool = False) -> list[int]:
            seen = [h for h in hours if first <= h < hour]
            clean = [h for h in seen if h not in self.excluded]
            # An alerted hour is an exception only while exceptions are the minority: when most
            # comparable hours were alerted, the "spike" is this hour's norm (a daily rush) and counts.
            use = clean if always_drop or 2 * len(clean) >= len(seen) else seen
            return [self.hourly.get(h, 0) for h in use]

        def around(step: int, count: int) -> list[int]:
            return known(hour - k * step + d for k in range(1, count + 1) for d in (-1, 0, 1))

        weeks = max(1, s.history_hours // 168)
        basis, values = "none", []
        for name, found, enough in (("hour of week", around(168, weeks), 6), ("hour of day", around(24, 7), 3),
                                    ("recent hours", known(range(hour - 24, hour)), 3)):
            if len(found) >= enough:
                basis, values = name, found
                break
        recent = known(range(hour - 3, hour), always_drop=True)
        med = max(_median(values) if values else 0.0, _median(recent) if recent else 0.0)
        mad = _median([abs(v - med) for v in values]) if values else 0.0
        result = Baseline(med, mad, basis, len(values))
        self._cache = (hour, result)
        return result

    def top_terms(self, n: int = 5) -> list[str]:
        """Words most of the window's complaints share, brand terms and stop words left out."""
        docs = Counter[str]()
        for _, _, text in self.recent:
            words = dict.fromkeys(_WORD.findall(re.sub(r"@\w+|https?://\S+", " ", text.lower())))
            docs.update(w for w in words if w not in _STOP and w not in self.ignore)
        # Ties in the order the words first appeared, not in set order, so replays are repeatable.
        ranked = sorted(docs.items(), key=lambda wc: -wc[1])
        return [w for w, c in ranked[:n] if c >= 2]

    def _prune(self, hour: int, s: SpikeSettings) -> None:
        if len(self.hourly) > s.history_hours + 48:
            oldest = hour - s.history_hours - 1
            for h in [h for h in self.hourly if h < oldest]:
                del self.hourly[h]
            self.excluded = {h for h in self.excluded if h >= oldest}


def _hour(ts: float) -> int:
    return int((ts - _EPOCH.timestamp()) // HOUR)


def hour_of_week(at: datetime) -> int:
    """0 = Monday 00:00-01:00 UTC."""
    return _hour(at.timestamp()) % 168


def _median(values: list[int] | list[float]) -> float:
    v = sorted(values)
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else (v[mid - 1] + v[mid]) / 2.0


def _examples(recent: list[tuple[float, str, str]], n: int = 3) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for _, mid, text in recent:
        key = text.lower().strip()
        if key not in seen:
            seen.add(key)
            out.append((mid, text))
        if len(out) == n:
            break
    return out


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


def window_text(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m" if s % 60 == 0 else f"{s}s"


def episode_id(watchlist: str, start: datetime) -> str:
    return f"spike:{watchlist}:{start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"

