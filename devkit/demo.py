"""``make demo``: the whole product in about a minute, with no tokens and no internet.

It starts local stand-ins for X (API v2 recent search), three blogs with comment threads, and Slack,
all on 127.0.0.1; writes a config that points the daemon at them with short intervals; runs the
real daemon (``python -m monitor run``, a subprocess, the production code path) and plays a
scripted story against the stand-ins:

1. background chatter about the brand on X: praise, questions, a vague grumble (no alert);
2. a specific complaint posted on a blog; readers comment, then it spreads into X through links,
   reposts and replies, and a consumer journalist (a VIP) quotes it: the storm alert, then its
   thread updates;
3. an outage: many people at once asking whether the service is down: a spike alert;
4. the daily digest (the demo moves ``slack.digest_at`` to now in the config file and reloads the
   daemon with SIGHUP, what ``systemctl reload`` does).

The terminal shows what the PR team sees in Slack, with a line explaining each step. Only URLs,
intervals and the digest time differ from production; the daemon's log is kept in the work folder.
The storm plays in seconds, but its posts carry the times of a storm that builds over hours
(``StoryClock``): the detector reads a cascade's pace from its posts' times.

    python -m devkit.demo            # about a minute
    python -m devkit.demo --fast     # a shorter story, for the test suite
"""

from __future__ import annotations

import argparse
import functools
import html
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from devkit.standins.base import loopback_env, stop_process
from devkit.standins.feeds import BlogHost, Post
from devkit.standins.slack import SlackMessage, SlackStandIn
from devkit.standins.xapi import XApi

# Dummy credentials for the stand-ins; they go to the daemon through the environment, as real ones would.
X_TOKEN = "demo-x-bearer"  # noqa: S105 - not a secret: only the local stand-in accepts it
SLACK_TOKEN = "xoxb-demo-stand-in"  # noqa: S105
APP_TOKEN = "xapp-1-A0DEMO-1-stand-in"  # noqa: S105 - the app-level token only the stand-in accepts
CHANNEL = "#acme-pr"
BRAND = "acme"
VIP = "consumerdesk"


# -- the stand-ins and the config ------------------------------------------------------------------
@dataclass
class World:
    x: XApi
    blogs: BlogHost
    slack: SlackStandIn
    feeds: list[str]
    folder: Path

    @property
    def config_path(self) -> Path:
        return self.folder / "monitor.yaml"


def settings(world: World, *, digest_at: str | None = None) -> dict[str, Any]:
    """monitor.yaml for the demo: production defaults except URLs and intervals."""
    slack: dict[str, Any] = {"token_env": "SLACK_BOT_TOKEN", "webhook_url_env": None,
                             "api_url": world.slack.api_url, "default_channel": CHANNEL, "min_interval": "0.3s"}
    if digest_at is not None:
        slack.update(digest_at=digest_at, digest_timezone="UTC")
    return {
        "database": "monitor.db",
        "watchlists": "watchlists/",
        "log_level": "INFO",
        "source_quiet_after": 0,
        "x": {"bearer_token_env": "X_BEARER_TOKEN", "api_url": world.x.url, "poll_every": "2s",
              "fast_poll_every": "1s", "monthly_read_budget": 100_000_000},
        "blogs": {"poll_every": "2s", "comments_poll_every": "2s", "fast_comments_poll_every": "1s",
                  "allow_private_addresses": True,  # the stand-ins are on 127.0.0.1
                  "timeout": "5s"},
        "slack": slack,
        "detection": {"every": "1s", "spike_window": "5m"},
    }


def watchlist(world: World) -> dict[str, Any]:
    return {"name": BRAND, "terms": [BRAND, f"@{BRAND}"], "feeds": world.feeds, "channel": CHANNEL,
            "vip_authors": [f"@{VIP}"],
            "alert": {"spread_threshold": 40, "cooldown": "3s", "growth_factor": 2.0}}


def write_config(world: World, *, digest_at: str | None = None) -> Path:
    (world.folder / "watchlists").mkdir(parents=True, exist_ok=True)
    (world.folder / "watchlists" / f"{BRAND}.yaml").write_text(yaml.safe_dump(watchlist(world), sort_keys=False))
    tmp = world.config_path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(settings(world, digest_at=digest_at), sort_keys=False))
    tmp.replace(world.config_path)  # atomic: the daemon's reload never reads half a file
    return world.config_path


def daemon_env() -> dict[str, str]:
    return loopback_env(X_TOKEN, SLACK_TOKEN, APP_TOKEN)


# -- showing Slack in the terminal -------------------------------------------------------------------
_LINK = re.compile(r"<([^|<>]+)\|([^<>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^<>]+)>")
# Slack's emphasis: *bold*, _italic_, ~strike~, `code`, each around non-space text within a line.
_EMPHASIS = re.compile(r"(?<![\w*_~`])([*_~`])(?=\S)([^\n]*?\S)\1(?![\w*_~`])")
_EMOJI = {":rotating_light:": "🚨", ":newspaper:": "📰", ":chart_with_upwards_trend:": "📈",
          ":warning:": "⚠️", ":crescent_moon:": "🌙", ":star:": "⭐", ":arrow_up:": "⬆"}


def mrkdwn_to_text(text: str) -> str:
    """mrkdwn as a person reads it in Slack: emphasis marks gone, links as their label, quotes set
    off, entities decoded (last, so that decoded text is never read as markup)."""
    text = _LINK.sub(r"\2", text)
    text = _BARE_LINK.sub(r"\1", text)
    for code, glyph in _EMOJI.items():
        text = text.replace(code, glyph)
    for _ in range(2):  # nested: *`x`*
        text = _EMPHASIS.sub(r"\2", text)
    text = "\n".join("┃ " + line[1:] if line.startswith(">") else line for line in text.split("\n"))
    return html.unescape(text)


def render_blocks(blocks: list[dict[str, Any]], fallback: str) -> list[str]:
    """Block Kit as plain terminal lines, the way Slack lays it out."""
    lines: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "header":
            lines.append(mrkdwn_to_text(str(b.get("text", {}).get("text", ""))).upper())
        elif kind == "section":
            if isinstance(b.get("text"), dict):
                lines += mrkdwn_to_text(str(b["text"].get("text", ""))).splitlines()
            for f in b.get("fields") or []:
                lines.append("  " + mrkdwn_to_text(str(f.get("text", ""))).replace("\n", ": ", 1))
        elif kind == "context":
            lines.append("  " + " ".join(mrkdwn_to_text(str(e.get("text", ""))) for e in b.get("elements") or []))
        elif kind == "divider":
            lines.append("-" * 20)
        elif kind == "input":
            lines.append(f"[{b.get('label', {}).get('text', '')}: ________ ]")
        elif kind == "actions":
            lines.append("  ".join(f"[ {e.get('text', {}).get('text', '')} ]" for e in b.get("elements") or []))
    return lines or mrkdwn_to_text(fallback).splitlines()


def slack_box(title: str, lines: list[str], *, indent: str = "") -> str:
    width = 92 - len(indent)
    out = [f"{indent}┌─ {title} " + "─" * max(2, width - len(title) - 4)]
    for line in lines:
        for piece in textwrap.wrap(line, width - 4, replace_whitespace=False, drop_whitespace=False) or [""]:
            out.append(f"{indent}│ {piece}")
    out.append(f"{indent}└" + "─" * (width - 1))
    return "\n".join(out)


@dataclass
class SlackView:
    """Prints what arrives at the Slack stand-in: new messages, thread replies, edits of a root."""

    slack: SlackStandIn
    out: Callable[[str], None]
    started: float
    shown: int = 0
    edits: dict[str, int] = field(default_factory=dict)
    storm_alerts: int = 0
    thread_updates: int = 0
    spike_alerts: int = 0
    digests: int = 0
    first_storm_at: float | None = None

    def poll(self) -> None:
        messages = list(self.slack.messages)  # a copy: the stand-in appends from its own thread
        for m in messages[self.shown:]:
            self._show(m)
        self.shown = len(messages)
        for m in messages:
            n = len(m.edits)
            if n > self.edits.get(m.ts, 0):
                self.edits[m.ts] = n
                self.out(f"       (Slack: the alert's root message was edited in place to the latest figures;"
                         f" {n} edit{'s' if n > 1 else ''} so far)")

    def _show(self, m: SlackMessage) -> None:
        lines = render_blocks(m.blocks, m.text)
        t = time.monotonic() - self.started
        head = lines[0] if lines else ""
        if m.thread_ts:
            self.thread_updates += 1
            title = f"{CHANNEL} · thread reply · +{t:.0f}s"
            self.out(slack_box(title, lines, indent="      ↳ "))
            return
        if "SPREADING" in head:
            self.storm_alerts += 1
            self.first_storm_at = self.first_storm_at or t
        elif "SPIKE" in head:
            self.spike_alerts += 1
        elif "DIGEST" in head:
            self.digests += 1
        self.out(slack_box(f"Slack {CHANNEL} · +{t:.0f}s", lines))


# -- the story ---------------------------------------------------------------------------------------
PRAISE = ["Love my new @acme router, setup took five minutes", "shout out to the acme support team, sorted in one call",
          "acme delivered a day early, impressed", "anyone tried the acme smart speaker?",
          "acme store opening hours on sunday?", "is the acme laptop worth it?", "acme is hiring in Leeds",
          "ugh acme app is slow today", "picked up an acme fridge on sale", "@acme thanks for the quick refund!"]
OUTAGE = ["is @acme down?", "@acme app not loading for me", "can't log in to acme, anyone else?",
          "acme has been down for 20 minutes, cannot pay for anything", "@acme site down again?? error 503",
          "acme outage again, my router won't connect", "@acme checkout keeps failing, is it down?",
          "acme servers down? app just spins", "@acme no service since 10:30, what is going on",
          "acme down for anyone else?", "@acme my router has no internet, is it an outage?",
          "acme website down, error 503 again", "@acme is there an outage? nothing works",
          "acme app down again, cannot log in"]
# Every reply names the brand, so keyword search serves each one with its (story) time. A reply that does
# not is counted from its parent's public metrics at the real time it was seen, hours after the story's
# times until the storm's end (see StoryClock): the growth would show a gap that no storm has.
REPLIES = ["@{u} same thing happened to me with @acme", "@{u} @acme fix this!", "@{u} this is outrageous, acme",
           "@{u} exactly the same with acme, charged twice, no reply", "@{u} @acme why are you ignoring this?",
           "@{u} this is why I left acme", "@{u} unacceptable, @acme, hope you get your money back"]
SHARES = ["Read this: acme charged a customer twice and refuses to refund", "wow, look how acme treats people",
          "ouch. acme double billing and no refund", "this acme story is unbelievable"]
COMMENTS = ["Same here, acme charged me twice in October and nobody answers.", "Happened to my mum too. Disgraceful.",
            "I've been waiting six weeks for an acme refund, case 55120.", "Sharing this, people need to know."]


STORM_HOURS = 2.0  # how long the demo's storm takes in the posts' own times, as a real one might


@dataclass
class StoryClock:
    """The times the demo's posts carry. A real storm builds over hours; the demo plays it in seconds.
    The detector reads a cascade's timing from its posts' ``created_at`` (reactions seconds apart would
    read as an audience answering at an impossible rate), so the storm's posts are stamped on a clock
    that runs ``STORM_HOURS`` over the storm's part of the story and reaches the real time when the
    storm's last reaction is posted; after that (the outage, the digest) it is the real time. Every
    stamp is in the past and they never go backwards."""

    started: float      # time.monotonic() when the story started
    storm_from: float   # seconds into the story of the storm's first post and of its last reaction
    storm_to: float
    hours: float = STORM_HOURS

    @property
    def speed(self) -> float:
        """Story seconds per real second during the storm."""
        return max(1.0, self.hours * 3600.0 / max(1e-9, self.storm_to - self.storm_from))

    def at(self, back: float = 0.0) -> datetime:
        """The stamp of a post made now, or ``back`` real seconds ago."""
        now = time.monotonic()
        e = now - self.started - back
        behind = max(0.0, self.storm_to - e) * self.speed - max(0.0, self.storm_to - e)  # story lag, seconds
        return datetime.now(UTC) - timedelta(seconds=back + behind)


class Story:
    def __init__(self, world: World, out: Callable[[str], None], fast: bool):
        self.w, self.out, self.fast = world, out, fast
        self.n = 0
        self.post: Post | None = None
        self.x_ids: list[tuple[str, str]] = []  # (tweet id, author) of everything in the storm on X
        self.originals: dict[str, str] = {}  # repost id -> the post it reposts
        self.reload: Callable[[], None] = lambda: None
        self.clock = StoryClock(time.monotonic(), 0.0, 0.0, hours=0.0)  # real time until ``steps`` sets it
        self.gap = 0.0  # real seconds between two steps of the storm: a step's posts are spread over it

    def _spread_back(self, i: int, n: int) -> datetime:
        """The stamp of the ``i``-th of ``n`` posts of one step: spread over the time since the last step."""
        return self.clock.at(self.gap * (n - 1 - i) / n)

    def _user(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def chatter(self, k: int) -> None:
        for _ in range(k):
            self.w.x.add_tweet(PRAISE[self.n % len(PRAISE)], author=self._user("fan"), followers=80 + self.n * 7,
                               created_at=self.clock.at())

    def blog_post(self) -> None:
        feed = self.w.feeds[1]
        self.post = self.w.blogs.add_post(
            feed, "How acme treated me: charged twice, refund refused",
            "<p>acme charged me twice for my router ($240) and refuses to refund. Case #48213. "
            "I have called them six times and emailed four; nobody answers and they closed my ticket.</p>",
            author="Dana Reyes", slug="acme-charged-me-twice", published=self.clock.at().replace(microsecond=0))

    def comments(self, k: int) -> None:
        assert self.post is not None
        for i in range(k):
            self.w.blogs.add_comment(self.post, COMMENTS[self.n % len(COMMENTS)], author=f"Reader {self._user('')}",
                                     published=self._spread_back(i, k).replace(microsecond=0))

    def spread(self, shares: int, reactions: int) -> None:
        """Posts on X linking the blog post, then reposts and replies to what is already out there."""
        assert self.post is not None
        n = shares + reactions
        for i in range(shares):
            who = self._user("sharer")
            t = self.w.x.add_tweet(SHARES[self.n % len(SHARES)], author=who, followers=300 + 40 * self.n,
                                   urls=[self.post.link], created_at=self._spread_back(i, n))
            self.x_ids.append((t["id"], who))
        for i in range(reactions):
            if not self.x_ids:
                break
            parent, parent_author = self.x_ids[(self.n * 7 + i) % len(self.x_ids)]
            parent = self.originals.get(parent, parent)  # on X one answers a repost's original
            who = self._user("user")
            if i % 3 == 2:
                t = self.w.x.add_tweet(REPLIES[self.n % len(REPLIES)].format(u=parent_author), author=who,
                                       followers=120 + 13 * self.n, replied_to=parent,
                                       created_at=self._spread_back(shares + i, n))
            else:
                t = self.w.x.add_tweet("", author=who, followers=150 + 11 * self.n, retweeted=parent,
                                       created_at=self._spread_back(shares + i, n))
                self.originals[t["id"]] = parent
            self.x_ids.append((t["id"], who))

    def grow(self, shares: int, reactions: int, comments: int) -> None:
        self.spread(shares, reactions)
        self.comments(comments)

    def vip_quote(self) -> None:
        parent, _ = self.x_ids[0]
        t = self.w.x.add_tweet("We are looking into this: acme customers charged twice and refused refunds. "
                               "Tell us if it happened to you.", author=VIP, followers=240_000, quoted=parent,
                               created_at=self.clock.at())
        self.x_ids.append((t["id"], VIP))

    def outage(self, k: int) -> None:
        for _ in range(k):
            self.w.x.add_tweet(OUTAGE[self.n % len(OUTAGE)], author=self._user("customer"), followers=60 + self.n,
                               created_at=self.clock.at())

    def take_it(self) -> None:
        try:
            self.w.slack.press("Take it", user=("U0SAM", "sam"))
        except (LookupError, TimeoutError) as exc:  # no buttons (Socket Mode down): say so, go on
            self.out(f"       (could not press Take it: {exc})")

    def digest_now(self) -> None:
        write_config(self.w, digest_at=datetime.now(UTC).strftime("%H:%M"))
        self.reload()

    def steps(self) -> list[tuple[float, str | None, Callable[[], None]]]:
        """(seconds after the daemon started, what to explain, what to do)."""
        s = 0.6 if self.fast else 1.0
        steps: list[tuple[float, str | None, Callable[[], None]]] = [
            (0, "Background chatter about acme on X: praise, questions, a grumble. Matched, scored and stored; "
                "nothing here is a spreading complaint, so Slack stays quiet.", lambda: self.chatter(6)),
            (3 * s, None, lambda: self.chatter(4)),
            (6 * s, "A customer blogs a specific complaint (charged twice, refund refused, a case number). The "
                    "daemon reads the blog's feed, matches the post, scores it as a specific billing complaint, "
                    "and starts following its comment thread. (The storm that follows plays in seconds here, but its "
                    f"posts carry the times of a storm that builds over {STORM_HOURS:.0f} hours, as a real one "
                    "does: the detector reads a cascade's pace from its posts' times.)", self.blog_post),
            (9 * s, "Readers comment under the post. The comments are linked to the post as reactions.",
             lambda: self.comments(3)),
            (11 * s, "It spreads into X: people post the link, others repost and reply. Each X post that links "
                     "the blog post joins the same cascade; the detector projects its final size.",
             lambda: self.spread(3, 3)),
        ]
        at = 13 * s
        # A storm's pace rises and then falls, as real cascades do (an ever faster one would be projected to
        # grow without end): (shares, reposts and replies, comments) per step.
        rise = [(2, 2, 1), (3, 4, 1), (4, 6, 1), (5, 8, 1), (4, 6, 1), (3, 4, 1), (2, 2, 1)]
        for shares, reactions, comments in (rise[:2] + rise[3:4] + rise[5:] if self.fast else rise):
            steps.append((at, None, functools.partial(self.grow, shares, reactions, comments)))
            at += 2 * s
        steps.append((at, "A consumer journalist (a VIP on the watch-list) quotes it: a thread update goes out at "
                          "once, whatever the cooldown.", self.vip_quote))
        at += 2 * s
        steps.append((at, "Sam from support presses Take it on the alert in Slack (through Socket Mode): the root "
                          "message now shows Sam as its owner.", self.take_it))
        at += 2 * s
        for shares, reactions in [(2, 3), (1, 2), (1, 1)] + ([] if self.fast else [(1, 1)]):  # the tail
            steps.append((at, None, functools.partial(self.grow, shares, reactions, 0)))
            at += 2 * s
        # The storm's posts are stamped on a clock that plays STORM_HOURS between the blog post and the last
        # reaction (see StoryClock); what comes after is stamped with the real time.
        self.gap = 2 * s
        self.clock = StoryClock(time.monotonic(), 6 * s, at - 2 * s)
        steps.append((at, "End of the day: the demo sets slack.digest_at to now in monitor.yaml and reloads the "
                          "daemon with SIGHUP (what systemctl reload does). The daily digest goes out at the "
                          "next delivery pass, with the day's figures.", self.digest_now))
        at += 2 * s
        steps.append((at, "Meanwhile, an outage: many people at once ask whether acme is down. Each complaint is "
                          "small, but together they are far above acme's usual complaint volume: a spike alert.",
                      lambda: self.outage(7)))
        steps.append((at + 2 * s, None, lambda: self.outage(7)))
        steps.append((at + 4 * s, None, lambda: self.chatter(2)))
        return steps


# -- running it ---------------------------------------------------------------------------------------
def _say(out: Callable[[str], None], t: float, text: str) -> None:
    out("")
    out(textwrap.fill(text, 96, initial_indent=f"▶ +{t:.0f}s  ", subsequent_indent="        "))


def run_demo(*, fast: bool = False, keep: bool = False, out: Callable[[str], None] = print,
             timeout: float = 120.0) -> int:
    """Play the story; 0 when a storm alert reached Slack (and a digest), 1 otherwise."""
    folder = Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    # search_reposts: the demo's script paces reposts as search served them before May 2026.
    x, blogs = XApi(token=X_TOKEN, search_reposts=True), BlogHost()
    slack = SlackStandIn(token=SLACK_TOKEN, app_token=APP_TOKEN)
    proc: subprocess.Popen[bytes] | None = None
    log_path = folder / "daemon.log"
    try:
        x.start()
        blogs.start()
        slack.__enter__()
        feeds = [blogs.add_feed("/tech/feed/", title="Gadget Notes"),
                 blogs.add_feed("/dana/feed/", title="Dana's blog"),
                 blogs.add_feed("/feeds/posts/default", flavour="atom", title="Money Matters")]
        blogs.add_post(feeds[0], "Five routers compared", "<p>The acme router did well on range.</p>")
        blogs.add_post(feeds[2], "Budgeting for winter", "<p>Heating bills are going up again.</p>")
        world = World(x, blogs, slack, feeds, folder)
        path = write_config(world)
        out("monitor demo: local stand-ins on 127.0.0.1, nothing leaves this machine")
        out(f"  X API v2 stand-in   {x.url}")
        out(f"  blogs (3 feeds)     {blogs.url}{', '.join(f.removeprefix(blogs.url) for f in feeds)}")
        out(f"  Slack stand-in      {slack.api_url}")
        out(f"  config              {path}  (watch-list acme: threshold 40 reactions, VIP @{VIP})")
        out("  daemon              python -m monitor run --config ... (the production code path; polls every "
            "2s, detects every 1s)")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(path)],
                                    env=daemon_env(), stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        started = time.monotonic()
        view = SlackView(slack, out, started)
        story = Story(world, out, fast)
        daemon = proc
        story.reload = lambda: daemon.send_signal(signal.SIGHUP)
        steps = story.steps()
        story.clock.started = started
        end_by = started + timeout
        while time.monotonic() < end_by:
            t = time.monotonic() - started
            while steps and steps[0][0] <= t:
                _, text, action = steps.pop(0)
                if text:
                    _say(out, t, text)
                action()
            view.poll()
            if proc.poll() is not None:
                out(f"monitor demo: the daemon exited early (code {proc.returncode}); its log: {log_path}")
                keep = True
                break
            if not steps and view.digests:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        view.poll()
        stop_process(proc, signal.SIGINT)
        view.poll()
        storm = next((m for m in slack.messages if m.thread_ts is None
                      and "SPREADING" in (render_blocks(m.blocks, m.text) or [""])[0]), None)
        if storm is not None:
            replies = sum(1 for m in slack.messages if m.thread_ts == storm.ts)
            out("")
            out(f"▶ The storm alert as the PR team sees it now in {CHANNEL}: its root message, edited in place "
                f"to the latest figures, with {replies} update(s) in its thread.")
            out(slack_box(f"Slack {CHANNEL} · storm alert, latest",
                          render_blocks(storm.blocks, storm.text)))
        out("")
        ok = view.storm_alerts > 0
        out(f"monitor demo: Slack received {view.storm_alerts} storm alert(s) with {view.thread_updates} thread "
            f"update(s), {view.spike_alerts} spike alert(s), {view.digests} digest(s)"
            + (f"; first storm alert {view.first_storm_at:.0f}s after the daemon started" if view.first_storm_at
               else ""))
        passed = ok and view.digests > 0
        keep = keep or not passed  # a failed run keeps its config, database and daemon log to look at
        out(f"  the daemon's own log (every decision, with its reason): {log_path if keep else 'removed'}"
            + ("" if keep else " (keep it with --keep)"))
        if not ok:
            out("monitor demo: FAILED: no storm alert reached Slack")
        elif not view.digests:
            out("monitor demo: FAILED: the daily digest did not reach Slack")
        return 0 if passed else 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for stop in (x.stop, blogs.stop, lambda: slack.__exit__(None, None, None)):
            try:
                stop()
            except Exception:  # noqa: BLE001 - stopping a stand-in that never started
                pass
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devkit.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true", help="a shorter story (for tests)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (config, database, daemon log)")
    ap.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    args = ap.parse_args(argv)
    try:
        return run_demo(fast=args.fast, keep=args.keep, out=lambda s: print(s, flush=True), timeout=args.timeout)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
