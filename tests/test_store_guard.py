"""The store guards the daemon's honesty: health includes whether writes land, a database that cannot
be written stops the start with one line (exit 2), and one 'monitor run' holds a database at a time
(issue 15, items 8 and 12)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config.settings import load_config
from monitor.daemon import Daemon
from monitor.errors import StoreError
from monitor.store.database import Store
from monitor.store.lock import DatabaseLock
from tests.conftest import write_config

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def run_monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


def fill_the_disk(daemon: Daemon) -> None:
    """SQLite's own 'database or disk is full', for real: the file may not grow past its size now."""
    store = daemon.store
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")


def test_healthz_says_503_with_the_reason_while_writes_fail_and_200_once_they_land_again(tmp_path: Path) -> None:
    daemon = Daemon(load_config(write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}])))
    try:
        assert daemon.health() == (True, "ok")
        fill_the_disk(daemon)
        with pytest.raises(Exception, match="full"):
            daemon.store.set_cursor("x:acme", {"big": "x" * 200_000}, now=NOW)
        ok, why = daemon.health()
        assert not ok and why.startswith("database writes fail") and "full" in why
        daemon.store.conn.execute("PRAGMA max_page_count = 1073741823")
        daemon.store.set_cursor("x:acme", {"big": "x" * 200_000}, now=NOW)
        assert not daemon.health()[0]  # a failure within the last minute still counts
        at, reason = daemon.store.write_failure  # type: ignore[misc]
        daemon.store.write_failure = (at - 3600, reason)  # as if it were an hour ago
        assert daemon.health() == (True, "ok")
    finally:
        daemon.store.close()


def test_the_probe_write_fails_with_a_store_error_saying_what_to_check(tmp_path: Path) -> None:
    daemon = Daemon(load_config(write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}])))
    try:
        daemon.store.probe_write(NOW)
        daemon.store.conn.execute("PRAGMA query_only = 1")
        with pytest.raises(StoreError, match="cannot be written: .*permissions"):
            daemon.store.probe_write(NOW)
        assert not daemon.health()[0]
    finally:
        daemon.store.close()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` made unwritable even for root (the tests run as root in CI): chattr +i, else chmod."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available here: root would write a read-only file")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        yield


def leftover_wal(db: Path) -> None:
    """A write left in ``db``'s -wal file, as by a process killed before it checkpointed."""
    script = ("import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
              "c.execute('PRAGMA journal_mode = WAL'); c.execute('PRAGMA wal_autocheckpoint = 0');"
              "c.execute('CREATE TABLE IF NOT EXISTS leftover (x)'); c.execute('INSERT INTO leftover VALUES (1)');"
              "os._exit(0)")
    subprocess.run([sys.executable, "-c", script, str(db)], check=True)
    assert db.with_name(db.name + "-wal").stat().st_size > 0


def test_status_reads_a_database_that_cannot_be_written_even_with_a_leftover_wal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    cfg = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}], database=str(tmp_path / "monitor.db"))
    Store(tmp_path / "monitor.db").close()
    leftover_wal(tmp_path / "monitor.db")
    with read_only(tmp_path / "monitor.db"):
        code = main(["status", "--config", str(cfg)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.startswith(f"database   {tmp_path / 'monitor.db'} ")


def test_a_database_that_cannot_be_written_at_start_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}], database=str(tmp_path / "monitor.db"))
    first = run_monitor("run", "--once", "--config", str(cfg))
    assert first.returncode == 0, first.stderr
    with read_only(tmp_path / "monitor.db"):
        done = run_monitor("run", "--config", str(cfg))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "cannot be written" in lines[0] and "running" not in done.stderr


def test_a_database_that_cannot_be_written_with_a_leftover_wal_exits_2_with_one_line_not_running(
        tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    cfg = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}], database=str(db))
    assert run_monitor("run", "--once", "--config", str(cfg)).returncode == 0
    leftover_wal(db)
    with read_only(db):
        done = run_monitor("run", "--config", str(cfg))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and f"database {db} cannot be written" in lines[0] and "running" not in done.stderr
    assert db.with_name(db.name + "-wal").exists()  # what it held is still there for the next start


def test_a_second_monitor_run_on_the_same_database_names_the_holder_and_exits_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}])
    held = DatabaseLock.acquire(load_config(cfg).database_path)
    try:
        done = run_monitor("run", "--once", "--config", str(cfg))
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and f"in use by process {os.getpid()}" in lines[0]
    finally:
        held.release()
    assert run_monitor("run", "--once", "--config", str(cfg)).returncode == 0


def test_the_lock_goes_with_its_process_even_after_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path;"
                               "from monitor.store.lock import DatabaseLock;"
                               f"DatabaseLock.acquire(Path({str(db)!r})); print('held', flush=True); time.sleep(60)"],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=f"process {holder.pid}"):
            DatabaseLock.acquire(db)
    finally:
        holder.kill()
        holder.wait()
    DatabaseLock.acquire(db).release()
