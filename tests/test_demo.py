"""`make demo`: the whole product against local stand-ins, ending with a storm alert in Slack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_shows_a_storm_alert_its_thread_updates_a_spike_and_the_digest() -> None:
    proc = subprocess.run([sys.executable, "-m", "devkit.demo", "--fast", "--timeout", "60"], cwd=ROOT,
                          capture_output=True, text=True, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]
    assert "COMPLAINT SPREADING · ACME" in out
    assert "thread reply" in out
    assert "COMPLAINT SPIKE · ACME" in out
    assert "DAILY DIGEST · ACME" in out
    assert "storm alert, latest" in out
    assert "1 storm alert(s)" in out
    assert "[ Take it ]  [ Acknowledge ]  [ Mute 24h ]  [ Resolved ]" in out
    assert "owner sam" in out  # Take it pressed through the Socket Mode stand-in edited the root


def test_demo_gives_the_daemon_only_dummy_tokens_and_loopback_urls() -> None:
    from devkit.demo import SLACK_TOKEN, X_TOKEN, daemon_env

    env = daemon_env()
    assert env["X_BEARER_TOKEN"] == X_TOKEN and env["SLACK_BOT_TOKEN"] == SLACK_TOKEN
    assert not any(k.lower().endswith("_proxy") and k.lower() != "no_proxy" for k in env)


def test_the_terminal_view_reads_mrkdwn_as_a_person_would() -> None:
    from devkit.demo import mrkdwn_to_text, render_blocks

    assert mrkdwn_to_text("*Reactions*: 14 · `rss:1` _new_ <https://x.test/a|Open on X>") == \
        "Reactions: 14 · rss:1 new Open on X"
    assert mrkdwn_to_text(">a quoted post\n>second line") == "┃ a quoted post\n┃ second line"
    # decoded last: escaped text from a post stays the text it was, never markup
    assert mrkdwn_to_text("a &amp; b &lt;!channel&gt; 2*3*4") == "a & b <!channel> 2*3*4"
    lines = render_blocks([{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Take it"}}]}], "")
    assert lines == ["[ Take it ]"]


def test_an_author_name_with_spaces_is_not_shown_as_an_at_handle() -> None:
    from monitor.alerts.render import render_alert

    d = {"kind": "cascade", "watchlist": "acme", "root_id": "rss:1",
         "root": {"id": "rss:1", "source": "rss", "text": "charged twice", "author": {"handle": "Dana Reyes"}}}
    text = str(render_alert(d).blocks)
    assert "@Dana Reyes" not in text and "*Dana Reyes*" in text


def _projections(out: str) -> list[float]:
    """Every projection the terminal showed, as a multiple of the threshold (40)."""
    import re

    shown = [float(n.replace(",", "")) for n in re.findall(r"[Pp]rojected:? ~([\d,]+) vs (?:threshold )?40", out)]
    return [n / 40 for n in shown]


def test_the_demo_storm_carries_the_times_of_a_storm_that_builds_over_hours() -> None:
    from devkit.demo import StoryClock

    clock = StoryClock(started=0.0, storm_from=5.0, storm_to=25.0, hours=2.0)
    assert clock.speed == 360.0  # 20 s of story play two hours
    import time

    clock.started = time.monotonic() - 5.0  # now: the storm's first post
    from datetime import UTC, datetime

    lag = (datetime.now(UTC) - clock.at()).total_seconds()
    assert 7150 < lag < 7200  # stamped two hours before the storm's last reaction, which is posted in 20 s
    assert clock.at(back=1.0) < clock.at()  # never backwards


def test_the_demo_projections_stay_credible_as_the_storm_grows() -> None:
    # Reactions stamped seconds apart read as an audience answering at an impossible rate: the demo's
    # projection once climbed to 180 times the threshold (500 in the full demo).
    proc = subprocess.run([sys.executable, "-m", "devkit.demo", "--fast", "--timeout", "60"], cwd=ROOT,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    multiples = _projections(proc.stdout)
    assert multiples, proc.stdout[-3000:]
    assert max(multiples) <= 40, multiples
    assert "min ago" in proc.stdout or " h " in proc.stdout  # the storm started hours, not seconds, ago
