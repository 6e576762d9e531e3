-- A site's day read from one narrow row per dose record (ADR 0022) instead
-- of folding four days of event bodies. Kept at ingest; filled from the
-- events by the hub when this migration runs (day_records::backfill).
-- Clustered by (site, day) so a day is one range; the record's own index
-- finds the row a correction rewrites.
CREATE TABLE day_records (
    site        TEXT NOT NULL,
    day         TEXT NOT NULL,      -- Vietnam date given, as the record stands
    record      TEXT NOT NULL,      -- the record event's id
    hour        INTEGER NOT NULL,   -- Vietnam hour given
    desk        TEXT NOT NULL,
    person_id   TEXT NOT NULL,      -- as recorded; merges followed when read
    vaccine     TEXT NOT NULL,
    dose_number INTEGER NOT NULL,   -- 0: no dose (deferred, refused)
    outcome     TEXT NOT NULL,
    elsewhere   INTEGER NOT NULL,   -- given elsewhere: history, not counted
    voided      INTEGER NOT NULL,
    saved_day   TEXT NOT NULL,      -- when the phone saved it (Vietnam)
    saved_hour  INTEGER NOT NULL,
    lag_s       INTEGER,            -- saved on the phone → arrived at the hub
    PRIMARY KEY (site, day, record)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX day_records_record ON day_records (record);

-- Reading a day follows each record's person through a merge. Merged persons
-- are few: looking each row's person up in this small index instead of the
-- whole persons table halved the busiest day's read (bench hub, 10M events).
CREATE INDEX persons_merged ON persons (id, merged_into) WHERE merged_into IS NOT NULL;
