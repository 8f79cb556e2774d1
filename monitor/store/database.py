"""SQLite through sqlite-utils (the embedded default), or PostgreSQL through psycopg 3 (postgres.py,
every statement translated by dialect.py): the connection, transactions, migrations.

The schema is in schema.py; each table family's reads and writes are a mixin in its own module
(mentions.py, cascades.py, outbox.py, silences.py, sources.py) that ``Store`` inherits.

Every write goes through ``Store.transaction()``, which opens ``BEGIN IMMEDIATE`` (sqlite-utils'
own ``atomic()`` opens a plain ``BEGIN``, which can fail with "database is locked" at once on a
read-then-write, ignoring busy_timeout). Mentions and the cursor that covers them are written in
the same transaction, so a crash leaves either both or neither: a restart resumes exactly where the
last committed batch ended. The connection runs in autocommit mode so that no library call can
commit half a batch behind our back.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import StoreError
from monitor.store import dialect, indexes
from monitor.store.actions import ActionTables
from monitor.store.base import chunks as _chunks
from monitor.store.base import stamp
from monitor.store.cascades import CascadeTables
from monitor.store.leases import LeaseTables
from monitor.store.mentions import MentionRow, MentionTables, SpreadTarget, Tracked
from monitor.store.outbox import OutboxTables
from monitor.store.postgres import PgConnection, is_url, redact
from monitor.store.schema import MIGRATIONS, SCHEMA_VERSION
from monitor.store.silences import SilenceTables
from monitor.store.sources import SourceTables

# Held (pg_advisory_xact_lock) while one instance migrates a PostgreSQL database.
MIGRATION_LOCK = 0x6D6F6E69

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "MentionRow", "SpreadTarget", "Store", "Tracked", "_chunks"]

class Store(MentionTables, CascadeTables, OutboxTables, SilenceTables, SourceTables, ActionTables, LeaseTables):
    """The store of one process. On SQLite the one writer to the file (reads may come from anywhere); on
    PostgreSQL several instances share the database (monitor/ops/cluster.py divides the work)."""
    def __init__(self, path: str | Path, *, read_only: bool = False, durable: bool = True,
                 password: str | None = None):
        """``path``: a SQLite file, or a ``postgresql://user@host/db`` URL (the PostgreSQL store,
        postgres.py; ``password`` from the environment or a credential, never in the URL).

        ``durable=False``: commits are handed to the OS without waiting for the disk (no fsync). The
        database survives the process crashing, not the machine; for a replay, which can be run again
        (without fsync)."""
        self.engine = "postgresql" if is_url(path) else "sqlite"
        self._lock = threading.RLock()
        self._depth = 0
        self._waiting: set[str] | None = None  # see _orphan_keys
        # The last write that failed (monotonic time, reason) and the last that committed: health reads them.
        self.write_failure: tuple[float, str] | None = None
        self.write_success: float | None = None
        self.url: str | None = None  # the PostgreSQL URL
        if self.engine == "postgresql":
            self.url = str(path)
            self.path = Path(redact(self.url))  # for messages only
            self.conn = PgConnection(self.url, identities=dialect.identity_tables(MIGRATIONS),  # type: ignore[assignment]
                                     password=password)
            self.db = None  # type: ignore[assignment]
            version = self.schema_version()
        else:
            version = self._open_sqlite(Path(path), read_only=read_only, durable=durable)
        if not read_only:
            try:
                self._migrate()
            except sqlite3.Error as exc:
                self.conn.close()
                raise StoreError(f"cannot prepare database {self.path}: {exc}; check the file's and its "
                                 "folder's permissions and the free disk space") from None
        elif version > SCHEMA_VERSION:
            self.conn.close()
            raise StoreError(f"database {self.path} was written by a newer monitor (schema {version}, this one "
                             f"knows {SCHEMA_VERSION}); upgrade monitor")
        elif version != SCHEMA_VERSION:
            self.conn.close()
            raise StoreError(f"database {self.path} has schema {version}, this monitor needs "
                             f"{SCHEMA_VERSION}: start 'monitor run' once to migrate it")

    def _open_sqlite(self, path: Path, *, read_only: bool, durable: bool) -> int:
        """Open the SQLite file; returns its schema version."""
        self.path = path
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder {self.path.parent}: "
                                 f"{exc.strerror or exc}; fix 'database' in the settings or the folder's "
                                 "permissions") from None
        elif not self.path.exists():
            raise StoreError(f"no database at {self.path}: run 'monitor run' or 'monitor replay --database' first")
        if self.path.is_dir():
            raise StoreError(f"database {self.path} is a folder; point 'database' to a file in it")
        try:
            uri = f"file:{self.path}?mode=ro" if read_only else str(self.path)
            conn = sqlite3.connect(uri, uri=read_only, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            if not read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL" if durable else "PRAGMA synchronous = OFF")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        try:
            version = self.schema_version()
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the first page
        except sqlite3.DatabaseError as exc:
            conn.close()
            hint = ("is it a monitor database? Restore it from a backup, or point 'database' to another file"
                    if not isinstance(exc, sqlite3.OperationalError) else
                    "check that this user may read the file and write its folder (SQLite keeps -wal and -shm "
                    "files beside it)")
            raise StoreError(f"cannot read database {self.path}: {exc}; {hint}") from None
        return version

    def close(self) -> None:
        self.conn.close()

    # -- transactions and schema ------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

        Nested use joins the outer transaction.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                self._write_failed(exc)
                raise self._write_error(exc) from exc
            self._depth = 1
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as exc:
                self._depth = 0
                # SQLite rolls back by itself on some errors (a full disk); a COMMIT that failed leaves the
                # transaction open, and every later BEGIN would fail with it.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self._waiting = None  # what was rolled back may have been read into it
                if isinstance(exc, sqlite3.Error):
                    self._write_failed(exc)
                if isinstance(exc, sqlite3.OperationalError):
                    raise self._write_error(exc) from exc
                raise
            self._depth = 0
            self.write_success = time.monotonic()

    def _write_error(self, exc: sqlite3.OperationalError) -> StoreError:
        """A write that failed for a reason of the machine (disk full, locked, read-only, I/O), not of
        the data: what was being written can be written again once that is fixed."""
        return StoreError(f"cannot write to database {self.path}: {exc}")

    def _write_failed(self, exc: sqlite3.Error) -> None:
        self.write_failure = (time.monotonic(), f"{type(exc).__name__}: {exc}")

    def write_problem(self, recent: float = 60.0) -> str | None:
        """Why writes look broken, or None: a write failed within ``recent`` seconds, or none has
        committed since the last failure."""
        if self.write_failure is None:
            return None
        at, reason = self.write_failure
        if time.monotonic() - at <= recent or self.write_success is None or self.write_success < at:
            return reason
        return None

    def probe_write(self, now: datetime) -> None:
        """One small committed write (a row of ``store_probe``), to learn whether the database takes
        writes. Raises StoreError saying why not."""
        try:
            with self.transaction() as conn:
                conn.execute("INSERT INTO store_probe (id, at) VALUES (1, ?)"
                             " ON CONFLICT(id) DO UPDATE SET at = excluded.at", (stamp(now),))
        except (sqlite3.Error, StoreError) as exc:
            raise StoreError(f"database {self.path} cannot be written: {exc}; check the file's and its "
                             "folder's permissions (the -wal and -shm files too) and the free disk space") from None

    def schema_version(self) -> int:
        if self.engine == "postgresql":
            if not self.conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]:
                return 0
            row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
            return int(row[0] or 0) if row else 0
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _set_version(self, conn: Any, version: int) -> None:
        if self.engine == "postgresql":
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        else:
            conn.execute(f"PRAGMA user_version = {version}")

    def _migrate(self) -> None:
        if self.engine == "postgresql":
            with self.transaction() as conn:
                # Instances starting together: one at a time creates the version table and the
                # functions (concurrent CREATE ... IF NOT EXISTS can fail in PostgreSQL), and migrates.
                conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                for statement in dialect.COMPAT_FUNCTIONS:
                    conn.execute(statement)
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"database {self.path} was written by a newer monitor (schema {version}, "
                             f"this one knows {SCHEMA_VERSION}); upgrade monitor or point to another database")
        for step in range(version, SCHEMA_VERSION):
            with self.transaction() as conn:
                if self.engine == "postgresql":
                    conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                    if self.schema_version() != step:  # another instance took this step meanwhile
                        continue
                for statement in dialect.split(MIGRATIONS[step]):
                    conn.execute(statement)
                self._set_version(conn, step + 1)
        if self.engine == "sqlite" and indexes.missing(self.conn, MIGRATIONS):  # left out by a replay killed
            with self.transaction() as conn:                                     # before its end
                indexes.restore(conn, MIGRATIONS)

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete what is older than the retention cutoff; returns rows deleted per table.

        A cascade goes with all its mentions once its last reaction is older than ``before``, so a
        long-running storm is never cut in half. Undelivered alerts are kept whatever their age.
        """
        cutoff = stamp(before)
        with self.transaction() as conn:
            old = "SELECT root_id FROM cascades WHERE coalesce(last_reaction_at, opened_at) < ?"
            deleted = {
                "urls": conn.execute(
                    "DELETE FROM urls WHERE mention_id IN (SELECT id FROM mentions WHERE observed_at < ? AND"
                    " root_id NOT IN (SELECT root_id FROM cascades WHERE coalesce(last_reaction_at, opened_at) >= ?))",
                    (cutoff, cutoff)).rowcount,
                "mentions": conn.execute(
                    "DELETE FROM mentions WHERE observed_at < ? AND root_id NOT IN"
                    " (SELECT root_id FROM cascades WHERE coalesce(last_reaction_at, opened_at) >= ?)",
                    (cutoff, cutoff)).rowcount,
                "outbox": conn.execute(
                    "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND decision_id IN"
                    " (SELECT id FROM decisions WHERE at < ?)", (cutoff,)).rowcount,
                "decisions": conn.execute(
                    "DELETE FROM decisions WHERE at < ? AND id NOT IN (SELECT decision_id FROM outbox)",
                    (cutoff,)).rowcount,
                "threads": conn.execute(
                    f"DELETE FROM threads WHERE root_id IN ({old})", (cutoff,)).rowcount,
                "alert_actions": conn.execute(
                    f"DELETE FROM alert_actions WHERE root_id IN ({old})", (cutoff,)).rowcount,
                "alert_states": conn.execute(
                    f"DELETE FROM alert_states WHERE root_id IN ({old})", (cutoff,)).rowcount,
                "cascades": conn.execute(f"DELETE FROM cascades WHERE root_id IN ({old})", (cutoff,)).rowcount,
                "orphans": conn.execute("DELETE FROM orphans WHERE observed_at < ?", (cutoff,)).rowcount,
            }
            self._waiting = None  # read again when next asked: pruned keys go
        return deleted

    def count(self, table: str) -> int:
        """Rows in ``table``."""
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
