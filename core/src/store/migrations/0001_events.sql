-- vaxdesk desk store, schema 1: events, their projections, the outbox.
-- Events are append-only (triggers refuse UPDATE and DELETE); `persons` and
-- `doses` are projections kept in the same transaction as the event and can
-- be rebuilt from the events at any time.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE catalog (
    version   INTEGER PRIMARY KEY,
    body      TEXT NOT NULL,
    loaded_at TEXT NOT NULL
) STRICT;

CREATE TABLE person_events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    person_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) STRICT;
CREATE INDEX person_events_person ON person_events (person_id);

CREATE TABLE persons (
    id          TEXT PRIMARY KEY,
    national_id TEXT,
    phone       TEXT,
    name_key    TEXT NOT NULL,
    birth_year  INTEGER NOT NULL,
    head_event  TEXT NOT NULL,
    body        TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX persons_national_id ON persons (national_id) WHERE national_id IS NOT NULL;
CREATE INDEX persons_phone ON persons (phone) WHERE phone IS NOT NULL;
-- Covers exact-name search, narrowed by birth year, without reading rows.
CREATE INDEX persons_name_key ON persons (name_key, birth_year);

CREATE TABLE dose_events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    root_id     TEXT NOT NULL,
    person_id   TEXT NOT NULL REFERENCES persons (id),
    kind        TEXT NOT NULL CHECK (kind IN ('record', 'amend', 'void')),
    body        TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) STRICT;
CREATE INDEX dose_events_root ON dose_events (root_id);

-- One row per dose record as it stands after its corrections.
CREATE TABLE doses (
    id         TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES persons (id),
    head_event TEXT NOT NULL,
    day        TEXT NOT NULL,
    site       TEXT NOT NULL,
    desk       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    amended    INTEGER NOT NULL DEFAULT 0,
    voided     INTEGER NOT NULL DEFAULT 0,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX doses_person ON doses (person_id);
CREATE INDEX doses_day ON doses (day, site, desk);

-- What still has to reach the hub, and what the hub said about it.
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    stream         TEXT NOT NULL CHECK (stream IN ('person', 'dose')),
    state          TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'accepted', 'to_fix')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    reject_code    TEXT,
    reject_message TEXT,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_state ON outbox (state, seq);

CREATE TRIGGER person_events_no_update BEFORE UPDATE ON person_events
BEGIN SELECT RAISE(ABORT, 'person_events are append-only'); END;
CREATE TRIGGER person_events_no_delete BEFORE DELETE ON person_events
BEGIN SELECT RAISE(ABORT, 'person_events are append-only'); END;
CREATE TRIGGER dose_events_no_update BEFORE UPDATE ON dose_events
BEGIN SELECT RAISE(ABORT, 'dose_events are append-only'); END;
CREATE TRIGGER dose_events_no_delete BEFORE DELETE ON dose_events
BEGIN SELECT RAISE(ABORT, 'dose_events are append-only'); END;
