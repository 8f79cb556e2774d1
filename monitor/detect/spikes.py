"""Volume spikes: many independent complaints at once (an outage), with no single cascade behind them.

Per watch-list we keep the count of complaint roots in every hour (by when they were posted) and the
complaints of the trailing window. The baseline for the current hour is the 20% trimmed mean (and
the median and MAD, for the record) of comparable past hours (each with the hours either side of
it): the same hour of the week in the earlier weeks once there are two, else the same hour of the
day on earlier days, else the hours just past. A trimmed mean ignores an earlier outage, and hours
that were part of an alerted episode are left out of baselines, so one spike never raises the bar
for the next; unless alerted hours are most of the comparable ones, when they are the hour's norm (a
daily rush) and an alert every day would be noise.

Real complaint volume is overdispersed: news bursts, busy spells and the baseline's own misses make
counts vary far more than a Poisson law allows. So the count of a window is judged under a negative
binomial law, whose mean is the baseline and whose dispersion ``phi`` (variance = mean + phi * mean^2)
is measured from the watch-list's own history: how far the counts of every trailing window of the
last ``dispersion_hours`` (each end on a 5-minute step) fell from what this baseline expected then,
by moments, ``phi = sum((y - e)^2 - y) / (sum(e^2) + dispersion_prior)``. Alerted hours are left out;
the prior weight shrinks a quiet watch-list's estimate (whose windows hold too few complaints to show
any dispersion) towards Poisson, and costs a busy one nothing. Bursts fatten the far tail more than a
law fitted to the bulk allows, so ``phi`` is also at least what makes the fullest window of all but
the ``tail_share`` fullest hours a 1-in-100 count; and at least what makes the fullest window of all
but ``record_days`` of the last two weeks' days, alerted hours included, exactly a spike: real volume
bursts a few times a week, and a window must be more extreme than what the watch-list did lately.

Outage reports are counted on their own too, and their spike must also be out of proportion to all
complaints (``out_of_proportion``): a burst of every kind of complaint brings them at their usual share.

The trailing window is a spike when it holds at least ``min_complaints``, at least ``ratio`` times
what the baseline expects, and a count that improbable under that law. One alert per episode: the
episode ends once the window has stayed unremarkable for a whole window length, or no complaint came
for two window lengths.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from monitor.detect.tails import betabinom_sf, dispersion_for, nbinom_sf

HOUR = 3600.0
# Complaints a history must hold before a part's share of them (outage reports among all complaints)
# is measured: at a share of a few per cent, that is a handful of the part.
SHARE_HISTORY = 100
STEP = 300.0  # seconds: the history the dispersion is measured on is kept in 5-minute bins
_PER_HOUR = int(HOUR // STEP)
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
    dispersion_hours: int = 14 * 24  # how far back the dispersion is measured
    # The weight of a Poisson prior on the dispersion, in squared expected counts: a day of 5-minute
    # steps whose windows expect one complaint each. A watch-list expecting a tenth of a complaint a
    # window has 40 of it in two weeks, so its few clustered complaints cannot make it look bursty;
    # one expecting fifty has ten million.
    dispersion_prior: float = 288.0
    # Bursts put more in the far tail than a negative binomial fitted to the bulk does, so the
    # dispersion is also at least the one at which the fullest window of all but this share of hours
    # (those expecting a complaint or more a window) was a 1-in-100 count. 1 turns that off.
    tail_share: float = 0.03
    tail_p: float = 0.01
    # Real volume has bursts beyond any law fitted to its bulk (the brand in the news, a viral post):
    # on real tweet volume, a few a week. So the dispersion is also at least the one at which the
    # fullest window of the fullest hour of every day but ``record_days`` of the history, alerted
    # hours included, was exactly a spike: a window must be more extreme than all the days of the
    # last ``dispersion_hours`` but that many. A day sets a new such record about
    # (record_days + 1) / 15 of the time, so 1 allows about one false spike a week. -1 turns that
    # off.
    record_days: int = 1


@dataclass(frozen=True, slots=True)
class Baseline:
    median: float                    # complaints per hour
    mad: float
    basis: str                       # "hour of week", "hour of day", "recent hours" or "none"
    hours: int                       # how many past hours it was computed from
    mean: float = 0.0                # complaints per hour expected: the trimmed mean (see baseline())
    dispersion: float = 0.0          # phi of the window's count: variance = mean + phi * mean^2

    def expected(self, window: float, floor: float) -> float:
        """The mean count of a window: the expected rate (at least ``floor`` an hour), per window."""
        return max(self.mean, floor) * window / HOUR


@dataclass(frozen=True, slots=True)
class Spike:
    start: datetime
    observed: int
    expected: float
    baseline: Baseline
    p_value: float
    examples: list[tuple[str, str]]  # (mention id, text)
    top_terms: list[str]
    threshold: int = 0               # the smallest count that would have been a spike


@dataclass(slots=True)
class SpikeTracker:
    """One watch-list's complaint volume: hourly history, the trailing window, the open episode."""

    ignore: frozenset[str] = frozenset()            # words not worth reporting (the watch-list's terms)
    hourly: dict[int, int] = field(default_factory=dict)
    since: int | None = None                        # first hour we have seen at all
    excluded: set[int] = field(default_factory=set)  # hours that were part of an alerted episode
    recent: list[tuple[float, str, str]] = field(default_factory=list)  # (epoch seconds, id, text), sorted
    links: dict[str, float] = field(default_factory=dict)  # canonical link -> when last counted
    authors: dict[str, float] = field(default_factory=dict)  # author key -> when last counted
    link_memory: float = 1800.0
    episode_start: datetime | None = None
    quiet_since: float | None = None
    bins: dict[int, int] = field(default_factory=dict)  # 5-minute bin -> complaints, until measured
    measured: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)  # hour -> _moments
    _cache: tuple[int, Baseline] | None = None
    # (hour, settings) of the last check that found nothing with no episode open, until a complaint is
    # counted: a check in that hour with nothing new cannot find a spike (see ``check``).
    _settled: tuple[int, SpikeSettings] | None = None

    def leave_out_terms(self, terms: Iterable[str]) -> None:
        """The watch-list's own terms: every counted post names one, so none is worth reporting."""
        self.ignore = frozenset(t.strip("@#\"").lower() for t in terms)

    def add(self, at: datetime, mention_id: str, text: str, link: str | None = None,
            author: str | None = None) -> None:
        """Count one complaint root. Posts sharing the same link within a window count once, and so do
        one author's posts: a spike is many people, not one person posting again and again."""
        ts = at.timestamp()
        if link is not None:
            seen = self.links.get(link)
            self.links[link] = ts
            if seen is not None and abs(ts - seen) < self.link_memory:
                return
        if author is not None:
            counted = self.authors.get(author)
            if counted is not None and abs(ts - counted) < self.link_memory:
                return
            self.authors[author] = ts
        self._count(ts)
        bisect.insort(self.recent, (ts, mention_id, text))

    def add_count(self, at: datetime, n: int) -> None:
        """Count ``n`` posts at ``at`` that a service counted without our reading them (X's counts
        endpoint): they have no id or text, so they give a spike its size but no example or term."""
        if n <= 0:
            return
        ts = at.timestamp()
        self._settled = None
        hour = _hour(ts)
        self.hourly[hour] = self.hourly.get(hour, 0) + n
        b = _bin(ts)
        self.bins[b] = self.bins.get(b, 0) + n
        self.since = hour if self.since is None else min(self.since, hour)
        i = bisect.bisect_right(self.recent, (ts, "\uffff"))
        self.recent[i:i] = [(ts, "", "")] * n

    def count_history(self, at: datetime) -> None:
        """Count a complaint root from before a restart in the hourly history (baselines only)."""
        self._count(at.timestamp())
        self._cache = self._settled = None

    def known_since(self, at: datetime) -> None:
        """Hours from ``at`` on were observed (a quiet hour counts as zero, not as unknown)."""
        hour = _hour(at.timestamp())
        self.since = hour if self.since is None else min(self.since, hour)
        self._cache = self._settled = None

    def _count(self, ts: float) -> None:
        self._settled = None
        hour = _hour(ts)
        self.hourly[hour] = self.hourly.get(hour, 0) + 1
        b = _bin(ts)
        self.bins[b] = self.bins.get(b, 0) + 1
        self.since = hour if self.since is None else min(self.since, hour)

    def restore_episode(self, start: datetime) -> None:
        """An episode alerted before a restart: do not alert it again."""
        self.episode_start = start

    def check(self, now: datetime, s: SpikeSettings, part_of: SpikeTracker | None = None) -> Spike | None:
        """A newly started episode, or None. Costs O(complaints that left the window).

        ``part_of``: a tracker of a wider volume these complaints are part of (all complaints, for the
        outage reports). A spike must then also be out of proportion to it (``out_of_proportion``): a
        busy hour of every kind of complaint, outage reports at their usual share, is that tracker's
        to judge.

        With no episode open and nothing counted since a check of the same hour that found nothing, the
        check is skipped: the window can only have lost complaints and the baseline is the same, so its
        count is no more improbable than it was.
        """
        ts = now.timestamp()
        hour = _hour(ts)
        if self.settled(hour, s):
            return None
        if self.episode_start is not None and _quiet_gap(self.recent, ts) >= 2 * s.window:
            # No complaint for two window lengths: the window was empty for a whole one, whether or
            # not a check saw it (a replay checks only when posts arrive).
            self.episode_start, self.quiet_since = None, None
        cut = bisect.bisect_left(self.recent, (ts - s.window,))
        if cut:
            del self.recent[:cut]
        if len(self.links) > 1000:
            self.links = {u: t for u, t in self.links.items() if ts - t < self.link_memory}
        if len(self.authors) > 1000:
            self.authors = {a: t for a, t in self.authors.items() if ts - t < self.link_memory}
        self.link_memory = s.window
        if self.since is None:
            self.since = hour
        self._prune(hour, s)
        observed = len(self.recent)
        base = self.baseline(hour, s)
        expected = base.expected(s.window, s.floor)
        elevated = observed >= s.min_complaints and observed >= s.ratio * expected
        p = nbinom_sf(observed, expected, base.dispersion) if elevated else 1.0
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
            self._settled = (hour, s)
            return None
        if part_of is not None and not self.out_of_proportion(part_of, now, hour, s):
            return None  # not settled: the wider window losing complaints can make this share stand out
        start = datetime.fromtimestamp(self.recent[0][0], UTC)
        self.episode_start, self.quiet_since = start, None
        # An outage is no measure of ordinary volume: its hours are left out of baselines and of the
        # dispersion's moments and tail (hours measured before the alert came too), not of the records.
        self.excluded.update(range(_hour(self.recent[0][0]), hour + 1))
        examples = _examples(self.recent)
        return Spike(start, observed, expected, base, p, examples, self.top_terms(),
                     spike_threshold(expected, base.dispersion, s))

    def settled(self, hour: int, s: SpikeSettings) -> bool:
        """Whether a check in ``hour`` would be skipped (see ``check``)."""
        settled = self._settled
        return self.episode_start is None and settled is not None and settled[0] == hour and settled[1] is s

    def baseline(self, hour: int, s: SpikeSettings) -> Baseline:
        """The expected rate of ``hour`` from comparable completed hours before it, and the dispersion
        measured over the history (cached per hour).

        Comparable hours are the same hour of the week, and the hours either side of it, in earlier
        weeks (used from two weeks of history on); else the same hours of the day on the last seven
        days (from one day on); else the last 24 hours. Hours of alerted episodes are left out unless
        they are most of the comparable hours (then they are the norm, not an exception). The expected
        rate is their 20% trimmed mean (at least one value off each end: the median of three), never
        below the median of the last three hours, so a day busier than usual does not read as a
        spike at every hour.
        """
        if self._cache is not None and self._cache[0] == hour:
            return self._cache[1]
        result = replace(self._rate(hour, s), dispersion=self.dispersion(hour, s))
        self._cache = (hour, result)
        return result

    def _rate(self, hour: int, s: SpikeSettings) -> Baseline:
        """What ``baseline`` says of ``hour`` but the dispersion."""
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
        busy = _median(recent) if recent else 0.0
        med = max(_median(values) if values else 0.0, busy)
        mad = _median([abs(v - med) for v in values]) if values else 0.0
        return Baseline(med, mad, basis, len(values), max(_trimmed_mean(values), busy))

    def dispersion(self, hour: int, s: SpikeSettings) -> float:
        """phi of a window's count (variance = mean + phi * mean^2), from the trailing windows of the
        last ``dispersion_hours`` before ``hour``: by moments and the tail with alerted hours left out,
        and the days' records with them in (see the module's docstring and ``SpikeSettings``).

        Each completed hour is measured once (its windows' sum of (y - e)^2 - y, and of e^2, against
        the baseline of that hour), and its 5-minute bins are dropped then; so the cost is one
        baseline per hour, and memory a few hours of bins.
        """
        first = self.since if self.since is not None else hour
        n = max(1, round(s.window / STEP))
        lookback = range(max(first, hour - s.dispersion_hours), hour)
        for h in lookback:
            if h not in self.measured:
                self.measured[h] = self._moments(h, n, first, s)
        oldest = hour - s.dispersion_hours
        if len(self.measured) > s.dispersion_hours + 24:
            self.measured = {h: m for h, m in self.measured.items() if h >= oldest}
        keep = (hour - 1) * _PER_HOUR - n  # bins a window of an hour yet to be measured may need
        if self.bins and min(self.bins) < keep:
            self.bins = {b: c for b, c in self.bins.items() if b >= keep}
        hours = [m for h in lookback if h not in self.excluded and (m := self.measured.get(h)) is not None]
        moments = max(0.0, sum(m[0] for m in hours)) / (sum(m[1] for m in hours) + s.dispersion_prior)
        needed = sorted((m[2] for m in hours), reverse=True)
        rank = int(s.tail_share * len(needed))
        days: dict[int, float] = {}
        for h in lookback:
            if (m := self.measured.get(h)) is not None:
                days[h // 24] = max(days.get(h // 24, 0.0), m[3])
        records = sorted(days.values(), reverse=True)
        return max(moments, needed[rank] if rank < len(needed) else 0.0,
                   records[s.record_days] if 0 <= s.record_days < len(records) else 0.0)

    def _moments(self, hour: int, n: int, first: int, s: SpikeSettings) -> tuple[float, float, float, float]:
        """Over the windows of ``n`` bins ending in ``hour`` (one per 5-minute step, against the baseline
        of ``hour``) that lie in observed hours: the sum of (y - e)^2 - y and of e^2, and the dispersion
        at which the fullest is a ``tail_p`` count, of those in hours none of which was alerted; and the
        dispersion at which the fullest of all of them is exactly a spike (``p_value``), the hour's
        record. An hour expecting under one complaint a window has no tail or record to measure."""
        centre = self._rate(hour, s).mean
        e = centre * n * STEP / HOUR
        spread = weight = 0.0
        fullest = fullest_any = 0
        for end in range(hour * _PER_HOUR + 1, (hour + 1) * _PER_HOUR + 1):
            lo = end - n
            if lo // _PER_HOUR < first:
                continue
            y = sum(self.bins.get(b, 0) for b in range(lo, end))
            fullest_any = max(fullest_any, y)
            if any(h in self.excluded for h in range(lo // _PER_HOUR, hour + 1)):
                continue
            spread += (y - e) ** 2 - y
            weight += e * e
            fullest = max(fullest, y)
        if e < 1:
            return spread, weight, 0.0, 0.0
        return spread, weight, dispersion_for(fullest, e, s.tail_p), dispersion_for(fullest_any, e, s.p_value)

    def out_of_proportion(self, wider: SpikeTracker, now: datetime, hour: int, s: SpikeSettings) -> bool:
        """Whether this window's count is improbable (at most ``s.p_value``) as a part of ``wider``'s
        window, at the share these complaints had of ``wider``'s over the last ``dispersion_hours``
        (hours alerted in either left out). The share is uncertain, so the count is beta-binomial: the
        window's complaints drawn at a share that is Beta(part + 1/2, rest + 1/2), from the history.
        With fewer than ``SHARE_HISTORY`` complaints in that history there is no share to go by, and
        every count is out of proportion."""
        known = [t for t in (self.since, wider.since) if t is not None]
        first = max(min(known, default=hour), hour - s.dispersion_hours)
        hours = [h for h in range(first, hour) if h not in self.excluded and h not in wider.excluded]
        part = sum(self.hourly.get(h, 0) for h in hours)
        total = max(part, sum(wider.hourly.get(h, 0) for h in hours))
        if total < SHARE_HISTORY:
            return True
        cut = now.timestamp() - s.window
        observed = len(self.recent) - bisect.bisect_left(self.recent, (cut,))
        among = max(observed, len(wider.recent) - bisect.bisect_left(wider.recent, (cut,)))
        return betabinom_sf(observed, among, part + 0.5, total - part + 0.5) <= s.p_value

    def in_window(self, now: datetime, s: SpikeSettings) -> list[tuple[str, str]]:
        """(mention id, text) of the complaints counted in the window ending at ``now``, oldest first."""
        cut = bisect.bisect_left(self.recent, (now.timestamp() - s.window,))
        return [(mid, text) for _, mid, text in self.recent[cut:]]

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


def hour_of(at: datetime) -> int:
    """The index of the hour ``at`` falls in (what ``SpikeTracker.settled`` is asked about)."""
    return _hour(at.timestamp())


def _bin(ts: float) -> int:
    return int((ts - _EPOCH.timestamp()) // STEP)


def hour_of_week(at: datetime) -> int:
    """0 = Monday 00:00-01:00 UTC."""
    return _hour(at.timestamp()) % 168


def _median(values: list[int] | list[float]) -> float:
    v = sorted(values)
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else (v[mid - 1] + v[mid]) / 2.0


def _quiet_gap(recent: list[tuple[float, str, str]], now: float) -> float:
    """The longest stretch without a complaint among ``recent`` (sorted) and up to ``now``."""
    times = [t for t, _, _ in recent] + [now]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def _trimmed_mean(values: list[int]) -> float:
    """The mean of the middle 60% (at least one value off each end once there are three)."""
    if not values:
        return 0.0
    v = sorted(values)
    cut = max(1, len(v) // 5) if len(v) >= 3 else 0
    middle = v[cut:len(v) - cut]
    return sum(middle) / len(middle)


def _examples(recent: list[tuple[float, str, str]], n: int = 3) -> list[tuple[str, str]]:
    return spike_examples([(mid, text) for _, mid, text in recent], n)


def spike_examples(posts: Iterable[tuple[str, str]], n: int = 3) -> list[tuple[str, str]]:
    """The first ``n`` of ``posts`` (mention id, text) with distinct texts: a spike's examples."""
    seen: set[str] = set()
    out = []
    for mid, text in posts:
        key = text.lower().strip()
        if key not in seen:
            seen.add(key)
            out.append((mid, text))
        if len(out) == n:
            break
    return out


def spike_threshold(expected: float, dispersion: float, s: SpikeSettings) -> int:
    """The smallest count of a window that is a spike against ``expected`` and ``dispersion``."""
    lo = max(s.min_complaints, math.ceil(s.ratio * expected - 1e-9))
    if nbinom_sf(lo, expected, dispersion) <= s.p_value:
        return lo
    hi = lo * 2
    while nbinom_sf(hi, expected, dispersion) > s.p_value:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # the tail falls as the count grows: bisect for the first count past the bar
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if nbinom_sf(mid, expected, dispersion) <= s.p_value else (mid, hi)
    return hi


def episode_id(watchlist: str, start: datetime) -> str:
    return f"spike:{watchlist}:{start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"

