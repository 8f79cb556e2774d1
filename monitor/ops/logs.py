"""Logging: readable on a terminal, one JSON object a line otherwise, and never a secret.

Every handler carries a redaction filter that masks the values of the secrets monitor resolved
(tokens, webhook URLs) and anything shaped like a bearer token or Slack token, so that a library's
DEBUG line (tweepy prints the Authorization header) cannot leak one into the journal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?bearer\s+)[^\s'\",}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9%._~+/=-]{12,}"),
    re.compile(r"()xox[abposr]-[A-Za-z0-9-]{8,}"),
    re.compile(r"(https://hooks\.slack\.com/services/)[A-Za-z0-9/_-]+"),
]
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class Redactor(logging.Filter):
    """Masks known secret values and token-shaped strings in every record that passes."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 6:
            self.secrets.add(secret)

    def scrub(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "<secret>")
        for p in _PATTERNS:
            text = p.sub(lambda m: m.group(1) + "<secret>", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _STANDARD and not k.startswith("_"):
                out[k] = v
        if record.exc_text:
            out["error"] = record.exc_text
        return json.dumps(out, default=str, ensure_ascii=False)


REDACTOR = Redactor()


def setup(level: str = "INFO", *, json_lines: bool | None = None, stream: Any = None) -> Redactor:
    """Configure the root logger once per process; returns the redactor to register secrets with."""
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.addFilter(REDACTOR)
    handler.setFormatter(JSONFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries' DEBUG output is noisy and, for tweepy and urllib3, carries request headers; the
    # scheduler logs every job run at INFO. Ours speak for them.
    for noisy in ("tweepy", "urllib3", "httpx", "httpcore", "slack_sdk", "apscheduler", "requests_oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return REDACTOR
