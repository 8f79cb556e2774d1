"""A Microsoft Teams Workflows webhook on 127.0.0.1 ("When a Teams webhook request is received").

Like the real trigger: a POST of JSON to a signed URL (``.../workflows/<id>/triggers/manual/paths/
invoke?api-version=1&sig=<secret>``) answers ``202 Accepted`` with an empty body; a wrong or
missing ``sig`` 401, an unknown workflow 404, a body over about 28 KB 413, a body that is not a
message with an Adaptive Card attachment 400. ``fail_next(n, status=429, retry_after=3)`` and
``fail_next(n, status=500)`` program failures. ``cards`` holds each accepted Adaptive Card.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from devkit.standins.base import LocalServer, Request, Response, StandIn

LIMIT = 28 * 1024


@dataclass
class Posted:
    card: dict[str, Any]
    raw: bytes

    @property
    def text(self) -> str:
        """Every string the card shows, one a line."""
        out: list[str] = []

        def walk(v: Any) -> None:
            if isinstance(v, dict):
                for k, x in v.items():
                    if k in ("text", "title", "value"):
                        if isinstance(x, str):
                            out.append(x)
                    else:
                        walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(self.card.get("body"))
        return "\n".join(out)


class TeamsStandIn(StandIn):
    def __init__(self) -> None:
        self.workflow = secrets.token_hex(8)
        self.sig = secrets.token_urlsafe(16)
        self.posts: list[Posted] = []
        self.statuses: list[int] = []
        self._fail: list[tuple[int, float | None]] = []
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle)

    @property
    def webhook_url(self) -> str:
        return (f"{self.server.url}/workflows/{self.workflow}/triggers/manual/paths/invoke"
                f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}")

    def fail_next(self, n: int, *, status: int = 500, retry_after: float | None = None) -> None:
        with self._lock:
            self._fail += [(status, retry_after)] * n

    def _handle(self, req: Request) -> Response:
        with self._lock:
            resp = self._answer(req)
            self.statuses.append(resp.status)
            return resp

    def _answer(self, req: Request) -> Response:
        if req.method != "POST":
            return Response(405)
        if req.path != f"/workflows/{self.workflow}/triggers/manual/paths/invoke":
            return _error(404, "WorkflowNotFound")
        if req.query.get("sig", [""])[-1] != self.sig:
            return _error(401, "DirectApiAuthorizationRequired")
        if self._fail:
            status, wait = self._fail.pop(0)
            headers = {"Retry-After": f"{wait:g}"} if wait is not None else {}
            return Response(status, b'{"error":{"code":"Throttled"}}' if status == 429 else b"", headers)
        if len(req.body) > LIMIT:
            return _error(413, "MessageTooLarge")
        try:
            body = json.loads(req.body)
            [attachment] = body["attachments"]
            assert body["type"] == "message"
            assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
            card = attachment["content"]
            assert card["type"] == "AdaptiveCard" and isinstance(card["body"], list)
        except (ValueError, KeyError, TypeError, AssertionError):
            return _error(400, "InvalidRequestContent")
        self.posts.append(Posted(card, req.body))
        return Response(202, b"")


def _error(status: int, code: str) -> Response:
    body = json.dumps({"error": {"code": code, "message": code}}).encode()
    return Response(status, body, {"Content-Type": "application/json"})
