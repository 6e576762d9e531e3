-- vaxdesk hub on PostgreSQL, schema 1. The same tables as on SQLite.

CREATE TABLE coordinators (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    all_sites     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TEXT NOT NULL
);

CREATE TABLE sites (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    province_code TEXT
);

CREATE TABLE coordinator_sites (
    coordinator_id BIGINT NOT NULL REFERENCES coordinators (id),
    site           TEXT NOT NULL REFERENCES sites (code),
    PRIMARY KEY (coordinator_id, site)
);

CREATE TABLE sessions (
    token_hash     TEXT PRIMARY KEY,
    coordinator_id BIGINT NOT NULL REFERENCES coordinators (id),
    expires_at     TEXT NOT NULL
);

CREATE TABLE desks (
    site TEXT NOT NULL REFERENCES sites (code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (site, code)
);

CREATE TABLE catalogs (
    version      BIGINT PRIMARY KEY,
    body         TEXT NOT NULL,
    published_at TEXT NOT NULL
);

CREATE TABLE enrollment_codes (
    code_hash  TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    desk       TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES coordinators (id),
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    device_id  TEXT,
    FOREIGN KEY (site, desk) REFERENCES desks (site, code)
);

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
);

CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    stream       TEXT NOT NULL CHECK (stream IN ('person', 'dose')),
    site         TEXT NOT NULL,
    device       TEXT NOT NULL,
    person_id    TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE INDEX events_person ON events (person_id);

CREATE TABLE persons (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    national_id TEXT,
    name_key    TEXT NOT NULL,
    birth_date  TEXT NOT NULL,
    merged_into TEXT
);
CREATE INDEX persons_national_id ON persons (national_id);
CREATE INDEX persons_name_birth ON persons (name_key, birth_date);

CREATE TABLE possible_duplicates (
    a        TEXT NOT NULL,
    b        TEXT NOT NULL,
    reason   TEXT NOT NULL,
    found_at TEXT NOT NULL,
    status   TEXT NOT NULL DEFAULT 'open',
    PRIMARY KEY (a, b)
);

CREATE TABLE rejections (
    id          BIGSERIAL PRIMARY KEY,
    event_id    TEXT NOT NULL,
    device      TEXT NOT NULL,
    site        TEXT NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    received_at TEXT NOT NULL
);

-- Written only under the feed lock (see postgres_hub.rs), so sequence order
-- is commit order and a cursor never skips a row committed late.
CREATE TABLE feed (
    seq       BIGSERIAL PRIMARY KEY,
    site      TEXT,
    device    TEXT,
    kind      TEXT NOT NULL,
    event_seq BIGINT REFERENCES events (seq),
    body      TEXT
);
CREATE INDEX feed_site ON feed (site, seq);
