"""A source's key, which names its cursor: ``<kind>:<name>``, as ``x:acme`` or ``rss:feeds/1of2``.

In a cluster, a source that reads for several watch-lists (Bluesky, the X stream and lookups, the
comment threads) is one per instance: its key ends in ``@`` and the watch-lists that instance
leases, so that another instance leasing others keeps a cursor of its own.
"""

from __future__ import annotations

from collections.abc import Collection


def kind(key: str) -> str:
    """'x:acme' -> 'x'; 'rss:feeds/1of2' -> 'rss': what the source is, whatever it reads."""
    return key.split(":", 1)[0]


def unsuffixed(key: str) -> str:
    """The key without a cluster instance's ``@<watch-lists>``."""
    return key.split("@", 1)[0]


def cluster_suffix(watchlists: Collection[str]) -> str:
    """What the key of a source reading for several watch-lists ends in on the instance that leases
    ``watchlists``."""
    return "@" + "+".join(sorted(watchlists)) if watchlists else "@none"
