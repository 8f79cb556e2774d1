"""Slack's Socket Mode on 127.0.0.1: the websocket half (the ``apps.connections.open`` call that hands
out its URL is in slack.py).

The protocol as Slack speaks it: a client connects to the URL ``apps.connections.open`` returned
(``wss://wss-primary.slack.com/link/?ticket=...``; here ``ws://127.0.0.1:PORT/link/?ticket=...``, a
ticket is good for one connection), and is greeted with ``{"type": "hello", "num_connections": 1,
"connection_info": {"app_id": ...}, "debug_info": {...}}``. Each event arrives as an envelope
``{"envelope_id", "type": "interactive" | "events_api" | "slash_commands", "payload",
"accepts_response_payload", "retry_attempt", "retry_reason"}`` and must be acknowledged by sending
back ``{"envelope_id": ...}`` within 3 seconds, else Slack delivers it again with ``retry_attempt``
raised (``retry_reason`` ``"timeout"``). ``{"type": "disconnect", "reason": "refresh_requested" |
"link_disabled" | "warning"}`` asks the client to reconnect through a new URL. The websocket layer
is the ``websockets`` library's: nothing here writes frames.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

APP_ID = "A0STANDIN"


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    deliveries: int = 0
    acks: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)   # each delivery as sent


class SocketModeServer:
    """The websocket server; ``SlackStandIn`` owns one and hands out its tickets."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._tickets: set[str] = set()
        self.connections: list[ServerConnection] = []
        self.connects = 0
        self.envelopes: dict[str, Envelope] = {}
        self.received: list[dict[str, Any]] = []      # every message a client sent (acks)
        self._server: Server = serve(self._serve, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()

    def new_url(self) -> str:
        ticket = secrets.token_hex(8)
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    # -- the connection ---------------------------------------------------------------------------
    def _serve(self, conn: ServerConnection) -> None:
        path = conn.request.path if conn.request is not None else ""
        ticket = path.split("ticket=", 1)[1].split("&", 1)[0] if "ticket=" in path else ""
        with self._lock:
            if ticket not in self._tickets:
                conn.close(1008, "invalid ticket")  # Slack refuses a ticket used twice
                return
            self._tickets.discard(ticket)
            self.connections.append(conn)
            self.connects += 1
            self._lock.notify_all()
        conn.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {
            "host": "applink-stand-in", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID}}))
        try:
            for raw in conn:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                with self._lock:
                    self.received.append(msg)
                    env = self.envelopes.get(str(msg.get("envelope_id") or ""))
                    if env is not None:
                        env.acks += 1
                    self._lock.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if conn in self.connections:
                    self.connections.remove(conn)
                self._lock.notify_all()

    def wait_connected(self, timeout: float = 10) -> ServerConnection:
        """The live connection, once a client has one (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self.connections:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no Socket Mode client connected")
                self._lock.wait(left)
            return self.connections[-1]

    # -- sending ----------------------------------------------------------------------------------
    def deliver(self, payload: dict[str, Any], *, type: str = "interactive", times: int = 1,
                wait_ack: float = 10) -> Envelope:
        """Send one envelope ``times`` times (a retry after the first, as Slack does when it thinks
        the ack was late), each after the previous was acknowledged, and wait for the acks."""
        env = Envelope(str(uuid.uuid4()), type, payload)
        with self._lock:
            self.envelopes[env.envelope_id] = env
        for attempt in range(times):
            msg = {"envelope_id": env.envelope_id, "type": type, "payload": payload,
                   "accepts_response_payload": False, "retry_attempt": attempt,
                   "retry_reason": "timeout" if attempt else ""}
            conn = self.wait_connected(wait_ack)
            env.deliveries += 1
            env.sent.append(msg)
            conn.send(json.dumps(msg))
            deadline = time.monotonic() + wait_ack
            with self._lock:
                while env.acks <= attempt:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"envelope {env.envelope_id} was not acknowledged")
                    self._lock.wait(left)
        return env

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect (Slack does so every few hours), then close the socket."""
        conn = self.wait_connected()
        conn.send(json.dumps({"type": "disconnect", "reason": reason,
                              "debug_info": {"host": "applink-stand-in"}}))
        conn.close()
