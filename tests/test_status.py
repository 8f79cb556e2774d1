"""``monitor status``: each source's last success and error, X budget, cascades, queued alerts, DB size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.alerts.outbox import record_decisions
from monitor.cli import main
from monitor.records.mention import format_time
from monitor.sources.budget import MonthlyBudget
from monitor.store.database import Store
from tests.conftest import ACME, write_config

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = write_config(tmp_path, [ACME])
    store = Store(tmp_path / "monitor.db")
    usage = {"month": NOW.strftime("%Y-%m"), "used": 1234}
    store.record_health("x:acme", now=NOW - timedelta(minutes=2), ok=True, items=7,
                        detail={"budget": MonthlyBudget(10000).status(usage, NOW), "reads": 7})
    feed = "rss:https://blog.example.org/feed/"
    store.record_health(feed, now=NOW - timedelta(hours=1), ok=True, items=1)
    store.record_health(feed, now=NOW - timedelta(minutes=1), ok=False, error="HTTP 503 from blog.example.org",
                        paused_until=NOW + timedelta(minutes=5))
    with store.transaction() as conn:
        conn.execute("INSERT INTO cascades (root_id, watchlist, opened_at, last_reaction_at, level) VALUES"
                     " ('x:1', 'acme', ?, ?, 'new'), ('x:2', 'acme', ?, ?, NULL), ('x:3', 'acme', ?, ?, NULL)",
                     (format_time(NOW - timedelta(hours=1)), format_time(NOW - timedelta(minutes=5)),
                      format_time(NOW - timedelta(hours=2)), format_time(NOW - timedelta(hours=1)),
                      format_time(NOW - timedelta(days=9)), format_time(NOW - timedelta(days=9))))
    alert = {"kind": "cascade", "level": "new", "watchlist": "acme", "decision": "first_alert", "root_id": "x:1"}
    ids = record_decisions(store, [alert, {**alert, "root_id": "x:2"}, {**alert, "root_id": "x:4"}],
                           channel_for=lambda _: "#pr", now=NOW)
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET status = 'sent' WHERE decision_id = ?", (ids[0],))
    store.close()
    return path


def test_status_shows_each_sources_last_success_and_error_and_the_x_budget(
        config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    x = next(line for line in lines if line.startswith("source     x:acme:"))
    assert x.startswith(f"source     x:acme: ok; last success {format_time(NOW - timedelta(minutes=2))}; items 7")
    assert "X budget: 1234 of 10000 reads used in " + NOW.strftime("%Y-%m") in out
    feed = next(line for line in lines if "rss:https://blog.example.org/feed/" in line)
    assert "FAILING x1" in feed and f"last success {format_time(NOW - timedelta(hours=1))}" in feed
    assert f"last error {format_time(NOW - timedelta(minutes=1))}: HTTP 503 from blog.example.org" in feed
    assert "paused until" in feed


def test_status_shows_open_cascades_queued_alerts_and_the_database_size(
        config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["status", "--config", str(config_path)])
    out = capsys.readouterr().out
    assert "cascades   2 open, 1 alerted" in out  # the nine-day-old one is outside the 48h window
    assert "alerts     2 queued, 1 sent, 0 failed" in out
    size = (config_path.parent / "monitor.db").stat().st_size
    assert f"({size / 1e6:.1f} MB, 0 mentions)" in out


def test_status_json_is_machine_readable(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--config", str(config_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["open_cascades"], info["alerts_queued"], info["alerts_sent"]) == (2, 2, 1)
    assert info["database_bytes"] > 0
    x = next(s for s in info["sources"] if s["source_key"] == "x:acme")
    assert x["detail"]["budget"]["used"] == 1234 and x["consecutive_failures"] == 0


def test_status_reads_without_writing_and_says_what_to_do_before_the_first_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME])
    assert main(["status", "--config", str(path)]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "monitor.db").exists()
