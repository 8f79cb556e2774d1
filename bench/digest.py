"""What a replay decides and stores, as digests: the check that a change of layout changed no behaviour.

``python -m bench.digest`` simulates a small week of every generative family (fixed seeds), replays
each through ``monitor replay`` in one process (``--workers 0``: the same order every run), and prints
per family a SHA-256 of its alert lines and of the stored mentions, decisions and cascades, with their
counts. ``tests/test_replay_digest.py`` holds these against ``tests/golden/replay_digest.json``, which
was written before the package was rearranged (issue 14) and must not change unless behaviour is meant
to: then say so in the commit and write it again with ``python -m bench.digest --write``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden" / "replay_digest.json"
FAMILIES = ("branching", "seismic", "hawkes", "delayed", "dense", "empirical")
TABLES = {"mentions": "id", "decisions": "id", "cascades": "root_id, watchlist"}


_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _times_as_records(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored row with its time columns spelt as records spell them (``format_time``): the golden
    digests were written when the store wrote times that way; since schema 3 it stamps them with
    microseconds (store/base.py), the same instants in another spelling."""
    from monitor.records.mention import format_time, parse_time

    return tuple(format_time(parse_time(v)) if isinstance(v, str) and _STAMP.match(v) else v for v in row)


def _sha(rows: Any) -> str:
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, default=str).encode()).hexdigest()


def family_digest(family: str, folder: Path, *, seed: int = 9001) -> dict[str, Any]:
    """Simulate two days of three brands of ``family``, replay them, and digest what came out."""
    from devkit.simulate import SimSettings, write_config
    from devkit.zoo import simulation

    sim = simulation(family, SimSettings(days=2, seed=seed, brands=3, mentions=12_000))
    events = folder / "mentions.jsonl"
    with open(events, "w", encoding="utf-8") as f:
        for rec in sim.records():
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    config = write_config(folder, sim.brands, sim.vips)
    db = folder / "replay.db"
    proc = subprocess.run([sys.executable, "-m", "monitor", "replay", str(events), "--config", str(config),
                           "--database", str(db), "--workers", "0"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"monitor replay failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    out: dict[str, Any] = {"alerts": len(lines), "alert_lines": _sha(lines)}
    conn = sqlite3.connect(db)
    try:
        for table, order in TABLES.items():
            rows = [_times_as_records(r) for r in
                    conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()]  # fixed names
            out[table] = len(rows)
            out[f"{table}_sha256"] = _sha(rows)
    finally:
        conn.close()
    return out


def digests(families: tuple[str, ...] = FAMILIES) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for fam in families:
            folder = Path(tmp) / fam
            folder.mkdir()
            out[fam] = family_digest(fam, folder)
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.digest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help=f"write the digests to {GOLDEN}")
    args = ap.parse_args(argv)
    found = digests()
    text = json.dumps(found, indent=1, sort_keys=True) + "\n"
    if args.write:
        GOLDEN.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
