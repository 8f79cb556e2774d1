"""What every table family's methods share: the connection they run on, and small helpers.

Each table-family module (mentions.py, cascades.py, outbox.py, silences.py, sources.py) defines a
mixin of ``Tables``; ``Store`` (database.py) inherits them all and supplies the connection and
``transaction()``. A method that writes opens ``self.transaction()``, which joins the caller's own
transaction when there is one, so a caller can put several methods in one atomic write.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import sqlite_utils


class Tables:
    """The part of ``Store`` a table family relies on (database.py provides it)."""

    conn: sqlite3.Connection
    db: sqlite_utils.Database
    # One atomic write; nested use joins the outer transaction (Store.transaction).
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    engine: str  # "sqlite" or "postgresql"

    def row_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Each row of a query as a dict of its columns (PostgreSQL's own ``rowid`` column left out)."""
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description or []]
        return [{k: v for k, v in zip(names, row, strict=True) if k != "rowid" or self.engine == "sqlite"}
                for row in cur.fetchall()]


@functools.lru_cache(maxsize=8192)
def stamp(value: datetime) -> str:
    """The one form of every time the store writes in a column: UTC, always with microseconds, so that
    stored times compare correctly as text (``...:05Z`` sorts after ``...:05.3Z``; ``...:05.000000Z``
    does not) in SQLite and PostgreSQL alike. Records' JSON keeps ``format_time``; both read back with
    ``parse_time``. Cached: a mention's two times are stamped as its row is written."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat, not strftime: cheaper, and it pads a year before 1000 to four digits as text order needs;
    # in UTC it always ends in "+00:00".
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def opt_stamp(value: datetime | None) -> str | None:
    """``stamp`` of a time that may be absent."""
    return stamp(value) if value is not None else None


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    """``items`` in chunks of at most ``size``, each padded (with its last item repeated, harmless in an
    ``IN`` list) to a power of two: SQLite keeps one prepared statement per distinct query text, so a
    list of every length from 1 to 500 would keep up to 500 statements per query (measured: up to
    10 MB of a daemon's memory, filling for minutes); padded, there are ten."""
    for i in range(0, len(items), size):
        chunk = items[i:i + size]
        width = min(size, 1 << (len(chunk) - 1).bit_length())
        yield chunk + chunk[-1:] * (width - len(chunk))
