"""``monitor migrate --to postgresql://...``: copy every table of a SQLite database into an empty
PostgreSQL one (at the same schema), then check the row counts table by table.

The target is migrated to the current schema first (by opening it); the source is read in rowid
order (insertion order, which PostgreSQL's own ``rowid`` column then keeps), tables referenced by
others first, in batches, all in one transaction: a failed copy leaves the target empty. The id
sequences are moved past the copied ids so new decisions and silences do not collide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from monitor.errors import StoreError
from monitor.store import dialect
from monitor.store.database import MIGRATIONS, Store

log = logging.getLogger(__name__)

BATCH = 5000


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    source_rows: int
    target_rows: int

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows


def tables_in_order(source: Store) -> list[str]:
    """The source's tables, each after the tables its foreign keys reference."""
    names = [n for (n,) in source.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    refs = {n: {r[2] for r in source.conn.execute(f"PRAGMA foreign_key_list({n})")} & set(names) - {n}
            for n in names}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and refs[n] <= set(ordered)]
        if not ready:
            raise StoreError(f"cannot order tables by their references: {sorted(set(names) - set(ordered))}")
        ordered += ready
    return ordered


def copy_database(source: Store, target: Store, progress: Callable[[str, int], None] | None = None
                  ) -> list[Copied]:
    """Copy every table of ``source`` (SQLite) into ``target`` (empty, PostgreSQL); the counts after."""
    if source.engine != "sqlite" or target.engine != "postgresql":
        raise StoreError("migrate copies a SQLite database into a PostgreSQL one")
    if source.schema_version() != target.schema_version():
        raise StoreError(f"schema {source.schema_version()} in {source.path} but {target.schema_version()} in the "
                         "target: run 'monitor run' once on the SQLite database to migrate it first")
    tables = tables_in_order(source)
    busy = {t: n for t in tables if (n := target.count(t))}
    if busy:
        raise StoreError("the target database is not empty (" + ", ".join(f"{n} rows in {t}" for t, n in
                         busy.items()) + "): migrate into a new, empty database")
    identities = dialect.identity_tables(MIGRATIONS)
    with target.transaction() as conn:
        for table in tables:
            columns = [r[1] for r in source.conn.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(columns)
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            rows = source.conn.execute(f"SELECT {names} FROM {table} ORDER BY rowid")
            n = 0
            while batch := rows.fetchmany(BATCH):
                conn.executemany(insert, batch)
                n += len(batch)
                if progress:
                    progress(table, n)
            if table in identities:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                             f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
    return [Copied(t, source.count(t), target.count(t)) for t in tables]
