"""Bluesky stand-ins on 127.0.0.1: a Jetstream websocket server and the public AppView's getProfiles.

``Jetstream`` speaks Jetstream's ``/subscribe``: the ``wantedCollections`` and ``cursor`` (unix
microseconds) query parameters, commit events shaped as in Jetstream's README::

    {"did": "did:plc:...", "time_us": 1725911162329308, "kind": "commit",
     "commit": {"rev": "...", "operation": "create", "collection": "app.bsky.feed.post",
                "rkey": "...", "record": {"$type": "app.bsky.feed.post", "text": "...",
                "createdAt": "..."}, "cid": "bafy..."}}

and, as the real one does, identity and account events beside them. A connection with a cursor is
sent every stored event at or after it, then stays open for live ones (as Jetstream's replay then
live tail); without a cursor it gets only live events. ``drop_after(n)`` makes the next connection
close abruptly after ``n`` events, as a dropped network would. The websocket protocol is the
``websockets`` library's server.

``AppView`` answers ``GET /xrpc/app.bsky.actor.getProfiles?actors=...`` (at most 25 actors, as the
real one; more is a 400 ``InvalidRequest``) with ``{"profiles": [...]}`` for the accounts it knows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

from devkit.standins.base import LocalServer, Request, Response, StandIn

_TID = itertools.count(1)


def _rkey() -> str:
    # Record keys are TIDs: base32-sortable, 13 characters.
    return f"3l{int(time.time() * 1e6) % 10**9:09d}{next(_TID) % 100:02d}"


def _cid() -> str:
    return f"bafyrei{next(_TID):052d}"


@dataclass
class Subscriber:
    collections: set[str]
    cursor: int | None
    conn: ServerConnection
    sent: int = 0
    drop_after: int | None = None


class Jetstream:
    """A Jetstream on 127.0.0.1 (``url`` is its ``ws://.../subscribe``)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.connections: list[dict[str, list[str]]] = []  # each connection's query parameters
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._drop_next: int | None = None
        self._fail_next: int | None = None
        self._last_us = 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/subscribe"

    # -- life -----------------------------------------------------------------------------------
    def start(self) -> Self:
        ready = threading.Event()

        async def main() -> None:
            self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self._refuse)
            self.port = next(iter(self._server.sockets)).getsockname()[1]
            ready.set()
            await self._server.serve_forever()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(main())
            except asyncio.CancelledError:
                pass

        self._thread = threading.Thread(target=run, name="jetstream-standin", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the protocol ---------------------------------------------------------------------------
    def fail_next(self, status: int = 500) -> None:
        """The next handshake is refused with this HTTP status, as an overloaded instance does."""
        self._fail_next = status

    def _refuse(self, conn: ServerConnection, request: WsRequest) -> WsResponse | None:
        if self._fail_next is None:
            return None
        status, self._fail_next = self._fail_next, None
        return conn.respond(status, "Internal Server Error\n")

    async def _handle(self, conn: ServerConnection) -> None:
        parts = urlsplit(conn.request.path if conn.request else "/")
        query = parse_qs(parts.query)
        if parts.path != "/subscribe":
            await conn.close(1008, "unknown path")
            return
        with self._lock:
            self.connections.append(query)
            cursor = int(query["cursor"][0]) if query.get("cursor") else None
            sub = Subscriber(set(query.get("wantedCollections") or []), cursor, conn, drop_after=self._drop_next)
            self._drop_next = None
            backlog = [e for e in self.events if cursor is not None and e["time_us"] >= cursor]
            self._subs.append(sub)
        try:
            for ev in backlog:
                if not await self._send(sub, ev):
                    return
            await conn.wait_closed()
        finally:
            with self._lock:
                if sub in self._subs:
                    self._subs.remove(sub)

    async def _send(self, sub: Subscriber, ev: dict[str, Any]) -> bool:
        if ev["kind"] == "commit" and sub.collections and ev["commit"]["collection"] not in sub.collections:
            return True
        if sub.drop_after is not None and sub.sent >= sub.drop_after:
            sub.conn.transport.abort()  # no close frame: the network went away
            return False
        await sub.conn.send(json.dumps(ev))
        sub.sent += 1
        return True

    def drop_after(self, n: int) -> None:
        """The next connection is cut (no close frame) after it was sent ``n`` events."""
        self._drop_next = n

    # -- events ---------------------------------------------------------------------------------
    def _publish(self, ev: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            now_us = max(int(time.time() * 1e6), self._last_us + 1)
            self._last_us = now_us
            ev["time_us"] = now_us
            self.events.append(ev)
            live = [s for s in self._subs if s.cursor is None or s.cursor <= now_us]
        for sub in live:
            asyncio.run_coroutine_threadsafe(self._send(sub, ev), self._loop)
        return ev

    def _commit(self, did: str, collection: str, record: dict[str, Any]) -> str:
        rkey = _rkey()
        record = {"$type": collection, "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                  **record}
        self._publish({"did": did, "kind": "commit",
                       "commit": {"rev": rkey, "operation": "create", "collection": collection, "rkey": rkey,
                                  "record": record, "cid": _cid()}})
        return f"at://{did}/{collection}/{rkey}"

    def post(self, did: str, text: str, *, reply_to: str | None = None, root: str | None = None,
             quote: str | None = None, links: list[str] | None = None) -> str:
        """Publish a post (a reply with ``reply_to``, a quote with ``quote``); returns its at-uri."""
        record: dict[str, Any] = {"text": text, "langs": ["en"]}
        if reply_to:
            record["reply"] = {"parent": {"uri": reply_to, "cid": _cid()}, "root": {"uri": root or reply_to,
                                                                                   "cid": _cid()}}
        if quote:
            record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": quote, "cid": _cid()}}
        if links:
            encoded = text.encode()
            facets = []
            for link in links:
                start = encoded.find(link.encode())
                start = start if start >= 0 else 0
                facets.append({"index": {"byteStart": start, "byteEnd": start + len(link.encode())},
                               "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}]})
            record["facets"] = facets
        return self._commit(did, "app.bsky.feed.post", record)

    def repost(self, did: str, subject: str) -> str:
        return self._commit(did, "app.bsky.feed.repost", {"subject": {"uri": subject, "cid": _cid()}})

    def like(self, did: str, subject: str) -> str:
        return self._commit(did, "app.bsky.feed.like", {"subject": {"uri": subject, "cid": _cid()}})

    def identity(self, did: str, handle: str) -> None:
        self._publish({"did": did, "kind": "identity",
                       "identity": {"did": did, "handle": handle, "seq": next(_TID),
                                    "time": datetime.now(UTC).isoformat().replace("+00:00", "Z")}})

    def delete(self, uri: str) -> None:
        did, collection, rkey = uri[5:].split("/")
        self._publish({"did": did, "kind": "commit",
                       "commit": {"rev": _rkey(), "operation": "delete", "collection": collection, "rkey": rkey}})


class AppView(StandIn):
    """``app.bsky.actor.getProfiles`` of the public AppView."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.server = LocalServer(self._handle)

    def add_profile(self, did: str, handle: str, followers: int, name: str | None = None) -> None:
        self.profiles[did] = {"did": did, "handle": handle, "displayName": name or handle.split(".")[0],
                              "followersCount": followers, "followsCount": 10, "postsCount": 100,
                              "indexedAt": "2024-09-09T19:46:02.102Z", "createdAt": "2023-04-01T00:00:00.000Z"}

    def _handle(self, req: Request) -> Response:
        if req.path != "/xrpc/app.bsky.actor.getProfiles":
            return Response(404, b'{"error":"MethodNotImplemented","message":"Method Not Implemented"}',
                            {"Content-Type": "application/json"})
        actors = req.query.get("actors") or []
        if not actors or len(actors) > 25:
            return Response(400, json.dumps({"error": "InvalidRequest",
                                             "message": "Error: actors must not have more than 25 elements"})
                            .encode(), {"Content-Type": "application/json"})
        found = [self.profiles[a] for a in actors if a in self.profiles]
        return Response(200, json.dumps({"profiles": found}).encode(), {"Content-Type": "application/json"})
