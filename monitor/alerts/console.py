"""The notifier used when no Slack is configured: alerts print to the console (stdout by default).

Each message prints as readable text: the header, the sections with Slack entities decoded, and
the context line. Control characters were already dropped by escaping, so a tweet cannot send
terminal escape sequences. No threads and no edits (``update`` refuses, as a permanent error): the
sender prints each update as a message of its own. A stream that fails raises DeliveryError.
"""

from __future__ import annotations

import itertools
import logging
import sys
from typing import Any, TextIO

from monitor.alerts.base import Message, Posted
from monitor.alerts.escape import unescape
from monitor.errors import DeliveryError

log = logging.getLogger("monitor.alerts")


def as_text(message: Message) -> str:
    """A message's blocks as plain lines (its fallback text when it has no blocks)."""
    lines: list[str] = []
    for block in message.blocks:
        texts: list[dict[str, Any]] = []
        if isinstance(block.get("text"), dict):
            texts.append(block["text"])
        texts.extend(block.get("fields", []))
        texts.extend(block.get("elements", []))
        for t in texts:
            s = unescape(str(t.get("text", "")))
            lines.append(f"== {s} ==" if block.get("type") == "header" else s)
    return "\n".join(lines) if lines else unescape(message.text)


class ConsoleNotifier:
    name = "console"
    supports_threads = False
    markup = "plain"  # entities decoded for reading; a terminal parses no mentions

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._ids = itertools.count(1)

    async def post(self, channel: str, message: Message, thread_ts: str | None = None) -> Posted:
        stream = self._stream or sys.stdout
        n = next(self._ids)
        try:
            stream.write(f"\n--- alert for {channel} (console: Slack is off) ---\n{as_text(message)}\n")
            stream.flush()
        except BrokenPipeError:
            raise DeliveryError("nobody reads the console any more (broken pipe): keep the daemon's stdout "
                                "open, or set a Slack bot token or webhook URL", retryable=False) from None
        except OSError as exc:  # a full disk or a stalled pipe may clear
            raise DeliveryError(f"could not print the alert to the console: {exc.strerror or type(exc).__name__}",
                                retryable=True) from None
        except ValueError as exc:
            why = "the console stream is closed" if getattr(stream, "closed", False) else type(exc).__name__
            raise DeliveryError(f"could not print the alert to the console: {why}", retryable=False) from None
        log.info("alert printed to the console (Slack is off): %s", message.text[:200])
        return Posted(ts=f"console.{n}", channel=channel)

    async def update(self, channel: str, ts: str, message: Message) -> None:
        raise DeliveryError("the console cannot edit messages (it has no threads)", retryable=False)

    async def check(self, channel: str) -> str:
        return "Slack is off: alerts print to the console"
