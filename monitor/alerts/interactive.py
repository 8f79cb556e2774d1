"""The buttons' way back: Slack's Socket Mode, through slack-sdk's own client.

Socket Mode needs no public URL: monitor dials out (``apps.connections.open`` with the app-level
token, ``xapp-...``, then a websocket), so it works behind a firewall. slack-sdk's built-in client
(``slack_sdk.socket_mode.builtin``: no extra dependency; it runs in its own threads, reconnects on
``disconnect`` messages and dropped links, and keeps the link alive with pings) speaks the
protocol; this module only acknowledges each envelope at once (Slack wants the ack within 3
seconds, or it delivers the envelope again with ``retry_attempt`` raised) and hands
``block_actions`` payloads to the daemon's event loop, where ``ButtonHandler`` records and applies
each press once (actions.py keys it by the press, so a redelivered envelope changes nothing) and
edits the storm's root message.

A press acknowledged and then lost in a crash before it was applied is not redone: the root message
shows no change, and the person presses again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitor.alerts import actions
from monitor.alerts.base import SlackError
from monitor.alerts.sender import Sender
from monitor.alerts.slack import classify
from monitor.clock import Clock
from monitor.config.settings import Secret
from monitor.errors import DeliveryError
from monitor.store.database import Store

log = logging.getLogger("monitor.alerts")
# slack-sdk's Socket Mode client logs every message (and at DEBUG the URL with its ticket): keep it quiet.
_sdk_log = logging.getLogger("monitor.alerts.socket_mode_sdk")
_sdk_log.setLevel(logging.CRITICAL)

Handler = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


class ButtonHandler:
    """Apply the presses in a ``block_actions`` payload and edit each storm's root message."""

    def __init__(self, store: Store, sender: Sender, clock: Clock):
        self.store, self.sender, self.clock = store, sender, clock
        self.applied = 0
        self.repeats = 0

    async def __call__(self, payload: dict[str, Any]) -> None:
        for press in actions.presses(payload):
            latest = self.store.last_sent_alert(press.root_id, press.watchlist)
            size = latest.payload.get("reactions") if latest else None
            done = actions.apply(self.store, press, self.clock.now(),
                                 size=int(size) if isinstance(size, int | float) else None)
            if not done:
                self.repeats += 1
                log.info("button %s on %s (%s) by %s arrived again: already applied", press.action, press.root_id,
                         press.watchlist, press.user_id)
                continue
            self.applied += 1
            log.info("button %s on %s (%s) pressed by %s", press.action, press.root_id, press.watchlist,
                     press.user_id)
            try:
                await self.sender.refresh_root(press.root_id, press.watchlist)
            except DeliveryError as exc:
                log.warning("%s on %s recorded, but the root message was not edited: %s", press.action,
                            press.root_id, exc)


class SocketMode:
    """Listen for button presses through Socket Mode while the daemon runs."""

    def __init__(self, app_token: Secret, handler: Handler, *, api_url: str = "https://slack.com/api/",
                 token_env: str = "SLACK_APP_TOKEN"):
        self.token_env = token_env
        self._token = app_token
        self._api_url = api_url
        self._handler = handler
        self._client: SocketModeClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"SocketMode(app_token=<secret from ${self.token_env}>)"

    async def start(self) -> None:
        """Connect (in a worker thread: the client's connect blocks). Raises DeliveryError."""
        self._loop = asyncio.get_running_loop()
        web = WebClient(base_url=self._api_url, timeout=20, retry_handlers=[], logger=_sdk_log)
        client = SocketModeClient(app_token=self._token.reveal(), web_client=web, logger=_sdk_log,
                                  auto_reconnect_enabled=True)
        client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]
        try:
            await asyncio.to_thread(client.connect)
        except Exception as exc:
            client.close()
            err = classify(exc, secret_env=self.token_env)
            words = {
                "invalid_auth": f"Slack rejected the app-level token in ${self.token_env} (invalid_auth): copy it "
                                "again from the app's Basic Information > App-Level Tokens (xapp-..., "
                                "connections:write)",
                "not_allowed_token_type": f"${self.token_env} does not hold an app-level token "
                                          "(not_allowed_token_type): it needs the xapp-... token, not the "
                                          "bot's xoxb-...",
                "missing_scope": f"the app-level token in ${self.token_env} lacks connections:write (missing_scope)",
            }
            if err.code in words:
                raise SlackError(words[err.code], code=err.code, retryable=False) from None
            raise err from None
        self._client = client
        log.info("Socket Mode connected: alert buttons are live")

    def _on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        # In the client's thread: acknowledge first (the 3-second rule), then hand over.
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        if req.type != "interactive" or not isinstance(req.payload, dict) or self._loop is None:
            return
        if req.retry_attempt:
            log.info("Socket Mode: envelope delivered again (attempt %s, %s)", req.retry_attempt, req.retry_reason)
        future: Any = asyncio.run_coroutine_threadsafe(self._handler(req.payload), self._loop)
        future.add_done_callback(_log_failure)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)


def _log_failure(future: Any) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("a button press could not be applied: %s: %s", type(exc).__name__, exc)
