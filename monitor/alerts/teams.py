"""Microsoft Teams through a Workflows webhook: the trigger "When a Teams webhook request is received"
with the action "Post card in a chat or channel" (the template "Post to a channel when a webhook
request is received"). The old Office 365 / Microsoft 365 connectors are retired; Workflows take
Adaptive Cards only, wrapped as ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}``.

Limits (docs/alerts.md): no threads and no edits (each storm update is a card of its own that names
the alert it follows), no buttons, about 28 KB a message (optional parts are dropped to fit, the
rest fails permanently rather than being cut anywhere), HTTP 202 means accepted. The webhook URL
carries its own signature (``sig=``): it is a secret, read from the environment, never logged.

The card is made from the same rendered message as Slack's: our own links become Markdown links,
everything else is decoded to the text a person would read. Teams pings only through ``<at>`` tags
*with* a matching ``msteams.entities`` mention, which we never send, so no text can ping anyone.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import urllib.request
from email.message import Message as Headers
from typing import Any
from urllib.error import HTTPError, URLError

from monitor.alerts.base import Message, Posted
from monitor.alerts.escape import unescape
from monitor.config.settings import Secret
from monitor.errors import DeliveryError

MAX_BYTES = 28_000
_OUR_LINK = re.compile(r"<(https?://[^|<>\s]+)\|([^<>]*)>")


class TeamsError(DeliveryError):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 maybe_delivered: bool = False):
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.maybe_delivered = maybe_delivered


def _text(mrkdwn: str) -> str:
    """Rendered mrkdwn as Teams Markdown: our links kept as links, entities decoded."""
    return unescape(_OUR_LINK.sub(lambda m: f"[{m.group(2)}]({unescape(m.group(1))})", mrkdwn))


def card(message: Message) -> dict[str, Any]:
    """The Adaptive Card (1.4) for a rendered message."""
    body: list[dict[str, Any]] = []
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            body.append({"type": "TextBlock", "text": unescape(block["text"]["text"]), "size": "Large",
                         "weight": "Bolder", "wrap": True})
        elif kind == "section" and isinstance(block.get("text"), dict):
            body.append({"type": "TextBlock", "text": _text(block["text"]["text"]), "wrap": True})
        elif kind == "section":
            facts = []
            for f in block.get("fields", []):
                title, _, value = _text(f.get("text", "")).partition("\n")
                facts.append({"title": title.strip("*"), "value": value})
            body.append({"type": "FactSet", "facts": facts})
        elif kind == "context":
            for e in block.get("elements", []):
                body.append({"type": "TextBlock", "text": _text(e.get("text", "")), "isSubtle": True,
                             "size": "Small", "wrap": True})
    if not body:
        body.append({"type": "TextBlock", "text": unescape(message.text), "wrap": True})
    return {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4", "body": body, "msteams": {"width": "Full"}}


def envelope(message: Message) -> bytes:
    """The request body, within MAX_BYTES: sections after the first two are dropped until it fits."""
    c = card(message)
    while True:
        raw = json.dumps({"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": c}]},
            ensure_ascii=False).encode()
        if len(raw) <= MAX_BYTES:
            return raw
        if len(c["body"]) <= 3:
            raise TeamsError(f"the card is {len(raw):,} bytes, over Teams' {MAX_BYTES:,}: a bug in monitor, "
                             "please report it", retryable=False)
        c["body"].pop(-2)  # keep the header, the first section and the footer


class TeamsWorkflow:
    """A Teams channel through a Workflows webhook: posts only."""

    name = "teams-workflow"
    supports_threads = False
    markup = "plain"  # Teams parses no Slack markup; pings need entities we never send

    def __init__(self, url: Secret, *, url_env: str = "TEAMS_WEBHOOK_URL", timeout: float = 20):
        self.url_env = url_env
        self._url = url
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TeamsWorkflow(url=<secret from ${self.url_env}>)"

    async def post(self, channel: str, message: Message, thread_ts: str | None = None) -> Posted:
        body = envelope(message)
        # The standard library's client in a thread, like slack-sdk's: httpx would log the URL (and
        # so its signature) at INFO.
        status, headers = await asyncio.to_thread(self._send, body)
        if status in (200, 202):
            return Posted(ts=None, channel=channel)
        raise self._refused(status, headers)

    def _send(self, body: bytes) -> tuple[int, Headers | None]:
        req = urllib.request.Request(self._url.reveal(), data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:  # noqa: S310 - http(s) from config
                return int(resp.status), resp.headers
        except HTTPError as exc:
            return int(exc.code), exc.headers
        except URLError as exc:
            if isinstance(exc.reason, (ConnectionRefusedError, socket.gaierror)):
                raise TeamsError("cannot reach Teams (connection refused or no such host)", retryable=True) from None
            raise TeamsError(f"connection to Teams broke: {type(exc.reason).__name__}", retryable=True,
                             maybe_delivered=True) from None
        except (OSError, http.client.HTTPException) as exc:
            raise TeamsError(f"connection to Teams broke: {type(exc).__name__}", retryable=True,
                             maybe_delivered=True) from None

    def _refused(self, status: int, headers: Headers | None) -> TeamsError:
        if status == 429:
            try:
                wait: float | None = max(0.0, float(headers.get("retry-after", "") if headers is not None else ""))
            except ValueError:
                wait = None
            return TeamsError(f"Teams is rate limiting (HTTP 429), retry after {wait if wait is not None else '?'} s",
                              retryable=True, retry_after=wait)
        if status >= 500:
            return TeamsError(f"Teams had a server error (HTTP {status})", retryable=True)
        words = {
            400: "Teams refused the card (HTTP 400): a bug in monitor, please report it",
            401: f"Teams refused the webhook's signature (HTTP 401): copy the workflow's URL into "
                 f"${self.url_env} again",
            403: f"Teams refused the webhook (HTTP 403): the workflow is off or its owner left; fix it and update "
                 f"${self.url_env}",
            404: f"Teams has no such workflow (HTTP 404): it was deleted; create one and update ${self.url_env}",
            413: "the card is too large for Teams (HTTP 413): a bug in monitor, please report it",
        }
        return TeamsError(words.get(status, f"Teams refused the message (HTTP {status})"), retryable=False)

    async def update(self, channel: str, ts: str, message: Message) -> None:
        raise TeamsError("a Teams workflow webhook cannot edit messages", retryable=False)

    async def check(self, channel: str) -> str:
        return f"Teams workflow webhook from ${self.url_env} is set (it can only be checked by posting)"
