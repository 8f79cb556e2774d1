"""The schema: its version and the migrations that lead to it, one step per version."""

from __future__ import annotations

SCHEMA_VERSION = 7

def _restamp(table: str, c: str) -> str:
    """The statement that rewrites ``table.c``'s ISO times in UTC ("...Z") to six fractional digits
    (plain SQL that SQLite and PostgreSQL both accept)."""
    return (f"UPDATE {table} SET {c} = CASE WHEN length({c}) = 20 THEN substr({c}, 1, 19) || '.000000Z'"
            f" ELSE substr({c}, 1, 20) || substr(substr({c}, 21, length({c}) - 21) || '000000', 1, 6) || 'Z' END"
            f" WHERE length({c}) BETWEEN 20 AND 26 AND substr({c}, 11, 1) = 'T' AND substr({c}, 20, 1) IN ('Z', '.')"
            f" AND substr({c}, length({c}), 1) = 'Z';")  # no LIKE: a '%' would be a placeholder to psycopg


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
    # 3: one stored-time form (store/base.py ``stamp``): every time column in UTC with microseconds, so
    # that times compare correctly as text. Times written at second or sub-second precision ("...:05Z",
    # "...:05.3Z") become "...:05.000000Z", "...:05.300000Z".
    "\n".join(_restamp(table, column) for table, columns in (
        ("mentions", ("created_at", "observed_at")), ("cursors", ("updated_at",)),
        ("source_health", ("last_success", "last_error_at", "last_items_at", "paused_until")),
        ("cascades", ("opened_at", "last_reaction_at", "alerted_at", "last_update_at")),
        ("decisions", ("at",)), ("outbox", ("next_attempt_at", "sent_at")), ("silences", ("until",)),
        ("orphans", ("observed_at",))) for column in columns),
    # 4: who has each storm and what was done about it, from Slack's buttons (monitor/store/actions.py).
    """
    CREATE TABLE alert_states (
        root_id TEXT NOT NULL,
        watchlist TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',   -- open | acknowledged | resolved
        owner TEXT,                            -- Slack user id
        owner_name TEXT,
        resolved_size INTEGER,                 -- reactions when resolved, reopened past growth_factor times it
        note TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (root_id, watchlist)
    );
    CREATE TABLE alert_actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        root_id TEXT NOT NULL,
        watchlist TEXT NOT NULL,
        action TEXT NOT NULL,                  -- take | acknowledge | mute | resolve | reopen
        user_id TEXT,
        user_name TEXT,
        at TEXT NOT NULL,
        note TEXT,
        dedupe_key TEXT NOT NULL UNIQUE        -- a retried delivery of the same press is applied once
    );
    CREATE INDEX alert_actions_root ON alert_actions(root_id, watchlist);
    """,
    # 5: one row rewritten by the health probe: does the database take writes?
    """
    CREATE TABLE store_probe (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL
    );
    """,
    # 6: the watch-lists the running daemon has in force, their sources, and when it loaded them.
    """
    CREATE TABLE watchlists_in_force (
        name TEXT PRIMARY KEY,
        sources TEXT NOT NULL,             -- JSON list of source keys
        loaded_at TEXT NOT NULL
    );
    """,
    # 7: several instances on one database (monitor/ops/cluster.py): who runs, who holds which watch-list,
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
