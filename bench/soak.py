"""The daemon over minutes against stand-ins: its RSS over time, and alert latency.

``monitor run`` (a subprocess, the production code path) polls an X stand-in every second and
delivers to a Slack stand-in. Background chatter arrives all the time; every ``storm_every`` seconds
a complaint storm starts, alternately:

- a *burst*: the root and ``threshold`` reactions appear at one instant, so the storm crosses its
  threshold at a known moment and the latency is the machinery's own (poll wait, fetch, match,
  score, detect, outbox, Slack);
- a *steady* storm: reactions arrive at a fixed rate; the threshold is crossed when the
  ``threshold``-th is posted, and the detector's projection may alert before that (negative latency).

``detection.window`` is two minutes, so open cascades expire within the soak as they would over 48
hours in production: what is measured is the steady state, which must be flat.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.testing.base import loopback_env, stop_process
from monitor.testing.slack import SlackStandIn
from monitor.testing.xapi import XApi

X_TOKEN = "bench-x-bearer"  # noqa: S105 - accepted only by the local stand-in
SLACK_TOKEN = "xoxb-bench-stand-in"  # noqa: S105
THRESHOLD = 30


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


@dataclass
class Storm:
    token: str
    kind: str
    root_at: float
    crossed_at: float | None = None
    alert_at: float | None = None
    reactions: int = 0
    parents: list[str] = field(default_factory=list)


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
        "detection": {"every": "1s", "window": "2m", "spike_window": "1m"},
    }))
    return folder / "monitor.yaml"


def soak(seconds: float = 180.0, *, storm_every: float = 20.0, chatter_per_s: float = 8.0,
         out: Path | None = None) -> dict[str, Any]:
    log(f"soak: the daemon for {seconds:.0f}s against stand-ins, a storm every {storm_every:.0f}s ...")
    # The stand-in enforces X's 450 searches per 15 minutes; polling every second would exhaust it in
    # 7.5 minutes and park the source: that is a test of rate limits, not of memory or latency.
    x, slack = XApi(token=X_TOKEN, limit=1_000_000), SlackStandIn(token=SLACK_TOKEN)
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
                _drive(proc.pid, x, slack, seconds, storm_every, chatter_per_s, samples, storms)
            finally:
                stop_process(proc)
                log_file.close()
    finally:
        x.stop()
        slack.__exit__(None, None, None)
    return _figures(seconds, samples, storms, len(x.tweets))


def _drive(pid: int, x: XApi, slack: SlackStandIn, seconds: float, storm_every: float, chatter_per_s: float,
           samples: list[tuple[float, float]], storms: list[Storm]) -> None:
    started = time.monotonic()
    next_chat, next_storm, next_sample, next_log, n = started, started + 8.0, started, started + 15, 0
    while (now := time.monotonic()) < started + seconds:
        if now >= next_sample:
            r = rss_mb(pid)
            if r is not None:
                samples.append((now - started, r))
            next_sample += 1.0
        while next_chat <= now:
            n += 1
            x.add_tweet(f"anyone tried the acme speaker? day {n}", author=f"chat{n}", followers=100 + n % 500)
            next_chat += 1.0 / chatter_per_s
        if now >= next_storm and now < started + seconds - 12:
            k = len(storms)
            storm = Storm(f"S{k:03d}Q", "burst" if k % 2 == 0 else "steady", time.time())
            root = x.add_tweet(f"@acme charged me twice for my router and refuses to refund, case {storm.token}",
                               author=f"victim{k}", followers=800)
            storm.parents.append(root["id"])
            storms.append(storm)
            if storm.kind == "burst":
                for i in range(THRESHOLD):
                    _react(x, storm, i)
                storm.crossed_at = time.time()
            next_storm += storm_every
        for s in storms:
            if s.kind == "steady" and s.reactions < 2 * THRESHOLD and time.time() - s.root_at >= s.reactions / 4.0:
                _react(x, s, s.reactions)  # four reactions a second
                if s.reactions == THRESHOLD:
                    s.crossed_at = time.time()
        _match_alerts(slack, storms)
        if now >= next_log:
            log(f"  soak +{now - started:.0f}s: RSS {samples[-1][1] if samples else 0:.1f} MB, {len(x.tweets)} "
                f"tweets, {len(storms)} storms, {sum(1 for s in storms if s.alert_at)} alerted")
            next_log += 15
        time.sleep(0.05)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(s.alert_at is None for s in storms):
        _match_alerts(slack, storms)
        time.sleep(0.1)


def _react(x: XApi, storm: Storm, i: int) -> None:
    """A reply to the root (naming the brand, as most do) or a repost of it."""
    root = storm.parents[0]
    if i % 3 == 2:
        x.add_tweet(f"@victim @acme this is outrageous, same here ({i})", author=f"r{storm.token}{i}",
                    followers=150, replied_to=root)
    else:
        x.add_tweet("", author=f"r{storm.token}{i}", followers=200, retweeted=root)
    storm.reactions += 1


def _match_alerts(slack: SlackStandIn, storms: list[Storm]) -> None:
    roots = [m for m in list(slack.messages) if m.thread_ts is None]  # a copy: the stand-in appends from its thread
    for s in storms:
        if s.alert_at is None:
            hit = next((m for m in roots if s.token in m.text), None)
            if hit is not None:
                s.alert_at = hit.at.timestamp()


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares MB per minute."""
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((a - mx) ** 2 for a in xs) or 1.0
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True)) / den * 60


def _figures(seconds: float, samples: list[tuple[float, float]], storms: list[Storm], tweets: int
             ) -> dict[str, Any]:
    warm = [p for p in samples if p[0] >= seconds * 0.25]
    half = [p for p in samples if p[0] >= seconds * 0.5]
    lat: dict[str, Any] = {}
    for kind in ("burst", "steady"):
        mine = [s for s in storms if s.kind == kind]
        crossed = [s.alert_at - s.crossed_at for s in mine if s.alert_at and s.crossed_at]
        lat[kind] = {"storms": len(mine), "alerted": sum(1 for s in mine if s.alert_at),
                     "median_s": round(statistics.median(crossed), 2) if crossed else None,
                     "max_s": round(max(crossed), 2) if crossed else None,
                     "from_root_median_s": round(statistics.median(
                         [s.alert_at - s.root_at for s in mine if s.alert_at]), 2) if any(
                         s.alert_at for s in mine) else None}
    return {
        "seconds": seconds, "tweets": tweets,
        "rss_start_mb": round(warm[0][1], 1) if warm else None,
        "rss_end_mb": round(samples[-1][1], 1) if samples else None,
        "rss_max_mb": round(max(p[1] for p in samples), 1) if samples else None,
        "rss_slope_mb_per_min": round(_slope(half), 2),
        "latency": lat,
    }
