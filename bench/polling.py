"""One poll cycle over many feeds on local servers: the first (every feed answers 200) and the next
(every feed answers 304), through the real sources, fetcher and pipeline, as ``monitor run`` polls."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from monitor.clock import SystemClock
from monitor.config.settings import load_config
from monitor.config.watchlist import MAX_FEEDS
from monitor.engine.pipeline import Pipeline
from monitor.engine.runner import poll_source
from monitor.sources import build_sources
from monitor.sources.http import HttpFetcher
from monitor.store.database import Store


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class FeedServer:
    def __init__(self, feeds: int, hosts: int):
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.feedserver", "--feeds", str(feeds),
                                      "--hosts", str(hosts)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        self.feeds: list[str] = json.loads(self.proc.stdout.readline())["feeds"]

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    status = {k: v - a["status"].get(k, 0) for k, v in b["status"].items() if v - a["status"].get(k, 0)}
    return {"connections": b["connections"] - a["connections"], "requests": b["requests"] - a["requests"],
            "status": status}


async def _cycle(sources: list[Any], pipeline: Pipeline, store: Store, clock: SystemClock) -> tuple[float, int]:
    started = time.perf_counter()
    results = await asyncio.gather(*(poll_source(s, pipeline, store, clock) for s in sources))
    return time.perf_counter() - started, sum(len(r.mentions) for r in results)


def poll_cycles(feeds: int = 1000, hosts: int = 50, database: str | None = None) -> dict[str, Any]:
    """``database``: a postgresql:// URL to store into (default: a SQLite file in a temporary folder)."""
    log(f"poll cycle: starting {feeds} feeds on {hosts} local hosts ...")
    server = FeedServer(feeds, hosts)
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-bench-poll-") as tmp:
            folder = Path(tmp)
            (folder / "watchlists").mkdir()
            # A watch-list names at most MAX_FEEDS feeds: the feeds go to as many watch-lists as that takes.
            for i in range(0, len(server.feeds), MAX_FEEDS):
                name = "acme" if i == 0 else f"acme{i // MAX_FEEDS + 1}"
                (folder / "watchlists" / f"{name}.yaml").write_text(yaml.safe_dump(
                    {"name": name, "terms": ["acme"], "feeds": server.feeds[i:i + MAX_FEEDS]}))
            (folder / "monitor.yaml").write_text(yaml.safe_dump({"database": database or "bench.db",
                                                                 "watchlists": "watchlists/",
                                                                 "blogs": {"allow_private_addresses": True}}))
            config = load_config(folder / "monitor.yaml")
            store = Store(config.database)
            clock = SystemClock()
            pipeline = Pipeline(config, store, clock, deliver=False)
            settings = config.settings.blogs

            async def both() -> list[dict[str, Any]]:
                http = HttpFetcher(settings, clock=clock)
                sources = [s for s in build_sources(config, store, clock, http) if s.key.startswith("rss:")]
                out = []
                for name in ("first", "all 304"):
                    before = server.stats()
                    wall, found = await _cycle(sources, pipeline, store, clock)
                    d = _delta(before, server.stats())
                    out.append({"cycle": name, "wall": wall, "mentions": found, **d, "batches": len(sources)})
                    log(f"  {name}: {wall:.2f}s, {d['requests']} requests over {d['connections']} connections, "
                        f"status {d['status']}, {found} mentions")
                await http.aclose()
                return out

            cycles = asyncio.run(both())
            store.close()
    finally:
        server.close()
    return {"feeds": feeds, "hosts": hosts, "max_connections": settings.max_connections,
            "max_per_host": settings.max_per_host, "cycles": cycles}
