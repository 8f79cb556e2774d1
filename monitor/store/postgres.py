"""PostgreSQL through psycopg 3 and psycopg_pool: a connection that answers like ``sqlite3.Connection``
for what the table families use (``execute``, ``executemany``, cursors with ``fetchone``,
``fetchall``, iteration, ``rowcount`` and ``lastrowid``), translating each statement once
(dialect.py).

``BEGIN IMMEDIATE`` / ``COMMIT`` / ``ROLLBACK`` (what ``Store.transaction()`` sends) pin one pooled
connection to the thread that opened the transaction until it ends; every other statement borrows a
connection from the pool for itself (autocommit), as a reader of SQLite's WAL sees what is committed.

The password never comes from the URL (config refuses one there): libpq reads ``PGPASSWORD`` and
``PGPASSFILE`` itself; a systemd credential named ``PGPASSWORD`` is read here and handed to libpq.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import StoreError
from monitor.store import dialect


def is_url(target: object) -> bool:
    """Whether a ``database:`` value names a PostgreSQL server rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def password_in_url(url: str) -> bool:
    return urlsplit(url).password is not None or "password=" in urlsplit(url).query


def redact(url: str) -> str:
    """The URL as it may be logged (no password even if one slipped in)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":<secret>@")


class Result:
    """What ``execute`` returns: the rows read at once (the pooled connection goes back at once)."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int, description: Any, lastrowid: int | None):
        self._rows = rows
        self.rowcount = rowcount
        self.description = description
        self.lastrowid = lastrowid
        self._i = 0

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._i >= len(self._rows):
            return None
        self._i += 1
        return self._rows[self._i - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rest, self._i = self._rows[self._i:], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row


class PgConnection:
    """A pool of connections to one database, used like one ``sqlite3.Connection``."""

    def __init__(self, url: str, *, identities: frozenset[str], min_size: int = 1, max_size: int = 4,
                 password: str | None = None, application_name: str = "monitor"):
        import psycopg
        import psycopg_pool

        if password_in_url(url):
            raise StoreError("database: the URL holds a password; put it in PGPASSWORD, a systemd credential "
                             "PGPASSWORD or ~/.pgpass instead")
        self.url = url
        self.identities = identities
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": application_name}
        if password:
            kwargs["password"] = password
        self._psycopg = psycopg
        self._timeout = psycopg_pool.PoolTimeout
        self.pool = psycopg_pool.ConnectionPool(url, min_size=min_size, max_size=max_size, kwargs=kwargs,
                                                open=False, timeout=15, name="monitor")
        try:
            self.pool.open(wait=True, timeout=15)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self.pool.close()  # its workers would go on trying to connect
            raise StoreError(f"cannot connect to {redact(url)}: {str(exc).strip()}") from exc
        self._lock = threading.RLock()
        self._tx: Any = None              # the pinned connection of the open transaction
        self._owner: int | None = None    # the thread that opened it

    # -- statements ----------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Result:
        word = sql.strip().split(None, 1)[0].upper() if sql.strip() else ""
        if word in ("BEGIN", "COMMIT", "ROLLBACK"):
            self._control(word)
            return Result([], -1, None, None)
        return self._run(sql, lambda cur, text: cur.execute(text, params))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Result:
        rows = list(seq)
        if not rows:
            return Result([], 0, None, None)
        return self._run(sql, lambda cur, text: cur.executemany(text, rows))

    def _run(self, sql: str, call: Any) -> Result:
        text = dialect.postgres(sql)
        table = dialect.identity_table(text, self.identities)
        if table is not None and " RETURNING " not in text.upper():
            text += " RETURNING id"
        try:
            conn = self._pinned()
            if conn is not None:
                return self._on(conn, text, call, table)
            with self.pool.connection() as conn:
                return self._on(conn, text, call, table)
        except self._timeout as exc:
            raise StoreError(f"database {redact(self.url)}: no connection within the pool's timeout ({exc})") from exc
        except self._psycopg.Error as exc:
            raise _translate(exc, self._psycopg) from exc

    @staticmethod
    def _on(conn: Any, text: str, call: Any, table: str | None) -> Result:
        with conn.cursor() as cur:
            call(cur, text)
            rows = cur.fetchall() if cur.description is not None else []
            last = int(rows[-1][0]) if table is not None and rows else None
            return Result([] if table is not None else rows, cur.rowcount, cur.description, last)

    def _pinned(self) -> Any:
        return self._tx if self._tx is not None and self._owner == threading.get_ident() else None

    # -- transactions --------------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        """Whether this thread holds an open transaction (as sqlite3.Connection.in_transaction)."""
        return self._pinned() is not None

    def _control(self, word: str) -> None:
        if word == "BEGIN":
            self._lock.acquire()
            conn = None
            try:
                conn = self.pool.getconn()
                conn.execute("BEGIN")
            except BaseException as exc:
                if conn is not None:
                    self.pool.putconn(conn)
                self._lock.release()
                if isinstance(exc, self._timeout):
                    raise StoreError(f"database {redact(self.url)}: no connection within the pool's timeout") from exc
                if isinstance(exc, self._psycopg.Error):
                    raise _translate(exc, self._psycopg) from exc
                raise
            self._tx, self._owner = conn, threading.get_ident()
            return
        conn, self._tx, self._owner = self._tx, None, None
        try:
            if conn is not None:
                try:
                    conn.execute(word)
                except self._psycopg.Error as exc:
                    conn.rollback()
                    raise _translate(exc, self._psycopg) from exc
                finally:
                    self.pool.putconn(conn)
        finally:
            self._lock.release()

    def cursor_row_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        result = self.execute(sql, params)
        names = [d.name for d in result.description or []]
        return [{k: v for k, v in zip(names, row, strict=True) if k != "rowid"} for row in result.fetchall()]

    def close(self) -> None:
        self.pool.close()


def _translate(exc: Exception, psycopg: Any) -> Exception:
    """psycopg's errors as the sqlite3 ones the callers know (a constraint is an IntegrityError)."""
    import sqlite3

    if isinstance(exc, psycopg.errors.IntegrityError):
        return sqlite3.IntegrityError(str(exc).strip())
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(f"database: {str(exc).strip()}")
    return sqlite3.DatabaseError(str(exc).strip())
