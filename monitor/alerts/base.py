"""What every notifier promises: post a message, maybe into a thread, maybe edit it later.

Rendering lives in render.py and knows nothing about transports; the notifiers (slack.py,
console.py) know nothing about alerts. The outbox and the sender sit between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.errors import DeliveryError


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered message: Block Kit blocks plus the plain-text fallback used in notifications."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a message landed. ``ts`` is None when the transport gives no id (incoming webhooks)."""

    ts: str | None
    channel: str


class SlackError(DeliveryError):
    """Slack (or the way to it) refused a call.

    ``code`` is Slack's error string (``invalid_auth``, ``channel_not_found``, ``ratelimited``, ...)
    or ``http_<status>`` / ``connection``. The message never holds a token or a webhook URL.
    """

    def __init__(self, message: str, *, code: str, retryable: bool, retry_after: float | None = None,
                 maybe_delivered: bool = False):
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.code = code
        # True when the request may have reached Slack before failing (a timeout or a reset
        # connection): retrying then risks a duplicate, which the sender marks as such.
        self.maybe_delivered = maybe_delivered


class Notifier(Protocol):
    """A way to get messages in front of people.

    ``post`` and ``update`` raise DeliveryError (usually SlackError), marked retryable or not,
    with ``retry_after`` in seconds when the server asked for a pause. Without threads, ``post``
    ignores ``thread_ts`` and ``update`` raises a permanent DeliveryError: it cannot edit.
    tests/test_notifier_contract.py holds every implementation to this.
    """

    name: str
    supports_threads: bool  # True: post(thread_ts=...) threads and update() edits in place
    # "mrkdwn": the far end parses Slack markup (``<!channel>``, ``<@U1>``, ``&amp;``), so messages
    # arrive as render.py escaped them; "plain": nothing parses what is written (the console).
    markup: str

    async def post(self, channel: str, message: Message, thread_ts: str | None = None) -> Posted:
        ...

    async def update(self, channel: str, ts: str, message: Message) -> None:
        ...

    async def check(self, channel: str) -> str:
        """Check the credentials (and that the channel is reachable, where the transport can
        tell); return a sentence saying what was checked. Raises DeliveryError when not."""
        ...
