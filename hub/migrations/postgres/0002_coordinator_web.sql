-- vaxdesk hub on PostgreSQL, schema 2: what the coordinator pages need.

-- How many events a desk still held after its last push (it says so).
ALTER TABLE devices ADD COLUMN pending BIGINT;

-- A coordinator's decision on a possible duplicate.
ALTER TABLE possible_duplicates ADD COLUMN resolved_by TEXT;
ALTER TABLE possible_duplicates ADD COLUMN resolved_at TEXT;

-- Every change a coordinator makes, who made it and when. `subject` names
-- what was changed by id (never a person's name).
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TEXT NOT NULL,
    coordinator TEXT NOT NULL,
    action      TEXT NOT NULL,
    site        TEXT,
    subject     TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_site ON audit_log (site, id);

-- The dashboard reads a site's recent events; exports read a site's events
-- person by person.
CREATE INDEX events_site_received ON events (site, stream, received_at);
CREATE INDEX events_site_person ON events (site, person_id, seq);
CREATE INDEX rejections_site ON rejections (site, received_at);
