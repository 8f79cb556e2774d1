"""The sd_notify protocol over ``$NOTIFY_SOCKET``: READY, RELOADING, STOPPING and WATCHDOG.

A few lines of datagram socket code rather than a dependency. The watchdog is pinged only from
``progress()``, which the daemon calls when a job really completed, so a wedged loop stops pinging
and systemd restarts the service. Outside systemd every call is a no-op.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None = None):
        self.address = address
        self.watchdog_interval = (watchdog_usec / 1e6 / 2) if watchdog_usec else None
        self._last_ping = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if env is None else env
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if pid and pid != str(os.getpid()):
            usec = None
        return cls(env.get("NOTIFY_SOCKET") or None, int(usec) if usec and usec.isdigit() else None)

    def send(self, *fields: str) -> bool:
        """Send one notification; returns False when not under systemd or the socket is gone."""
        if not self.address:
            return False
        addr = self.address
        if addr.startswith("@"):
            addr = "\0" + addr[1:]  # abstract namespace socket
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(addr)
                sock.sendall("\n".join(fields).encode())
        except OSError:
            return False
        return True

    def ready(self) -> bool:
        return self.send("READY=1", "STATUS=running")

    def reloading(self) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading config")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def progress(self) -> bool:
        """Ping the watchdog, at most twice per watchdog interval."""
        if self.watchdog_interval is None:
            return False
        now = time.monotonic()
        if now - self._last_ping < self.watchdog_interval / 2:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")
