"""Shared test fixtures: the real sample data in ../shared, and config folders built per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config.settings import BlogSettings, Config, load_config

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not beside the repo")
    return FIXTURES


def write_config(folder: Path, watchlists: list[dict[str, Any]], **settings: Any) -> Path:
    """Write monitor.yaml and one file per watch-list into ``folder``; return the settings path."""
    settings.setdefault("database", str(folder / "monitor.db"))
    # The stand-in servers listen on 127.0.0.1, which the fetcher refuses by default.
    settings.setdefault("blogs", {}).setdefault("allow_private_addresses", True)
    settings.setdefault("watchlists", "watchlists/")
    wl_dir = folder / settings["watchlists"]
    wl_dir.mkdir(parents=True, exist_ok=True)
    for wl in watchlists:
        (wl_dir / f"{wl['name']}.yaml").write_text(yaml.safe_dump(wl, sort_keys=False))
    path = folder / "monitor.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def local_settings(**settings: Any) -> BlogSettings:
    """Blog settings for the stand-ins on 127.0.0.1, which the fetcher refuses by default."""
    return BlogSettings(allow_private_addresses=True, **settings)


ACME = {"name": "acme", "terms": ["acme", "@acme"], "alert": {"spread_threshold": 20}}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(write_config(tmp_path, [ACME]))


# -- PostgreSQL: one private server for the session, a fresh database per test ------------------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A private PostgreSQL server (devkit/standins/postgres.py). Without one, the tests that need it
    skip and say why; in CI (CI=true) they fail instead, so a missing package never passes unseen."""
    from devkit.standins.postgres import PostgresServer, Unavailable

    server = PostgresServer()
    try:
        server.start()
    except Unavailable as exc:
        server.stop()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL tests need a server and CI must run them: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.stop()


_databases = itertools.count(1)


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A new, empty database on the private server."""
    return str(pg_server.create_database(f"test_{os.getpid()}_{next(_databases)}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    """The store's contract tests run over both engines."""
    return str(request.param)


@pytest.fixture
def db_target(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """Where a test's store lives: a SQLite file, or a fresh PostgreSQL database."""
    if engine == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return tmp_path / "m.db"


class SourceRig:
    """One source built from ``config`` (the first whose key starts with ``prefix``), with the store and
    pipeline a daemon would give it, polled on a simulated clock two minutes apart."""

    def __init__(self, config: Config, prefix: str):
        import asyncio

        from monitor.clock import SimulatedClock
        from monitor.engine.pipeline import Pipeline
        from monitor.engine.runner import poll_source
        from monitor.sources import build_sources
        from monitor.sources.http import HttpFetcher
        from monitor.store.database import Store

        self._run, self._poll = asyncio.run, poll_source
        self.clock = SimulatedClock(datetime.now(UTC))
        self.store = Store(config.database_path)
        self.pipeline = Pipeline(config, self.store, self.clock, deliver=False)
        [self.source] = [s for s in build_sources(config, self.store, self.clock, HttpFetcher(config.settings.blogs),
                                                  matcher=self.pipeline.matcher) if s.key.startswith(prefix)]

    def poll(self) -> Any:
        self.clock.advance(120)
        return self._run(self._poll(self.source, self.pipeline, self.store, self.clock))

    def roots(self) -> dict[str, str]:
        """Each stored mention's id and the root of its cascade."""
        return dict(self.store.conn.execute("SELECT id, root_id FROM mentions").fetchall())
