"""No alert is lost to a failed write: the store is the truth, the detector's memory follows a commit.

A full disk is simulated with SQLite's own limit on the database's size (``PRAGMA max_page_count``):
a write that needs one more page fails with "database or disk is full", as on a real full disk. A
decision row is small enough to fit in a page already there, so the moment a storm is decided is
staged with a trigger (on this connection only) whose function fails as a full disk does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import SimulatedClock
from monitor.config.settings import Config, load_config
from monitor.daemon import Daemon
from monitor.engine.pipeline import Pipeline
from monitor.errors import StoreError
from monitor.records.mention import Author, Mention
from monitor.store.database import Store
from tests.conftest import ACME, write_config

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
COMPLAINT = "I tried to cancel my @acme subscription 3 times and nobody answers. Charged again, order #55123."
OUTAGE = ["@acme is down again, I cannot log in", "acme app not loading for anyone? error every time",
          "is acme down? no service since this morning", "acme outage again, can't pay for anything",
          "@acme your website is down and the app crashes", "no internet from acme for 2 hours now"]


def post(i: int, text: str, *, parent: str | None = None, minutes: float = 0, followers: int = 100) -> Mention:
    at = T0 + timedelta(minutes=minutes)
    return Mention(id=f"x:{i}", source="x", kind="reply" if parent else "post", parent_id=parent,
                   url=f"https://x.com/u{i}/status/{i}", author=Author(str(i), f"user{i}", followers=followers),
                   text=text, links=[], created_at=at, observed_at=at)


@contextmanager
def disk_full(store: Store) -> Iterator[None]:
    """The database cannot grow by a page while inside."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        store.conn.execute("PRAGMA max_page_count = 1073741823")


@contextmanager
def decisions_fail(store: Store) -> Iterator[None]:
    """Writing a decision fails as on a full disk, inside the transaction that records it."""
    def full() -> None:
        raise OSError(28, "No space left on device")

    store.conn.create_function("disk_full", 0, full)
    store.conn.execute("CREATE TEMP TRIGGER full_disk BEFORE INSERT ON main.decisions BEGIN SELECT disk_full(); END")
    try:
        yield
    finally:
        store.conn.execute("DROP TRIGGER temp.full_disk")


def storm(p: Pipeline, clock: SimulatedClock) -> None:
    """A complaint and 28 replies stored: the next pass decides a first alert (threshold 20)."""
    p.ingest([post(1, COMPLAINT)])
    p.ingest([post(i, "me too, same here", parent="x:1", minutes=1) for i in range(2, 30)])
    clock.set(T0 + timedelta(minutes=2))


def outbox(store: Store) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in store.conn.execute(
        "SELECT d.name, d.root_id FROM outbox o JOIN decisions d ON d.id = o.decision_id ORDER BY o.decision_id")]


def test_a_storm_decided_while_the_disk_is_full_is_decided_again_once_it_has_room(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = Pipeline(config, Store(config.database_path), clock)
    storm(p, clock)
    with decisions_fail(p.store), pytest.raises(StoreError):
        p.detect()
    assert outbox(p.store) == []
    clock.advance(60)
    assert [d.name for d in p.detect()] == ["first_alert"]
    clock.advance(60)
    assert p.detect() == []
    assert outbox(p.store) == [("first_alert", "x:1")]  # exactly once


def test_a_storm_whose_decision_could_not_be_written_is_decided_after_a_restart(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = Pipeline(config, Store(config.database_path), clock)
    storm(p, clock)
    with decisions_fail(p.store), pytest.raises(StoreError):
        p.detect()
    p.store.close()  # the process stops with the disk still full
    again = Pipeline(config, Store(config.database_path), clock)
    clock.advance(60)
    assert [d.name for d in again.detect()] == ["first_alert"]
    clock.advance(60)
    assert again.detect() == []
    assert outbox(again.store) == [("first_alert", "x:1")]


def test_a_spike_decided_while_the_disk_is_full_is_decided_again_once_it_has_room(config: Config) -> None:
    clock = SimulatedClock(T0)
    p = Pipeline(config, Store(config.database_path), clock)
    p.ingest([post(100 + k, OUTAGE[k % len(OUTAGE)], minutes=k * 0.5, followers=50 + k) for k in range(12)])
    clock.set(T0 + timedelta(minutes=8))
    with decisions_fail(p.store), pytest.raises(StoreError):
        p.detect()
    clock.advance(30)
    assert [(d.kind, d.level) for d in p.detect()] == [("spike", "new")]
    clock.advance(30)
    assert p.detect() == []
    assert [name for name, _ in outbox(p.store)] == ["spike_alert"]


def test_a_write_that_fails_at_commit_leaves_the_store_usable(config: Config) -> None:
    store = Store(config.database_path)
    with disk_full(store), pytest.raises(StoreError):
        with store.transaction():
            store.log_decisions([{"decision": "first_alert", "at": "2026-11-02T09:00:00Z", "kind": "cascade",
                                  "watchlist": "acme", "root_id": "x:1", "reason": "r" * 20000, "level": "new"}])
    with store.transaction():  # no transaction was left open by the failure
        store.log_decisions([{"decision": "first_alert", "at": "2026-11-02T09:00:00Z", "kind": "cascade",
                              "watchlist": "acme", "root_id": "x:1", "reason": "fits now", "level": "new"}])
    assert store.count("decisions") == 1


def test_the_daemon_logs_one_line_for_a_pass_it_cannot_record_and_decides_it_at_the_next(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = SimulatedClock(T0)
    daemon = Daemon(load_config(write_config(tmp_path, [ACME])), clock=clock)
    try:
        storm(daemon.pipeline, clock)
        with decisions_fail(daemon.store), caplog.at_level(logging.ERROR, logger="monitor"):
            asyncio.run(daemon.judge.run())  # does not raise
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "\n" not in errors[0].getMessage() and errors[0].exc_info is None
        assert "cannot write to database" in errors[0].getMessage()
        clock.advance(60)
        asyncio.run(daemon.judge.run())
        assert outbox(daemon.store) == [("first_alert", "x:1")]
    finally:
        daemon.store.close()
