"""Secondary indexes: left out while a replay fills an empty database, built once at its end.

Kept up row by row, the indexes on ``mentions(root_id)`` and ``mentions(observed_at)`` cost every
insert a step into two growing B-trees, one of them in random order; built once from the finished
table they are one sorted pass each. Nothing a replay asks while it runs
uses them: it looks mentions up by id. A replay killed before its end leaves them out, so a store
opened for writing puts back every index of the schema that its database lacks (``restore``).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.store.database import Store

log = logging.getLogger(__name__)

DEFERRED = "mentions"  # the table whose indexes a bulk load builds at its end


@functools.cache
def schema_indexes(migrations: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Index name -> (table, its CREATE INDEX statement) for every index the migrations leave in place
    (worked out on an empty database in memory; the indexes behind PRIMARY KEY and UNIQUE are the
    tables' own and never left out)."""
    conn = sqlite3.connect(":memory:")
    try:
        for script in migrations:
            conn.executescript(script)
        return {name: (table, sql) for name, table, sql in conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    finally:
        conn.close()


def missing(conn: sqlite3.Connection, migrations: Sequence[str]) -> dict[str, str]:
    """Name -> CREATE INDEX statement of each index of the schema that the database lacks."""
    present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return {name: sql for name, (_, sql) in schema_indexes(tuple(migrations)).items() if name not in present}


def restore(conn: sqlite3.Connection, migrations: Sequence[str]) -> list[str]:
    """Create every index of the schema that the database lacks; return their names (call it inside a
    transaction)."""
    lacking = missing(conn, migrations)
    for name, sql in lacking.items():
        log.info("building index %s", name)
        conn.execute(sql)
    return list(lacking)


@contextmanager
def deferred(store: Store, migrations: Sequence[str]) -> Iterator[bool]:
    """While inside, an empty mentions table has no secondary indexes; they are built on the way out,
    after an error too. Yields whether they were left out (not when the table already holds rows:
    building them again over those would cost more than it saves)."""
    if store.engine != "sqlite" or store.conn.execute(f"SELECT 1 FROM {DEFERRED} LIMIT 1").fetchone() is not None:
        yield False  # PostgreSQL keeps its indexes: its catalogue is not sqlite_master
        return
    names = [name for name, (table, _) in schema_indexes(tuple(migrations)).items() if table == DEFERRED]
    with store.transaction() as conn:
        for name in names:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
    try:
        yield True
    finally:
        with store.transaction() as conn:
            restore(conn, migrations)
