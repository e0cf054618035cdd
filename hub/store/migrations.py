"""Versioned schema migrations; PRAGMA user_version holds the number applied.

Append only: never edit a migration that has shipped; add the next number instead.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "devices, shadows, commands, tokens, pairing codes, history, key-value",
        """
        CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            integration TEXT NOT NULL,
            name TEXT NOT NULL,
            room TEXT,
            description TEXT NOT NULL,      -- DeviceDescription JSON
            online INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL
        );
        CREATE TABLE removed_devices (id TEXT PRIMARY KEY, removed REAL NOT NULL);
        CREATE TABLE shadows (
            device_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            doc TEXT NOT NULL               -- reported/desired JSON
        );
        CREATE TABLE commands (
            id TEXT PRIMARY KEY,
            device_id TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            request TEXT NOT NULL,          -- JSON of what was asked, to detect key reuse
            status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE INDEX commands_created ON commands(created);
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,      -- sha256 of the token; the token itself is never stored
            created REAL NOT NULL,
            last_used REAL,
            revoked REAL
        );
        CREATE TABLE pairing_codes (
            hash TEXT PRIMARY KEY,
            expires REAL NOT NULL,
            used REAL
        );
        CREATE TABLE history (
            device_id TEXT NOT NULL,
            prop TEXT NOT NULL,
            ts REAL NOT NULL,
            value REAL NOT NULL
        );
        CREATE INDEX history_lookup ON history(device_id, prop, ts);
        CREATE INDEX history_ts ON history(ts);
        CREATE TABLE history_rollup (
            device_id TEXT NOT NULL,
            prop TEXT NOT NULL,
            bucket REAL NOT NULL,
            n INTEGER NOT NULL,
            vmin REAL NOT NULL,
            vmax REAL NOT NULL,
            vavg REAL NOT NULL,
            PRIMARY KEY (device_id, prop, bucket)
        );
        """,
    ),
    (
        2,
        "rules: definitions, durable timers, traces, scenes",
        """
        CREATE TABLE rules (
            id TEXT PRIMARY KEY,
            doc TEXT NOT NULL,              -- Rule JSON (hub.rules.model)
            enabled INTEGER NOT NULL DEFAULT 1,
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE TABLE rule_timers (
            id TEXT PRIMARY KEY,            -- rule#for0, rule#at1, rule#remind2, rule#run-...
            rule_id TEXT NOT NULL,
            kind TEXT NOT NULL,             -- for | delay | remind | schedule
            due REAL NOT NULL,              -- epoch seconds; fires then, even after a restart
            payload TEXT NOT NULL
        );
        CREATE INDEX rule_timers_rule ON rule_timers(rule_id);
        CREATE TABLE rule_traces (
            rule_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ts REAL NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (rule_id, seq)
        );
        CREATE TABLE rule_scenes (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
        """,
    ),
    (
        3,
        "notifications: the inbox of what rules sent, open until someone resolves it",
        """
        CREATE TABLE notifications (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- order (newest first) and page cursor
            id TEXT NOT NULL UNIQUE,
            rule_id TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',        -- the reminder's timer id (rule#remind0)
            kind TEXT NOT NULL,                     -- alert | reminder
            title TEXT NOT NULL,
            message TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL,                  -- the last time it was sent
            count INTEGER NOT NULL DEFAULT 1,       -- times sent (reminders repeat)
            state TEXT NOT NULL DEFAULT 'open',     -- open | resolved
            resolved_at REAL,
            resolved_by TEXT
        );
        CREATE INDEX notifications_state ON notifications(state, seq);
        """,
    ),
    (
        4,
        "notifications: a version per send, so the relay link forwards what it missed offline",
        """
        ALTER TABLE notifications ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        UPDATE notifications SET version = seq;
        CREATE INDEX notifications_version ON notifications(version);
        """,
    ),
]
