"""The mentions family: ``mentions``, the ``urls`` they were published at, and ``orphans`` (reactions
waiting for their parent or linked post to be tracked)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.records.mention import Mention, parse_time, x_post_id
from monitor.store.base import Tables, chunks, stamp
from monitor.store.sources import put_cursor


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


@dataclass(frozen=True, slots=True)
class CommentFeed:
    """A stored rss post that advertises a comment feed. ``feed`` and ``count`` are as the record holds
    them (not checked: a feed may not be a URL, a count may not be a number)."""

    mention_id: str
    url: str | None
    feed: Any
    count: Any


@dataclass(frozen=True, slots=True)
class MentionStats:
    """Mentions of one watch-list observed in a period: how many, how many complaints (score >= 0.5),
    and their mean sentiment (None when there is none)."""

    mentions: int
    complaints: int
    sentiment: float | None


@dataclass(frozen=True, slots=True)
class SpreadTarget:
    """An X post in an open complaint cascade, whose spread is measured by post lookup."""

    mention_id: str                 # "x:<post id>"
    root_id: str
    kind: str
    metrics: dict[str, int] | None  # the last reported
    conversation_id: str | None
    last_reaction_at: str | None    # the cascade's, as stored


class MentionTables(Tables):
    _waiting: set[str] | None  # see _orphan_keys

    def tracked(self, ids: Iterable[str]) -> dict[str, Tracked]:
        """Root and watch-lists of those ids that are stored."""
        out: dict[str, Tracked] = {}
        for chunk in chunks(list(set(ids)), 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, root_id, watchlists FROM mentions WHERE id IN ({marks})"
            out.update((mid, Tracked(root, _watchlists(wls))) for mid, root, wls in self.conn.execute(sql, chunk))
        return out

    def mentions_by_url(self, urls: Iterable[str]) -> dict[str, str]:
        """Canonical URL -> id of the tracked mention published at that URL. An X post's URL names its id,
        which is answered without a lookup (and may not be tracked: ask ``tracked``)."""
        wanted = set(urls)
        out = {url: post for url in wanted if (post := x_post_id(url))}
        for chunk in chunks([url for url in wanted if url not in out], 500):
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
                            r.mention.author.followers, stamp(r.mention.created_at),
                            stamp(r.mention.observed_at), r.sentiment, r.complaint,
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
                put_cursor(conn, key, value, now)

    def save_orphans(self, orphans: Iterable[tuple[str, Mention]]) -> None:
        """Keep reactions to something not tracked (yet), under each key that could adopt them."""
        rows = [(key, m.id, stamp(m.observed_at), m.json_text()) for key, m in orphans]
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
            for chunk in chunks(asked, 500):
                marks = ",".join("?" * len(chunk))
                for mid, observed, record in conn.execute(
                        f"SELECT mention_id, observed_at, record FROM orphans WHERE key IN ({marks})", chunk):
                    found[mid] = (observed, record)
            for chunk in chunks(list(found), 500):
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
            args.append(stamp(since))
        sql += " ORDER BY observed_at, rowid"
        for record, wls in self.conn.execute(sql, args):
            if watchlist and watchlist not in wls.split(","):
                continue
            yield Mention.from_text(record)

    def cascade_mentions(self, root_id: str) -> list[tuple[Mention, float | None, bool]]:
        """Every stored mention of the cascade rooted at ``root_id``, in observed order, as (record, its
        sentiment, whether it is the root)."""
        rows = self.conn.execute(
            "SELECT record, sentiment, id = root_id FROM mentions WHERE root_id = ? ORDER BY observed_at, rowid",
            (root_id,)).fetchall()
        return [(Mention.from_text(record), sentiment, bool(is_root)) for record, sentiment, is_root in rows]

    def first_created_since(self, since: datetime) -> datetime | None:
        """The earliest ``created_at`` of a stored mention created at or after ``since``; None if none was."""
        first = self.conn.execute("SELECT min(created_at) FROM mentions WHERE created_at >= ?",
                                  (stamp(since),)).fetchone()[0]
        return parse_time(first) if first is not None else None

    def complaint_roots(self, since: datetime, threshold: float) -> Iterator[tuple[str, str, datetime, str | None]]:
        """(mention id, watch-list, created_at, category) of each root post created at or after ``since``
        whose complaint score is at least ``threshold``, once per watch-list that tracks it; read lazily."""
        rows = self.conn.execute(
            "SELECT id, watchlists, created_at, category FROM mentions"
            " WHERE id = root_id AND kind = 'post' AND created_at >= ? AND complaint >= ?",
            (stamp(since), threshold))
        return ((mention_id, wl, parse_time(created_at), category)
                for mention_id, watchlists, created_at, category in rows for wl in watchlists.split(","))

    def spread_targets(self, source: str, since: datetime, limit: int, *,
                       watchlists: Sequence[str] | None = None) -> list[SpreadTarget]:
        """The posts of ``source`` (but reposts) in the cascades active since ``since`` whose root the
        complaint model called a complaint (it gave a category): roots first, then by the cascade's last
        reaction, newest first; at most ``limit``. ``watchlists``: only those watch-lists' cascades."""
        only = "" if watchlists is None else f" AND c.watchlist IN ({', '.join('?' * len(watchlists)) or 'NULL'})"
        rows = self.conn.execute(
            "SELECT DISTINCT m.id, m.root_id, m.kind, m.record, max(coalesce(c.last_reaction_at, c.opened_at))"
            " FROM cascades c JOIN mentions r ON r.id = c.root_id JOIN mentions m ON m.root_id = r.id"
            " WHERE coalesce(c.last_reaction_at, c.opened_at) >= ? AND r.category IS NOT NULL"
            " AND m.source = ? AND m.kind <> 'repost'" + only +
            " GROUP BY m.id, m.root_id, m.kind, m.record"
            " ORDER BY CASE WHEN m.id = m.root_id THEN 0 ELSE 1 END, 5 DESC, m.id LIMIT ?",
            (stamp(since), source, *(watchlists or ()), limit)).fetchall()
        out = []
        for mid, root_id, kind, record, last in rows:
            data = json.loads(record)
            metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else None
            conv = data.get("conversation_id")  # a mention's extra fields are top-level keys of its record
            out.append(SpreadTarget(mid, root_id, kind, metrics, str(conv) if conv else None, last))
        return out

    def comment_feeds(self, since: datetime, limit: int) -> list[CommentFeed]:
        """Stored rss posts created at or after ``since`` whose record names a comment feed, newest first,
        at most ``limit``, with the post's comment count when the record gives one."""
        rows = self.conn.execute(
            "SELECT id, url, json_extract(record, '$.comments_feed'),"
            " coalesce(json_extract(record, '$.metrics.comments'), json_extract(record, '$.comment_count'))"
            " FROM mentions WHERE source = 'rss' AND kind = 'post' AND created_at >= ?"
            " AND json_extract(record, '$.comments_feed') IS NOT NULL ORDER BY created_at DESC LIMIT ?",
            (stamp(since), limit),
        ).fetchall()
        return [CommentFeed(mid, url, feed, count) for mid, url, feed, count in rows]

    def mention_stats(self, watchlist: str, start: datetime, end: datetime) -> MentionStats:
        """Counts and mean sentiment of the mentions of ``watchlist`` observed in [start, end). A complaint is
        what the complaint model called one when it scored the mention: only those get a category (the
        model's own threshold, whatever it was)."""
        r = self.conn.execute(
            "SELECT count(*), sum(CASE WHEN category IS NOT NULL THEN 1 ELSE 0 END), avg(sentiment) FROM mentions"
            " WHERE observed_at >= ? AND observed_at < ? AND instr(',' || watchlists || ',', ?) > 0",
            (stamp(start), stamp(end), f",{watchlist},")).fetchone()
        return MentionStats(int(r[0] or 0), int(r[1] or 0), float(r[2]) if r[2] is not None else None)

