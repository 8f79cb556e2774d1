"""``monitor migrate --to postgresql://...``: a SQLite database moves to PostgreSQL with every row of
every table, checked by counts, into an empty database only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.cli import main
from monitor.config.settings import load_config
from monitor.records.mention import Author, Mention
from monitor.store.database import MentionRow, Store
from monitor.store.outbox import Thread
from tests.conftest import ACME, write_config

NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)


def _fill(store: Store) -> None:
    for i in range(1, 40):
        m = Mention(id=f"x:{i}", source="x", kind="post" if i == 1 else "reply", parent_id=None if i == 1 else "x:1",
                    url=f"https://blog.example.org/{i}", author=Author(id=str(i), handle=f"u{i}", followers=i * 10),
                    text=f"acme {i} 100% broken 'quoted' ?", links=[], created_at=NOW, observed_at=NOW)
        store.write_mentions([MentionRow(m, "x:1", ("acme",), 0.25 * (i % 4), 0.123456789, i % 2 == 0, None,
                                         m.url)], cursors={"x:acme": {"since_id": str(i)}}, now=NOW)
    store.open_cascades([("x:1", "acme", NOW)])
    store.grow_cascades([("x:1", "acme", 38, NOW)])
    for n in range(3):
        did = store.add_decision(at=f"2026-12-07T10:0{n}:00Z", name="first_alert", kind="cascade", level="new",
                                 watchlist="acme", root_id="x:1", payload=json.dumps({"n": n}))
        store.queue_delivery(did, "#acme", NOW)
    store.save_thread("x:1", "acme", Thread("C1", "1.0001"))
    store.add_silence(until=NOW + timedelta(hours=1), watchlist="acme", root_id=None, reason="tested")
    store.record_health("x:acme", now=NOW, ok=True, items=39, detail={"budget": {"used": 1}})
    store.save_orphans([("parent:x:99", Mention(id="x:100", source="x", kind="reply", parent_id="x:99", url=None,
                                                author=Author(id="1", handle="a"), text="acme", links=[],
                                                created_at=NOW, observed_at=NOW))])
    store.heartbeat("h:1", host="h", pid=1, started=NOW, now=NOW)
    store.acquire_lease("watchlist:acme", "h:1", now=NOW, timeout_s=30)
    store.record_alert_action(root_id="x:1", watchlist="acme", action="take", user_id="U1", user_name="dana",
                              at=NOW, note=None, dedupe_key="1.0:U1:take", owner=("U1", "dana"))
    store.probe_write(NOW)
    store.record_watchlists({"acme": ["x:acme"]}, now=NOW)


def _rows(store: Store, table: str) -> list[tuple[object, ...]]:
    """Every row of ``table``, as sorted (column, value) pairs, without the engines' own rowid."""
    return sorted(tuple(sorted((k, v) for k, v in row.items() if k != "rowid"))
                  for row in store.row_dicts(f"SELECT * FROM {table}"))


def test_migrate_copies_every_row_of_every_table_and_checks_the_counts(tmp_path: Path, pg_url: str, capsys) -> None:
    cfg = write_config(tmp_path, [ACME])
    sqlite = Store(load_config(cfg).database)
    _fill(sqlite)
    tables = [n for (n,) in sqlite.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    sqlite.close()

    assert main(["migrate", "--config", str(cfg), "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok") == len(tables) and "MISMATCH" not in out

    source, target = Store(load_config(cfg).database, read_only=True), Store(pg_url)
    for table in tables:
        assert _rows(target, table) == _rows(source, table), table
        assert target.count(table) == source.count(table) > 0, table
    assert [m.id for m in target.iter_mentions()] == [m.id for m in source.iter_mentions()]  # insertion order kept
    # New ids follow the copied ones.
    did = target.add_decision(at="2026-12-07T11:00:00Z", name="x", kind="cascade", level=None, watchlist="acme",
                              root_id=None, payload="{}")
    assert did == 4


def test_migrate_refuses_a_database_that_is_not_empty(tmp_path: Path, pg_url: str, capsys) -> None:
    cfg = write_config(tmp_path, [ACME])
    _fill(Store(load_config(cfg).database))
    Store(pg_url).set_cursor("x:acme", {"since_id": "1"}, now=NOW)
    assert main(["migrate", "--config", str(cfg), "--to", pg_url]) == 2
    assert "not empty (1 rows in cursors)" in capsys.readouterr().err
