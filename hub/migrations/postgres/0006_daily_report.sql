-- The daily report (issue 18) counts the certificates the hub signed, so
-- each one is noted: whose (an id, never a name), which dose, when.
CREATE TABLE certificates_issued (
    id          BIGSERIAL PRIMARY KEY,
    site        TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    dose_number INTEGER NOT NULL,
    device      TEXT NOT NULL,
    issued_at   TEXT NOT NULL
);
CREATE INDEX certificates_issued_site ON certificates_issued (site, issued_at);

