"""SQLite through sqlite-utils: schema, migrations, cursors, one writer.

Every write goes through ``Store.transaction()``, which opens ``BEGIN IMMEDIATE`` (sqlite-utils'
own ``atomic()`` opens a plain ``BEGIN``, which can fail with "database is locked" at once on a
read-then-write, ignoring busy_timeout). Mentions and the cursor that covers them are written in
the same transaction, so a crash leaves either both or neither: a restart resumes exactly where the
last committed batch ended. The connection runs in autocommit mode so that no library call can
commit half a batch behind our back.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import StoreError
from monitor.records.mention import Mention, format_time, x_post_id
from monitor.store import indexes

SCHEMA_VERSION = 2

# Each entry migrates the schema from version i to i+1. Append only; never edit a shipped step.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE mentions (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        parent_id TEXT,
        root_id TEXT NOT NULL,
        watchlists TEXT NOT NULL,          -- comma-separated watch-list names
        url TEXT,
        author_id TEXT,
        author_handle TEXT,
        followers INTEGER,
        created_at TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        sentiment REAL,
        complaint REAL,
        specific INTEGER,
        category TEXT,
        record TEXT NOT NULL               -- the mention record as JSON, unknown keys kept
    );
    CREATE INDEX mentions_root ON mentions(root_id);
    CREATE INDEX mentions_observed ON mentions(observed_at);
    CREATE TABLE urls (
        url TEXT PRIMARY KEY,              -- canonical URL of a tracked mention
        mention_id TEXT NOT NULL
    );
    CREATE TABLE cursors (
        source_key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE source_health (
        source_key TEXT PRIMARY KEY,
        last_success TEXT,
        last_error TEXT,
        last_error_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        items_seen INTEGER NOT NULL DEFAULT 0,
        last_items_at TEXT,
        paused_until TEXT,
        detail TEXT
    );
    CREATE TABLE cascades (
        root_id TEXT NOT NULL,
        watchlist TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        last_reaction_at TEXT,
        reactions INTEGER NOT NULL DEFAULT 0,
        level TEXT,                        -- null until alerted, then 'new'
        alerted_at TEXT,
        alerted_size INTEGER,              -- size at the last alert or update
        last_update_at TEXT,
        vips TEXT NOT NULL DEFAULT '',     -- VIP handles already announced
        silenced_until TEXT,
        PRIMARY KEY (root_id, watchlist)
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        level TEXT,
        watchlist TEXT NOT NULL,
        root_id TEXT,
        payload TEXT NOT NULL              -- the alert line as JSON
    );
    CREATE INDEX decisions_root ON decisions(root_id);
    CREATE TABLE outbox (
        decision_id INTEGER PRIMARY KEY REFERENCES decisions(id),
        channel TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',  -- pending | held | sent | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        ts TEXT,                           -- Slack message ts once posted
        thread_ts TEXT,
        sent_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE TABLE threads (
        root_id TEXT NOT NULL,
        watchlist TEXT NOT NULL,
        channel TEXT NOT NULL,
        ts TEXT NOT NULL,                  -- the root Slack message of this storm
        PRIMARY KEY (root_id, watchlist)
    );
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        watchlist TEXT,
        root_id TEXT,
        until TEXT NOT NULL,
        reason TEXT
    );
    """,
    # 2: reactions whose parent or linked post is not (yet) tracked wait here to be adopted.
    """
    CREATE TABLE orphans (
        key TEXT NOT NULL,                 -- 'parent:<id>' or 'url:<canonical url>'
        mention_id TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (key, mention_id)
    );
    CREATE INDEX orphans_observed ON orphans(observed_at);
    """,
]


@dataclass(slots=True)
class Tracked:
    """Where a stored mention sits: the root of its cascade and the watch-lists that track it."""

    root_id: str
    watchlists: tuple[str, ...]


@functools.lru_cache(maxsize=1024)
def _watchlists(column: str) -> tuple[str, ...]:
    """The watch-lists column ("acme,globex") as names; a handful of distinct values, read for every lookup."""
    return tuple(w for w in column.split(",") if w)


@dataclass(slots=True)
class MentionRow:
    """A mention ready to store, with what the pipeline worked out about it."""

    mention: Mention
    root_id: str
    watchlists: tuple[str, ...]
    sentiment: float | None = None
    complaint: float | None = None
    specific: bool | None = None
    category: str | None = None
    canonical_url: str | None = None


REPLAY_CACHE_KIB = 65536  # SQLite's page cache for a replay (default 2 MiB): its transactions hold 20,000 rows


class Store:
    """The one writer to the database. Not shared across processes; reads may come from anywhere."""

    def __init__(self, path: str | Path, *, read_only: bool = False, durable: bool = True):
        """``durable=False``: commits are handed to the OS without waiting for the disk (no fsync). The
        database survives the process crashing, not the machine; for a replay, which can be run again
        (without fsync, and with a page cache of ``REPLAY_CACHE_KIB`` for its large transactions)."""
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"no database at {self.path}: run 'monitor run' or 'monitor replay --database' first")
        try:
            uri = f"file:{self.path}?mode=ro" if read_only else str(self.path)
            conn = sqlite3.connect(uri, uri=read_only, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            if not read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL" if durable else "PRAGMA synchronous = OFF")
                if not durable:
                    conn.execute(f"PRAGMA cache_size = -{REPLAY_CACHE_KIB}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        self._waiting: set[str] | None = None  # see _orphan_keys
        if not read_only:
            self._migrate()
        elif self.schema_version() != SCHEMA_VERSION:
            raise StoreError(f"database {self.path} has schema {self.schema_version()}, this monitor needs "
                             f"{SCHEMA_VERSION}: start 'monitor run' once to migrate it")

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
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                self._waiting = None  # what was rolled back may have been read into it
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"database {self.path} was written by a newer monitor (schema {version}, "
                             f"this one knows {SCHEMA_VERSION}); upgrade monitor or point to another file")
        for step in range(version, SCHEMA_VERSION):
            with self.transaction() as conn:
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")
        if indexes.missing(self.conn, MIGRATIONS):  # left out by a replay killed before its end
            with self.transaction() as conn:
                indexes.restore(conn, MIGRATIONS)

    # -- mentions ---------------------------------------------------------------------------
    def tracked(self, ids: Iterable[str]) -> dict[str, Tracked]:
        """Root and watch-lists of those ids that are stored."""
        out: dict[str, Tracked] = {}
        for chunk in _chunks(list(set(ids)), 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, root_id, watchlists FROM mentions WHERE id IN ({marks})"
            out.update((mid, Tracked(root, _watchlists(wls))) for mid, root, wls in self.conn.execute(sql, chunk))
        return out

    def mentions_by_url(self, urls: Iterable[str]) -> dict[str, str]:
        """Canonical URL -> id of the tracked mention published at that URL. An X post's URL names its id,
        which is answered without a lookup (and may not be tracked: ask ``tracked``)."""
        wanted = set(urls)
        out = {url: post for url in wanted if (post := x_post_id(url))}
        for chunk in _chunks([url for url in wanted if url not in out], 500):
            marks = ",".join("?" * len(chunk))
            out.update(self.conn.execute(f"SELECT url, mention_id FROM urls WHERE url IN ({marks})", chunk))
        return out

    def write_mentions(self, rows: list[MentionRow], seen_again: list[Mention] = (),  # type: ignore[assignment]
                       cursors: dict[str, dict[str, Any]] | None = None, *, now: datetime) -> None:
        """Store new mentions, refresh the metrics of ones seen again, and move cursors: atomically."""
        with self.transaction() as conn:
            if rows:
                conn.executemany(
                    "INSERT INTO mentions (id, source, kind, parent_id, root_id, watchlists, url, author_id,"
                    " author_handle, followers, created_at, observed_at, sentiment, complaint, specific,"
                    " category, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(id) DO NOTHING",
                    [
                        (
                            r.mention.id, r.mention.source, r.mention.kind, r.mention.parent_id, r.root_id,
                            ",".join(r.watchlists), r.mention.url, r.mention.author.id, r.mention.author.handle,
                            r.mention.author.followers, format_time(r.mention.created_at),
                            format_time(r.mention.observed_at), r.sentiment, r.complaint,
                            None if r.specific is None else int(r.specific), r.category,
                            r.mention.json_text(),
                        )
                        for r in rows
                    ],
                )
            # An X post's own URL names its id (mentions_by_url reads it off), so only other URLs need a row.
            urls = [(u, r.mention.id) for r in rows if (u := r.canonical_url) and x_post_id(u) != r.mention.id]
            if urls:
                conn.executemany("INSERT INTO urls (url, mention_id) VALUES (?, ?) ON CONFLICT(url) DO NOTHING", urls)
            for m in seen_again:
                self._refresh(conn, m)
            for key, value in (cursors or {}).items():
                self._put_cursor(conn, key, value, now)

    def save_orphans(self, orphans: Iterable[tuple[str, Mention]]) -> None:
        """Keep reactions to something not tracked (yet), under each key that could adopt them."""
        rows = [(key, m.id, format_time(m.observed_at), m.json_text()) for key, m in orphans]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO orphans (key, mention_id, observed_at, record) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING", rows)
            self._orphan_keys().update(r[0] for r in rows)

    def _orphan_keys(self) -> set[str]:
        """Every key an orphan waits under, maybe more (never fewer): read once, again after a prune or a
        rollback. A batch asks after hundreds of keys and almost never finds one: this answers without a query."""
        if self._waiting is None:
            self._waiting = {key for (key,) in self.conn.execute("SELECT DISTINCT key FROM orphans")}
        return self._waiting

    def take_orphans(self, keys: Iterable[str]) -> list[Mention]:
        """Remove and return, in observed order, the orphans waiting under any of ``keys``."""
        waiting = self._orphan_keys()
        asked = [k for k in set(keys) if k in waiting]
        if not asked:
            return []
        found: dict[str, tuple[str, str]] = {}
        with self.transaction() as conn:
            for chunk in _chunks(asked, 500):
                marks = ",".join("?" * len(chunk))
                for mid, observed, record in conn.execute(
                        f"SELECT mention_id, observed_at, record FROM orphans WHERE key IN ({marks})", chunk):
                    found[mid] = (observed, record)
            for chunk in _chunks(list(found), 500):
                conn.execute(f"DELETE FROM orphans WHERE mention_id IN ({','.join('?' * len(chunk))})", chunk)
        ordered = sorted(found.items(), key=lambda kv: (kv[1][0], kv[0]))
        return [Mention.from_text(record) for _, (_, record) in ordered]

    def _refresh(self, conn: sqlite3.Connection, mention: Mention) -> None:
        # Seeing a mention again updates what can change (metrics, follower count), never its identity.
        row = conn.execute("SELECT record FROM mentions WHERE id = ?", (mention.id,)).fetchone()
        if row is None:
            return
        record = json.loads(row[0])
        if mention.metrics is not None:
            record["metrics"] = dict(mention.metrics)
        if mention.author.followers is not None:
            record.setdefault("author", {})["followers"] = mention.author.followers
        conn.execute("UPDATE mentions SET record = ?, followers = coalesce(?, followers) WHERE id = ?",
                     (json.dumps(record, ensure_ascii=False), mention.author.followers, mention.id))

    def iter_mentions(self, since: datetime | None = None, watchlist: str | None = None) -> Iterator[Mention]:
        """Stored mentions in observed_at order, as records."""
        sql = "SELECT record, watchlists FROM mentions"
        args: list[Any] = []
        if since is not None:
            sql += " WHERE observed_at >= ?"
            args.append(format_time(since))
        sql += " ORDER BY observed_at, rowid"
        for record, wls in self.conn.execute(sql, args):
            if watchlist and watchlist not in wls.split(","):
                continue
            yield Mention.from_text(record)

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete what is older than the retention cutoff; returns rows deleted per table.

        A cascade goes with all its mentions once its last reaction is older than ``before``, so a
        long-running storm is never cut in half. Undelivered alerts are kept whatever their age.
        """
        cutoff = format_time(before)
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
                "cascades": conn.execute(f"DELETE FROM cascades WHERE root_id IN ({old})", (cutoff,)).rowcount,
                "orphans": conn.execute("DELETE FROM orphans WHERE observed_at < ?", (cutoff,)).rowcount,
            }
            self._waiting = None  # read again when next asked: pruned keys go
        return deleted

    def count(self, table: str) -> int:
        return self.db[table].count

    # -- cursors and health -----------------------------------------------------------------
    def get_cursor(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT value FROM cursors WHERE source_key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_cursor(self, key: str, value: dict[str, Any], *, now: datetime) -> None:
        with self.transaction() as conn:
            self._put_cursor(conn, key, value, now)

    @staticmethod
    def _put_cursor(conn: sqlite3.Connection, key: str, value: dict[str, Any], now: datetime) -> None:
        conn.execute("INSERT INTO cursors (source_key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(source_key)"
                     " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                     (key, json.dumps(value, sort_keys=True), format_time(now)))

    def record_health(self, key: str, *, now: datetime, ok: bool, items: int = 0, error: str | None = None,
                      paused_until: datetime | None = None, detail: dict[str, Any] | None = None) -> None:
        """Note the outcome of one poll of a source, for ``monitor status`` and gone-quiet alerts."""
        stamp = format_time(now)
        with self.transaction() as conn:
            conn.execute("INSERT INTO source_health (source_key) VALUES (?) ON CONFLICT DO NOTHING", (key,))
            if ok:
                conn.execute(
                    "UPDATE source_health SET last_success = ?, consecutive_failures = 0,"
                    " items_seen = items_seen + ?, last_items_at = CASE WHEN ? > 0 THEN ? ELSE last_items_at END,"
                    " paused_until = ?, detail = coalesce(?, detail) WHERE source_key = ?",
                    (stamp, items, items, stamp, _opt_time(paused_until),
                     json.dumps(detail) if detail is not None else None, key),
                )
            else:
                conn.execute(
                    "UPDATE source_health SET last_error = ?, last_error_at = ?,"
                    " consecutive_failures = consecutive_failures + 1, paused_until = ?,"
                    " detail = coalesce(?, detail) WHERE source_key = ?",
                    (error, stamp, _opt_time(paused_until),
                     json.dumps(detail) if detail is not None else None, key),
                )

    def health(self) -> list[dict[str, Any]]:
        return list(self.db["source_health"].rows_where(order_by="source_key"))


def _opt_time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    """``items`` in chunks of at most ``size``, each padded (with its last item repeated, harmless in an
    ``IN`` list) to a power of two: SQLite keeps one prepared statement per distinct query text, so a
    list of every length from 1 to 500 would keep up to 500 statements per query (measured: up to
    10 MB of a daemon's memory, filling for minutes); padded, there are ten."""
    for i in range(0, len(items), size):
        chunk = items[i:i + size]
        width = min(size, 1 << (len(chunk) - 1).bit_length())
        yield chunk + chunk[-1:] * (width - len(chunk))
