"""A Slack Web API stand-in on 127.0.0.1, for tests, ``make demo`` and the daemon end-to-end test.

Speaks enough of the real API for slack-sdk's WebClient (``base_url=stand_in.api_url``) and
WebhookClient (``stand_in.webhook_url``): ``chat.postMessage``, ``chat.update``, ``auth.test``,
``conversations.info`` (form or JSON bodies, ``Authorization: Bearer`` checked), file uploads into a
thread (``files.getUploadURLExternal``, the upload itself, ``files.completeUploadExternal``: what
slack-sdk's ``files_upload_v2`` calls; the old ``files.upload`` answers ``method_deprecated``), an
incoming webhook, and Socket Mode: ``apps.connections.open`` with the app-level token (``xapp-``)
hands out a websocket URL served by socket_mode.py; ``press("Take it", user=...)`` then delivers a
``block_actions`` envelope for a button of the latest message that has it, as a person's click would.
Answers are shaped like Slack's: HTTP 200 with ``{"ok": false, "error": ...}`` for API errors,
HTTP 429 with ``Retry-After`` for rate limits, bare 5xx for outages, and for webhooks the plain
strings ``ok`` / ``invalid_payload`` / ``no_service``. Like Slack, ``chat.update`` wants the
channel id that chat.postMessage answered with, not the ``#name``.

Failures are programmable: ``fail_next(n, status=429, retry_after=3)``, ``fail_next(n, status=500)``,
``fail_next(n, error="invalid_auth")``, or ``fail_between(start, end, ...)`` on the injected clock.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from devkit.standins.base import LocalServer, Request, Response, StandIn
from devkit.standins.socket_mode import Envelope, SocketModeServer
from monitor.clock import Clock


@dataclass
class _Failure:
    remaining: int
    status: int
    error: str | None
    retry_after: float | None
    methods: frozenset[str] | None
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class Call:
    method: str                     # "chat.postMessage", ..., or "webhook"
    status: int                     # the HTTP status answered
    params: dict[str, Any]
    at: datetime
    error: str | None = None        # Slack's error code when it answered one


@dataclass
class SlackMessage:
    channel: str                    # channel id
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    at: datetime                    # when the stand-in accepted it (on the injected clock if any)
    params: dict[str, Any]          # everything the client sent, for assertions
    edits: list[dict[str, Any]] = field(default_factory=list)
    via: str = "api"                # "api" or "webhook"


@dataclass
class SlackFile:
    id: str
    filename: str
    title: str
    data: bytes
    channel: str | None = None      # set by files.completeUploadExternal
    thread_ts: str | None = None
    shared: bool = False


class SlackStandIn(StandIn):
    """Use as a context manager; ``api_url`` goes to ``slack.api_url``, ``token`` to the token env."""

    def __init__(self, *, token: str = "xoxb-stand-in-token", clock: Clock | None = None,
                 auto_create: bool = True, webhook_channel: str = "#webhook-alerts",
                 app_token: str = "xapp-1-A0STANDIN-1-stand-in"):
        self.token = token
        self.app_token = app_token
        self.files: dict[str, SlackFile] = {}
        self.socket = SocketModeServer()
        self.clock = clock
        self.auto_create = auto_create
        self.messages: list[SlackMessage] = []
        self.calls: list[Call] = []
        self._ids: dict[str, str] = {}        # name -> id
        self._names: dict[str, str] = {}      # id -> name
        self._not_member: set[str] = set()
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._hook = "/services/T0STANDIN/B0STANDIN/" + secrets.token_hex(12)
        self.webhook_channel = webhook_channel
        self.server = LocalServer(self._handle)

    # -- addresses ------------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.server.url + "/api/"

    @property
    def webhook_url(self) -> str:
        return self.server.url + self._hook

    def start(self) -> SlackStandIn:
        self.socket.start()
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.socket.stop()

    # -- programming it ---------------------------------------------------------------------------------
    def add_channel(self, name: str, *, member: bool = True) -> str:
        with self._lock:
            name = name.lstrip("#")
            if name not in self._ids:
                cid = f"C{len(self._ids) + 1:08d}"
                self._ids[name], self._names[cid] = cid, name
            if not member:
                self._not_member.add(self._ids[name])
            return self._ids[name]

    def remove_channel(self, name: str) -> None:
        with self._lock:
            cid = self._ids.pop(name.lstrip("#"), None)
            if cid:
                self._names.pop(cid, None)

    def fail_next(self, n: int, *, status: int = 500, error: str | None = None,
                  retry_after: float | None = None, methods: set[str] | None = None) -> None:
        """Answer the next ``n`` matching calls with ``status`` (or HTTP 200 ``ok: false, error``)."""
        with self._lock:
            self._failures.append(_Failure(n, status if error is None or status != 500 else 200, error,
                                           retry_after, frozenset(methods) if methods else None))

    def fail_between(self, start: datetime, end: datetime, *, status: int = 500, error: str | None = None,
                     retry_after: float | None = None, methods: set[str] | None = None) -> None:
        """Fail every matching call while the clock (the injected one, else the wall clock) is in
        [start, end): an outage."""
        with self._lock:
            self._failures.append(_Failure(10**9, status, error, retry_after,
                                           frozenset(methods) if methods else None, start, end))

    # -- inspecting it --------------------------------------------------------------------------------
    def channel_id(self, name: str) -> str:
        return self._ids[name.lstrip("#")]

    def in_channel(self, name_or_id: str) -> list[SlackMessage]:
        cid = self._ids.get(name_or_id.lstrip("#"), name_or_id)
        return [m for m in self.messages if m.channel == cid]

    def roots(self, name_or_id: str) -> list[SlackMessage]:
        return [m for m in self.in_channel(name_or_id) if m.thread_ts is None]

    def replies(self, name_or_id: str, thread_ts: str) -> list[SlackMessage]:
        return [m for m in self.in_channel(name_or_id) if m.thread_ts == thread_ts]

    def count(self, method: str, status: int | None = None) -> int:
        return sum(1 for c in self.calls if c.method == method and (status is None or c.status == status))

    def thread_files(self, channel: str, thread_ts: str) -> list[SlackFile]:
        """Files shared into a thread, in upload order."""
        cid = self._ids.get(channel.lstrip("#"), channel)
        return [f for f in self.files.values() if f.shared and f.channel == cid and f.thread_ts == thread_ts]

    # -- a person at the buttons ------------------------------------------------------------------------
    def press(self, label: str, *, user: tuple[str, str] = ("U0DANA", "dana"), note: str | None = None,
              message: SlackMessage | None = None, times: int = 1) -> Envelope:
        """Click the button labelled ``label`` on ``message`` (default: the latest message that has
        one), typing ``note`` into the message's text input first; the envelope goes out ``times``
        times (Slack's retries) and this returns once each delivery was acknowledged."""
        with self._lock:
            candidates = [message] if message is not None else list(reversed(self.messages))
            for m in candidates:
                found = _find_button(m.blocks, label)
                if found is not None:
                    break
            else:
                raise LookupError(f"no message has a button labelled {label!r}")
            block_id, button = found
            values: dict[str, Any] = {}
            for b in m.blocks:
                if b.get("type") == "input" and isinstance(b.get("element"), dict):
                    el = b["element"]
                    values[b.get("block_id", "")] = {el.get("action_id", ""): {
                        "type": el.get("type"), "value": note if el.get("type") == "plain_text_input" else None}}
            now = self._now()
            action_ts = f"{int(now.timestamp())}.{next(self._seq):06d}"
            payload = {
                "type": "block_actions", "api_app_id": "A0STANDIN", "token": "stand-in-verification",
                "user": {"id": user[0], "username": user[1], "name": user[1], "team_id": "T0STANDIN"},
                "team": {"id": "T0STANDIN", "domain": "stand-in"},
                "container": {"type": "message", "message_ts": m.ts, "channel_id": m.channel, "is_ephemeral": False},
                "channel": {"id": m.channel, "name": self._names.get(m.channel, "")},
                "message": _shape(m), "state": {"values": values},
                "trigger_id": f"{next(self._seq)}.{secrets.token_hex(6)}",
                "response_url": f"{self.url}/actions/T0STANDIN/{secrets.token_hex(6)}",
                "actions": [{**{k: v for k, v in button.items()
                                if k in ("action_id", "value", "style", "text", "type")},
                             "block_id": block_id, "action_ts": action_ts}],
            }
        return self.socket.deliver(payload, times=times)

    # -- serving --------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def _planned_failure(self, method: str) -> _Failure | None:
        now = self._now()
        for f in self._failures:
            if f.methods is not None and method not in f.methods:
                continue
            if f.start is not None and not (f.start <= now < (f.end or now)):
                continue
            if f.remaining <= 0:
                continue
            f.remaining -= 1
            return f
        return None

    def _handle(self, req: Request) -> Response:
        with self._lock:
            if req.path == self._hook or req.path.startswith("/services/"):
                return self._webhook(req)
            if req.path.startswith("/upload/v1/"):
                return self._receive_upload(req)
            if not req.path.startswith("/api/"):
                return Response(404, b"not found")
            method = req.path[len("/api/"):]
            params = _params(req)
            failure = self._planned_failure(method)
            if failure is not None:
                resp = _failure_response(failure)
            else:
                resp = self._api(method, params, req.headers)
            self._note(method, resp, params)
            return resp

    def _api(self, method: str, p: dict[str, Any], headers: dict[str, str]) -> Response:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else p.get("token")
        if not token:
            return _json({"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":
            if not str(token).startswith("xapp-"):
                return _json({"ok": False, "error": "not_allowed_token_type"})
            if token != self.app_token:
                return _json({"ok": False, "error": "invalid_auth"})
            return _json({"ok": True, "url": self.socket.new_url()})
        if str(token).startswith("xapp-"):
            return _json({"ok": False, "error": "not_allowed_token_type"})
        if token != self.token:
            return _json({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return _json({"ok": True, "url": "https://stand-in.slack.com/", "team": "Stand-in",
                          "user": "monitor", "team_id": "T0STANDIN", "user_id": "U0MONITOR",
                          "bot_id": "B0STANDIN"})
        if method == "conversations.info":
            cid = str(p.get("channel") or "")
            if cid not in self._names:
                return _json({"ok": False, "error": "channel_not_found"})
            info = {"id": cid, "name": self._names[cid], "is_channel": True, "is_archived": False,
                    "is_member": cid not in self._not_member}
            return _json({"ok": True, "channel": info})
        if method == "chat.postMessage":
            return self._post(p)
        if method == "chat.update":
            return self._update(p)
        if method == "files.getUploadURLExternal":
            return self._upload_url(p)
        if method == "files.completeUploadExternal":
            return self._complete_upload(p)
        if method == "files.upload":
            return _json({"ok": False, "error": "method_deprecated"})
        return _json({"ok": False, "error": "unknown_method"}, 404)

    def _resolve(self, channel: str, *, names: bool = True) -> str | None:
        if channel in self._names:
            return channel
        if not names:
            return None
        name = channel.lstrip("#")
        if name not in self._ids and self.auto_create and name and not name.startswith("C0"):
            self.add_channel(name)
        return self._ids.get(name)

    def _post(self, p: dict[str, Any]) -> Response:
        cid = self._resolve(str(p.get("channel") or ""))
        if cid is None:
            return _json({"ok": False, "error": "channel_not_found"})
        if cid in self._not_member:
            return _json({"ok": False, "error": "not_in_channel"})
        text, blocks = p.get("text") or "", _blocks(p.get("blocks"))
        if not text and not blocks:
            return _json({"ok": False, "error": "no_text"})
        thread_ts = p.get("thread_ts") or None
        if thread_ts and not any(m.ts == thread_ts and m.channel == cid for m in self.messages):
            return _json({"ok": False, "error": "thread_not_found"})
        now = self._now()
        ts = f"{int(now.timestamp())}.{next(self._seq):06d}"
        msg = SlackMessage(cid, ts, text, blocks, thread_ts, now, dict(p))
        self.messages.append(msg)
        return _json({"ok": True, "channel": cid, "ts": ts, "message": _shape(msg)})

    def _update(self, p: dict[str, Any]) -> Response:
        cid = self._resolve(str(p.get("channel") or ""), names=False)
        if cid is None:
            return _json({"ok": False, "error": "channel_not_found"})
        target = next((m for m in self.messages if m.channel == cid and m.ts == p.get("ts")), None)
        if target is None:
            return _json({"ok": False, "error": "message_not_found"})
        target.edits.append(dict(p))
        target.text = p.get("text") or target.text
        if "blocks" in p:
            target.blocks = _blocks(p.get("blocks"))
        return _json({"ok": True, "channel": cid, "ts": target.ts, "text": target.text,
                      "message": _shape(target)})

    def _upload_url(self, p: dict[str, Any]) -> Response:
        filename, length = str(p.get("filename") or ""), str(p.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            return _json({"ok": False, "error": "invalid_arguments"})
        fid = f"F{next(self._seq):010d}"
        self.files[fid] = SlackFile(fid, filename, filename, b"")
        return _json({"ok": True, "upload_url": f"{self.url}/upload/v1/{fid}", "file_id": fid})

    def _receive_upload(self, req: Request) -> Response:
        fid = req.path.rsplit("/", 1)[-1]
        with self._lock:
            f = self.files.get(fid)
            if f is None or req.method != "POST":
                return Response(404, b"not found")
            f.data = req.body
        return Response(200, f"OK - {len(req.body)}".encode(), {"Content-Type": "text/plain"})

    def _complete_upload(self, p: dict[str, Any]) -> Response:
        files = p.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                files = None
        if not isinstance(files, list) or not files:
            return _json({"ok": False, "error": "invalid_arguments"})
        cid = str(p.get("channel_id") or "") or None
        if cid is not None and cid not in self._names:
            return _json({"ok": False, "error": "channel_not_found"})
        thread_ts = str(p.get("thread_ts") or "") or None
        if thread_ts and not any(m.ts == thread_ts and m.channel == cid for m in self.messages):
            return _json({"ok": False, "error": "thread_not_found"})
        done = []
        for item in files:
            f = self.files.get(str(item.get("id") if isinstance(item, dict) else ""))
            if f is None or not f.data:
                return _json({"ok": False, "error": "file_not_found"})
            f.title = str(item.get("title") or f.filename)
            f.channel, f.thread_ts, f.shared = cid, thread_ts, cid is not None
            done.append({"id": f.id, "title": f.title, "name": f.filename, "size": len(f.data)})
        return _json({"ok": True, "files": done})

    def _webhook(self, req: Request) -> Response:
        if req.path != self._hook:
            return Response(404, b"no_service", {"Content-Type": "text/plain"})
        failure = self._planned_failure("webhook")
        if failure is not None:
            return self._note("webhook", _failure_response(failure, webhook=True), {})
        try:
            p = json.loads(req.body or b"{}")
        except ValueError:
            p = None
        if not isinstance(p, dict) or not (p.get("text") or p.get("blocks")):
            bad = Response(400, b"invalid_payload", {"Content-Type": "text/plain"})
            return self._note("webhook", bad, {})
        cid = self.add_channel(self.webhook_channel)
        now = self._now()
        ts = f"{int(now.timestamp())}.{next(self._seq):06d}"
        self.messages.append(SlackMessage(cid, ts, p.get("text") or "", _blocks(p.get("blocks")), None, now,
                                          p, via="webhook"))
        return self._note("webhook", Response(200, b"ok", {"Content-Type": "text/plain"}), p)

    def _note(self, method: str, resp: Response, params: dict[str, Any]) -> Response:
        error = None
        if resp.body.startswith(b"{"):
            error = json.loads(resp.body).get("error")
        elif resp.status != 200 and resp.body and not resp.body.startswith(b"<"):
            error = resp.body.decode("utf-8", "replace")
        self.calls.append(Call(method, resp.status, params, self._now(), error))
        return resp


def _params(req: Request) -> dict[str, Any]:
    out: dict[str, Any] = {k: v[-1] for k, v in req.query.items()}
    ctype = req.headers.get("content-type", "")
    if "json" in ctype and req.body:
        try:
            body = json.loads(req.body)
            if isinstance(body, dict):
                out.update(body)
        except ValueError:
            pass
    elif req.body:
        out.update({k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()})
    return out


def _find_button(blocks: list[dict[str, Any]], label: str) -> tuple[str, dict[str, Any]] | None:
    for b in blocks:
        if b.get("type") != "actions":
            continue
        for el in b.get("elements") or []:
            if el.get("type") == "button" and (el.get("text") or {}).get("text") == label:
                return str(b.get("block_id") or ""), el
    return None


def _blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return list(value) if isinstance(value, list) else []


def _shape(m: SlackMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "message", "subtype": "bot_message", "bot_id": "B0STANDIN", "text": m.text,
                           "ts": m.ts, "blocks": m.blocks}
    if m.thread_ts:
        out["thread_ts"] = m.thread_ts
    return out


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8",
                                                        **(headers or {})})


def _failure_response(f: _Failure, *, webhook: bool = False) -> Response:
    headers = {"Retry-After": f"{f.retry_after:g}"} if f.retry_after is not None else {}
    if f.status == 429:
        if webhook:
            return Response(429, b"rate_limited", {"Content-Type": "text/plain", **headers})
        return _json({"ok": False, "error": "ratelimited"}, 429, headers)
    if f.error is not None and f.status == 200:
        return _json({"ok": False, "error": f.error})
    if webhook and f.error:
        return Response(f.status, f.error.encode(), {"Content-Type": "text/plain"})
    page = b"<html><body>Slack is having trouble</body></html>"
    return Response(f.status, page, {"Content-Type": "text/html", **headers})
