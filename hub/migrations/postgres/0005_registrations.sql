-- The sites' registration lists (issue 18): who is expected where and on
-- which day. One row per person and site, the latest upload's appointment.
-- `match_key` is what a row of a list is recognised by when the same list
-- comes again (the national id, else folded name, birth date and phone), so
-- an upload repeated adds nobody twice, whoever else the site holds.

CREATE TABLE registration_uploads (
    id          BIGSERIAL PRIMARY KEY,
    site        TEXT NOT NULL REFERENCES sites (code),
    file_name   TEXT,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    row_count   BIGINT NOT NULL,
    added       BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    unchanged   BIGINT NOT NULL,
    refused     BIGINT NOT NULL,
    -- The refused rows' results as JSON (row, field, reason), for the page.
    refusals    TEXT NOT NULL
);
CREATE INDEX registration_uploads_site ON registration_uploads (site, id);

CREATE TABLE registrations (
    site        TEXT NOT NULL REFERENCES sites (code),
    person_id   TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    appointment TEXT NOT NULL,
    upload_id   BIGINT NOT NULL REFERENCES registration_uploads (id),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (site, person_id)
);
CREATE UNIQUE INDEX registrations_match ON registrations (site, match_key);
CREATE INDEX registrations_day ON registrations (site, appointment);
