"""The schema: its version and the migrations that lead to it, one step per version."""

from __future__ import annotations

SCHEMA_VERSION = 3

# Each entry migrates the schema from version i to i+1. Append only; never edit a shipped step.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE mentions (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        parent_id TEXT,
        root_id TEXT NOT NULL,
        watchlists TEXT NOT NULL,          -- comma-separated watch-list names
        url TEXT,
        author_id TEXT,
        author_handle TEXT,
        followers INTEGER,
        created_at TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        sentiment REAL,
        complaint REAL,
        specific INTEGER,
        category TEXT,
        record TEXT NOT NULL               -- the mention record as JSON, unknown keys kept
    );
    CREATE INDEX mentions_root ON mentions(root_id);
    CREATE INDEX mentions_observed ON mentions(observed_at);
    CREATE TABLE urls (
        url TEXT PRIMARY KEY,              -- canonical URL of a tracked mention
        mention_id TEXT NOT NULL
    );
    CREATE TABLE cursors (
        source_key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE source_health (
        source_key TEXT PRIMARY KEY,
        last_success TEXT,
        last_error TEXT,
        last_error_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        items_seen INTEGER NOT NULL DEFAULT 0,
        last_items_at TEXT,
        paused_until TEXT,
        detail TEXT
    );
    CREATE TABLE cascades (
        root_id TEXT NOT NULL,
        watchlist TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        last_reaction_at TEXT,
        reactions INTEGER NOT NULL DEFAULT 0,
        level TEXT,                        -- null until alerted, then 'new'
        alerted_at TEXT,
        alerted_size INTEGER,              -- size at the last alert or update
        last_update_at TEXT,
        vips TEXT NOT NULL DEFAULT '',     -- VIP handles already announced
        silenced_until TEXT,
        PRIMARY KEY (root_id, watchlist)
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        level TEXT,
        watchlist TEXT NOT NULL,
        root_id TEXT,
        payload TEXT NOT NULL              -- the alert line as JSON
    );
    CREATE INDEX decisions_root ON decisions(root_id);
    CREATE TABLE outbox (
        decision_id INTEGER PRIMARY KEY REFERENCES decisions(id),
        channel TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',  -- pending | held | sent | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        ts TEXT,                           -- Slack message ts once posted
        thread_ts TEXT,
        sent_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE TABLE threads (
        root_id TEXT NOT NULL,
        watchlist TEXT NOT NULL,
        channel TEXT NOT NULL,
        ts TEXT NOT NULL,                  -- the root Slack message of this storm
        PRIMARY KEY (root_id, watchlist)
    );
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        watchlist TEXT,
        root_id TEXT,
        until TEXT NOT NULL,
        reason TEXT
    );
    """,
    # 2: reactions whose parent or linked post is not (yet) tracked wait here to be adopted.
    """
    CREATE TABLE orphans (
        key TEXT NOT NULL,                 -- 'parent:<id>' or 'url:<canonical url>'
        mention_id TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (key, mention_id)
    );
    CREATE INDEX orphans_observed ON orphans(observed_at);
    """,
    # 3: several instances on one database (monitor/ops/cluster.py): who runs, who holds which watch-list,
    # and which instance claimed an outbox row for delivery.
    """
    CREATE TABLE instances (
        instance TEXT PRIMARY KEY,         -- cluster.instance, or hostname:pid
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    );
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,             -- 'watchlist:<name>' or 'global'
        holder TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        renewed_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
    """,
]
