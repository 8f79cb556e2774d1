"""X's filtered stream (``x.mode: stream``): one connection for every watch-list, nothing lost across a gap.

Rules are the watch-lists' queries, tagged ``monitor:<watch-list>``, synced when the connection
starts: ours that are stale are deleted, missing ones added, other rules left alone (with a warning).
The connection (``GET /2/tweets/search/stream``, httpx streaming) runs in a background task that
puts each post it delivers in an inbox; each ``poll`` hands the inbox on (stored with the cursor, as
any source's records). X sends a ``\\r\\n`` keep-alive every 20 seconds; no byte for ``STALL``
seconds is a disconnect. Reconnects back off with ``backoff_delay`` (+-20% jitter): a close or a
network error from 1 s up to a minute, an HTTP error from 5 s up to 5 minutes, a 429 (the app's one
connection is taken) from a minute up to 15.

After every gap (a disconnect, or a start with a stored cursor: the process was down), each
watch-list's query is searched from the newest post stored before the gap (``since_id``; the same
paging, page budget and cursor as ``XSource``), so every post of the gap is read once; posts the
stream delivers as well are the same ids and are stored once. X's own ``backfill_minutes`` (up to 5,
Enterprise access only) is asked for on reconnect when ``x.stream_backfill_minutes`` is set; the
search backfill runs after every gap all the same (what both deliver is stored once). A watch-list's
backfill ends only after a run that read pages and left no backlog; one the budget's pace or a rate
limit stopped before its first page stays, with its own ``park_until`` (the stream goes on meanwhile).
The cursor:

    {"since_id": "<newest post stored>", "backfill": {"<watch-list>": <XSource cursor, maybe "park_until">},
     "spend": {...}}
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import tweepy

from monitor.config.settings import Secret, XSettings
from monitor.errors import PermanentSourceError, SourceError
from monitor.records.durations import backoff_delay
from monitor.records.mention import Mention, format_time, lenient_time
from monitor.sources.base import SOURCE_JITTER, PollResult, RateLimited
from monitor.sources.spend import XLedger
from monitor.sources.x import XSource
from monitor.sources.xclient import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, newer_id, search_mentions

log = logging.getLogger(__name__)
MAX_RULE = 1024
MAX_RULES = 1000
TAG = "monitor:"
STALL = 60.0          # seconds without a byte (X's keep-alive comes every 20 s): the connection is dead
MAX_LINE = 1_000_000  # one post's JSON is a few KB; a line this long is not one
NETWORK_BACKOFF = (1.0, 60.0)
HTTP_BACKOFF = (5.0, 300.0)


class StreamRefused(Exception):
    """X answered the stream or its rules with an HTTP error."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


class XStreamSource:
    def __init__(self, key: str, queries: Mapping[str, str], token: Secret, settings: XSettings, *,
                 ledger: XLedger, rng: random.Random | None = None, client: tweepy.Client | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, stall: float = STALL,
                 network_backoff: tuple[float, float] = NETWORK_BACKOFF,
                 http_backoff: tuple[float, float] = HTTP_BACKOFF):
        self.key = key
        self.queries = dict(queries)
        self.settings = settings
        self.ledger = ledger
        self.rng = rng or random.Random()
        self._token = token
        self._transport = transport
        self._sleep = sleep
        self._stall = stall
        self._network_backoff, self._http_backoff = network_backoff, http_backoff
        # The backfill searches, one per watch-list, charging this source's spend (their page budget is the
        # plan's, paced by the shared ledger); they ask for no volume counts.
        quiet = settings.model_copy(update={"volume_counts": "off"})
        self.searches = {name: XSource(key, q, token, quiet, client=client, ledger=ledger, watchlist=name,
                                       budget=settings.monthly_read_budget)
                         for name, q in self.queries.items()}
        self.paused: str | None = None
        self.connected = False
        self.connections = 0
        self.disconnects = 0
        self.last_error: str | None = None
        self._inbox: list[dict[str, Any]] = []
        self._newest: str | None = None       # newest post id received (in memory)
        self._gaps: list[str | None] = []     # since_id of each gap not yet backfilled
        self._started = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- rules ---------------------------------------------------------------------------------------
    def wanted_rules(self) -> dict[str, str]:
        """tag -> rule value, one per watch-list. Raises PermanentSourceError on a rule X would refuse."""
        rules = {}
        for name, query in sorted(self.queries.items()):
            if len(query) > MAX_RULE:
                raise PermanentSourceError(
                    f"{self.key}: the stream rule of watch-list {name!r} is {len(query)} characters, X allows "
                    f"{MAX_RULE}; set a shorter x_query in the watch-list")
            rules[f"{TAG}{name}"] = query
        if len(rules) > MAX_RULES:
            raise PermanentSourceError(f"{self.key}: {len(rules)} watch-lists need {len(rules)} stream rules, X "
                                       f"allows {MAX_RULES}; use x.mode: search")
        return rules

    async def sync_rules(self, client: httpx.AsyncClient) -> dict[str, int]:
        """Delete our stale rules, add the missing ones; returns what was done."""
        wanted = self.wanted_rules()
        body = await self._json(client, "GET", "/2/tweets/search/stream/rules")
        have = [r for r in body.get("data") or [] if isinstance(r, dict)]
        ours = [r for r in have if str(r.get("tag") or "").startswith(TAG)]
        foreign = [r for r in have if r not in ours]
        if foreign:
            log.warning("%s: %d stream rule(s) not made by monitor share the connection; their posts are matched "
                        "against the watch-lists' terms like any other", self.key, len(foreign),
                        extra={"source": self.key})
        stale = [str(r["id"]) for r in ours if wanted.get(str(r.get("tag"))) != r.get("value")]
        kept = {str(r.get("tag")) for r in ours if str(r["id"]) not in stale}
        missing = [{"value": v, "tag": t} for t, v in wanted.items() if t not in kept]
        if stale:
            await self._json(client, "POST", "/2/tweets/search/stream/rules", {"delete": {"ids": stale}})
        if missing:
            answer = await self._json(client, "POST", "/2/tweets/search/stream/rules", {"add": missing})
            refused = [e for e in answer.get("errors") or [] if e.get("title") != "DuplicateRule"]
            if refused:
                raise PermanentSourceError(f"{self.key}: X refused stream rule(s): " + "; ".join(
                    f"{e.get('title')}: {str(e.get('value'))[:80]}" for e in refused[:3]))
        return {"deleted": len(stale), "added": len(missing), "kept": len(kept)}

    async def _json(self, client: httpx.AsyncClient, method: str, path: str,
                    body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = await client.request(method, path, json=body)
        if resp.status_code >= 400:
            if resp.status_code in (401, 403):
                self.paused = (f"{self.key}: X refused the stream (HTTP {resp.status_code}); the bearer token is "
                               f"wrong or the app's plan lacks the filtered stream. Fix "
                               f"${self.settings.bearer_token_env} or the plan, then reload the config.")
                raise PermanentSourceError(self.paused)
            raise StreamRefused(resp.status_code, resp.text[:200])
        try:
            out = resp.json()
        except ValueError:
            raise StreamRefused(resp.status_code, "a body that is not JSON") from None
        return out if isinstance(out, dict) else {}

    # -- the connection ---------------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.settings.api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self._token.reveal()}", "Accept-Encoding": "identity",
                     "User-Agent": "monitor/0.1"},
            timeout=httpx.Timeout(30.0, read=self._stall), transport=self._transport)

    async def _run(self) -> None:
        """Connect, read, reconnect with backoff: until cancelled or refused for good."""
        failures = 0
        synced = False
        async with self._client() as client:
            while True:
                try:
                    if not synced:  # once per connection task, retried until it succeeds
                        await self.sync_rules(client)
                        synced = True
                    await self._connect(client, backfill=self.connections > 0)
                    failures = 0  # it was up: the next drop starts the backoff afresh
                except asyncio.CancelledError:
                    raise
                except PermanentSourceError as exc:
                    self.last_error = str(exc)
                    self.paused = self.paused or str(exc)
                    log.error("%s: %s", self.key, exc, extra={"source": self.key})
                    return
                except StreamRefused as exc:
                    failures += 1
                    self.last_error = f"stream refused: {exc}"
                    base, cap = self._http_backoff
                    if exc.status == 429:  # X: wait a minute, doubling (the app's one connection is taken)
                        base, cap = base * 12, cap * 3
                    await self._back_off(failures, base, cap)
                    continue
                except (httpx.HTTPError, OSError, ValueError) as exc:
                    failures += 1
                    self.last_error = f"stream dropped: {type(exc).__name__}"
                    await self._back_off(failures, *self._network_backoff)
                    continue
                except Exception as exc:  # a bug must not end the connection for good
                    failures += 1
                    self.last_error = f"stream failed unexpectedly: {type(exc).__name__}: {exc}"
                    log.error("%s: %s", self.key, self.last_error, exc_info=exc, extra={"source": self.key})
                    await self._back_off(failures, *self._http_backoff)
                    continue
                await self._back_off(max(1, failures), *self._network_backoff)  # closed by X: reconnect soon

    async def _back_off(self, failures: int, base: float, cap: float) -> None:
        delay = backoff_delay(failures, base=base, cap=cap, rng=self.rng, jitter=SOURCE_JITTER)
        log.info("%s: reconnecting in %.1fs (%s)", self.key, delay, self.last_error or "closed",
                 extra={"source": self.key})
        await self._sleep(delay)

    async def _connect(self, client: httpx.AsyncClient, *, backfill: bool) -> None:
        params: dict[str, Any] = {"expansions": ",".join(EXPANSIONS), "tweet.fields": ",".join(TWEET_FIELDS),
                                  "user.fields": ",".join(USER_FIELDS)}
        if backfill and self.settings.stream_backfill_minutes:
            params["backfill_minutes"] = self.settings.stream_backfill_minutes
        async with client.stream("GET", "/2/tweets/search/stream", params=params) as resp:
            if resp.status_code >= 400:
                await resp.aread()
                if resp.status_code in (401, 403):
                    await self._json_error(resp)
                raise StreamRefused(resp.status_code, resp.text[:200])
            self.connected = True
            self.connections += 1
            try:
                buffer = b""
                async for chunk in resp.aiter_raw():
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    if len(buffer) > MAX_LINE:
                        raise ValueError("a stream line over the size cap")
                    for line in lines:
                        self._take(line.strip())
            finally:
                self.connected = False
                self.disconnects += 1
                self._gaps.append(self._newest)  # what came after it may have been missed

    async def _json_error(self, resp: httpx.Response) -> None:
        self.paused = (f"{self.key}: X refused the stream (HTTP {resp.status_code}); the bearer token is wrong "
                       f"or the app's plan lacks the filtered stream. Fix ${self.settings.bearer_token_env} or "
                       "the plan, then reload the config.")
        raise PermanentSourceError(self.paused)

    def _take(self, line: bytes) -> None:
        if not line:
            return  # keep-alive
        try:
            msg = json.loads(line)
        except ValueError:
            return
        data = msg.get("data") if isinstance(msg, dict) else None
        if not isinstance(data, dict) or "id" not in data:
            return  # an error or system message: X closes the connection after one if it matters
        self._inbox.append(msg)
        self._newest = newer_id(str(data["id"]), self._newest)

    def _ensure_running(self, cursor: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        if not self._started:
            self._started = True
            self._newest = cursor.get("since_id")
            if cursor.get("since_id"):
                self._gaps.append(cursor["since_id"])  # down since the last stored post: read what it missed
        self._loop = loop
        self._task = loop.create_task(self._run(), name=f"stream {self.key}")

    async def aclose(self) -> None:
        """Close the connection (config reload, stop)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._task = None

    # -- polling ------------------------------------------------------------------------------------------
    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        if self.paused:
            raise PermanentSourceError(self.paused)
        cursor = dict(cursor or {})
        self.wanted_rules()  # a rule X would refuse is a config error now, not a reconnect loop later
        self._ensure_running(cursor)
        inbox, self._inbox = self._inbox, []
        mentions: dict[str, Mention] = {}
        users = 0
        for msg in inbox:
            body = {"data": [msg["data"]], "includes": msg.get("includes") or {}}
            users += len((msg.get("includes") or {}).get("users") or [])
            for m in search_mentions(body, now):
                mentions[m.id] = m
        if inbox:
            self.ledger.charge(self.key, now, posts=len(inbox), users=users)
        since = cursor.get("since_id")
        for msg in inbox:
            since = newer_id(str(msg["data"]["id"]), since)
        backfill: dict[str, Any] = dict(cursor.get("backfill") or {})
        gaps, self._gaps = self._gaps, []
        for gap in gaps:
            if gap is None:
                continue  # nothing was stored before it: nothing to continue from
            for name in self.queries:
                run = backfill.get(name)
                start = gap if run is None else min(gap, str(run.get("since_id") or gap), key=int)
                backfill[name] = {**(run or {}), "query": self.queries[name], "since_id": start}
        warnings: list[str] = []
        filled = 0
        for name, run in list(backfill.items()):
            search = self.searches.get(name)
            if search is None:
                backfill.pop(name)
                continue
            waiting = lenient_time(run.get("park_until"))
            if waiting is not None and waiting > now:
                continue  # parked (a spent pace, a rate limit): the stream's posts are still handed on meanwhile
            run = {k: v for k, v in run.items() if k != "park_until"}
            try:
                result = await search.poll(run, now)
            except PermanentSourceError:
                raise
            except SourceError as exc:
                warnings.append(f"backfill of {name}: {exc}")
                until = exc.until if isinstance(exc, RateLimited) else None
                backfill[name] = {**run, "park_until": format_time(until)} if until else run
                continue
            for m in result.mentions:
                mentions.setdefault(m.id, m)
            filled += len(result.mentions)
            done = dict(result.cursor if result.cursor is not None else run)
            if result.detail.get("pages") and not done.get("backlog"):
                backfill.pop(name)  # pages read and none left: the gap is read
                continue
            # Pages left, or none read at all (the pace spent, a rate limit): a run that read nothing has not
            # read the gap, so it stays until it does. Its park is the run's, not the source's: parking the
            # whole source would hold the streamed posts back as well.
            if result.park_until is not None:
                done["park_until"] = format_time(result.park_until)
            backfill[name] = done
        new: dict[str, Any] = {"since_id": since, "spend": self.ledger.record(self.key, now)}
        if backfill:
            new["backfill"] = backfill
        if self.last_error and not self.connected:
            warnings.append(self.last_error)
        detail = {"connected": self.connected, "connections": self.connections, "disconnects": self.disconnects,
                  "delivered": len(inbox), "backfilled": filled, "backfill_running": sorted(backfill),
                  "backfill_parked_until": {n: r["park_until"] for n, r in backfill.items() if r.get("park_until")},
                  "spend": self.ledger.status(now), "at": now.astimezone(UTC).isoformat()}
        return PollResult(list(mentions.values()), new if new != cursor else None, detail=detail, warnings=warnings)
