"""The station database's tables, and opening it: for a writer (the station service), which
makes and migrates every module's tables, or read-only (the consoles, the CLI's reads).

One schema and one set of migrations for both engines: the DDL is written as SQLite takes it
and :meth:`~console.station.store.db.Db.ddl` says it PostgreSQL's way. Alarm writes are
durable before the hub is acknowledged; see :mod:`console.station.store.writer` for the
transactions.
"""

from __future__ import annotations

import time

from console.station import audit, calls, records_store, users
from console.station.store import notify, summary
from console.station.store.db import Db, Location

SCHEMA = """
CREATE TABLE IF NOT EXISTS homes (
    hub TEXT PRIMARY KEY,
    elder TEXT,                      -- Elder record as JSON; NULL for a hub not in homes.yaml
    online INTEGER NOT NULL DEFAULT 0,
    status_ts REAL,                  -- station time of the last online/offline change
    last_heartbeat REAL,             -- station time the last heartbeat arrived
    pending INTEGER NOT NULL DEFAULT 0, -- messages the hub reported not yet acknowledged
    dropped INTEGER NOT NULL DEFAULT 0, -- telemetry the hub's outbox size bound ever dropped
    walktest_until REAL,             -- station time the home's walk-test mode ends; NULL: none
    walktest_by TEXT,                -- the installer who started it
    walktest_last TEXT,              -- id of the home's latest walk test (walktests.id)
    seed TEXT,                       -- sha256 of the homes.yaml entry last applied to `elder`;
                                     -- desk:<sha256> once edited at the desk (the file no longer applies)
    added REAL                       -- station time the elder record was first stored
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,             -- the hub's event id: de-duplication key
    hub TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts REAL NOT NULL,                -- hub time
    received REAL NOT NULL,          -- station time
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_hub ON events(hub, ts);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,             -- id of the raising event
    hub TEXT NOT NULL,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    raised REAL NOT NULL,            -- hub time of the trigger
    received REAL NOT NULL,          -- station time it was stored
    officer TEXT,
    claimed REAL,
    closed REAL,
    outcome TEXT,
    notes TEXT,
    claimed_by TEXT,                 -- username of the officer; `officer` is their display name
    escalated REAL,                  -- station time it was flagged unclaimed past the limit
    pressed INTEGER NOT NULL DEFAULT 0, -- times the elder pressed again while it was open
    pressed_last REAL                -- hub time of the latest of those presses
);
CREATE INDEX IF NOT EXISTS alarms_hub ON alarms(hub, raised);
CREATE INDEX IF NOT EXISTS alarms_open ON alarms(state) WHERE state NOT IN ('resolved', 'cancelled');
CREATE INDEX IF NOT EXISTS alarms_unclaimed ON alarms(received) WHERE state = 'delivered';
CREATE TABLE IF NOT EXISTS alarm_log (  -- every step, stamped where it happened
    alarm TEXT NOT NULL,
    state TEXT NOT NULL,
    ts REAL NOT NULL,
    actor TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS alarm_log_alarm ON alarm_log(alarm);
CREATE TABLE IF NOT EXISTS alarm_steps (  -- the response checklist: county plan steps stamped
    alarm TEXT NOT NULL,
    step TEXT NOT NULL,              -- a step key of the county response plan
    ts REAL NOT NULL,                -- station time
    officer TEXT NOT NULL,           -- display name
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_steps_alarm ON alarm_steps(alarm);
CREATE TABLE IF NOT EXISTS lanes (     -- per hub and outbox lane: the last message stored
    hub TEXT NOT NULL,
    lane TEXT NOT NULL,
    epoch TEXT NOT NULL,             -- the hub outbox's identity (a new database restarts n)
    last INTEGER NOT NULL,           -- highest seq n stored
    PRIMARY KEY (hub, lane)
);
CREATE TABLE IF NOT EXISTS walktests (  -- walk-test events: the record of each test, never alarms
    id TEXT PRIMARY KEY,             -- the hub's event id
    hub TEXT NOT NULL,
    kind TEXT NOT NULL,              -- the device's own event (button.press), or walktest.start,
    source TEXT NOT NULL,            -- .end, .ping, .report from the hub itself (source 'hub')
    ts REAL NOT NULL,                -- hub time
    received REAL NOT NULL,          -- station time
    data TEXT NOT NULL               -- the event's data as JSON (room, location, rssi, battery, …)
);
CREATE INDEX IF NOT EXISTS walktests_hub ON walktests(hub, ts);
CREATE TABLE IF NOT EXISTS rejected (   -- inputs refused at the door, kept for inspection
    ts REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL            -- first 1 KiB
);
CREATE TABLE IF NOT EXISTS write_check (  -- rewritten while writes fail: can it write again?
    id INTEGER PRIMARY KEY CHECK (id = 1),
    ts REAL NOT NULL
);
"""

# Columns added since a database was made (older databases get them at start).
ADDED = {"alarms": (("claimed_by", "TEXT"), ("escalated", "REAL"),
                    ("pressed", "INTEGER NOT NULL DEFAULT 0"), ("pressed_last", "REAL")),
         "homes": (("dropped", "INTEGER NOT NULL DEFAULT 0"), ("walktest_until", "REAL"),
                   ("walktest_by", "TEXT"), ("walktest_last", "TEXT"), ("seed", "TEXT"),
                   ("added", "REAL")),
         "users": (("slowed_until", "REAL"),),  # its locked_until is no longer read
         "sessions": (("seen", "REAL"),)}
# Tables made from what is stored already: an older database gets each at start, made with
# what a background task fills listed (quickly: a start never waits for the history), in one
# transaction (a new one, made empty the same way).
BUILT = {"home_summary": (summary.SCHEMA, summary.to_backfill)}


def connect(location: Location, *, readonly: bool = False) -> Db:
    """The database at ``location`` (a file, or a PostgreSQL DSN): read-only, or for writing
    with every table made and migrated (a file's folder too). Autocommit: writes go through
    the writer's transactions."""
    db = Db.open(location, readonly=readonly)
    if not readonly:
        make(db)
    return db


def make(db: Db) -> None:
    """Make every table that is missing and migrate the others. On PostgreSQL, workers that
    start together take turns (a session lock), and each script is one transaction."""
    if db.pg:
        db.execute("SELECT pg_advisory_lock(?)", (SCHEMA_LOCK,))
    try:
        for script in (SCHEMA, audit.SCHEMA + db.append_only("audit"), users.SCHEMA,
                       calls.SCHEMA, records_store.SCHEMA, notify.SCHEMA, summary.BACKFILL):
            db.script(script)
        migrate(db)
    finally:
        if db.pg:
            db.execute("SELECT pg_advisory_unlock(?)", (SCHEMA_LOCK,))


SCHEMA_LOCK = 0x616E78696E  # "anxin": the advisory lock held while the schema is made


def migrate(db: Db) -> None:
    """Add the columns and the tables made from what is stored that an older database lacks."""
    for table, columns in ADDED.items():
        have = db.columns(table)
        for column, decl in columns:
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {db.ddl(decl)}")
                if (table, column) == ("homes", "added"):  # join date unknown: from now
                    db.execute("UPDATE homes SET added = ? WHERE elder IS NOT NULL", (time.time(),))
    tables = set(db.tables())
    for table, (ddl, fill) in BUILT.items():
        if table not in tables:
            db.begin()
            try:
                db.execute(db.ddl(ddl))
                fill(db)
                db.commit()
            except BaseException:
                db.rollback()
                raise
