"""An outside generator: a week of brand mentions written apart from the simulator, held out of every choice.

The zoo's six families (devkit/zoo.py) share the simulator's plan of a week, its texts, its observation
and its branching machinery, and change one law each. Parameters were chosen across them, so a
weakness they all share would not show. This generator shares only the record format, the brand and
VIP names the watch-lists are written for, and the truth's form (``devkit.simulate.Truth``). Nothing in
monitor was chosen on it: it was written after the detector's parameters were fixed, and ``make bench``
reports it apart ("outsider", held out).

What differs, each where reality is uncertain:

- **followers** are a pure power law (Pareto, alpha 1.1, at least 40: median about 75, no log-normal
  body), and a reaction's reach grows as followers^0.7 (attention is limited), not linearly;
- **reaction delays** are log-logistic around a median drawn per cascade (2 minutes to 2 hours) with a
  shape drawn per cascade: some cascades are over in an hour, some build for a day;
- **the root's own audience** is a negative binomial count (overdispersed), and a storm is not
  planned to pass the threshold: its expected size is drawn across the threshold, so many "storms"
  end below it (they are near misses in the truth) and a few end far above;
- **volume** follows two daily peaks (lunch and evening), is higher at weekends, and drifts from hour
  to hour (a persistent log-normal factor), so it is overdispersed without any incident;
- **observation**: X's search is polled every 90 seconds, a post reaching the index 5-40 seconds after
  it was made; one poll in 50 is refused (rate limit) and the next one comes 10-20 minutes later, with
  everything missed; blogs and comment feeds are read every 20 minutes;
- **texts** are its own: complaints with order numbers and amounts phrased differently, vents, praise,
  questions, news, and replies that rarely name the brand.

Its hard negatives: viral praise and viral sad news, a big account's complaint that many see and few
pass on, and complaints with a burst of reactions in minutes that then stop short of the threshold.

    python -m devkit.simulate --family outsider --days 7 --seed 1 --out week.jsonl --truth truth.json
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from devkit.branching import poisson
from devkit.simtext import VIP_NAMES
from devkit.simulate import BRANDS, NOTABLE, SimSettings, Truth
from monitor.records.mention import format_time

DAY = 86400.0
HOUR = 3600.0

ITEMS = ("broadband", "handset", "sofa", "boiler", "e-bike", "bank card", "hotel booking", "car rental",
         "dishwasher", "insurance claim", "printer", "console", "mattress", "flight", "contract")
SPECIFIC = (
    "{b} took {a} pounds from my account for a {i} I returned on {date}. Ref {o}. Third email, no answer.",
    "Week {w} without my {i}. @{b} keeps promising a callback that never comes. Order {o}.",
    "Cancelled my {b} {i} online in {mon}, still being charged every month. Account {o}. Help?",
    "@{b} your courier marked my {i} delivered. It was not. Claim {o} rejected with no reason.",
    "Paid @{b} {a} dollars for a repair on my {i}, it came back worse and they want {a2} more.",
    "Been trying to reach {b} about my {i} for {n} days. Chat closes, phone line drops. Case {o}.",
    "{b} engineer was booked for {date}, nobody came, nobody called. Booking {o}. I took the day off.",
    "@{b} I was promised a refund of {a} in {mon}. It is now {mon2}. Ticket {o}. Where is it?",
    "{b} will not let me cancel my {i} unless I post a letter to an address with no phone. Really?",
    "My {b} {i} failed after {n} days, replacement failed after {n2}. Now they say it's out of warranty.",
    "Spent {h} hours on the phone with {b} about a double charge on my {i}. Still not fixed. #{o}",
)
VENT = ("{b} are useless", "hate dealing with {b}", "never again {b}", "{b} is a shambles", "done with {b} honestly",
        "why does anyone still use {b}", "{b} strikes again smh")
OUTAGE = ("{b} app just logged me out and won't let me back in", "anyone else getting errors from {b}?",
          "is {b} down for everyone or just me", "{b} payments failing all morning", "{b} website is dead again",
          "can't get into my {b} account, error after error", "{b} not working here in {city} either")
PRAISE = ("{b} sorted my {i} in ten minutes, amazing", "credit where due: {b} support was great today",
          "new {b} {i} arrived and it's perfect", "really impressed by {b} lately", "{b} just made my week",
          "the {b} team in {city} went above and beyond")
NEWS = ("{b} to open a new site in {city}", "{b} shares up after results", "{b} names new chief executive",
        "{b} recalls a batch of {i}s", "{b} announces price freeze", "{b} sponsorship deal with {city} FC")
SAD = ("so sorry to hear about the {b} staff lost in {city}, thinking of them",
       "{b} shutting the {city} site, hundreds out of work. Gutted for them")
ASK = ("does {b} do student discounts?", "{b} or the other lot for a {i}?", "what time does {b} in {city} open",
       "thinking of getting a {b} {i}, any good?", "has anyone returned a {i} to {b}?", "{b} delivery slots this week?")
REPLIES = {
    "complaint": ("@{u} same here", "@{u} they did this to me too", "@{u} did they ever get back to you?",
                  "@{u} shocking", "@{u} go to the ombudsman", "@{u} mine took {n} weeks", "@{u} report them",
                  "@{u} that's theft", "@{u} sharing so they see it"),
    "praise": ("@{u} good to hear", "@{u} same experience", "@{u} nice one"),
    "sad": ("@{u} awful", "@{u} terrible news"),
    "neutral": ("@{u} no idea", "@{u} I think so", "@{u} try their site"),
}
QUOTES = {
    "complaint": ("everyone read this before buying from {b}", "{b} needs to sort this out", "this keeps happening",
                  "unbelievable"),
    "praise": ("good to see", "more of this please"), "sad": ("heartbreaking",), "neutral": ("hm",),
}
CITIES = ("Bristol", "Tampa", "Lille", "Chennai", "Calgary", "Galway", "Braga", "Nagoya")
MONTHS = ("March", "April", "July", "September")


def followers(rng: random.Random) -> int:
    """A pure power law: Pareto with alpha 1.1 from 40 (median about 75), capped at 30 million."""
    return int(min(3e7, 40 * rng.paretovariate(1.1)))


def reach(n: int) -> float:
    """How many people a post by an account with ``n`` followers is worth, in attention: n^0.7."""
    return max(1, n) ** 0.7


MEAN_REACH = 36.0  # about E[reach(followers)] (40^0.7 x 1.1 / 0.4, less the cap's share)


class Outsider:
    """``records()`` yields mention records in observed order; ``truth`` is complete afterwards."""

    family = "outsider"

    def __init__(self, settings: SimSettings):
        self.s = settings
        self.rng = random.Random(f"outsider-{settings.seed}")
        self.brands = list(BRANDS[: settings.brands]) + [f"brand{i}" for i in range(len(BRANDS), settings.brands)]
        self.vips = {b: [f"{v}_{b}" if i >= len(VIP_NAMES) else v for i, v in enumerate(VIP_NAMES[:4])]
                     for b in self.brands}
        self.span = settings.days * DAY
        self.truth = Truth(self.brands, self.vips, settings.threshold, format_time(settings.start),
                           format_time(settings.start + timedelta(days=settings.days)))
        per_day = 1200.0 if settings.mentions is None else settings.mentions / max(1, len(self.brands)) / settings.days
        self.scale = per_day / 1200.0
        self.roots_per_hour = per_day / 1.4 / 24  # a background root brings about 0.4 reactions
        self._next = 7_300_000_000_000_000
        self._out: list[tuple[float, int, dict[str, Any]]] = []
        self._polls = self._x_polls()

    # -- observation -------------------------------------------------------------------------
    def _x_polls(self) -> list[float]:
        """The times of X's successful polls: every 90 s, one in 50 refused and the next 10-20 minutes on."""
        rng, t, polls = self.rng, 0.0, []
        end = self.span + 6 * DAY
        while t < end:
            if rng.random() < 0.02:
                t += rng.uniform(600, 1200)
            else:
                t += 90 + rng.uniform(-5, 5)
            polls.append(t)
        return polls

    def _observed(self, source: str, at: float) -> float:
        if source == "x":
            indexed = at + self.rng.uniform(5, 40)
            i = bisect.bisect_left(self._polls, indexed)
            return self._polls[i] if i < len(self._polls) else indexed + 90
        return math.ceil(at / 1200) * 1200 + self.rng.uniform(2, 30)

    def _post(self, source: str, kind: str, at: float, text: str, *, parent: str | None = None,
              n: int | None = None, handle: str | None = None, url: str | None = None, title: str | None = None,
              links: list[str] | None = None) -> tuple[dict[str, Any], float]:
        """A record, queued for output; returns it and when it is observed (seconds from the start)."""
        self._next += self.rng.randint(3, 9000)
        num = self._next
        handle = handle or f"p{num % 10**10:x}"
        created = round(at)
        seen = max(created + 1, round(self._observed(source, created)))
        author: dict[str, Any] = {"id": handle, "handle": handle}
        if n is not None:
            author["followers"] = n
        prefix = {"x": "x", "rss": "rss", "comments": "comment"}[source]
        rec: dict[str, Any] = {"id": f"{prefix}:{num}", "source": source, "kind": kind, "parent_id": parent,
                               "url": url or f"https://x.com/{handle}/status/{num}", "author": author}
        if title:
            rec["title"] = title
        rec.update({"text": text, "links": links or [],
                    "created_at": format_time(self.s.start + timedelta(seconds=created)),
                    "observed_at": format_time(self.s.start + timedelta(seconds=seen))})
        heapq.heappush(self._out, (seen, num, rec))
        return rec, float(seen)

    def _text(self, pool: tuple[str, ...], brand: str, user: str = "") -> str:
        r = self.rng
        return r.choice(pool).format(
            b=brand, u=user, i=r.choice(ITEMS), a=r.randint(15, 1400), a2=r.randint(40, 300), o=f"{r.randint(1, 99)}"
            f"{r.randint(100000, 9999999)}", n=r.randint(3, 30), n2=r.randint(2, 9), w=r.randint(2, 9),
            h=r.randint(2, 7), date=f"{r.randint(1, 28)}/{r.randint(1, 12)}", mon=r.choice(MONTHS),
            mon2=r.choice(MONTHS), city=r.choice(CITIES))

    # -- cascades ----------------------------------------------------------------------------
    def cascade(self, brand: str, at: float, tone: str, text: str, *, audience: float, ratio: float,
                median: float, shape: float, n: int | None = None, handle: str | None = None,
                blog: bool = False, vip_at: float | None = None, label: str | None = None,
                cap: int = 20_000) -> dict[str, Any]:
        """A root and every reaction it gets. ``audience``: the root's expected direct reactions (a negative
        binomial count, dispersion 2); ``ratio``: a typical reaction's expected reactions; delays are
        log-logistic with ``median`` seconds and ``shape``."""
        rng = self.rng
        if blog:
            host = f"{rng.choice(('notes', 'journal', 'diary'))}{rng.randint(1, 60)}.example.net"
            url = f"https://{host}/{self._next % 99991}"
            root, _ = self._post("rss", "post", at, text, url=url, title=text.split(". ")[0][:80])
        else:
            root, _ = self._post("x", "post", at, text, n=n if n is not None else followers(rng), handle=handle)
        q = ratio / MEAN_REACH
        times: list[float] = []
        # The root's own audience: a gamma-mixed Poisson (negative binomial) count.
        direct = poisson(rng, rng.gammavariate(2.0, audience / 2.0)) if audience > 0 else 0
        order = itertools.count()  # ties in time (never seen) are broken by order of drawing
        todo: list[tuple[float, int, dict[str, Any]]] = []  # (when, order, the mention reacted to)
        for _ in range(direct):
            todo.append((at + self._delay(median, shape), next(order), root))
        if vip_at is not None:
            vip = rng.choice(self.vips[brand])
            rec, seen = self._post("x", "quote", at + vip_at, self._text(QUOTES[tone], brand), parent=root["id"],
                                   n=rng.randint(60_000, 600_000), handle=vip)
            times.append(seen - at)
            todo += [(at + vip_at + self._delay(median, shape), next(order), rec)
                     for _ in range(poisson(rng, q * reach(rec["author"]["followers"])))]
        heapq.heapify(todo)
        while todo and len(times) < cap:
            t, _, parent = heapq.heappop(todo)
            if t - at > 5 * DAY:
                continue
            child, seen = self._react(brand, tone, t, parent, root, blog)
            times.append(seen - at)
            nf = child["author"].get("followers") or 0
            for _ in range(poisson(rng, q * reach(nf))):
                heapq.heappush(todo, (t + self._delay(median, shape), next(order), child))
        vip_root = handle in self.vips[brand]
        entry = {"root_id": root["id"], "brand": brand, "label": label or tone, "complaint": tone == "complaint",
                 "vip_root": vip_root, "final_size": len(times), "source": root["source"],
                 "created_at": root["created_at"], "vip_joined": vip_at is not None}
        if label is not None or len(times) >= NOTABLE:
            entry["reactions"] = sorted(round(x) for x in times)
            self.truth.cascades.append(entry)
        return entry

    def _delay(self, median: float, shape: float) -> float:
        u = self.rng.random()
        return median * (u / (1 - u)) ** (1 / shape) if 0 < u < 1 else median

    def _react(self, brand: str, tone: str, at: float, parent: dict[str, Any], root: dict[str, Any],
               blog: bool) -> tuple[dict[str, Any], float]:
        rng = self.rng
        n = followers(rng)
        if blog and parent is root:
            if rng.random() < 0.4:
                return self._post("comments", "comment", at, self._text(REPLIES[tone], brand, "")[len("@ "):],
                                  parent=root["id"], url=f"{root['url']}#c{self._next % 10**7}")
            return self._post("x", "post", at, f"{rng.choice(('read this', 'oof', 'worth a look', ''))} {root['url']}"
                              .strip(), n=n, links=[root["url"]])
        r = rng.random()
        if r < 0.6:  # a repost names the original, as X's do
            target = root if root["source"] == "x" else parent
            text = target["text"]
            return self._post("x", "repost", at, f"RT @{target['author']['handle']}: {text[:180]}",
                              parent=target["id"], n=n)
        if r < 0.85:
            return self._post("x", "reply", at, self._text(REPLIES[tone], brand, parent["author"]["handle"]),
                              parent=parent["id"], n=n)
        return self._post("x", "quote", at, self._text(QUOTES[tone], brand), parent=parent["id"], n=n)

    # -- the week ----------------------------------------------------------------------------
    def _rate(self, t: float) -> float:
        """Relative volume: peaks at 12:30 and 20:00 UTC, a low night, weekends 15% higher."""
        hour = (t % DAY) / HOUR
        day = int(t // DAY + self.s.start.weekday()) % 7
        shape = 0.15 + 0.6 * math.exp(-(((hour - 12.5) / 2.5) ** 2)) + 0.8 * math.exp(-(((hour - 20) / 2.0) ** 2))
        return shape * (1.15 if day >= 5 else 1.0) / 0.38

    def _events(self) -> list[tuple[float, str, str]]:
        rng, weeks = self.rng, self.s.days / 7
        per_week = (("storm", 2.0), ("slow_storm", 0.8), ("blog_storm", 0.5), ("viral_praise", 1.0),
                    ("viral_news", 0.7), ("big_account", 1.0), ("burst", 2.0), ("outage", 1.0), ("vip_post", 0.5))
        plan: list[tuple[float, str, str]] = []
        for brand in self.brands:
            for what, rate in per_week:
                for _ in range(poisson(rng, rate * weeks)):
                    at = rng.uniform(0, self.span - 4 * HOUR)
                    if what != "outage" or all(abs(at - t) > 12 * HOUR for t, b, w in plan if (b, w) == (brand, what)):
                        plan.append((at, brand, what))
        return sorted(plan)

    def _event(self, at: float, brand: str, what: str) -> None:
        rng, th = self.rng, self.s.threshold
        logu = self._log_uniform
        if what in ("storm", "blog_storm"):
            ratio = rng.uniform(0.15, 0.7)
            size = logu(0.5, 6) * th  # the expected final size, either side of the threshold
            self.cascade(brand, at, "complaint", self._text(SPECIFIC, brand), audience=size * (1 - ratio),
                         ratio=ratio, median=logu(120, 5400), shape=rng.uniform(1.2, 3.0),
                         blog=what == "blog_storm", vip_at=logu(0.3, 5) * HOUR if rng.random() < 0.3 else None,
                         label="storm")
        elif what == "slow_storm":  # passed on through many small accounts, over hours
            ratio = rng.uniform(0.85, 0.97)
            size = logu(0.5, 5) * th
            self.cascade(brand, at, "complaint", self._text(SPECIFIC, brand), audience=size * (1 - ratio),
                         ratio=ratio, median=logu(1200, 7200), shape=rng.uniform(1.5, 3.0), label="storm")
        elif what in ("viral_praise", "viral_news"):
            tone, pool = ("praise", PRAISE) if what == "viral_praise" else rng.choice((("sad", SAD), ("neutral", NEWS)))
            ratio = rng.uniform(0.2, 0.6)
            self.cascade(brand, at, tone, self._text(pool, brand), audience=logu(1, 5) * th * (1 - ratio), ratio=ratio,
                         median=logu(300, 3600), shape=rng.uniform(1.3, 2.5), label=what)
        elif what == "big_account":
            self.cascade(brand, at, "complaint", self._text(SPECIFIC, brand), audience=logu(0.1, 0.6) * th,
                         ratio=rng.uniform(0.02, 0.2), median=logu(60, 900), shape=rng.uniform(1.5, 3.0),
                         n=int(logu(2e5, 5e6)), label="big_account")
        elif what == "burst":  # many reactions in minutes, then nothing: stops below the threshold
            self.cascade(brand, at, "complaint", self._text(SPECIFIC, brand), audience=rng.uniform(0.2, 0.6) * th,
                         ratio=rng.uniform(0.0, 0.08), median=rng.uniform(60, 240), shape=rng.uniform(3.0, 5.0),
                         label="fast_burst")
        elif what == "vip_post":
            vip = rng.choice(self.vips[brand])
            ratio = rng.uniform(0.1, 0.5)
            self.cascade(brand, at, "complaint", self._text(SPECIFIC, brand),
                         audience=logu(0.05, 1) * th * (1 - ratio), ratio=ratio, median=logu(120, 1800),
                         shape=rng.uniform(1.3, 2.5), n=rng.randint(60_000, 600_000), handle=vip, label="vip_post")
        else:
            self._outage(at, brand)

    def _log_uniform(self, lo: float, hi: float) -> float:
        return math.exp(self.rng.uniform(math.log(lo), math.log(hi)))

    def _outage(self, at: float, brand: str) -> None:
        rng = self.rng
        duration = rng.uniform(30, 180) * 60
        peak = rng.uniform(0.4, 3.0) * max(1.0, self.scale)  # posts a minute at the worst
        t, count = at, 0
        while True:
            t += rng.expovariate(peak / 60)
            if t > at + duration:
                break
            # Up over 20 minutes, down over the last third.
            ramp = min(1.0, (t - at) / 1200 + 0.05, 3 * (at + duration - t) / duration + 0.1)
            if rng.random() > ramp:
                continue
            self.cascade(brand, t, "complaint", self._text(OUTAGE, brand), audience=rng.uniform(0, 0.8), ratio=0.05,
                         median=600, shape=2.0)
            count += 1
        self.truth.outages.append({"brand": brand, "start": format_time(self.s.start + timedelta(seconds=at)),
                                   "end": format_time(self.s.start + timedelta(seconds=at + duration)),
                                   "complaints": count})

    def _background(self, at: float, brand: str) -> None:
        rng = self.rng
        r = rng.random()
        pool: tuple[str, ...]
        if r < 0.04:
            tone, pool = "complaint", SPECIFIC
        elif r < 0.12:
            tone, pool = "complaint", VENT
        elif r < 0.34:
            tone, pool = "praise", PRAISE
        elif r < 0.36:
            tone, pool = "sad", SAD
        elif r < 0.6:
            tone, pool = "neutral", NEWS
        else:
            tone, pool = "neutral", ASK
        self.cascade(brand, at, tone, self._text(pool, brand), audience=rng.expovariate(1 / 0.3), ratio=0.1,
                     median=logn(rng, 900), shape=2.0, cap=150)

    def records(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        plan = self._events()
        drift = {b: 0.0 for b in self.brands}  # each brand's log-volume factor, persistent from hour to hour
        hour = 0.0
        while hour < self.span:
            end = min(self.span, hour + HOUR)
            starts: list[tuple[float, str, str]] = []
            for b in self.brands:
                drift[b] = 0.85 * drift[b] + rng.gauss(0, 0.2)
                rate = self.roots_per_hour * self._rate(hour + HOUR / 2) * math.exp(drift[b] - 0.07)
                mean = rate * (end - hour) / HOUR
                starts += [(rng.uniform(hour, end), b, "background") for _ in range(poisson(rng, mean))]
            while plan and plan[0][0] < end:
                starts.append(plan.pop(0))
            for _ in range(poisson(rng, 0.01 * self.roots_per_hour)):  # a word that only looks like a brand
                when = rng.uniform(hour, end)
                self._post("x", "post", when, rng.choice(("acmeist art show tonight", "globexed out")))
            for at, b, what in sorted(starts):
                if what == "background":
                    self._background(at, b)
                else:
                    self._event(at, b, what)
            while self._out and self._out[0][0] < end:
                self.truth.mentions += 1
                yield heapq.heappop(self._out)[2]
            hour = end
        while self._out:
            self.truth.mentions += 1
            yield heapq.heappop(self._out)[2]
        self.truth.mark_storms()


def logn(rng: random.Random, median: float, sigma: float = 1.0) -> float:
    return median * math.exp(rng.gauss(0, sigma))


__all__ = ["Outsider", "followers", "reach"]
