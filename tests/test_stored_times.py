"""Stored times: one form in every column, so that the store's comparisons of times as text are right."""

from __future__ import annotations

import ast
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.records.mention import Author, Mention, format_time, parse_time
from monitor.store.base import stamp
from monitor.store.database import MentionRow, Store
from monitor.store.schema import MIGRATIONS
from tests.test_layout import PACKAGE, STORE

T = datetime(2026, 11, 2, 10, 0, 5, tzinfo=UTC)


def _mention(i: int, observed: datetime) -> Mention:
    return Mention(id=f"x:{i}", source="x", kind="post", parent_id=None, url=f"https://x.com/a/status/{i}",
                   author=Author(id="1", handle="a", followers=10), text=f"acme {i}", links=[],
                   created_at=observed, observed_at=observed)


def test_a_stamp_is_fixed_width_so_text_order_is_time_order() -> None:
    times = [T, T + timedelta(microseconds=300_000), T + timedelta(seconds=1), datetime(999, 1, 1, tzinfo=UTC)]
    stamps = [stamp(t) for t in times]
    assert {len(s) for s in stamps} == {27}
    assert sorted(stamps) == [stamps[3], stamps[0], stamps[1], stamps[2]]
    assert [parse_time(s) for s in stamps] == times
    # The record form is shorter and does not sort as time does: why the store never writes it.
    assert format_time(T) > format_time(T + timedelta(microseconds=300_000))


def test_a_mention_observed_within_the_second_after_a_bound_is_counted_after_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    store.write_mentions([MentionRow(_mention(1, T + timedelta(microseconds=300_000)), "x:1", ("acme",),
                                     0.0, 0.9, True, "billing", None)], now=T)
    assert store.mention_stats("acme", T, T + timedelta(seconds=1)).mentions == 1
    assert [m.id for m in store.iter_mentions(since=T)] == ["x:1"]


def test_the_migration_restamps_times_written_in_the_record_form(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db")
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 2")
    conn.executemany("INSERT INTO silences (watchlist, root_id, until) VALUES ('acme', NULL, ?)",
                     [("2026-11-02T10:00:05Z",), ("2026-11-02T10:00:05.3Z",), ("2026-11-02T10:00:05.123456Z",)])
    conn.commit()
    conn.close()
    store = Store(tmp_path / "m.db")
    until = [u for (u,) in store.conn.execute("SELECT until FROM silences ORDER BY id")]
    assert until == ["2026-11-02T10:00:05.000000Z", "2026-11-02T10:00:05.300000Z", "2026-11-02T10:00:05.123456Z"]


def test_the_store_writes_times_only_through_stamp() -> None:
    """format_time is the records' form; a store module that called it would write a second form."""
    found = []
    for path in sorted(STORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Name) and node.id == "format_time":
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert found == []
