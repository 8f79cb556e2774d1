"""Whether the database the settings name can be written: what ``monitor check-config`` asks.

Tried, not inferred from permission bits: root passes every ``os.access`` check, while a read-only
mount, a path under a regular file, or a full quota refuses it all the same.
"""

from __future__ import annotations

import os
import tempfile

from monitor.config.settings import Config


def database_problems(config: Config) -> list[str]:
    """``file:line: database: why`` when the database (or the folder it would be created in) cannot be
    written; nothing is created or changed. A PostgreSQL database is the server's to check: it is
    reached when the daemon starts."""
    if config.database_is_url:
        return []
    path = config.database_path
    where = f"{config.path}:{config.line_of('database')}: database"
    if path.is_dir():
        return [f"{where}: {path} is a folder; name a file in it, such as {path / 'monitor.db'}"]
    if path.exists():
        try:
            with path.open("ab"):  # appends nothing: opening for writing is the test
                pass
        except OSError as exc:
            return [f"{where}: {path} cannot be written ({exc.strerror or exc}); fix its permissions or the path"]
        folder = path.parent
    else:
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            return [f"{where}: {folder} is not a folder, so {path} cannot be created there"]
    try:  # SQLite creates its -wal and -shm files beside the database
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".monitor-check-"):
            pass
    except OSError as exc:
        return [f"{where}: cannot create files in {folder} ({exc.strerror or exc}); SQLite creates its -wal and "
                "-shm files beside the database; make the folder writable"]
    if not os.access(folder, os.W_OK | os.X_OK):  # for a user other than root, say so plainly too
        return [f"{where}: the folder {folder} is not writable by this user"]
    return []
