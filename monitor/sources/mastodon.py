"""Mastodon: the public hashtag timelines of the instances watch-lists name, with replies and boosts.

One ``MastodonSource`` per instance (key ``mastodon:<host>``), whatever the number of watch-lists
naming it, since the instance's rate limit (300 requests per 5 minutes per IP by default) is shared
by all of them. Each poll, within that budget:

1. every hashtag's ``GET /api/v1/timelines/tag/:hashtag?since_id=...&limit=40``, paging back with
   ``max_id`` while pages are full (at most ``max_pages_per_cycle``; a run not finished is finished
   the next poll, as the X source does, so a burst is never skipped);
2. with a token for the instance (``mastodon.token_envs``, the NAME of an environment variable), each
   term through ``GET /api/v2/search?type=statuses`` too (search needs a token);
3. for each status it found that is tracked (never followed first, then the one followed longest ago;
   at most ``max_threads_per_cycle``, for
   ``follow_threads_for``): ``/api/v1/statuses/:id/context`` (its replies: ``in_reply_to_id`` says to
   whom) and ``/api/v1/statuses/:id/reblogged_by`` (its boosts, as reposts).

``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` are honoured: below ``RESERVE`` remaining, the
source parks until the reset; a 429 parks it until the reset or for the window. Content is HTML:
reduced to text by the same parser as feeds (``html.py``), never rendered.

Cursor: ``{"tags": {tag: since_id}, "backlog": {tag: {max_id, since_id, newest}}, "search": {term:
since_id}, "threads": {status_id: {"at": time, "seen": [...], "boosts": [...], "checked": time}}, "window": {...}}``.
Status ids are the instance's own (``mastodon:<host>/<id>``): the same status read through two
instances is two mentions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from monitor.config.settings import Config, MastodonSettings, Secret
from monitor.errors import PermanentSourceError
from monitor.records.mention import Author, Mention, format_time, lenient_time
from monitor.sources.base import PollResult, RateLimited
from monitor.sources.body import FetchError
from monitor.sources.html import html_to_text
from monitor.sources.http import FetchResult, HttpFetcher
from monitor.sources.jsonapi import get_json, with_query
from monitor.store.database import Store

log = logging.getLogger(__name__)
RESERVE = 5          # requests left for the window below which the source parks until the reset
MAX_SEEN = 2000      # replies and boosts remembered per followed thread
METRICS = {"reblogs_count": "reposts", "replies_count": "replies", "favourites_count": "likes"}


def instance_key(base: str) -> str:
    return "mastodon:" + urlsplit(base).netloc.lower()


def instance_tags(config: Config) -> dict[str, list[str]]:
    """Instance base URL -> the hashtags any watch-list follows there."""
    out: dict[str, list[str]] = {}
    for name in sorted(config.watchlists):
        m = config.watchlists[name].mastodon
        if m is None:
            continue
        for base in m.instances:
            tags = out.setdefault(base, [])
            tags += [t for t in m.hashtags if t.lower() not in {x.lower() for x in tags}]
    return out


def instance_terms(config: Config, base: str) -> list[str]:
    """The terms of the watch-lists that name ``base``: what a token's search looks for."""
    terms: list[str] = []
    for name in sorted(config.watchlists):
        wl = config.watchlists[name]
        if wl.mastodon is not None and base in wl.mastodon.instances:
            terms += [t for t in wl.terms if t not in terms]
    return terms


def _newer(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if _num(a) >= _num(b) else b


def _num(sid: str) -> int:
    return int(sid) if str(sid).isdigit() else 0


def status_mention(status: dict[str, Any], host: str, now: datetime) -> list[Mention]:
    """A status as mentions: a boost is a repost of the boosted status, which comes with it."""
    out: list[Mention] = []
    boosted = status.get("reblog")
    if isinstance(boosted, dict) and boosted.get("id"):
        out += status_mention(boosted, host, now)
    sid = str(status["id"])
    account = status.get("account") or {}
    kind, parent = "post", None
    if isinstance(boosted, dict) and boosted.get("id"):
        kind, parent = "repost", f"mastodon:{host}/{boosted['id']}"
    elif status.get("in_reply_to_id"):
        kind, parent = "reply", f"mastodon:{host}/{status['in_reply_to_id']}"
    else:
        q = status.get("quote") or {}
        quoted = q.get("quoted_status") if isinstance(q, dict) else None
        if isinstance(quoted, dict) and quoted.get("id"):
            kind, parent = "quote", f"mastodon:{host}/{quoted['id']}"
            out += status_mention(quoted, host, now)
    text, links = ("", []) if kind == "repost" else html_to_text(str(status.get("content") or ""), status.get("url"))
    spoiler = str(status.get("spoiler_text") or "").strip()
    if spoiler:
        text = f"{spoiler}\n\n{text}" if text else spoiler
    # Hashtag and profile links are the instance's own navigation, not what the status links to.
    links = [u for u in links if not _navigation(u, status)]
    card = status.get("card") or {}
    if isinstance(card, dict) and isinstance(card.get("url"), str) and card["url"] not in links:
        links.append(card["url"])
    followers = account.get("followers_count")
    author = Author(
        id=f"{host}/{account.get('id') or account.get('acct') or 'unknown'}",
        handle=str(account.get("acct") or account.get("username") or account.get("id") or "unknown"),
        name=account.get("display_name") or None,
        followers=followers if isinstance(followers, int) else None,
    )
    metrics = {ours: int(status[theirs]) for theirs, ours in METRICS.items() if isinstance(status.get(theirs), int)}
    created = lenient_time(status.get("created_at")) or now
    out.append(Mention(f"mastodon:{host}/{sid}", "mastodon", kind, parent, status.get("url") or status.get("uri"),
                       author, text, links, created, now, metrics=metrics or None,
                       extra={"uri": status["uri"]} if status.get("uri") else {}))
    return out


def _navigation(url: str, status: dict[str, Any]) -> bool:
    path = urlsplit(url).path
    if "/tags/" in path:
        return True
    accounts = {m.get("url") for m in status.get("mentions") or [] if isinstance(m, dict)}
    return url in accounts or path.startswith("/@") and "/" not in path[2:]


class MastodonSource:
    def __init__(self, key: str, base: str, hashtags: list[str], settings: MastodonSettings, fetcher: HttpFetcher,
                 store: Store, *, token: Secret | None = None, terms: list[str] | None = None):
        self.key = key
        self.base = base.rstrip("/")
        self.host = urlsplit(self.base).netloc.lower()
        self.hashtags = hashtags
        self.settings = settings
        self.fetcher = fetcher
        self.store = store
        self.token = token
        self.terms = terms or []

    # -- requests within the instance's limit ------------------------------------------------------
    async def _get(self, path: str, params: list[tuple[str, Any]], state: dict[str, Any], now: datetime) -> Any:
        s = self.settings
        window = state["window"]
        if window["used"] >= s.requests_per_window or window.get("remaining", RESERVE + 1) <= RESERVE:
            raise _Spent()
        headers = {"Authorization": f"Bearer {self.token.reveal()}"} if self.token else None
        window["used"] += 1
        try:
            body, res = await get_json(self.fetcher, with_query(self.base + path, params), headers=headers)
        except FetchError as exc:
            if exc.status == 429:
                until = lenient_time(state["window"].get("reset")) or datetime.fromtimestamp(
                    now.timestamp() + (exc.retry_after or s.rate_window.total_seconds()), UTC)
                raise RateLimited(f"{self.key}: rate limited by {self.host}; parked until "
                                  f"{format_time(until)}", until=until, now=now) from None
            if exc.status in (401, 403):
                raise PermanentSourceError(
                    f"{self.key}: {self.host} refused {path.split('?')[0]} (HTTP {exc.status}): the instance "
                    f"may require a token for it; set mastodon.token_envs.{self.host} to the name of an "
                    "environment variable holding one") from None
            raise
        self._note_limits(res, window)
        return body

    @staticmethod
    def _note_limits(res: FetchResult, window: dict[str, Any]) -> None:
        remaining = res.headers.get("x-ratelimit-remaining", "")
        if remaining.isdigit():
            window["remaining"] = int(remaining)
        reset = lenient_time(res.headers.get("x-ratelimit-reset"))
        if reset is not None:
            window["reset"] = format_time(reset)

    def _window(self, cursor: dict[str, Any], now: datetime) -> dict[str, Any]:
        w = dict(cursor.get("window") or {})
        start = lenient_time(w.get("start"))
        reset = lenient_time(w.get("reset"))
        if start is None or now - start >= self.settings.rate_window or (reset is not None and reset <= now):
            return {"start": format_time(now), "used": 0}
        return w

    # -- a poll ---------------------------------------------------------------------------------------
    async def poll(self, cursor: dict[str, Any] | None, now: datetime) -> PollResult:
        cur = dict(cursor or {})
        state: dict[str, Any] = {
            "tags": dict(cur.get("tags") or {}), "backlog": dict(cur.get("backlog") or {}),
            "search": dict(cur.get("search") or {}), "threads": dict(cur.get("threads") or {}),
            "window": self._window(cur, now),
        }
        found: dict[str, Mention] = {}
        warnings: list[str] = []
        requests_before = state["window"]["used"]
        spent = False
        limited: datetime | None = None
        try:
            for tag in self.hashtags:
                await self._tag(tag, state, found, now)
            if self.token:
                for term in self.terms:
                    await self._search(term, state, found, now)
            self._add_threads(found, state, now)
            await self._follow(state, found, now)
        except _Spent:
            spent = True
        except (FetchError, RateLimited) as exc:
            if state["window"]["used"] - requests_before <= 1 and not found:
                raise
            warnings.append(str(exc))  # keep what the earlier requests gave
            limited = exc.until if isinstance(exc, RateLimited) else None
        park = limited
        w = state["window"]
        if park is None and (spent or w.get("remaining", RESERVE + 1) <= RESERVE):
            park = lenient_time(w.get("reset")) or (lenient_time(w.get("start")) or now) + self.settings.rate_window
        new = {k: v for k, v in state.items() if v}
        detail = {"requests": w["used"] - requests_before, "window_used": w["used"],
                  "rate_limit_remaining": w.get("remaining"), "threads": len(state["threads"]),
                  "hashtags": len(self.hashtags), "search": bool(self.token)}
        return PollResult(list(found.values()), new if new != cur else None, park_until=park, detail=detail,
                          warnings=warnings)

    async def _tag(self, tag: str, state: dict[str, Any], found: dict[str, Mention], now: datetime) -> None:
        """New statuses of one hashtag, newest first, paging back to ``since_id``. The run's progress is in
        ``backlog`` before each request, so a request refused half-way resumes there next poll."""
        s = self.settings
        run = dict(state["backlog"].get(tag) or {"since_id": state["tags"].get(tag)})
        for _ in range(s.max_pages_per_cycle):
            state["backlog"][tag] = run
            since, max_id = run.get("since_id"), run.get("max_id")
            params: list[tuple[str, Any]] = [("limit", s.page_limit)]
            if since:
                params.append(("since_id", since))
            if max_id:
                params.append(("max_id", max_id))
            page = await self._get(f"/api/v1/timelines/tag/{quote(tag)}", params, state, now)
            statuses = [st for st in page if isinstance(st, dict) and st.get("id")] if isinstance(page, list) else []
            for st in statuses:
                for m in status_mention(st, self.host, now):
                    found[m.id] = m
            if statuses:
                run = {**run, "newest": _newer(run.get("newest"), max((str(st["id"]) for st in statuses), key=_num)),
                       "max_id": min((str(st["id"]) for st in statuses), key=_num)}
            if since is None or len(statuses) < s.page_limit:
                # The run is complete (or this was the first poll, which reads one page, not the history).
                del state["backlog"][tag]
                state["tags"][tag] = _newer(since, run.get("newest")) or since
                return
        state["backlog"][tag] = run

    async def _search(self, term: str, state: dict[str, Any], found: dict[str, Mention], now: datetime) -> None:
        since = state["search"].get(term)
        params: list[tuple[str, Any]] = [("q", term.strip('"')), ("type", "statuses"), ("limit", 40)]
        if since:
            params.append(("min_id", since))
        body = await self._get("/api/v2/search", params, state, now)
        statuses = [st for st in (body or {}).get("statuses") or [] if isinstance(st, dict) and st.get("id")] \
            if isinstance(body, dict) else []
        for st in statuses:
            if since is None or _num(str(st["id"])) > _num(since):
                for m in status_mention(st, self.host, now):
                    found[m.id] = m
        if statuses:
            state["search"][term] = _newer(since, max((str(st["id"]) for st in statuses), key=_num))

    def _add_threads(self, found: dict[str, Mention], state: dict[str, Any], now: datetime) -> None:
        for m in found.values():
            if m.kind in ("post", "quote"):
                state["threads"].setdefault(m.id.split("/", 1)[1], {"at": format_time(m.created_at or now)})

    async def _follow(self, state: dict[str, Any], found: dict[str, Mention], now: datetime) -> None:
        """Replies and boosts of the statuses found before that are tracked and recent enough."""
        s = self.settings
        threads = state["threads"]
        cutoff = now - s.follow_threads_for
        for sid in [k for k, v in threads.items() if (lenient_time(v.get("at")) or now) < cutoff]:
            del threads[sid]
        ids = {f"mastodon:{self.host}/{sid}": sid for sid in threads}
        tracked = set(self.store.tracked(ids)) | {mid for mid in ids if mid in found}
        for mid in [m for m in ids if m not in tracked and m not in found]:
            threads.pop(ids[mid], None)  # not ours (it named no term): not followed
        # Never followed first, then the one followed longest ago (newest first among equals): when a window
        # fits only some threads, the newest must not take every window and starve the others.
        todo = sorted((ids[m] for m in tracked if ids[m] in threads), key=_num, reverse=True)
        todo.sort(key=lambda sid: str(threads[sid].get("checked") or ""))
        for sid in todo[:s.max_threads_per_cycle]:
            t = dict(threads[sid])
            seen, boosts = set(t.get("seen") or []), set(t.get("boosts") or [])
            try:
                context = await self._get(f"/api/v1/statuses/{sid}/context", [], state, now)
            except FetchError as exc:
                if exc.status not in (404, 410):
                    raise
                del threads[sid]  # deleted (or no longer public): nothing more to follow
                continue
            for st in (context or {}).get("descendants") or [] if isinstance(context, dict) else []:
                if isinstance(st, dict) and st.get("id") and str(st["id"]) not in seen:
                    seen.add(str(st["id"]))
                    for m in status_mention(st, self.host, now):
                        found.setdefault(m.id, m)
            accounts = await self._get(f"/api/v1/statuses/{sid}/reblogged_by", [("limit", 80)], state, now)
            for acc in accounts if isinstance(accounts, list) else []:
                if not isinstance(acc, dict) or not acc.get("id") or str(acc["id"]) in boosts:
                    continue
                boosts.add(str(acc["id"]))
                m = _boost(acc, sid, self.host, now)
                found.setdefault(m.id, m)
            t["seen"] = sorted(seen, key=_num)[-MAX_SEEN:]
            t["boosts"] = sorted(boosts)[-MAX_SEEN:]
            t["checked"] = format_time(now)
            threads[sid] = t


def _boost(account: dict[str, Any], sid: str, host: str, now: datetime) -> Mention:
    followers = account.get("followers_count")
    author = Author(id=f"{host}/{account['id']}", handle=str(account.get("acct") or account["id"]),
                    name=account.get("display_name") or None,
                    followers=followers if isinstance(followers, int) else None)
    return Mention(f"mastodon:{host}/{sid}/boost/{account['id']}", "mastodon", "repost", f"mastodon:{host}/{sid}",
                   None, author, "", [], now, now)


class _Spent(Exception):
    """The instance's request budget for this window is used up: stop, keep what was read."""
