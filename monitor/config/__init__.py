"""Settings and watch-lists, read and checked from YAML at the edge (pydantic lives only here)."""

from __future__ import annotations

from monitor.config.settings import Config, Settings, Watchlist, load_config

__all__ = ["Config", "Settings", "Watchlist", "load_config"]
