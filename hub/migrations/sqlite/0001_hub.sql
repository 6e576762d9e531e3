-- vaxdesk hub on SQLite, schema 1.

CREATE TABLE coordinators (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    all_sites     INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE coordinator_sites (
    coordinator_id INTEGER NOT NULL REFERENCES coordinators (id),
    site           TEXT NOT NULL REFERENCES sites (code),
    PRIMARY KEY (coordinator_id, site)
) STRICT;

CREATE TABLE sessions (
    token_hash     TEXT PRIMARY KEY,
    coordinator_id INTEGER NOT NULL REFERENCES coordinators (id),
    expires_at     TEXT NOT NULL
) STRICT;

CREATE TABLE sites (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    province_code TEXT
) STRICT;

CREATE TABLE desks (
    site TEXT NOT NULL REFERENCES sites (code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (site, code)
) STRICT;

CREATE TABLE catalogs (
    version      INTEGER PRIMARY KEY,
    body         TEXT NOT NULL,
    published_at TEXT NOT NULL
) STRICT;

CREATE TABLE enrollment_codes (
    code_hash  TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    desk       TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES coordinators (id),
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    device_id  TEXT,
    FOREIGN KEY (site, desk) REFERENCES desks (site, code)
) STRICT;

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    site         TEXT NOT NULL,
    desk         TEXT NOT NULL,
    name         TEXT,
    token_hash   TEXT NOT NULL UNIQUE,
    enrolled_at  TEXT NOT NULL,
    revoked_at   TEXT,
    last_seen_at TEXT,
    FOREIGN KEY (site, desk) REFERENCES desks (site, code)
) STRICT;

-- Every accepted event, as received. `content_hash` makes a retried push
-- idempotent and tells a replay from a conflicting reuse of an id.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    stream       TEXT NOT NULL CHECK (stream IN ('person', 'dose')),
    site         TEXT NOT NULL,
    device       TEXT NOT NULL,
    person_id    TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL
) STRICT;
CREATE INDEX events_person ON events (person_id);

-- Persons as the hub knows them (latest event), for merging and duplicates.
CREATE TABLE persons (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    national_id TEXT,
    name_key    TEXT NOT NULL,
    birth_date  TEXT NOT NULL,
    merged_into TEXT
) STRICT;
CREATE INDEX persons_national_id ON persons (national_id);
CREATE INDEX persons_name_birth ON persons (name_key, birth_date);

CREATE TABLE possible_duplicates (
    a        TEXT NOT NULL,
    b        TEXT NOT NULL,
    reason   TEXT NOT NULL,
    found_at TEXT NOT NULL,
    status   TEXT NOT NULL DEFAULT 'open',
    PRIMARY KEY (a, b)
) STRICT;

CREATE TABLE rejections (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    device      TEXT NOT NULL,
    site        TEXT NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    received_at TEXT NOT NULL
) STRICT;

-- What desks pull, in one order: catalogs, sites, desks, events, merges.
-- `site` NULL means every site; `device` is the sender, so a desk is not
-- sent its own events back.
CREATE TABLE feed (
    seq       INTEGER PRIMARY KEY,
    site      TEXT,
    device    TEXT,
    kind      TEXT NOT NULL,
    event_seq INTEGER REFERENCES events (seq),
    body      TEXT
) STRICT;
CREATE INDEX feed_site ON feed (site, seq);
