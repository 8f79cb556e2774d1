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


def test_demo_gives_the_daemon_only_dummy_tokens_and_loopback_urls() -> None:
    from devkit.demo import SLACK_TOKEN, X_TOKEN, daemon_env

    env = daemon_env()
    assert env["X_BEARER_TOKEN"] == X_TOKEN and env["SLACK_BOT_TOKEN"] == SLACK_TOKEN
    assert not any(k.lower().endswith("_proxy") and k.lower() != "no_proxy" for k in env)
