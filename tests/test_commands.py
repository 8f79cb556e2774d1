"""The commands ops run: replay, export | replay -, score, run --once, and their documentation."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.store.database import MIGRATIONS
from monitor.store.indexes import schema_indexes
from tests.conftest import write_config

REPO = Path(__file__).resolve().parents[1]


def monitor(*args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=env)


@pytest.fixture
def sample(fixtures: Path) -> Path:
    return fixtures / "events" / "day-sample.jsonl"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path, [{"name": "acme", "terms": ["acme", "@acme"],
                                    "alert": {"spread_threshold": 300}}], database=str(tmp_path / "keep.db"))


def alert_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_replay_prints_one_json_alert_line_per_decision(sample: Path, cfg: Path, tmp_path: Path) -> None:
    done = monitor("replay", str(sample), "--config", str(cfg), "--database", str(tmp_path / "keep.db"))
    assert done.returncode == 0, done.stderr
    alerts = alert_lines(done.stdout)
    assert alerts, done.stderr
    for a in alerts:
        assert {"at", "kind", "level", "watchlist", "root_id", "reactions", "score", "reason"} <= set(a)
        assert a["kind"] in ("cascade", "spike") and a["level"] in ("new", "update")
    assert "replayed 1964 mentions" in done.stderr


def test_a_replayed_line_is_stored_as_that_very_line(sample: Path, cfg: Path, tmp_path: Path) -> None:
    db = tmp_path / "keep.db"
    assert monitor("replay", str(sample), "--config", str(cfg), "--database", str(db)).returncode == 0
    lines = {json.loads(line)["id"]: line.strip() for line in sample.read_text().splitlines() if line.strip()}
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT id, record FROM mentions").fetchall()
        built = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert stored and all(record == lines[mid] for mid, record in stored)
    assert built == set(schema_indexes(tuple(MIGRATIONS)))  # the ones left out during the replay are built at its end


def test_export_piped_into_replay_reproduces_the_alerts(sample: Path, cfg: Path, tmp_path: Path) -> None:
    first = monitor("replay", str(sample), "--config", str(cfg), "--database", str(tmp_path / "keep.db"))
    exported = monitor("export", "--config", str(cfg))
    assert exported.returncode == 0, exported.stderr
    again = monitor("replay", "-", "--config", str(cfg), "--database", str(tmp_path / "again.db"),
                    stdin=exported.stdout)
    key = sorted((a["root_id"], a["level"], a["at"]) for a in alert_lines(first.stdout))
    assert key and key == sorted((a["root_id"], a["level"], a["at"]) for a in alert_lines(again.stdout))


def test_replay_reports_bad_lines_with_their_number_and_goes_on(cfg: Path, tmp_path: Path) -> None:
    done = monitor("replay", "-", "--config", str(cfg), stdin='{"id": "x:1"}\nnot json\n')
    assert done.returncode == 0
    assert "line 1: skipped" in done.stderr and "line 2: skipped" in done.stderr


def test_score_gives_one_json_line_per_input_with_its_cues(cfg: Path) -> None:
    done = monitor("score", "--config", str(cfg),
                   stdin="I bought this acme router and it does not work\nLoving the new phone :)\n")
    lines = alert_lines(done.stdout)
    assert len(lines) == 2
    assert lines[0]["is_complaint"] and not lines[1]["is_complaint"]
    assert lines[0]["watchlists"] == {"acme": ["acme"]} and lines[0]["cues"]
    assert -1 <= lines[1]["sentiment"] <= 1 and lines[1]["sentiment"] > 0


def test_score_reads_mention_records_too(cfg: Path, sample: Path) -> None:
    first = sample.read_text().splitlines()[0]
    lines = alert_lines(monitor("score", "--config", str(cfg), stdin=first + "\n").stdout)
    assert lines[0]["id"] == json.loads(first)["id"]


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    from monitor.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert re.search(rf"monitor {re.escape(name)}\b", readme), f"README does not document 'monitor {name}'"
