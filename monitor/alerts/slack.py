"""Slack notifiers: a bot token (threads and edits) or an incoming webhook (neither).

Both use slack-sdk's synchronous clients in ``asyncio.to_thread`` (aiohttp, which the async
clients need, is not a dependency). Traps handled here, measured with slack-sdk 3.48:

* Retries are ours, not the SDK's: ``retry_handlers=[]``. By default the SDK retries a reset
  connection once by itself, which can post a message twice without our knowing, and a 429 raises.
* Every post sets ``unfurl_links=False`` and ``unfurl_media=False`` and never ``link_names``;
  ``chat.update`` gets ``parse="none"`` because its default is ``client``, unlike chat.postMessage.
* The SDK logs request bodies and the webhook URL (a secret) at DEBUG; its logger here is pinned at
  CRITICAL so ``log_level: DEBUG`` cannot leak them. Our error messages name the environment
  variable, never its value.
* ``chat.update`` needs the channel *id*; chat.postMessage answers with it, and the sender keeps it.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
import socket
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from monitor.alerts.base import Message, Posted, SlackError
from monitor.config.settings import Secret

# The SDK's own log lines repeat what the sender logs about every outcome, and at DEBUG they carry
# request bodies and the webhook URL: keep it quiet whatever the log level.
_sdk_log = logging.getLogger("monitor.alerts.slack_sdk")
_sdk_log.setLevel(logging.CRITICAL)

# Slack error codes worth retrying; any other ``ok: false`` is permanent (retrying cannot fix it).
TRANSIENT = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
             "request_timeout", "rollup_error", "team_added_to_org"}


def describe(code: str, *, channel: str = "", secret_env: str = "") -> str:
    """A permanent Slack error in words: what happened and what to do."""
    env = f"${secret_env}" if secret_env else "the configured secret"
    where = channel or "the channel"
    words = {
        "invalid_auth": f"Slack rejected the bot token (invalid_auth): check that {env} holds this "
                        "workspace's bot token (xoxb-...)",
        "not_authed": f"no token reached Slack (not_authed): set {env}",
        "account_inactive": f"the token in {env} belongs to a deleted bot or workspace (account_inactive): "
                            "create a new one",
        "token_revoked": f"the token in {env} was revoked (token_revoked): reinstall the app and update "
                         f"{env}",
        "token_expired": f"the token in {env} expired (token_expired): rotate it and update {env}",
        "missing_scope": "the bot token lacks a scope (missing_scope): add chat:write under OAuth & "
                         "Permissions and reinstall the app",
        "channel_not_found": f"Slack has no channel {where} that the bot can see (channel_not_found): "
                             "check the watch-list's channel; for a private channel, invite the bot first",
        "not_in_channel": f"the bot is not a member of {where} (not_in_channel): type /invite @<bot name> in "
                          "the channel",
        "is_archived": f"{where} is archived (is_archived): unarchive it or set another channel",
        "channel_is_archived": "the webhook's channel is archived (channel_is_archived): make a new webhook",
        "no_service": f"the incoming webhook was removed (no_service): create a new one and update {env}",
        "invalid_token": f"Slack does not know the webhook in {env} (invalid_token): check that it holds "
                         "the whole URL Slack gave (https://hooks.slack.com/services/...), or create a new one",
        "action_prohibited": "a workspace setting stops this webhook posting (action_prohibited): "
                             "ask a Slack admin",
        "restricted_action": f"a workspace setting stops the bot posting in {where} (restricted_action)",
        "invalid_payload": "Slack could not read the message (invalid_payload): a bug in monitor, "
                           "please report it",
        "message_not_found": "the storm's root message is gone (message_not_found): it was probably deleted",
        "cant_update_message": "the bot may not edit the storm's root message (cant_update_message)",
        "edit_window_closed": "the workspace no longer allows editing the root message (edit_window_closed)",
    }
    if code in words:
        return words[code]
    if code in ("msg_too_long", "msg_blocks_too_long", "invalid_blocks", "invalid_blocks_format", "no_text",
                "invalid_arguments", "too_many_attachments"):
        return (f"Slack rejected the message format ({code}): a bug in monitor, please report it with "
                "the alert id")
    return f"Slack refused the call ({code})"


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for k, v in dict(headers).items():
        if str(k).lower() == "retry-after":
            value = v[0] if isinstance(v, list) else v
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def classify(exc: BaseException, *, channel: str = "", secret_env: str = "") -> SlackError:
    """Turn whatever slack-sdk or the network raised into a SlackError: retryable or not, and why."""
    if isinstance(exc, SlackError):
        return exc
    if isinstance(exc, SlackApiError):
        resp = exc.response
        status = int(getattr(resp, "status_code", 0) or 0)
        data = getattr(resp, "data", None)
        code = str(data.get("error") or "") if isinstance(data, dict) else ""
        return from_status(status, code, getattr(resp, "headers", None), channel=channel,
                           secret_env=secret_env)
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
        return SlackError(f"cannot reach Slack: {type(exc).__name__}", code="connection", retryable=True)
    if isinstance(exc, URLError) and isinstance(exc.reason, (ConnectionRefusedError, socket.gaierror)):
        return SlackError(f"cannot reach Slack: {exc.reason}", code="connection", retryable=True)
    if isinstance(exc, (URLError, OSError, TimeoutError, http.client.HTTPException)):
        # The request may have reached Slack before the connection broke.
        return SlackError(f"connection to Slack broke: {type(exc).__name__}", code="connection",
                          retryable=True, maybe_delivered=True)
    if isinstance(exc, SlackClientError):
        return SlackError(f"slack-sdk refused the call: {type(exc).__name__}", code="client", retryable=False)
    return SlackError(f"unexpected error talking to Slack: {type(exc).__name__}", code="unexpected",
                      retryable=True, maybe_delivered=True)


def from_status(status: int, code: str, headers: Any, *, channel: str = "",
                secret_env: str = "") -> SlackError:
    """Classify an HTTP status and Slack error code (``""`` when the body was not Slack's JSON)."""
    code = code if re.fullmatch(r"[a-z0-9_]{1,64}", code or "") else ""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        wait = _retry_after(headers)
        return SlackError(f"Slack is rate limiting (HTTP {status or 200}{', ' + code if code else ''}), "
                          f"retry after {wait if wait is not None else '?'} s", code=code or "ratelimited",
                          retryable=True, retry_after=wait)
    if status >= 500 or code in TRANSIENT:
        return SlackError(f"Slack had a server error (HTTP {status}{', ' + code if code else ''})",
                          code=code or f"http_{status}", retryable=True, retry_after=_retry_after(headers))
    if not code:
        code = f"http_{status}"
    return SlackError(describe(code, channel=channel, secret_env=secret_env), code=code, retryable=False)


class SlackBot:
    """Slack through a bot token and the Web API: threads, edits, auth.test."""

    name = "slack-bot"
    supports_threads = True
    markup = "mrkdwn"

    def __init__(self, token: Secret, *, api_url: str = "https://slack.com/api/",
                 token_env: str = "SLACK_BOT_TOKEN", timeout: float = 20):
        self.token_env = token_env
        self._client = WebClient(token=token.reveal(), base_url=api_url, timeout=int(timeout),
                                 retry_handlers=[], logger=_sdk_log)

    def __repr__(self) -> str:
        return f"SlackBot(token=<secret from ${self.token_env}>)"

    async def _call(self, method: str, where: str, **kwargs: Any) -> dict[str, Any]:
        fn = getattr(self._client, method)
        try:
            resp = await asyncio.to_thread(fn, **kwargs)
        except BaseException as exc:  # noqa: B036 - classified, never swallowed
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                raise
            raise classify(exc, channel=where, secret_env=self.token_env) from None
        return dict(resp.data) if isinstance(resp.data, dict) else {}

    async def post(self, channel: str, message: Message, thread_ts: str | None = None) -> Posted:
        kwargs: dict[str, Any] = {"channel": channel, "text": message.text, "unfurl_links": False,
                                  "unfurl_media": False}
        if message.blocks:
            kwargs["blocks"] = message.blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        data = await self._call("chat_postMessage", channel, **kwargs)
        return Posted(ts=str(data.get("ts") or "") or None, channel=str(data.get("channel") or channel))

    async def update(self, channel: str, ts: str, message: Message) -> None:
        await self._call("chat_update", channel, channel=channel, ts=ts, text=message.text,
                         blocks=message.blocks or [], parse="none")

    async def upload(self, channel: str, thread_ts: str, filename: str, data: bytes, title: str) -> None:
        """Upload a file into a thread: files.getUploadURLExternal, the upload, then
        files.completeUploadExternal (slack-sdk's files_upload_v2; the old files.upload is retired).
        Needs the files:write scope."""
        await self._call("files_upload_v2", channel, channel=channel, thread_ts=thread_ts, filename=filename,
                         content=data, title=title)

    async def check(self, channel: str) -> str:
        data = await self._call("auth_test", channel)
        who = data.get("user") or data.get("bot_id") or "the bot"
        team = data.get("team") or "the workspace"
        return f"bot token from ${self.token_env} works: signed in as {who} in {team}"


class SlackWebhook:
    """Slack through an incoming webhook: one fixed channel, no threads, no edits, no ts."""

    name = "slack-webhook"
    supports_threads = False
    markup = "mrkdwn"

    def __init__(self, url: Secret, *, url_env: str = "SLACK_WEBHOOK_URL", timeout: float = 20):
        self.url_env = url_env
        self._client = WebhookClient(url=url.reveal(), timeout=int(timeout), retry_handlers=[],
                                     logger=_sdk_log)

    def __repr__(self) -> str:
        return f"SlackWebhook(url=<secret from ${self.url_env}>)"

    async def post(self, channel: str, message: Message, thread_ts: str | None = None) -> Posted:
        try:
            resp = await asyncio.to_thread(self._client.send, text=message.text,
                                           blocks=message.blocks or None, unfurl_links=False,
                                           unfurl_media=False)
        except BaseException as exc:  # noqa: B036 - classified, never swallowed
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                raise
            raise classify(exc, channel=channel, secret_env=self.url_env) from None
        if resp.status_code == 200:
            return Posted(ts=None, channel=channel)
        body = (resp.body or "").strip()
        code = body if body.replace("_", "").isalpha() and len(body) < 64 else ""
        raise from_status(resp.status_code, code, resp.headers, channel=channel, secret_env=self.url_env)

    async def update(self, channel: str, ts: str, message: Message) -> None:
        raise SlackError("an incoming webhook cannot edit messages", code="unsupported", retryable=False)

    async def check(self, channel: str) -> str:
        return f"incoming webhook from ${self.url_env} is set (a webhook can only be checked by posting)"
