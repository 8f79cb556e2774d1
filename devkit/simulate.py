"""A seeded simulator of brand mentions, with ground truth: for tests, ``make bench`` and tuning.

What it produces, per brand, over N days (mention records in observed order, streamed):

- background chatter: praise, questions, neutral news, non-complaint negatives, vague venting and
  specific complaints, with a daily and weekly rhythm, each with a small cascade of reactions;
- complaint cascades that spread and fizzle at every size, and storms (final size past the
  threshold): some driven by a popular root, some by reactions of reactions, some starting from a
  blog post and spreading on X through links, some joined by a VIP, some posted by a VIP;
- hard negatives: viral praise, viral sad news, and big accounts' complaints that fizzle;
- outages: a burst of many independent short complaints.

Cascades are self-exciting: every mention with ``n`` followers triggers on average
``kappa * (n / 150) ** beta`` reactions (follower-dependent branching), each after a power-law delay
truncated at the cascade's lifetime; kernel, branching and lifetime vary from cascade to cascade so
a detector cannot fit one set of numbers. The ground truth names every notable cascade with its
final size, and every outage with its start.

    python -m devkit.simulate --days 7 --seed 1 --out week.jsonl --truth truth.json --config-dir cfg/

This is the ``branching`` family; ``--family NAME`` picks another of devkit/zoo.py (docs/simulator.md).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from devkit.branching import Spread, followers, poisson, random_spread
from devkit.simtext import (
    COMPLAINT,
    NEG_OTHER,
    NEUTRAL,
    OUTAGE,
    PRAISE,
    QUOTE,
    REPLY,
    SAD,
    VAGUE,
    VIP_NAMES,
    fill,
)
from monitor.records.mention import format_time

BRANDS = ("acme", "globex", "initech", "hooli", "vandelay", "soylent", "wonka", "tyrell")
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
NOTABLE = 15  # cascades at least this big are listed in the truth, with their reaction times


@dataclass
class SimSettings:
    days: float = 7.0
    seed: int = 1
    brands: int = 2
    mentions: int | None = None       # about this many mentions in all; default ~1,500 per brand-day
    threshold: int = 300              # what the truth calls a storm (VIP roots: a fifth of it)
    start: datetime = START
    storms_per_week: float = 2.5      # per brand; likewise for the rest
    near_misses_per_week: float = 4.0
    hard_negatives_per_week: float = 4.0
    outages_per_week: float = 1.0
    vip_posts_per_week: float = 0.7
    # Hard negatives the zoo's families add (devkit/zoo.py); none in the original law, whose weeks
    # stay as they were: complaints that stop just under the threshold, and fast bursts that die.
    just_under_per_week: float = 0.0
    fast_bursts_per_week: float = 0.0


@dataclass
class Truth:
    brands: list[str]
    vips: dict[str, list[str]]
    threshold: int
    start: str
    end: str
    cascades: list[dict[str, Any]] = field(default_factory=list)
    outages: list[dict[str, Any]] = field(default_factory=list)
    mentions: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def mark_storms(self) -> None:
        """What a storm is, once every cascade has its final size: a complaint whose final size reaches
        the threshold (a fifth of it for a VIP's own complaint)."""
        for c in self.cascades:
            limit = self.threshold // 5 if c["vip_root"] else self.threshold
            c["storm"] = c["complaint"] and c["final_size"] >= limit


# -- texts ---------------------------------------------------------------------------------------
# -- the simulation ------------------------------------------------------------------------------
class Simulation:
    """Iterate ``records()`` for mention records in observed order; ``truth`` is complete afterwards.

    This is the ``branching`` family; devkit/zoo.py holds the others, each overriding the hooks below
    (laws, followers, texts, observation lag)."""

    family = "branching"

    def __init__(self, settings: SimSettings):
        self.s = settings
        self.rng = random.Random(settings.seed)
        names = list(BRANDS[: settings.brands]) + [f"brand{i}" for i in range(len(BRANDS), settings.brands)]
        self.brands = names
        self.vips = {b: [f"{v}_{b}" if i >= len(VIP_NAMES) else v for i, v in enumerate(VIP_NAMES[:4])]
                     for b in names}
        end = settings.start + timedelta(days=settings.days)
        self.truth = Truth(names, self.vips, settings.threshold, format_time(settings.start), format_time(end))
        self._seq = 1_000_000_000_000_000
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        per_day = 1500.0 if settings.mentions is None else settings.mentions / max(1, len(names)) / settings.days
        # A chatter root brings about 1.6 mentions with it; notable cascades add about a tenth.
        self.scale = per_day / 1500.0
        self.chatter_per_hour = per_day * 0.9 / 1.6 / 24
        # What a family (devkit/zoo.py) may change; these values are the original simulator's.
        self.reaction_shares = (0.55, 0.85)  # a reaction is a repost below the first, a reply below the second
        self.reposts_cite_root = False       # True: a repost of a repost names the original, as on X

    # ids and records
    def _id(self) -> int:
        self._seq += self.rng.randint(1, 5000)
        return self._seq

    def _record(self, source: str, kind: str, at: float, text: str, *, parent: str | None = None,
                n: int | None = None, handle: str | None = None, links: list[str] | None = None,
                url: str | None = None, title: str | None = None) -> dict[str, Any]:
        num = self._id()
        prefix = {"x": "x", "rss": "rss", "comments": "comment"}[source]
        handle = handle or f"u{num % 10**9}"
        at = round(at)
        lag = self._lag(source, at)
        created = self.s.start + timedelta(seconds=at)
        author: dict[str, Any] = {"id": handle, "handle": handle}
        if n is not None:
            author["followers"] = n
        author["description"] = self.rng.choice(("", "opinions my own", "dad, runner", "designer", "coffee first"))
        rec: dict[str, Any] = {
            "id": f"{prefix}:{num}", "source": source, "kind": kind, "parent_id": parent,
            "url": url or f"https://x.com/{handle}/status/{num}", "author": author,
        }
        if title:
            rec["title"] = title
        rec.update({"text": text, "links": links or [], "created_at": format_time(created),
                    "observed_at": format_time(created + timedelta(seconds=round(lag)))})
        return rec

    def _lag(self, source: str, at: int) -> float:
        """Seconds from a mention's posting to its being observed."""
        # Sources are polled: X every 2 minutes, blogs and their comments every 10, each poll
        # seeing everything posted since the last one, a few seconds late.
        every = 120 if source == "x" else 600
        return math.ceil(at / every) * every - at + self.rng.uniform(1, 15)

    def _followers(self) -> int:
        return followers(self.rng)

    def _fill(self, pool: tuple[str, ...], brand: str, user: str = "") -> str:
        """A text from one of ``pool``'s templates."""
        return fill(self.rng.choice(pool), self.rng, brand, user)

    # the laws of cascades: a family overrides these (devkit/zoo.py)
    def _law(self, root_offspring: float, ratio: float) -> Spread:
        """A notable cascade's law, from its root's mean offspring and its reactions' mean offspring."""
        return random_spread(self.rng, root_offspring, ratio)

    def _chatter_law(self) -> Spread:
        return Spread(self.rng.expovariate(1 / 0.45), 0.15, lifetime=12 * 3600, max_size=200)

    def _outage_law(self) -> Spread:
        return Spread(self.rng.uniform(0, 1.5), 0.1, lifetime=4 * 3600)

    def _emit(self, rec: dict[str, Any]) -> float:
        """Queue a record for output in observed order; return when it is observed (seconds)."""
        at = (datetime.fromisoformat(rec["observed_at"].replace("Z", "+00:00")) - self.s.start).total_seconds()
        heapq.heappush(self._heap, (at, self._seq, rec))
        return at

    # cascades
    def cascade(self, brand: str, at: float, tone: str, text: str, spread: Spread, *, n: int | None = None,
                handle: str | None = None, blog: bool = False, label: str | None = None) -> dict[str, Any]:
        """Generate a root and every reaction it ever gets; return its truth entry."""
        rng = self.rng
        if n is not None and handle is None:
            n = spread.root_followers(n)
        if blog:
            slug = f"post-{self._seq % 100000}"
            host = f"blog{rng.randint(0, 40)}.example.org"
            url = f"https://{host}/2026/11/{slug}/"
            title = text.split(". ")[0][:90]
            root = self._record("rss", "post", at, text, n=n, handle=handle, url=url, title=title)
        else:
            root = self._record("x", "post", at, text, n=n, handle=handle)
        self._emit(root)
        times: list[float] = []  # when each reaction was observed, seconds after the root was posted
        queue: list[tuple[float, dict[str, Any], int, str | None]] = [(at, root, n or 0, root["url"] if blog else None)]
        if spread.vip_at is not None and spread.vip_at < spread.lifetime:
            vip = rng.choice(self.vips[brand])
            q = self._record("x", "quote", at + spread.vip_at, self._fill(QUOTE[tone], brand),
                             parent=root["id"], n=rng.randint(80_000, 400_000), handle=vip)
            times.append(self._emit(q) - at)
            queue.append((at + spread.vip_at, q, q["author"]["followers"], None))
        while queue and len(times) < spread.max_size:
            t_parent, parent, pn, blog_url = queue.pop()
            mean = spread.offspring(parent is root, pn, t_parent - at)
            for _ in range(poisson(rng, mean)):
                delay = spread.delay(rng)
                if t_parent + delay - at > spread.lifetime or len(times) >= spread.max_size:
                    continue
                if not spread.keeps(rng, t_parent + delay):
                    continue
                child = self._reaction(brand, tone, t_parent + delay, parent, blog_url, root)
                times.append(self._emit(child) - at)
                queue.append((t_parent + delay, child, child["author"].get("followers") or 0, None))
        entry = {"root_id": root["id"], "brand": brand, "label": label or tone, "complaint": tone == "complaint",
                 "vip_root": handle in self.vips[brand], "final_size": len(times), "source": root["source"],
                 "created_at": root["created_at"], "vip_joined": spread.vip_at is not None}
        if label is not None or len(times) >= NOTABLE:
            entry["reactions"] = sorted(round(x) for x in times)
            self.truth.cascades.append(entry)
        return entry

    def _reaction(self, brand: str, tone: str, at: float, parent_rec: dict[str, Any], blog_url: str | None,
                  root: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        n = self._followers()
        parent, phandle = parent_rec["id"], parent_rec["author"]["handle"]
        if blog_url is not None:  # reacting to a blog post: a comment there, or a post on X linking it
            if rng.random() < 0.3:
                return self._record("comments", "comment", at, self._fill(QUOTE[tone], brand),
                                    parent=parent, n=None, url=f"{blog_url}#comment-{self._seq % 10**6}")
            link = blog_url + rng.choice(("", "?utm_source=twitter", "#top"))
            return self._record("x", "post", at, f"{rng.choice(('Read this:', 'wow', 'ouch', ''))} "
                                f"{root.get('title', '')} {link}".strip(), n=n, links=[link])
        r = rng.random()
        if r < self.reaction_shares[0]:
            if self.reposts_cite_root and root["source"] == "x":
                parent_rec, parent, phandle = root, root["id"], root["author"]["handle"]
            text = parent_rec["text"] if parent_rec["kind"] != "repost" else parent_rec["text"].split(": ", 1)[-1]
            return self._record("x", "repost", at, f"RT @{phandle}: {text[:200]}", parent=parent, n=n)
        if r < self.reaction_shares[1]:
            return self._record("x", "reply", at, self._fill(REPLY[tone], brand, phandle), parent=parent, n=n)
        return self._record("x", "quote", at, self._fill(QUOTE[tone], brand), parent=parent, n=n)

    # what happens in a week
    def _plan(self) -> list[tuple[float, str, str]]:
        """Notable events: (seconds after start, brand, what)."""
        rng, s = self.rng, self.s
        span = s.days * 86400
        weeks = s.days / 7
        plan: list[tuple[float, str, str]] = []
        rates = (("storm", s.storms_per_week), ("near_miss", s.near_misses_per_week),
                 ("hard_negative", s.hard_negatives_per_week), ("outage", s.outages_per_week),
                 ("vip_post", s.vip_posts_per_week), ("just_under", s.just_under_per_week),
                 ("fast_burst", s.fast_bursts_per_week))
        for brand in self.brands:
            for what, per_week in rates:
                for _ in range(poisson(rng, per_week * weeks)):
                    at = self._daytime(rng.uniform(0, span - 3 * 3600))
                    # Outages of one brand are far apart, so each has its own start.
                    if what != "outage" or all(abs(at - t) > 8 * 3600 for t, b, w in plan if (b, w) == (brand, what)):
                        plan.append((at, brand, what))
        return sorted(plan)

    def _daytime(self, t: float) -> float:
        """Move a time into waking hours most of the time (storms and outages happen at night too)."""
        hour = (t % 86400) / 3600
        if 7 <= hour <= 22 or self.rng.random() < 0.25:
            return t
        return t - (t % 86400) + self.rng.uniform(7, 22) * 3600

    def _notable(self, at: float, brand: str, what: str) -> None:
        rng = self.rng
        if what == "outage":
            self._outage(at, brand)
            return
        if what == "storm":
            style = rng.choice(("root", "root", "network", "blog"))
            if style == "network":
                spread = self._law(rng.uniform(15, 40), rng.uniform(0.85, 0.95))
            else:
                spread = self._law(rng.uniform(150, 600), rng.uniform(0.2, 0.6))
            if rng.random() < 0.35:
                spread.vip_at = rng.uniform(0.2, 3) * 3600
            text = self._fill(COMPLAINT, brand)
            if style == "blog":
                text = f"How {brand} treated me. " + text + " " + self._fill(COMPLAINT, brand)
            self.cascade(brand, at, "complaint", text, spread, n=self._followers() if style != "blog" else None,
                         blog=style == "blog", label="storm")
        elif what == "near_miss":
            spread = self._law(math.exp(rng.uniform(math.log(20), math.log(180))), rng.uniform(0.1, 0.5))
            text = self._fill(COMPLAINT + VAGUE, brand)
            self.cascade(brand, at, "complaint", text, spread, n=self._followers(), label="near_miss",
                         blog=rng.random() < 0.15)
        elif what == "just_under":  # a complaint that grows steadily and stops short of the threshold
            target = rng.uniform(0.55, 0.9) * self.s.threshold
            ratio = rng.uniform(0.2, 0.5)
            spread = self._law(target * (1 - ratio), ratio)
            self.cascade(brand, at, "complaint", self._fill(COMPLAINT, brand), spread, n=self._followers(),
                         label="just_under")
        elif what == "fast_burst":  # a complaint with a burst of reactions in minutes, then nothing
            spread = Spread(rng.uniform(60, 200), rng.uniform(0.0, 0.1), s0=rng.uniform(60, 300),
                            lifetime=rng.uniform(0.5, 2) * 3600, lognormal=rng.uniform(0.4, 0.8))
            self.cascade(brand, at, "complaint", self._fill(COMPLAINT, brand), spread, n=self._followers(),
                         label="fast_burst")
        elif what == "vip_post":
            spread = self._law(rng.uniform(30, 150), rng.uniform(0.1, 0.5))
            self.cascade(brand, at, "complaint", self._fill(COMPLAINT, brand), spread,
                         n=rng.randint(50_000, 300_000), handle=rng.choice(self.vips[brand]), label="vip_post")
        else:
            kind = rng.choice(("praise", "sad", "big_account", "big_account"))
            if kind == "big_account":  # a big account's complaint: many see it, few pass it on
                spread = self._law(rng.uniform(40, 200), rng.uniform(0.05, 0.35))
                self.cascade(brand, at, "complaint", self._fill(COMPLAINT, brand), spread,
                             n=int(math.exp(rng.uniform(math.log(1e5), math.log(3e6)))), label="big_account")
            else:
                spread = self._law(rng.uniform(150, 500), rng.uniform(0.3, 0.6))
                pool = PRAISE if kind == "praise" else SAD
                self.cascade(brand, at, kind, self._fill(pool, brand), spread, n=self._followers(),
                             label=f"viral_{kind}")

    def _outage(self, at: float, brand: str) -> None:
        rng = self.rng
        duration = rng.uniform(40, 150) * 60
        peak = rng.uniform(0.5, 2.5) * max(1.0, self.scale)  # complaints per minute at the worst
        t, ids = at, []
        while True:
            t += rng.expovariate(peak / 60)
            if t > at + duration:
                break
            if rng.random() > min(1.0, (t - at) / 900 + 0.1):  # the rate ramps up over 15 minutes
                continue
            e = self.cascade(brand, t, "complaint", self._fill(OUTAGE, brand),
                             self._outage_law(), n=self._followers())
            ids.append(e["root_id"])
        self.truth.outages.append({"brand": brand, "start": format_time(self.s.start + timedelta(seconds=at)),
                                   "end": format_time(self.s.start + timedelta(seconds=at + duration)),
                                   "complaints": len(ids)})

    def _chatter(self, at: float, brand: str) -> None:
        rng = self.rng
        r = rng.random()
        pool: tuple[str, ...]
        if r < 0.06:
            tone, pool = "complaint", COMPLAINT
        elif r < 0.11:
            tone, pool = "complaint", VAGUE
        elif r < 0.36:
            tone, pool = "praise", PRAISE
        elif r < 0.42:
            tone, pool = "sad", NEG_OTHER
        else:
            tone, pool = "neutral", NEUTRAL
        self.cascade(brand, at, tone, self._fill(pool, brand), self._chatter_law(), n=self._followers())

    def _rhythm(self, t: float) -> float:
        """Relative mention rate: low at night, peaking mid-afternoon UTC, quieter at weekends."""
        hour = (t % 86400) / 3600
        day = int(t // 86400 + self.s.start.weekday()) % 7
        return (0.25 + 0.75 * math.exp(-(((hour - 15) / 5) ** 2))) * (0.8 if day >= 5 else 1.0) * 1.9

    def records(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        plan = self._plan()
        span = self.s.days * 86400
        hour = 0.0
        while hour < span:
            end = min(span, hour + 3600)
            starts: list[tuple[float, str, str]] = []
            for brand in self.brands:
                for _ in range(poisson(rng, self.chatter_per_hour * self._rhythm(hour + 1800) * (end - hour) / 3600)):
                    starts.append((rng.uniform(hour, end), brand, "chatter"))
            while plan and plan[0][0] < end:
                starts.append(plan.pop(0))
            for _ in range(poisson(rng, 0.02 * self.chatter_per_hour)):  # mentions of no brand at all
                self._emit(self._record("x", "post", rng.uniform(hour, end), rng.choice(
                    ("lovely weather today", "anyone watching the match?", "coffee time", "acmeville is pretty"))))
            for at, brand, what in sorted(starts):
                if what == "chatter":
                    self._chatter(at, brand)
                else:
                    self._notable(at, brand, what)
            while self._heap and self._heap[0][0] < end:
                self.truth.mentions += 1
                yield heapq.heappop(self._heap)[2]
            hour = end
        while self._heap:  # reactions after the last day, as a live system would still see them
            self.truth.mentions += 1
            yield heapq.heappop(self._heap)[2]
        self.truth.mark_storms()


def write_config(folder: Path, brands: list[str], vips: dict[str, list[str]], threshold: int = 300,
                 database: str | None = None, sensitivity: str | None = None) -> Path:
    """A monitor.yaml with one watch-list per simulated brand (``alert.sensitivity`` when given); returns
    its path."""
    wl_dir = folder / "watchlists"
    wl_dir.mkdir(parents=True, exist_ok=True)
    for b in brands:
        alert: dict[str, Any] = {"spread_threshold": threshold}
        if sensitivity:
            alert["sensitivity"] = sensitivity
        wl = {"name": b, "terms": [b], "vip_authors": [f"@{v}" for v in vips.get(b, [])], "alert": alert}
        (wl_dir / f"{b}.yaml").write_text(yaml.safe_dump(wl, sort_keys=False))
    cfg = {"database": database or str(folder / "monitor.db"), "watchlists": "watchlists/"}
    path = folder / "monitor.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devkit.simulate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--brands", type=int, default=2, help="number of brands (one watch-list each)")
    ap.add_argument("--mentions", type=int, help="about this many mentions in all (default ~1,500 per brand-day)")
    ap.add_argument("--threshold", type=int, default=300, help="final size the truth calls a storm")
    ap.add_argument("--family", default="branching",
                    help="generative family (docs/simulator.md): branching, seismic, hawkes, delayed, dense, empirical;"
                         " or outsider, written apart and held out of every choice (devkit/outsider.py)")
    ap.add_argument("--out", required=True, help="JSONL file to write, or - for stdout")
    ap.add_argument("--truth", help="write the ground truth here (JSON)")
    ap.add_argument("--config-dir", help="write a monitor.yaml and one watch-list per brand into this folder")
    args = ap.parse_args(argv)
    from devkit.zoo import simulation  # the zoo builds on this module

    try:
        sim = simulation(args.family, SimSettings(days=args.days, seed=args.seed, brands=args.brands,
                                                  mentions=args.mentions, threshold=args.threshold))
    except ValueError as e:
        ap.error(str(e))
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for rec in sim.records():
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if args.truth:
        Path(args.truth).write_text(json.dumps(sim.truth.to_json(), indent=1))
    if args.config_dir:
        path = write_config(Path(args.config_dir), sim.brands, sim.vips, args.threshold)
        print(f"config: {path}", file=sys.stderr)
    t = sim.truth
    storms = sum(1 for c in t.cascades if c["storm"])
    print(f"{t.mentions} mentions, {len(t.brands)} brands, {storms} storms, {len(t.outages)} outages",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
