"""One ``monitor run`` per database: an exclusive ``flock`` on a lock file beside it, held for the
process's life.

Two daemons on one SQLite file would each poll, each detect and each deliver: every alert twice, and
their cursors racing. The kernel drops a ``flock`` when its holder exits, however it exits (kill -9
included), so a stale lock file never blocks a restart; the pid written into the file is only there
to say who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from monitor.errors import StoreError


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class DatabaseLock:
    """Held from ``acquire`` until ``release`` (or the process ends)."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path) -> DatabaseLock:
        """Take the lock of ``database``. Raises StoreError naming the holder's pid when it is taken."""
        path = lock_path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # the store would say the same: say it before the lock file is tried
            raise StoreError(f"cannot create the database folder {path.parent}: {exc.strerror or exc}; fix "
                             "'database' in the settings or the folder's permissions") from None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {path}: {exc.strerror or exc}; "
                             "check the database folder's permissions") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise StoreError(f"database {database} is in use by {who} (another 'monitor run'; lock {path}); "
                             "stop it first, or point 'database' to another file") from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
