"""The daemon over minutes against stand-ins: its RSS in the steady state, and alert latency.

``monitor run`` (a subprocess, the production code path) polls an X stand-in every second and
delivers to a Slack stand-in; detection runs at its defaults (``detection.every`` 30 s as the floor,
and ``detection.debounce`` after each poll that grew a cascade). Background chatter arrives all the
time, every tweet a new text naming the brand (so a new cascade root); every ``storm_every`` seconds
a complaint storm starts, alternately:

- a *burst*: the root and ``threshold`` reactions appear at one instant, so the storm crosses its
  threshold at a known moment;
- a *steady* storm: reactions arrive at a fixed rate, and the detector's projection may alert before
  the ``threshold``-th is posted.

The alert latency is measured from the X stand-in serving the *crossing poll* (the first poll after
which the cascade could alert: found by judging the stored cascade again, poll batch by poll batch,
with the daemon's Detector and settings) to the Slack stand-in accepting the post: the daemon's own
part (parse, match, score, store, the debounced detection pass, outbox, delivery), without the wait
for the next poll. It is split at the ``first_alert``'s time into judging and delivery. The older figure, from the
``threshold``-th reaction being posted (so with the poll wait), is kept beside it.

Memory is only flat once what the daemon keeps by design is full, so the soak first runs a warm-up
until each bound is reached, as observed from outside the daemon:

- the score cache (``monitor.scoring.scores.SCORE_CACHE`` texts): full once that many distinct texts were
  posted (every text posted is scored once);
- the open cascades: ``detection.window`` is two minutes here (48 hours in production), so after two
  minutes as many expire as open;
- SQLite's page cache (read from a ``Store`` opened on a scratch database, so it follows store.py):
  full at the latest once the database has grown past it.

Then ``settle`` seconds more, and only then are ``seconds`` of steady state measured: the RSS there
and its least-squares slope are the figures; the warm-up's growth is reported apart, as such. Some
things keep settling for minutes with nothing outside the daemon to watch: SQLite's prepared
statements (store.py pads its ``IN (...)`` lists to a few widths, so there are few) and the
allocator's free lists. So the slope is also given over the second half of the steady state: one
that falls there is settling; one that does not is growth.
"""

from __future__ import annotations

import itertools
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devkit.standins.base import loopback_env, stop_process
from devkit.standins.slack import SlackStandIn
from devkit.standins.xapi import XApi
from monitor.records.mention import parse_time
from monitor.scoring.scores import SCORE_CACHE
from monitor.store.database import Store

X_TOKEN = "bench-x-bearer"  # noqa: S105 - accepted only by the local stand-in
SLACK_TOKEN = "xoxb-bench-stand-in"  # noqa: S105
THRESHOLD = 30
WINDOW_S = 120.0         # detection.window of the soak's config
MIN_STEADY_S = 60.0      # a slope over less than this is noise, not a figure
STARTED_S = 10.0         # by then the daemon has loaded its models and polled: the warm-up's first RSS
# Busy enough that the score cache fills in under a minute: at 8 tweets/s it took 17 minutes, and a
# 3- or 20-minute soak measured mostly the cache filling (67.8 -> 72.3 MB, "+0.29 MB/min").
CHATTER_PER_S = 150.0


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def page_cache_bytes() -> int:
    """The most SQLite's page cache may hold for the daemon's Store (its ``cache_size`` pragma)."""
    with tempfile.TemporaryDirectory(prefix="monitor-bench-pragma-") as tmp:
        store = Store(Path(tmp) / "probe.db")
        try:
            size = int(store.conn.execute("PRAGMA cache_size").fetchone()[0])
            page = int(store.conn.execute("PRAGMA page_size").fetchone()[0])
        finally:
            store.close()
    return -size * 1024 if size < 0 else size * page


def database_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


@dataclass
class Storm:
    token: str
    kind: str
    root_at: float
    crossed_at: float | None = None
    alert_at: float | None = None
    reactions: int = 0
    parents: list[str] = field(default_factory=list)
    served_at: float | None = None     # the X stand-in served the poll after which it could alert
    decided_at: float | None = None    # the first_alert's time, on the daemon's clock


@dataclass
class WarmUp:
    """The bounds the daemon's memory must reach before it can be flat, and when each was reached
    (seconds into the soak)."""

    score_cache: int
    page_cache: int                   # bytes
    settle: float
    texts: set[str] = field(default_factory=set)
    texts_full_at: float | None = None
    pages_full_at: float | None = None

    def posted(self, text: str, t: float) -> None:
        if self.texts_full_at is None:
            self.texts.add(text)
            if len(self.texts) >= self.score_cache:
                self.texts_full_at, self.texts = t, set()

    def grew(self, db_bytes: int, t: float) -> None:
        if self.pages_full_at is None and db_bytes >= self.page_cache:
            self.pages_full_at = t

    def ends_at(self) -> float | None:
        """When the steady state begins, once every bound was reached; else None."""
        if self.texts_full_at is None or self.pages_full_at is None:
            return None
        return max(self.texts_full_at, self.pages_full_at, WINDOW_S) + self.settle

    def figures(self) -> dict[str, Any]:
        return {"score_cache_texts": self.score_cache, "score_cache_full_s": _round(self.texts_full_at),
                "distinct_texts": self.score_cache if self.texts_full_at is not None else len(self.texts),
                "page_cache_mb": round(self.page_cache / 2**20, 1), "page_cache_full_s": _round(self.pages_full_at),
                "window_s": WINDOW_S, "settle_s": self.settle, "ends_s": _round(self.ends_at())}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _config(folder: Path, x: XApi, slack: SlackStandIn) -> Path:
    (folder / "watchlists").mkdir(parents=True, exist_ok=True)
    (folder / "watchlists" / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "terms": ["acme", "@acme"], "channel": "#bench",
        "alert": {"spread_threshold": THRESHOLD, "cooldown": "5s"}}))
    (folder / "monitor.yaml").write_text(yaml.safe_dump({
        "database": "monitor.db", "watchlists": "watchlists/", "source_quiet_after": 0, "log_level": "INFO",
        "x": {"bearer_token_env": "X_BEARER_TOKEN", "api_url": x.url, "poll_every": "1s",
              "fast_poll_every": "1s", "monthly_read_budget": 1_000_000_000},
        "slack": {"token_env": "SLACK_BOT_TOKEN", "webhook_url_env": None, "api_url": slack.api_url,
                  "default_channel": "#bench", "min_interval": "0.2s"},
        # detection.every and detection.debounce at their defaults: what the latency figure is about.
        "detection": {"window": f"{WINDOW_S:.0f}s", "spike_window": "1m"},
    }))
    return folder / "monitor.yaml"


def soak(seconds: float = 180.0, *, storm_every: float = 20.0, chatter_per_s: float = CHATTER_PER_S,
         warm_up: bool = True, settle: float = 30.0, max_warm_up: float = 900.0,
         out: Path | None = None) -> dict[str, Any]:
    """Run the daemon against stand-ins and return its memory and latency figures.

    With ``warm_up``, ``seconds`` of steady state are measured after the warm-up (at most
    ``max_warm_up`` seconds; if a bound is still not reached then, the soak stops and says so).
    Without, the soak lasts ``seconds`` in all, and a steady-state figure is given only if the
    bounds were reached early enough to leave a minute of it.
    """
    w = WarmUp(SCORE_CACHE, page_cache_bytes(), settle)
    log(f"soak: the daemon against stand-ins, {chatter_per_s:g} chatter tweets/s, a storm every "
        f"{storm_every:.0f}s; " + (f"a warm-up until the score cache ({w.score_cache:,} texts), the page cache "
                                    f"({w.page_cache / 2**20:.0f} MB) and the {WINDOW_S:.0f}s window are full, "
                                    f"then {seconds:.0f}s measured ..." if warm_up else f"{seconds:.0f}s ..."))
    # The stand-in enforces X's 450 searches per 15 minutes; polling every second would exhaust it in
    # 7.5 minutes and park the source: that is a test of rate limits, not of memory or latency.
    # search_reposts: the soak measures search-to-alert latency of reposts, as X served them before May 2026.
    x, slack = XApi(token=X_TOKEN, limit=1_000_000, search_reposts=True), SlackStandIn(token=SLACK_TOKEN)
    x.start()
    slack.__enter__()
    samples: list[tuple[float, float]] = []
    storms: list[Storm] = []
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-bench-soak-") as tmp:
            folder = Path(tmp)
            path = _config(folder, x, slack)
            log_file = open(out / "soak-daemon.log" if out else folder / "daemon.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(path)],
                                    env=loopback_env(X_TOKEN, SLACK_TOKEN),
                                    stdout=log_file, stderr=subprocess.STDOUT, cwd=folder)
            try:
                run = _Drive(proc.pid, folder / "monitor.db", x, slack, storm_every, chatter_per_s, w,
                             samples, storms)
                total = run(seconds if not warm_up else None, seconds, max_warm_up)
                db_mb = database_bytes(folder / "monitor.db") / 2**20
            finally:
                stop_process(proc)
                log_file.close()
            _crossings(folder / "monitor.db", path, x, storms)
    finally:
        x.stop()
        slack.__exit__(None, None, None)
    return _figures(total, chatter_per_s, w, samples, storms, len(x.tweets), db_mb)


class _Drive:
    """Posts the chatter and the storms, samples the daemon's RSS and the database's size each second."""

    def __init__(self, pid: int, db: Path, x: XApi, slack: SlackStandIn, storm_every: float,
                 chatter_per_s: float, w: WarmUp, samples: list[tuple[float, float]], storms: list[Storm]):
        self.pid, self.db, self.x, self.slack, self.w = pid, db, x, slack, w
        self.storm_every, self.chatter_per_s = storm_every, chatter_per_s
        self.samples, self.storms = samples, storms

    def __call__(self, total: float | None, steady: float, max_warm_up: float) -> float:
        """Drive the stand-ins for ``total`` seconds, or (None) for the warm-up plus ``steady``.
        Returns the seconds driven."""
        x, w, storms = self.x, self.w, self.storms
        started = time.monotonic()
        next_chat, next_storm, next_sample, next_log, n = started, started + 8.0, started, started + 15, 0
        end = None if total is None else started + total
        while end is None or time.monotonic() < end:
            now = time.monotonic()
            t = now - started
            if end is None:
                ends = w.ends_at()
                if ends is not None:
                    end = started + ends + steady
                    log(f"  soak +{t:.0f}s: every bound reached; the steady state is measured from +{ends:.0f}s "
                        f"for {steady:.0f}s")
                elif t >= max_warm_up:
                    end = now
                    log(f"  soak +{t:.0f}s: the bounds were not all reached within {max_warm_up:.0f}s; stopping")
            if now >= next_sample:
                r = rss_mb(self.pid)
                if r is not None:
                    self.samples.append((t, r))
                w.grew(database_bytes(self.db), t)
                next_sample += 1.0
            while next_chat <= now:
                n += 1
                tweet = x.add_tweet(f"anyone tried the acme speaker? day {n}", author=f"chat{n}",
                                    followers=100 + n % 500)
                w.posted(tweet["text"], t)
                next_chat += 1.0 / self.chatter_per_s
            if now >= next_storm and (end is None or now < end - 12):
                k = len(storms)
                storm = Storm(f"S{k:03d}Q", "burst" if k % 2 == 0 else "steady", time.time())
                root = x.add_tweet(f"@acme charged me twice for my router and refuses to refund, case {storm.token}",
                                   author=f"victim{k}", followers=800)
                w.posted(root["text"], t)
                storm.parents.append(root["id"])
                storms.append(storm)
                if storm.kind == "burst":
                    for i in range(THRESHOLD):
                        self._react(storm, i, t)
                    storm.crossed_at = time.time()
                next_storm += self.storm_every
            for s in storms:
                if s.kind == "steady" and s.reactions < 2 * THRESHOLD and time.time() - s.root_at >= s.reactions / 4.0:
                    self._react(s, s.reactions, t)  # four reactions a second
                    if s.reactions == THRESHOLD:
                        s.crossed_at = time.time()
            _match_alerts(self.slack, storms)
            if now >= next_log:
                log(f"  soak +{t:.0f}s: RSS {self.samples[-1][1] if self.samples else 0:.1f} MB, {len(x.tweets)} "
                    f"tweets, {len(storms)} storms, {sum(1 for s in storms if s.alert_at)} alerted")
                next_log += 15
            time.sleep(0.05)
        driven = time.monotonic() - started
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(s.alert_at is None for s in storms):
            _match_alerts(self.slack, storms)
            time.sleep(0.1)
        return driven

    def _react(self, storm: Storm, i: int, t: float) -> None:
        """A reply to the root (naming the brand, as most do) or a repost of it."""
        root = storm.parents[0]
        if i % 3 == 2:
            tweet = self.x.add_tweet(f"@victim @acme this is outrageous, same here ({i})", author=f"r{storm.token}{i}",
                                     followers=150, replied_to=root)
        else:
            tweet = self.x.add_tweet("", author=f"r{storm.token}{i}", followers=200, retweeted=root)
        self.w.posted(tweet["text"], t)
        storm.reactions += 1


def _crossings(db: Path, config: Path, x: XApi, storms: list[Storm]) -> None:
    """Each storm's first_alert: when it was decided, and when X served the poll that made it alertable.

    That poll is found by judging the storm's cascade again, in this process, with the daemon's own
    Detector and settings, after each poll's batch as the daemon stored it (grouped by ``observed_at``),
    at that poll's time: the first batch after which it alerts. Its served time is the latest at which
    the X stand-in served one of that batch's tweets (the poll's last page).
    """
    from monitor.config.settings import load_config
    from monitor.detect.detector import Detector
    from monitor.records.mention import Mention
    from monitor.scoring.scores import Scorer

    cfg = load_config(config)
    scorer = Scorer()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        decided = dict(conn.execute("SELECT root_id, at FROM decisions WHERE name = 'first_alert'").fetchall())
        for s in storms:
            root_id = f"x:{s.parents[0]}"
            if root_id not in decided:
                continue
            s.decided_at = parse_time(decided[root_id]).timestamp()
            rows = conn.execute("SELECT record, id = root_id, observed_at FROM mentions WHERE root_id = ?"
                                " ORDER BY observed_at, rowid", (root_id,)).fetchall()
            detector = Detector(cfg.watchlists, cfg.settings.detection)
            for at, batch in itertools.groupby(rows, key=lambda r: r[2]):
                ids = []
                for record, is_root, _ in batch:
                    m = Mention.from_text(record)
                    ids.append(m.id.removeprefix("x:"))
                    score = scorer.score(m.full_text, explain=bool(is_root))
                    if is_root:
                        detector.add_root(m, "acme", score)
                    else:
                        detector.add_reaction(m, root_id, "acme", score)
                if any(d.name == "first_alert" for d in detector.evaluate(parse_time(at))):
                    served = [x.served_at[i] for i in ids if i in x.served_at]
                    s.served_at = max(served) if served else None
                    break
    finally:
        conn.close()


def _match_alerts(slack: SlackStandIn, storms: list[Storm]) -> None:
    roots = [m for m in list(slack.messages) if m.thread_ts is None]  # a copy: the stand-in appends from its thread
    for s in storms:
        if s.alert_at is None:
            hit = next((m for m in roots if s.token in m.text), None)
            if hit is not None:
                s.alert_at = hit.at.timestamp()


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 2) if xs else None


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares MB per minute."""
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((a - mx) ** 2 for a in xs) or 1.0
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True)) / den * 60


def memory_figures(samples: list[tuple[float, float]], steady_from: float | None) -> dict[str, Any]:
    """RSS during the warm-up (from ``STARTED_S`` in, once the daemon is up and polling) and in the steady
    state (from ``steady_from``).

    The steady-state figures are None when the warm-up never ended or left less than a minute.
    """
    if not samples:
        return {"rss_first_mb": None, "rss_warm_up_end_mb": None, "steady_s": 0.0, "rss_start_mb": None,
                "rss_end_mb": None, "rss_max_mb": None, "rss_slope_mb_per_min": None,
                "rss_slope_second_half_mb_per_min": None, "rss_max_all_mb": None}
    first = next((p for p in samples if p[0] >= STARTED_S), samples[-1])
    steady = [p for p in samples if steady_from is not None and p[0] >= steady_from]
    span = steady[-1][0] - steady[0][0] if steady else 0.0
    warm = [p for p in samples if steady_from is None or p[0] < steady_from]
    ok = span >= MIN_STEADY_S
    half = [p for p in steady if p[0] >= steady[0][0] + span / 2] if ok else []
    half_ok = span / 2 >= MIN_STEADY_S
    return {
        "rss_first_mb": round(first[1], 1),
        "rss_warm_up_end_mb": round(warm[-1][1], 1) if warm else None,
        "steady_s": round(span, 1) if ok else 0.0,
        "rss_start_mb": round(steady[0][1], 1) if ok else None,
        "rss_end_mb": round(steady[-1][1], 1) if ok else None,
        "rss_max_mb": round(max(p[1] for p in steady), 1) if ok else None,
        "rss_slope_mb_per_min": round(_slope(steady), 3) if ok else None,
        "rss_slope_second_half_mb_per_min": round(_slope(half), 3) if ok and half_ok else None,
        "rss_max_all_mb": round(max(p[1] for p in samples), 1),
    }


def _figures(seconds: float, chatter_per_s: float, w: WarmUp, samples: list[tuple[float, float]],
             storms: list[Storm], tweets: int, db_mb: float) -> dict[str, Any]:
    lat: dict[str, Any] = {}
    for kind in ("burst", "steady"):
        mine = [s for s in storms if s.kind == kind]
        crossed = [s.alert_at - s.crossed_at for s in mine if s.alert_at and s.crossed_at]
        served = [s for s in mine if s.alert_at and s.served_at and s.decided_at]
        total = [s.alert_at - s.served_at for s in served if s.alert_at and s.served_at]
        judged = [s.decided_at - s.served_at for s in served if s.decided_at and s.served_at]
        sent = [s.alert_at - s.decided_at for s in served if s.alert_at and s.decided_at]
        lat[kind] = {"storms": len(mine), "alerted": sum(1 for s in mine if s.alert_at), "measured": len(served),
                     "median_s": _median(total), "max_s": round(max(total), 2) if total else None,
                     "judged_median_s": _median(judged), "delivered_median_s": _median(sent),
                     "posted_median_s": _median(crossed),
                     "posted_max_s": round(max(crossed), 2) if crossed else None,
                     "from_root_median_s": round(statistics.median(
                         [s.alert_at - s.root_at for s in mine if s.alert_at]), 2) if any(
                         s.alert_at for s in mine) else None}
    return {"seconds": round(seconds, 1), "tweets": tweets, "chatter_per_s": chatter_per_s,
            "database_mb": round(db_mb, 1), "warm_up": w.figures(),
            **memory_figures(samples, w.ends_at()), "latency": lat}
