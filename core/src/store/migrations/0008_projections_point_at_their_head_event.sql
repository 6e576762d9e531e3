-- vaxdesk desk store, schema 8 (start): `persons` and `doses` no longer copy
-- their latest event's content (ADR 0039). Each row kept that event's person
-- or dose as JSON (`body`, ~240 and ~140 bytes) and the event's id as text
-- (`head_event`, 36 bytes); the content is the event's own, so a row now
-- keeps the event's `seq` (its rowid: one look-up) and readers take the
-- content from the event.
--
-- Each table is made again, SQLite's way of changing a table's shape (run
-- with foreign keys off; every row keeps its key and rowid, so nothing that
-- refers to a person or a record changes). Dropping the columns in place
-- would leave the rows' old pages four-fifths empty and the file as large
-- as before; made again, the rows are packed and the old pages are free
-- for the desk's next writes. The name-search triggers on `persons` go
-- with the old table and are made again after this (0007's, unchanged); a
-- first pull's set-aside indexes were restored before any step runs.

CREATE TABLE persons_8 (
    id          TEXT PRIMARY KEY,
    national_id TEXT,
    phone       TEXT,
    name_key    TEXT NOT NULL,
    birth_year  INTEGER NOT NULL,
    -- The `seq` of the person's latest event in `person_events`.
    head_seq    INTEGER NOT NULL
) STRICT;
-- The rowid is kept: the word index names persons by it. A row whose event
-- were missing (cannot happen: events are never deleted) gets 0 and reads
-- as damaged, rather than the store failing to open.
INSERT INTO persons_8 (rowid, id, national_id, phone, name_key, birth_year, head_seq)
    SELECT p.rowid, p.id, p.national_id, p.phone, p.name_key, p.birth_year, coalesce(e.seq, 0)
    FROM persons p LEFT JOIN person_events e ON e.id = p.head_event
    ORDER BY p.rowid;
DROP TABLE persons;
ALTER TABLE persons_8 RENAME TO persons;
CREATE UNIQUE INDEX persons_national_id ON persons (national_id) WHERE national_id IS NOT NULL;
CREATE INDEX persons_phone ON persons (phone) WHERE phone IS NOT NULL;
CREATE INDEX persons_name_key ON persons (name_key, birth_year);

CREATE TABLE doses_8 (
    id         TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES persons (id),
    -- The `seq` of the record's latest event in `dose_events`.
    head_seq   INTEGER NOT NULL,
    day        TEXT NOT NULL,
    site       TEXT NOT NULL,
    desk       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    amended    INTEGER NOT NULL DEFAULT 0,
    voided     INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO doses_8 (rowid, id, person_id, head_seq, day, site, desk, outcome, amended, voided)
    SELECT d.rowid, d.id, d.person_id, coalesce(e.seq, 0), d.day, d.site, d.desk, d.outcome, d.amended, d.voided
    FROM doses d LEFT JOIN dose_events e ON e.id = d.head_event
    ORDER BY d.rowid;
DROP TABLE doses;
ALTER TABLE doses_8 RENAME TO doses;
CREATE INDEX doses_person ON doses (person_id);
CREATE INDEX doses_day ON doses (day, site, desk);
