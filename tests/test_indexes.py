"""A replay into an empty database builds its mentions' secondary indexes at its end; none is ever lost."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.records.mention import Author, Mention
from monitor.store import indexes
from monitor.store.database import MIGRATIONS, MentionRow, Store

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def names(db: Path | sqlite3.Connection) -> set[str]:
    conn = db if isinstance(db, sqlite3.Connection) else sqlite3.connect(db)
    return {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


def store_one(store: Store, i: int = 1) -> None:
    m = Mention(f"x:{i}", "x", "post", None, None, Author("u", "u"), "acme", [], NOW, NOW)
    store.write_mentions([MentionRow(m, m.id, ("acme",))], now=NOW)


def test_the_schema_has_the_mentions_indexes_a_replay_leaves_out() -> None:
    schema = indexes.schema_indexes(tuple(MIGRATIONS))
    assert {"mentions_root", "mentions_observed"} <= {n for n, (table, _) in schema.items() if table == "mentions"}


def test_an_empty_database_has_no_mentions_indexes_while_deferred_and_all_of_them_after(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    every = names(store.conn)
    with indexes.deferred(store, MIGRATIONS) as deferred:
        assert deferred and not {"mentions_root", "mentions_observed"} & names(store.conn)
        store_one(store)
    assert names(store.conn) == every
    assert store.conn.execute("SELECT id FROM mentions INDEXED BY mentions_root WHERE root_id = 'x:1'").fetchall()


def test_a_database_with_mentions_keeps_its_indexes_throughout(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    store_one(store)
    every = names(store.conn)
    with indexes.deferred(store, MIGRATIONS) as deferred:
        assert not deferred and names(store.conn) == every


def test_the_indexes_are_built_after_an_error_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    every = names(store.conn)
    with pytest.raises(RuntimeError), indexes.deferred(store, MIGRATIONS):
        raise RuntimeError("the replay failed")
    assert names(store.conn) == every


def test_a_store_puts_back_the_indexes_a_replay_killed_before_its_end_left_out(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    every = names(Store(db).conn)
    with sqlite3.connect(db) as conn:  # what a replay killed inside ``deferred`` leaves
        conn.execute("DROP INDEX mentions_root")
        conn.execute("DROP INDEX mentions_observed")
    assert names(db) == every - {"mentions_root", "mentions_observed"}
    Store(db).close()
    assert names(db) == every
