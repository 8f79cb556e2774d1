"""PostgreSQL next to SQLite, on a private server (devkit/standins/postgres.py), and the failover of
two ``monitor run`` instances:

- replay throughput: the same simulated file through ``monitor replay --workers 0`` into a SQLite
  file and into a PostgreSQL database;
- a poll cycle over many feeds on local servers (bench/polling.py), storing into each engine;
- failover: two instances on one database with ``cluster.lease_timeout`` 3 s against the X and Slack
  stand-ins; seconds from kill -9 of the watch-list's lease holder to the first poll by the other.

Optional: without initdb/pg_ctl (Debian's postgresql package) the section reports why and the rest
of ``make bench`` runs on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def postgres_figures(out: Path, mentions: int, feeds: int) -> dict[str, Any]:
    from devkit.standins.postgres import PostgresServer, Unavailable

    server = PostgresServer()
    try:
        server.start()
    except Unavailable as exc:
        server.stop()
        log(f"postgres: skipped ({exc})")
        return {"skipped": str(exc)}
    try:
        from bench.polling import poll_cycles
        from bench.throughput import run_replay, simulated_file

        corpus = simulated_file(out, mentions)
        log(f"postgres: replay of {corpus.mentions} mentions into SQLite, then PostgreSQL ...")
        sqlite = run_replay(corpus, out, workers=0)
        pg = run_replay(corpus, out, workers=0, database=server.create_database("bench_replay"))
        polls = {"sqlite": poll_cycles(feeds, max(1, feeds // 20)),
                 "postgresql": poll_cycles(feeds, max(1, feeds // 20), database=server.create_database("bench_poll"))}
        failover = failover_seconds(server.create_database("bench_failover"))
        return {"replay": {"sqlite": sqlite, "postgresql": pg}, "poll": polls, "failover": failover,
                "lease_timeout_s": LEASE_TIMEOUT}
    finally:
        server.stop()


LEASE_TIMEOUT = 3.0


def failover_seconds(url: str, rounds: int = 3) -> dict[str, Any]:
    """Two instances, kill -9 of the holder, first poll by the survivor: ``rounds`` times."""
    import psycopg

    from devkit.standins.slack import SlackStandIn
    from devkit.standins.xapi import XApi
    from monitor.records.mention import parse_time

    token, slack_token = "x-bench-token-0123456789", "xoxb-bench-0123456789"
    taken: list[float] = []
    with XApi(token=token) as x, SlackStandIn(token=slack_token) as slack, \
            tempfile.TemporaryDirectory(prefix="monitor-bench-failover-") as tmp:
        folder = Path(tmp)
        (folder / "watchlists").mkdir()
        (folder / "watchlists" / "acme.yaml").write_text(yaml.safe_dump(
            {"name": "acme", "terms": ["acme"], "channel": "#acme"}))
        (folder / "monitor.yaml").write_text(yaml.safe_dump({
            "database": url, "watchlists": "watchlists/", "cluster": {"lease_timeout": f"{LEASE_TIMEOUT:g}s"},
            "x": {"api_url": x.url, "bearer_token_env": "B_X", "poll_every": "1s", "fast_poll_every": "1s",
                  "monthly_read_budget": 10_000_000},
            "blogs": {"enabled": False}, "detection": {"every": "1s"},
            "slack": {"api_url": slack.api_url, "token_env": "B_SLACK", "webhook_url_env": None}}))
        env = {**os.environ, "B_X": token, "B_SLACK": slack_token, "MONITOR_LOG_LEVEL": "WARNING"}
        env = {k: v for k, v in env.items() if not k.startswith(("NOTIFY_", "WATCHDOG_", "CREDENTIALS_"))}
        procs: dict[int, subprocess.Popen[bytes]] = {}

        def start() -> None:
            p = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(folder / "monitor.yaml")],
                                 env=env, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            procs[p.pid] = p

        def query(sql: str) -> list[tuple[Any, ...]]:
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    return conn.execute(sql).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

        def wait(what: str, probe: Any, timeout: float = 60) -> Any:
            deadline = time.monotonic() + timeout
            while not (value := probe()):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"failover bench: timed out waiting for {what}")
                time.sleep(0.02)
            return value

        try:
            start()
            start()
            for r in range(rounds):
                wait("two live instances and a holder", lambda: len(query(
                    "SELECT instance FROM instances")) >= 2 and query(
                    "SELECT holder FROM leases WHERE name = 'watchlist:acme'"))
                [(holder,)] = query("SELECT holder FROM leases WHERE name = 'watchlist:acme'")
                victim = procs.pop(int(holder.rsplit(":", 1)[1]))
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                t0 = time.time()

                def polled_after(t0: float = t0) -> float | None:
                    rows = query("SELECT last_success FROM source_health WHERE source_key = 'x:acme'")
                    at = parse_time(rows[0][0]).timestamp() if rows and rows[0][0] else None
                    return at - t0 if at is not None and at > t0 else None

                taken.append(wait("a poll by another instance", polled_after, timeout=LEASE_TIMEOUT * 10))
                log(f"  failover {r + 1}: first poll by another instance {taken[-1]:.2f}s after kill -9 "
                    f"(lease timeout {LEASE_TIMEOUT:g}s)")
                start()
        finally:
            for p in procs.values():
                p.terminate()
            for p in procs.values():
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    return {"seconds": taken, "max_s": max(taken), "median_s": sorted(taken)[len(taken) // 2]}
