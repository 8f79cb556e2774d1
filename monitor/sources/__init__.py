"""Sources: X recent search, blog feeds and comment threads, behind one small interface.

``build_sources`` turns the config into the sources to poll; ``disabled_reasons`` says in plain
words which are off and why. See docs/sources.md.

Sources and their keys (the cursor and health keys):
- ``x:<watch-list>``: one per watch-list, when a bearer token resolves; the monthly read budget is
  shared equally among them, since it is one plan's;
- ``rss:feeds`` (or ``rss:feeds/<i>of<n>`` past 250 feeds): the distinct feeds of every watch-list,
  in batches polled concurrently within the shared fetcher's limits; each feed also gets a health
  row ``rss:<feed url>``;
- ``comments:threads``: the comment threads of matched posts and the listed ``comment_feeds``.
"""

from __future__ import annotations

import hashlib
import math
import random

from monitor.clock import Clock
from monitor.config.settings import Config, resolve_secret
from monitor.sources.base import PollResult, RateLimited, Source
from monitor.sources.blogs import BlogSource
from monitor.sources.comments import CommentSource
from monitor.sources.http import FetchError, HttpFetcher, origin_of
from monitor.sources.x import XSource, build_query
from monitor.store.database import Store

__all__ = [
    "PollResult",
    "RateLimited",
    "Source",
    "FetchError",
    "HttpFetcher",
    "build_sources",
    "disabled_reasons",
    "feed_batches",
]

FEEDS_PER_BATCH = 250


def feed_batches(feeds: list[str], per_batch: int = FEEDS_PER_BATCH) -> dict[str, list[str]]:
    """Feeds grouped into batches by a hash of their origin (scheme, host, port).

    All feeds of one host share a batch, so its workers reuse their connections for all of them;
    keys stay stable while the number of batches does, so adding a feed does not reshuffle cursors.
    """
    unique = list(dict.fromkeys(feeds))
    if not unique:
        return {}
    n = max(1, math.ceil(len(unique) / per_batch))
    if n == 1:
        return {"rss:feeds": unique}
    out: dict[str, list[str]] = {}
    for url in unique:
        i = int(hashlib.sha1(origin_of(url).encode()).hexdigest()[:8], 16) % n
        out.setdefault(f"rss:feeds/{i + 1}of{n}", []).append(url)
    return out


def build_sources(
    config: Config,
    store: Store,
    clock: Clock,
    http: HttpFetcher | None = None,
    *,
    rng: random.Random | None = None,
    key_suffix: str = "",
    budget_split: int | None = None,
) -> list[Source]:
    """Every source the config turns on (see ``disabled_reasons`` for the ones it does not).

    In a cluster (monitor/ops/cluster.py) ``config`` holds only the watch-lists this instance leases:
    ``budget_split`` is the number of watch-lists the X budget is shared among (all of them), and
    ``key_suffix`` keeps the blog and comment sources' keys (their cursors) apart from those of another
    instance polling other watch-lists' feeds."""
    s = config.settings
    rng = rng or random.Random()
    sources: list[Source] = []
    token = resolve_secret(s.x.bearer_token_env) if s.x.enabled else None
    if token and s.x.monthly_read_budget > 0 and config.watchlists:
        share = s.x.monthly_read_budget // (budget_split or len(config.watchlists))
        for name in sorted(config.watchlists):
            sources.append(
                XSource(f"x:{name}", build_query(config.watchlists[name]), token, s.x, budget=share)
            )
    if not s.blogs.enabled:
        return sources
    feeds = [f for name in sorted(config.watchlists) for f in config.watchlists[name].feeds]
    direct = [f for name in sorted(config.watchlists) for f in config.watchlists[name].comment_feeds]
    if not feeds and not direct:
        return sources
    fetcher = http or HttpFetcher(s.blogs, clock=clock)
    for key, batch in feed_batches(feeds).items():
        sources.append(BlogSource(key + key_suffix, batch, fetcher, settings=s.blogs, rng=rng))
    sources.append(
        CommentSource("comments:threads" + key_suffix, store, fetcher, settings=s.blogs, direct_feeds=direct, rng=rng)
    )
    return sources


def disabled_reasons(config: Config) -> list[str]:
    """Plain-words lines for each source that is off, and why."""
    s = config.settings
    out = []
    if not s.x.enabled:
        out.append("X: off, disabled in settings (x.enabled: false)")
    elif not s.x.bearer_token_env:
        out.append("X: off, no bearer_token_env set in settings")
    elif resolve_secret(s.x.bearer_token_env) is None:
        out.append(f"X: off, no token in ${s.x.bearer_token_env}")
    elif s.x.monthly_read_budget <= 0:
        out.append("X: off, monthly_read_budget is 0")
    elif not config.watchlists:
        out.append("X: off, no watch-lists")
    if not s.blogs.enabled:
        out.append("blogs: off, disabled in settings (blogs.enabled: false)")
    else:
        if not any(wl.feeds for wl in config.watchlists.values()):
            out.append("blogs: off, no feeds in any watch-list")
        if not any(wl.feeds or wl.comment_feeds for wl in config.watchlists.values()):
            out.append("comments: off, no feeds or comment_feeds in any watch-list")
    return out
