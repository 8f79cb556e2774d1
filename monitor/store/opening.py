"""Opening the store a config names: a SQLite file, or a PostgreSQL URL with its password from the
environment or a systemd credential (``PGPASSWORD``), never from the config file."""

from __future__ import annotations

from typing import Any

from monitor.config.settings import Config, resolve_secret
from monitor.store.database import Store

PASSWORD_NAME = "PGPASSWORD"  # $CREDENTIALS_DIRECTORY/PGPASSWORD first, then the environment


def open_store(config: Config, **kwargs: Any) -> Store:
    """The store of ``config`` (``read_only``, ``durable`` as ``Store`` takes them)."""
    if config.database_is_url:
        secret = resolve_secret(PASSWORD_NAME)
        return Store(config.database, password=secret.reveal() if secret else None, **kwargs)
    return Store(config.database, **kwargs)
