"""A private PostgreSQL server for tests and benchmarks: ``initdb`` in a temporary folder, ``pg_ctl``
on a free port of 127.0.0.1, its unix socket in that folder, stopped (and the folder removed) at the
end. No test needs a server that was already running.

PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user (``runuser``),
in a folder that user owns. Binaries come from ``$PATH`` or Debian's ``/usr/lib/postgresql/*/bin``
(the ``postgresql`` package; ``.ci/run`` installs it where it is missing).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "monitor"  # the database superuser initdb creates (trust auth: a private server on 127.0.0.1)


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    raise Unavailable(f"{name} not found (install Debian's postgresql package)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.folder: Path | None = None
        self.port = 0
        self._as: list[str] = []
        self._options = ""

    @property
    def base_url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}"

    def url(self, database: str = "postgres") -> str:
        return f"{self.base_url}/{database}"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120, cwd="/")
        if done.returncode != 0:
            raise Unavailable(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-400:]}")

    def start(self) -> PostgresServer:
        initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
        self.folder = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no 'postgres' user to run the server") from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        self._run(initdb, "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
        self.port = free_port()
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._options = options
        self._run(pg_ctl, "-D", str(data), "-l", str(self.folder / "log"), "-w", "-t", "60", "-o", options, "start")
        return self

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again on the same port and data."""
        assert self.folder is not None
        data = self.folder / "data"
        self._run(binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        self._run(binary("pg_ctl"), "-D", str(data), "-l", str(self.folder / "log"), "-w", "-t", "60",
                  "-o", self._options, "start")

    def stop(self) -> None:
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run([*self._as, binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, cwd="/")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
