"""Scoring ahead: a replay whose texts are scored by worker processes decides and stores exactly what a
replay scored in its own process does, and a replay commits in groups without losing or repeating a
mention. Data: the simulated day in ../shared/fixtures/events/day-sample.jsonl."""

from __future__ import annotations

import gc
import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devkit.simulate import SimSettings, Simulation
from devkit.simulate import write_config as write_sim_config
from monitor.clock import SimulatedClock
from monitor.config.settings import load_config
from monitor.engine.pipeline import Pipeline
from monitor.records.mention import Author, Mention
from monitor.replay import ReplaySummary, run_replay
from monitor.scoring import ahead as scoreahead
from monitor.scoring.ahead import ScoreAhead
from monitor.scoring.scores import Scorer
from monitor.store.database import Store
from tests.conftest import write_config


def _digest(db: Path) -> str:
    """Everything a replay stores that scores decide, in a stable order."""
    h = hashlib.sha256()
    with sqlite3.connect(db) as conn:
        for q in ("SELECT id, root_id, watchlists, sentiment, complaint, specific, category, record FROM mentions"
                  " ORDER BY id",
                  "SELECT at, name, level, watchlist, root_id, payload FROM decisions ORDER BY at, root_id, name",
                  "SELECT * FROM cascades ORDER BY root_id, watchlist"):
            for row in conn.execute(q):
                h.update(repr(row).encode())
    return h.hexdigest()


def _replay(events: Path, cfg: Path, db: Path, workers: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "replay", str(events), "--config", str(cfg),
                           "--database", str(db), "--workers", str(workers)],
                          capture_output=True, text=True, timeout=300, check=True)


@pytest.fixture(scope="module")
def two_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two simulated days of four brands: enough mentions for the workers to start and take part."""
    folder = tmp_path_factory.mktemp("two-days")
    sim = Simulation(SimSettings(days=2, seed=3, brands=4, mentions=12_000))
    events = folder / "events.jsonl"
    with events.open("w", encoding="utf-8") as out:
        for rec in sim.records():
            out.write(json.dumps(rec) + "\n")
    return events, write_sim_config(folder, sim.brands, sim.vips, database=str(folder / "unused.db"))


def test_a_replay_scored_by_workers_stores_and_alerts_exactly_as_one_scored_in_process(
        two_days: tuple[Path, Path], tmp_path: Path) -> None:
    events, cfg = two_days
    assert sum(1 for _ in events.open()) > scoreahead.START_AFTER * 2
    alone = _replay(events, cfg, tmp_path / "alone.db", 0)
    helped = _replay(events, cfg, tmp_path / "helped.db", 1)
    assert helped.stdout == alone.stdout
    assert "first_alert" in alone.stderr  # the comparison covers alerts, not an empty output
    assert _digest(tmp_path / "helped.db") == _digest(tmp_path / "alone.db")


def test_scores_worked_out_ahead_are_those_scored_here_and_a_root_gets_its_cues(
        two_days: tuple[Path, Path]) -> None:
    events, _ = two_days
    mentions = [Mention.from_json(json.loads(line)) for line in events.open()][:scoreahead.START_AFTER + 3000]
    here = Scorer()
    with ScoreAhead(workers=1) as ahead:
        for m in mentions:
            ahead.see(m)
        ahead._submit()
        deadline = time.monotonic() + 60
        while ahead._inflight and time.monotonic() < deadline:
            ahead._inflight[-1][1].result(timeout=60)
            ahead._collect()
        for m in mentions:
            assert ahead.score(m.full_text, explain=False) == here.score(m.full_text, explain=False)
            # A reaction is scored ahead without cues: asked as a root, it is explained here.
            assert ahead.score(m.full_text) == here.score(m.full_text)
    assert ahead.ahead > 1000


def test_what_is_remembered_ahead_is_bounded_and_the_oldest_is_forgotten_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"START_AFTER": 0, "CHUNK": 10, "SEEN": 30, "KEEP": 20}.items():
        monkeypatch.setattr(scoreahead, name, value)
    mentions = [_mention(n, f"acme text number {n}") for n in range(100)]
    with ScoreAhead(workers=1) as ahead:
        for m in mentions:
            ahead.see(m)
        for _, fut in list(ahead._inflight):
            fut.result(timeout=60)
        ahead._collect()
        keys = [(m.full_text, True) for m in mentions]
        assert list(ahead._sent) == keys[-30:]
        assert list(ahead._ready) == keys[-20:]
        assert ahead.score(mentions[-1].full_text) == Scorer().score(mentions[-1].full_text) and ahead.ahead == 1


def test_the_texts_seen_before_the_workers_start_are_sent_to_them_once_they_have(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoreahead, "START_AFTER", 50)
    monkeypatch.setattr(scoreahead, "CHUNK", 16)
    mentions = [_mention(n, f"acme text number {n}") for n in range(60)]
    with ScoreAhead(workers=1) as ahead:
        for m in mentions[:50]:
            ahead.see(m)
        assert ahead._pool is None and not ahead._inflight  # a replay this short starts no worker
        for m in mentions[50:]:
            ahead.see(m)
        ahead._submit()
        assert all(len(chunk) <= 16 for chunk, _ in ahead._inflight)
        for _, fut in list(ahead._inflight):
            fut.result(timeout=60)
        ahead._collect()
        for m in mentions:
            assert ahead.score(m.full_text) == Scorer().score(m.full_text)
        assert ahead.ahead == 60 and ahead.here == 0


def test_a_worker_that_cannot_start_leaves_the_scoring_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(chunk: list[tuple[str, bool]]) -> list[object]:
        raise RuntimeError("worker gone")

    monkeypatch.setattr(scoreahead, "START_AFTER", 0)
    monkeypatch.setattr(scoreahead, "CHUNK", 1)
    monkeypatch.setattr(scoreahead, "_score_chunk", broken)
    m = _mention(1, "@acme cancelled my order and kept the money")
    with ScoreAhead(workers=1) as ahead:
        ahead.see(m)
        ahead._inflight[0][1].exception(timeout=60)
        assert ahead.score(m.full_text) == Scorer().score(m.full_text)
        assert ahead.workers == 0 and ahead.here == 1


def _mention(n: int, text: str) -> Mention:
    at = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(milliseconds=n)  # all before the first detection tick
    return Mention(f"x:{n}", "x", "post", None, f"https://x.com/a/status/{n}", Author(f"a{n}", f"a{n}"), text, [],
                   at, at)


def test_a_replay_that_fails_keeps_what_it_committed_and_rolls_back_the_rest(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}]))

    def records() -> Iterator[Mention]:
        for n in range(1, 36):
            yield _mention(n, f"acme update number {n}")
        raise OSError("disk went away")

    store = Store(tmp_path / "replay.db")
    clock = SimulatedClock()
    pipeline = Pipeline(config, store, clock, deliver=False)
    collector = gc.get_threshold()
    with pytest.raises(OSError, match="disk went away"):
        run_replay(records(), pipeline, clock, lambda d: None, summary=ReplaySummary(), batch_size=5,
                   commit_every=10)
    store.close()
    with sqlite3.connect(tmp_path / "replay.db") as conn:
        assert conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 30
    assert gc.get_threshold() == collector  # the replay's own collector setting does not outlive it
