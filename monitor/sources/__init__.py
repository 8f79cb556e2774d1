"""Sources: X recent search, blog feeds and comment threads, behind one small interface.

``build_sources`` turns the config into the sources to poll; ``disabled_reasons`` says in plain
words which are off and why. See docs/sources.md.

Sources and their keys (the cursor and health keys):
- ``x:<watch-list>``: one per watch-list, when a bearer token resolves; the monthly read budget is
  shared equally among them, since it is one plan's;
- ``rss:feeds`` (or ``rss:feeds/<i>of<n>`` past 250 feeds): the distinct feeds of every watch-list,
  in batches polled concurrently within the shared fetcher's limits; each feed also gets a health
  row ``rss:<feed url>``;
- ``comments:threads``: the comment threads of matched posts and the listed ``comment_feeds``;
- ``xstream:all``: with ``x.mode: stream``, one filtered-stream connection instead of the ``x:`` sources;
- ``xlookup:open``: the spread of open complaints on X by post lookup (``x.lookup``), their replies and
  quotes; every X source shares one ledger of money and post reads (``monitor/sources/spend.py``).
- ``bluesky:jetstream``: Bluesky's whole network through Jetstream, filtered here (``bluesky.enabled``);
- ``mastodon:<host>``: one per instance any watch-list names, its hashtags' public timelines;
- ``hn:<watch-list>``: Hacker News stories and comments naming the watch-list's terms (Algolia search).
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import timedelta
from urllib.parse import urlsplit

from monitor.clock import Clock
from monitor.config.settings import Config, Settings, resolve_secret
from monitor.records import sourcekey
from monitor.sources.base import PollResult, RateLimited, Source, TextMatcher
from monitor.sources.blogs import BlogSource
from monitor.sources.bluesky import BlueskySource
from monitor.sources.comments import CommentSource
from monitor.sources.hn import HNSource
from monitor.sources.http import FetchError, HttpFetcher, origin_of
from monitor.sources.mastodon import MastodonSource, instance_key, instance_tags, instance_terms
from monitor.sources.spend import XLedger
from monitor.sources.x import MAX_QUERY, XSource, build_query
from monitor.sources.xlookup import XLookupSource
from monitor.sources.xstream import XStreamSource
from monitor.store.database import Store

__all__ = [
    "PollResult",
    "RateLimited",
    "Source",
    "FetchError",
    "HttpFetcher",
    "build_sources",
    "config_problems",
    "disabled_reasons",
    "feed_batches",
    "open_network_lines",
    "poll_interval",
    "watchlist_sources",
    "x_line",
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
    matcher: TextMatcher | None = None,
    key_suffix: str = "",
    budget_split: int | None = None,
) -> list[Source]:
    """Every source the config turns on (see ``disabled_reasons`` for the ones it does not).

    ``matcher`` is the pipeline's: Bluesky, read network-wide, is filtered by it before the pipeline
    (without one, Bluesky stays off). In a cluster (monitor/ops/cluster.py) ``config`` holds only the
    watch-lists this instance leases: ``budget_split`` is the number of watch-lists the X budget is
    shared among (all of them), and ``key_suffix`` keeps the keys (the cursors) of the sources that read
    for several watch-lists apart from those of another instance reading for others."""
    s = config.settings
    rng = rng or random.Random()
    sources: list[Source] = open_network_sources(config, store, clock, http, matcher=matcher, key_suffix=key_suffix)
    token = resolve_secret(s.x.bearer_token_env) if x_off(config) is None else None
    if token:  # x_off decides whether X runs, and says why not at start-up
        ledger = XLedger(s.x)
        share = s.x.monthly_read_budget // (budget_split or len(config.watchlists))
        xs: list[Source] = []
        if s.x.mode == "stream":
            queries = {name: build_query(wl) for name, wl in sorted(config.watchlists.items())}
            xs.append(XStreamSource("xstream:all" + key_suffix, queries, token, s.x, ledger=ledger, rng=rng))
        else:
            for name in sorted(config.watchlists):
                xs.append(XSource(f"x:{name}", build_query(config.watchlists[name]), token, s.x, budget=share,
                                  ledger=ledger, watchlist=name))
        if s.x.lookup:
            xs.append(XLookupSource("xlookup:open" + key_suffix, store, token, s.x, ledger=ledger,
                                    window=s.detection.window,
                                    watchlists=sorted(config.watchlists) if key_suffix else None))
        for src in xs:  # what every X source spent this month, and read today, survives a restart
            ledger.seed(src.key, store.get_cursor(src.key))
        sources += xs
    if not s.blogs.enabled:
        return sources
    feeds = [f for name in sorted(config.watchlists) for f in config.watchlists[name].feeds]
    direct = [f for name in sorted(config.watchlists) for f in config.watchlists[name].comment_feeds]
    if not feeds and not direct:
        return sources
    fetcher = http or HttpFetcher(s.blogs, clock=clock)
    listed = {urlsplit(u).hostname or "" for u in feeds + direct} - {""}
    for key, batch in feed_batches(feeds).items():
        sources.append(BlogSource(key + key_suffix, batch, fetcher, settings=s.blogs, rng=rng, listed_hosts=listed))
    sources.append(
        CommentSource("comments:threads" + key_suffix, store, fetcher, settings=s.blogs, direct_feeds=direct, rng=rng)
    )
    return sources


def x_line(config: Config) -> str | None:
    """X's start-up line when it runs: the mode and whether lookups measure spread; None when X is off
    (``disabled_reasons`` then says why)."""
    if x_off(config) is not None:
        return None
    x, n = config.settings.x, len(config.watchlists)
    mode = (f"stream (one filtered-stream connection for {n} watch-list(s))" if x.mode == "stream"
            else f"search (recent search for {n} watch-list(s))")
    return f"X: on, mode {mode}, lookups {'on' if x.lookup else 'off'}"


def x_off(config: Config) -> str | None:
    """Why X is off, as a start-up line; None when it runs."""
    s = config.settings
    if not s.x.enabled:
        return "X: off, disabled in settings (x.enabled: false)"
    if not s.x.bearer_token_env:
        return "X: off, no bearer_token_env set in settings"
    if resolve_secret(s.x.bearer_token_env) is None:
        return f"X: off, no token in ${s.x.bearer_token_env}"
    if s.x.monthly_read_budget <= 0:
        return "X: off, monthly_read_budget is 0"
    if not config.watchlists:
        return "X: off, no watch-lists"
    return None


def disabled_reasons(config: Config) -> list[str]:
    """Plain-words lines for each source that is off, and why."""
    s = config.settings
    out = []
    if (off := x_off(config)) is not None:
        out.append(off)
    elif not s.x.lookup:
        out.append("X lookups: off (x.lookup: false): reposts, which keyword search no longer returns, go uncounted")
    if not s.blogs.enabled:
        out.append("blogs: off, disabled in settings (blogs.enabled: false)")
    else:
        if not any(wl.feeds for wl in config.watchlists.values()):
            out.append("blogs: off, no feeds in any watch-list")
        if not any(wl.feeds or wl.comment_feeds for wl in config.watchlists.values()):
            out.append("comments: off, no feeds or comment_feeds in any watch-list")
    return out


def config_problems(config: Config) -> list[str]:
    """What each source would refuse to send, found before it runs (``file:line: field: why``).

    X: the recent-search query ``build_query`` makes of each watch-list (the one the source sends)
    must fit in X's ``MAX_QUERY`` characters; without this check the source would pause at its
    first poll. Checked whether or not a token is set, so check-config on a laptop finds it too.
    """
    if not config.settings.x.enabled:
        return []
    out = []
    for name, wl in sorted(config.watchlists.items()):
        query = build_query(wl)
        if len(query) > MAX_QUERY:
            key = "x_query" if wl.x_query else "terms"
            origin = config.origins.get(name)
            where = origin.at(key) if origin is not None else f"{config.watchlist_dir / name}.yaml:1"
            out.append(f"{where}: {key}: the X search query made of it is {len(query):,} characters, X allows "
                       f"{MAX_QUERY}; " + ("shorten it" if wl.x_query else "set a shorter x_query, or use fewer terms"))
    return out


def open_network_sources(config: Config, store: Store, clock: Clock, http: HttpFetcher | None = None, *,
                         matcher: TextMatcher | None = None, key_suffix: str = "") -> list[Source]:
    """The Bluesky, Mastodon and Hacker News sources the config turns on (docs/sources.md)."""
    s = config.settings
    out: list[Source] = []
    fetcher = http or HttpFetcher(s.blogs, clock=clock)
    if s.bluesky.enabled and matcher is not None and config.watchlists:
        out.append(BlueskySource("bluesky:jetstream" + key_suffix, s.bluesky, store, matcher, fetcher))
    if s.mastodon.enabled:
        for base, tags in instance_tags(config).items():
            token = resolve_secret(s.mastodon.token_envs.get(instance_key(base)[9:]))
            out.append(MastodonSource(instance_key(base) + key_suffix, base, tags, s.mastodon, fetcher, store,
                                      token=token, terms=instance_terms(config, base)))
    if s.hn.enabled:
        for name in sorted(config.watchlists):
            wl = config.watchlists[name]
            if wl.hn:
                out.append(HNSource(f"hn:{name}", list(wl.terms), s.hn, fetcher, store))
    return out


def open_network_lines(config: Config) -> list[str]:
    """One line for each of Bluesky, Mastodon and Hacker News: on (reading what) or off, and why."""
    s = config.settings
    lines = []
    if not s.bluesky.enabled:
        lines.append("Bluesky: off, disabled in settings (bluesky.enabled: false)")
    elif not config.watchlists:
        lines.append("Bluesky: off, no watch-lists")
    else:
        lines.append(f"Bluesky: on, streaming {', '.join(s.bluesky.collections)} from {s.bluesky.jetstream_url}, "
                     f"matched here against {len(config.watchlists)} watch-list(s)")
    tags = instance_tags(config)
    if not s.mastodon.enabled:
        lines.append("Mastodon: off, disabled in settings (mastodon.enabled: false)")
    elif not tags:
        lines.append("Mastodon: off, no watch-list has mastodon: {instances, hashtags}")
    else:
        with_token = [b for b in tags if resolve_secret(s.mastodon.token_envs.get(instance_key(b)[9:]))]
        lines.append(f"Mastodon: on, {len(tags)} instance(s) ({', '.join(instance_key(b)[9:] for b in tags)}), "
                     f"{sum(len(t) for t in tags.values())} hashtag timeline(s)"
                     + (f"; search with a token on {len(with_token)}" if with_token else "; no token, no search"))
    hn = [n for n, wl in config.watchlists.items() if wl.hn]
    if not s.hn.enabled:
        lines.append("Hacker News: off, disabled in settings (hn.enabled: false)")
    elif not hn:
        lines.append("Hacker News: off, every watch-list has hn: false" if config.watchlists
                     else "Hacker News: off, no watch-lists")
    else:
        lines.append(f"Hacker News: on, searching {s.hn.api_url} for {len(hn)} watch-list(s)")
    return lines


# Sources that read for every watch-list at once.
SHARED_KEYS = ("xstream:all", "xlookup:open", "bluesky:jetstream")


def watchlist_sources(config: Config, sources: dict[str, Source]) -> dict[str, list[str]]:
    """Each watch-list's name -> the keys of the sources that read for it (for ``monitor status``)."""
    out: dict[str, list[str]] = {}
    for name, wl in config.watchlists.items():
        feeds = set(wl.feeds)
        hosts = {instance_key(b) for b in wl.mastodon.instances} if wl.mastodon else set()
        out[name] = sorted(
            k for k, src in sources.items()
            if k.split("@", 1)[0] in (f"x:{name}", f"hn:{name}", *SHARED_KEYS) or k.split("@", 1)[0] in hosts
            or feeds & set(getattr(src, "feeds", ()))
            or (k.startswith("comments:") and bool(wl.feeds or wl.comment_feeds)))
    return out


def poll_interval(settings: Settings, key: str, *, fast: bool = False) -> timedelta:
    """How often the source ``key`` is polled; ``fast`` while a complaint it could follow is growing."""
    s = settings
    kind = sourcekey.kind(key)
    if kind == "x":
        return s.x.fast_poll_every if fast else s.x.poll_every
    if kind == "xlookup":  # each post has its own cadence within (monitor/sources/xlookup.py)
        return s.x.lookup_every
    if kind == "xstream":  # stores what the connection delivered
        return s.x.stream_poll_every
    if kind == "comments":
        return s.blogs.fast_comments_poll_every if fast else s.blogs.comments_poll_every
    return {"bluesky": s.bluesky.poll_every, "mastodon": s.mastodon.poll_every,
            "hn": s.hn.poll_every}.get(kind, s.blogs.poll_every)
