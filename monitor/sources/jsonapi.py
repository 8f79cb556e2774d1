"""JSON over HTTP for the open networks' APIs (Bluesky's AppView, Mastodon, Hacker News' Algolia search),
through the shared fetcher, so its size cap, redirect checks, per-host limits and Retry-After parking
hold for them as for the feeds."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from monitor.sources.body import FetchError
from monitor.sources.http import FetchResult, HttpFetcher

ACCEPT_JSON = "application/json"


def with_query(url: str, params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    """``url`` with ``params`` as its query string (a list value repeats the key)."""
    query = urlencode(params, doseq=True)
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url


async def get_json(
    fetcher: HttpFetcher, url: str, *, headers: dict[str, str] | None = None
) -> tuple[Any, FetchResult]:
    """GET ``url`` and decode its JSON body. Raises FetchError (the fetcher's, or a body that is not JSON)."""
    res = await fetcher.get(url, accept=ACCEPT_JSON, extra_headers=headers)
    try:
        return json.loads(res.body), res
    except ValueError:
        raise FetchError(f"HTTP {res.status} with a body that is not JSON", url=url, status=res.status) from None
