"""The store: deduplicated mentions, cursors written with the rows they cover, crash safety. The tests
taking ``db_target`` are the store's contract: they run over SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.records.mention import Author, Mention
from monitor.store.database import SCHEMA_VERSION, MentionRow, Store, _chunks

NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)


def mention(i: int, **kw) -> Mention:
    return Mention(id=f"x:{i}", source="x", kind="post", parent_id=None, url=f"https://x.com/a/status/{i}",
                   author=Author(id="1", handle="a", followers=10), text=f"acme {i}", links=[],
                   created_at=NOW, observed_at=NOW, **kw)


def row(m: Mention) -> MentionRow:
    return MentionRow(m, m.id, ("acme",), 0.0, 0.1, False, None, None)


def test_a_new_database_is_created_at_the_current_schema(tmp_path: Path) -> None:
    store = Store(tmp_path / "sub" / "m.db")
    assert store.schema_version() == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_from_a_newer_monitor_is_refused_with_advice(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer monitor"):
        Store(tmp_path / "m.db")


def test_seeing_a_mention_again_updates_its_metrics_and_never_duplicates_it(db_target: str | Path) -> None:
    store = Store(db_target)
    store.write_mentions([row(mention(1, metrics={"likes": 1}))], now=NOW)
    store.write_mentions([], [mention(1, metrics={"likes": 40})], now=NOW)
    store.write_mentions([row(mention(1, metrics={"likes": 2}))], now=NOW)  # a duplicate insert is ignored
    stored = list(store.iter_mentions())
    assert len(stored) == 1 and stored[0].metrics == {"likes": 40}


def test_cursors_move_in_the_same_transaction_as_their_mentions(db_target: str | Path) -> None:
    store = Store(db_target)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.write_mentions([row(mention(3))], cursors={"x:acme": {"since_id": "3"}}, now=NOW)
            raise RuntimeError("crash before commit")
    assert store.get_cursor("x:acme") is None
    assert list(store.iter_mentions()) == []
    store.write_mentions([row(mention(3))], cursors={"x:acme": {"since_id": "3"}}, now=NOW)
    assert store.get_cursor("x:acme") == {"since_id": "3"}


def test_export_order_is_observed_order(db_target: str | Path) -> None:
    store = Store(db_target)
    later = mention(5)
    later.observed_at = NOW.replace(hour=12)
    store.write_mentions([row(later), row(mention(4))], now=NOW)
    assert [m.id for m in store.iter_mentions()] == ["x:4", "x:5"]


def test_read_only_open_of_a_missing_database_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run 'monitor run'"):
        Store(tmp_path / "none.db", read_only=True)


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from monitor.records.mention import Author, Mention
    from monitor.store.database import MentionRow, Store
    now = datetime(2026, 11, 2, tzinfo=UTC)
    store = Store(sys.argv[1], durable=sys.argv[2] == "durable")
    for batch in range(1, 100000):
        rows = [MentionRow(Mention(f"x:{batch}-{i}", "x", "post", None, None, Author("1", "a"), "acme " * 50,
                                   [], now, now), f"x:{batch}-{i}", ("acme",)) for i in range(200)]
        store.write_mentions(rows, cursors={"x:acme": {"batch": batch}}, now=now)
        print(batch, flush=True)
""")


@pytest.mark.parametrize("durability", ["durable", "not durable (a replay's)"])
def test_kill_9_mid_write_leaves_no_corruption_and_no_half_batch(tmp_path: Path, durability: str) -> None:
    db = tmp_path / "m.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), durability], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(5):
        proc.stdout.readline()
    time.sleep(0.05)  # let it get well into the next batch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(db)
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    batch = store.get_cursor("x:acme")["batch"]  # type: ignore[index]
    assert batch >= 5
    assert store.count("mentions") == 200 * batch


def test_only_a_store_opened_not_durable_skips_syncing_to_disk(tmp_path: Path) -> None:
    assert Store(tmp_path / "a.db").conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert Store(tmp_path / "b.db", durable=False).conn.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF


def test_orphans_are_found_under_their_keys_after_a_restart_a_rollback_and_a_prune(db_target: str | Path) -> None:
    from datetime import timedelta

    store = Store(db_target)
    old, young = mention(1), mention(2)
    old.observed_at = NOW - timedelta(days=40)
    store.save_orphans([("parent:x:9", old), ("parent:x:8", young)])
    store.close()
    store = Store(db_target)  # a restart: the keys are read from the table
    with pytest.raises(RuntimeError), store.transaction():
        assert [m.id for m in store.take_orphans(["parent:x:9", "parent:x:7"])] == ["x:1"]
        raise RuntimeError("the batch failed")  # its take is rolled back: the orphan waits on
    assert store.count("orphans") == 2
    store.prune(NOW - timedelta(days=30))  # and goes with retention
    assert store.take_orphans(["parent:x:9"]) == []
    assert [m.id for m in store.take_orphans(["parent:x:8", "parent:x:9"])] == ["x:2"]
    assert store.take_orphans(["parent:x:8"]) == []  # taken once
    store.save_orphans([("url:https://blog.example.org/p", mention(3))])
    assert [m.id for m in store.take_orphans(["url:https://blog.example.org/p"])] == ["x:3"]


def test_retention_prunes_old_mentions_but_never_half_a_live_cascade(db_target: str | Path) -> None:
    from datetime import timedelta

    store = Store(db_target)
    old, live_root, live_reply = mention(1), mention(2), mention(3)
    old.observed_at = live_root.observed_at = NOW - timedelta(days=40)
    live_reply.observed_at = NOW
    rows = [row(old), row(live_root), MentionRow(live_reply, "x:2", ("acme",))]
    store.write_mentions(rows, now=NOW)
    with store.transaction() as conn:
        conn.execute("INSERT INTO cascades (root_id, watchlist, opened_at, last_reaction_at) VALUES"
                     " ('x:1', 'acme', '2026-09-01T00:00:00Z', NULL),"
                     " ('x:2', 'acme', '2026-09-01T00:00:00Z', '2026-11-02T10:00:00Z')")
    deleted = store.prune(NOW - timedelta(days=30))
    assert deleted["mentions"] == 1 and deleted["cascades"] == 1
    assert sorted(m.id for m in store.iter_mentions()) == ["x:2", "x:3"]


def test_lookups_of_any_size_find_exactly_what_is_stored_with_few_distinct_statements(db_target: str | Path) -> None:
    store = Store(db_target)
    stored = [mention(i) for i in range(0, 1400, 2)]
    store.write_mentions([row(m) for m in stored], now=NOW)
    ids = [m.id for m in stored]
    for n in (1, 2, 3, 5, 17, 100, 333, 500, 501, 1199, 1400):
        asked = [mention(i).id for i in range(n)]
        assert set(store.tracked(asked)) == set(asked) & set(ids)
    # Each IN list comes padded to a power of two: SQLite caches one statement per width, not per length.
    widths = {len(chunk) for n in range(1, 1200) for chunk in _chunks([str(i) for i in range(n)], 500)}
    assert widths == {1, 2, 4, 8, 16, 32, 64, 128, 256, 500}
