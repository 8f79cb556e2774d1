"""Linking reactions to their roots.

A cascade is a root mention and everything reacting to it: replies, reposts and quotes by
``parent_id`` chains, blog comments, and posts on any source that link to the root's canonical URL.
A reaction stays with its cascade even when its own text names no term. A reaction to something not
tracked (yet) is an orphan: it waits, under its parent's id and its links' URLs, to be adopted when
that parent or post arrives, since sources are polled at different paces and a tweet sharing a blog
post is often seen before the post. Anything else that is not ours by its text is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.cascades.match import Matcher
from monitor.records.mention import Mention, canonical_url, x_post_id
from monitor.store.database import Tracked


@dataclass(slots=True)
class Linked:
    mention: Mention
    root_id: str
    watchlists: tuple[str, ...]
    canonical_url: str | None
    via: str                    # "terms", "parent" or "link": why it is ours


class Lookup(Protocol):
    """What linking asks of what is already tracked (the store answers it)."""

    def tracked(self, ids: Iterable[str]) -> dict[str, Tracked]:
        """Root and watch-lists of those ids that are tracked."""
        ...

    def mentions_by_url(self, urls: Iterable[str]) -> dict[str, str]:
        """Canonical URL -> id of the tracked mention published there."""
        ...


class Linker:
    def __init__(self, matcher: Matcher, lookup: Lookup):
        self.matcher = matcher
        self.lookup = lookup

    def link(self, batch: Sequence[Mention], parents: dict[str, Tracked] | None = None
             ) -> tuple[list[Linked], list[tuple[str, Mention]]]:
        """Decide, for each mention of a batch in observed order, its cascade root and watch-lists.

        Parents and linked posts are looked up in the batch first (a reply may arrive in the same
        poll as its parent), then in the store, with one query each for the whole batch. Returns the
        linked mentions and the orphans, each under the keys that may adopt it later. ``parents``, when
        given, is what the caller already read (``tracked``) for at least the batch's parent ids: the
        store is not asked again (the pipeline reads a batch's ids and parents in one query).
        """
        batch = parents_first(batch)
        if parents is None:
            parents = self.lookup.tracked(m.parent_id for m in batch if m.parent_id)
        link_urls = {canonical_url(u) for m in batch if not m.parent_id for u in m.links}
        by_url = self.lookup.mentions_by_url(link_urls) if link_urls else {}
        url_targets = self.lookup.tracked(by_url.values()) if by_url else {}
        local: dict[str, Tracked] = {}
        out: list[Linked] = []
        orphans: list[tuple[str, Mention]] = []
        for m in batch:
            # A comment's permalink is its post's URL plus a fragment: it must not stand for the post.
            own_url = canonical_url(m.url) if m.url and m.kind != "comment" else None
            tracked = self._parent(m, local, parents)
            via = "parent"
            if tracked is None and m.links:
                tracked = self._linked(m, own_url, local, by_url, url_targets)
                via = "link"
            if tracked is None:
                wls = self.matcher.watchlists_for(m.full_text)
                if not wls:
                    orphans.extend((key, m) for key in orphan_keys(m))
                    continue
                tracked, via = Tracked(m.id, wls), "terms"
            local[m.id] = tracked
            if own_url:
                by_url.setdefault(own_url, m.id)
                url_targets.setdefault(m.id, tracked)
            out.append(Linked(m, tracked.root_id, tracked.watchlists, own_url, via))
        return out, orphans

    @staticmethod
    def adoption_keys(linked: Sequence[Linked]) -> list[str]:
        """The orphan keys that newly tracked mentions answer to."""
        keys = [f"parent:{x.mention.id}" for x in linked]
        keys += [f"url:{x.canonical_url}" for x in linked if x.canonical_url]
        return keys

    @staticmethod
    def _parent(m: Mention, local: dict[str, Tracked], stored: dict[str, Tracked]) -> Tracked | None:
        if not m.parent_id:
            return None
        return local.get(m.parent_id) or stored.get(m.parent_id)

    @staticmethod
    def _linked(m: Mention, own_url: str | None, local: dict[str, Tracked], by_url: dict[str, str],
                targets: dict[str, Tracked]) -> Tracked | None:
        for url in m.links:
            c = canonical_url(url)
            if c == own_url:
                continue
            target = by_url.get(c)
            if target and target != m.id:
                found = local.get(target) or targets.get(target)
                if found:
                    return found
        return None


def parents_first(batch: Sequence[Mention]) -> list[Mention]:
    """The batch with every mention after its parent (when the parent is in the batch), else in order.

    X returns newest first, so a reply can come before its parent in one poll; were it linked first
    and named a term itself, it would open a cascade of its own and split its parent's.
    """
    by_id = {m.id: m for m in batch}
    if not any(m.parent_id in by_id for m in batch):
        return list(batch)
    out: list[Mention] = []
    placed: set[str] = set()
    for m in batch:
        chain: list[Mention] = []
        seen: set[str] = set()
        cur: Mention | None = m
        while cur is not None and cur.id not in placed and cur.id not in seen:
            chain.append(cur)
            seen.add(cur.id)
            cur = by_id.get(cur.parent_id) if cur.parent_id else None
        for c in reversed(chain):
            placed.add(c.id)
            out.append(c)
    return out


def orphan_keys(m: Mention) -> list[str]:
    """Where an untracked reaction waits: its parent's id, or the URLs it links to. A link to an X post
    waits under the post's id, as a reply does: the post's address may be written in several forms."""
    if m.parent_id:
        return [f"parent:{m.parent_id}"]
    own = canonical_url(m.url) if m.url else None
    return [f"parent:{post}" if (post := x_post_id(c)) else f"url:{c}"
            for c in {canonical_url(u) for u in m.links} if c != own]
