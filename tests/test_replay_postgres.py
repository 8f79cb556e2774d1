"""The same replay on PostgreSQL decides and stores exactly what it does on SQLite: its alert lines and
its stored mentions, decisions and cascades hash to the golden digest (tests/golden/replay_digest.json)
that the SQLite replay is held to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.digest import GOLDEN, TABLES, _sha, _times_as_records


@pytest.mark.parametrize("family", ["branching", "dense"])
def test_a_replay_on_postgresql_stores_and_alerts_exactly_what_it_does_on_sqlite(family: str, tmp_path: Path,
                                                                                 pg_url: str) -> None:
    import psycopg

    from devkit.simulate import SimSettings, write_config
    from devkit.zoo import simulation

    sim = simulation(family, SimSettings(days=2, seed=9001, brands=3, mentions=12_000))
    events = tmp_path / "mentions.jsonl"
    with open(events, "w", encoding="utf-8") as f:
        for rec in sim.records():
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    config = write_config(tmp_path, sim.brands, sim.vips)
    proc = subprocess.run([sys.executable, "-m", "monitor", "replay", str(events), "--config", str(config),
                           "--database", pg_url, "--workers", "0"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-500:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    golden = json.loads(GOLDEN.read_text())[family]
    assert (len(lines), _sha(lines)) == (golden["alerts"], golden["alert_lines"])
    with psycopg.connect(pg_url) as conn:
        for table, order in TABLES.items():
            columns = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'rowid'"
                " ORDER BY ordinal_position", (table,))]
            rows = [list(_times_as_records(tuple(r)))
                    for r in conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")]
            assert (len(rows), _sha(rows)) == (golden[table], golden[f"{table}_sha256"]), table
