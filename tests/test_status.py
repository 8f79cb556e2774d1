"""``monitor status``: each source's last success and error, X budget, cascades, queued alerts, DB size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.alerts.outbox import record_decisions
from monitor.cli import main
from monitor.config.settings import load_config
from monitor.ops.status import ago, status
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
    assert status(load_config(config_path), now=NOW) == 0  # as main(["status"]) would, at NOW
    out = capsys.readouterr().out
    lines = out.splitlines()
    x = next(line for line in lines if line.startswith("source     x:acme:"))
    assert x.startswith("source     x:acme: ok; last success 2m ago; items 7")
    assert "X budget: 1234 of 10000 reads used in " + NOW.strftime("%Y-%m") in out
    feed = next(line for line in lines if "rss:https://blog.example.org/feed/" in line)
    assert "FAILING x1" in feed and "last success 1h00m ago" in feed
    assert "last error 1m ago: HTTP 503 from blog.example.org" in feed
    assert f"paused until {format_time(NOW + timedelta(minutes=5))} (in 5m)" in feed


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


def test_times_read_as_how_long_ago() -> None:
    assert [ago(format_time(NOW - d), NOW) for d in (timedelta(seconds=20), timedelta(minutes=3),
                                                     timedelta(hours=2, minutes=5), timedelta(days=3, hours=4))
            ] == ["just now", "3m ago", "2h05m ago", "3d04h ago"]
    assert ago(None, NOW) == "-" and ago(format_time(NOW + timedelta(minutes=5)), NOW) == "in 5m"


def test_status_lists_the_watch_lists_in_force_with_their_sources_and_rolls_feed_failures_up(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.daemon import Daemon

    feeds = ["https://a.example/feed/", "https://b.example/feed/"]
    path = write_config(tmp_path, [{**ACME, "feeds": feeds}, {"name": "other", "terms": ["other"]}])
    daemon = Daemon(load_config(path))  # notes what it has in force, as at a start or a reload
    store = daemon.store
    with store.transaction():
        store.record_health("rss:feeds", now=NOW - timedelta(minutes=3), ok=True, items=0)
        for f in feeds:
            store.record_health(f"rss:{f}", now=NOW - timedelta(minutes=3), ok=False, error="HTTP 500",
                                detail={"part_of": "rss:feeds"})
    store.close()
    (tmp_path / "watchlists" / "late.yaml").write_text("name: late\nterms: [late]\n")
    assert status(load_config(path), now=NOW) == 0
    out = capsys.readouterr().out
    assert "watch-list acme: sources comments:threads, rss:feeds; loaded " in out
    assert "watch-list other: sources none; loaded " in out
    assert "watch-list not yet in force (the next reload loads them): late" in out
    batch = next(line for line in out.splitlines() if line.startswith("source     rss:feeds:"))
    assert "FAILING: all 2 feeds fail" in batch and "last success 3m ago" in batch
    assert main(["status", "--config", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    rss = next(s for s in info["sources"] if s["source_key"] == "rss:feeds")
    assert rss["feeds"] == 2 and len(rss["feeds_failing"]) == 2
    assert {w["name"] for w in info["watchlists"]} == {"acme", "other"}
