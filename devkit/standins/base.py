"""A tiny threaded HTTP server on 127.0.0.1 with a pluggable handler, for stand-in services."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str                      # path without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]        # header names lowercased
    body: bytes


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A streamed body (chunked transfer encoding), e.g. X's filtered stream: each item is sent and
    # flushed as it comes; the connection closes when the iterator ends.
    stream: Iterator[bytes] | None = None


Handler = Callable[[Request], Response]


class LocalServer:
    """Serve ``handler`` on 127.0.0.1 on a free port, in a background thread.

    Use as a context manager, or call ``start()`` and ``stop()``. ``requests`` records every request
    received, in order, so tests can assert on what a client sent.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0):
        self.handler = handler
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.connections = 0
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with outer._lock:
                    outer.connections += 1

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(req)
                try:
                    resp = outer.handler(req)
                except Exception as exc:  # a broken stand-in should look like a broken server
                    resp = Response(500, f"stand-in error: {exc!r}".encode())
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                if resp.stream is not None:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    try:
                        for chunk in resp.stream:
                            if chunk:
                                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                                self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:  # the client hung up
                        pass
                    return
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # Clients that hang up on purpose (a size cap, a test's timeout) are not errors here.
                return

        self._server = _Server((host, port), _H)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StandIn:
    """What every stand-in service shares: a ``LocalServer`` in ``self.server``, its lifecycle and log."""

    server: LocalServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Ask a daemon started by a demo or benchmark to stop with ``sig``; kill it if it takes too long."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def loopback_env(x_token: str, slack_token: str, slack_app_token: str | None = None) -> dict[str, str]:
    """The environment for a daemon started against stand-ins: their dummy tokens, no real ones, no proxy.

    Real ``X_*``/``SLACK_*``/``MONITOR_*`` variables are dropped, so a demo or benchmark can never
    reach a real service with a real token; everything is on loopback, so no proxy is used.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "X_", "MONITOR_")) and not k.lower().endswith("_proxy")}
    env.update(X_BEARER_TOKEN=x_token, SLACK_BOT_TOKEN=slack_token, NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    if slack_app_token:
        env["SLACK_APP_TOKEN"] = slack_app_token
    return env
