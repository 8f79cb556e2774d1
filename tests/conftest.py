"""Shared test fixtures: the real sample data in ../shared, and config folders built per test."""

from __future__ import annotations

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
