"""The only package that speaks SQL: the connection, transactions and migrations (``database.py``,
``schema.py``), and one module per table family: ``mentions.py`` (mentions, urls, orphans),
``cascades.py`` (cascades, the decision log), ``outbox.py`` (outbox, threads), ``silences.py``,
``sources.py`` (cursors, source health), ``actions.py`` (storm state and button actions);
``indexes.py`` defers a replay's secondary indexes."""

from __future__ import annotations

from monitor.store.database import MentionRow, Store, Tracked
from monitor.store.opening import open_store

__all__ = ["MentionRow", "Store", "Tracked", "open_store"]
