-- The daily report (issue 18) counts the certificates the hub signed, so
-- each one is noted: whose (an id, never a name), which dose, when.
CREATE TABLE certificates_issued (
    id          INTEGER PRIMARY KEY,
    site        TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    dose_number INTEGER NOT NULL,
    device      TEXT NOT NULL,
    issued_at   TEXT NOT NULL
) STRICT;
CREATE INDEX certificates_issued_site ON certificates_issued (site, issued_at);


-- A day's list as it stood when the day was over: `registrations` keeps each
-- person's latest appointment only, so a later list (the second dose, four
-- weeks on) would take them off a past day's figures. An appointment moved
-- before its day comes is a reschedule and leaves that day's list; one
-- already past stays on its day.
CREATE TABLE registration_days (
    site        TEXT NOT NULL,
    appointment TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    PRIMARY KEY (site, appointment, person_id)
) STRICT, WITHOUT ROWID;
INSERT INTO registration_days (site, appointment, person_id) SELECT site, appointment, person_id FROM registrations;

CREATE TRIGGER registration_days_insert AFTER INSERT ON registrations BEGIN
    INSERT OR IGNORE INTO registration_days (site, appointment, person_id) VALUES (new.site, new.appointment, new.person_id);
END;
CREATE TRIGGER registration_days_update AFTER UPDATE OF appointment, person_id ON registrations
WHEN old.appointment <> new.appointment OR old.person_id <> new.person_id BEGIN
    -- `updated_at` is the upload's time (UTC); the day is Vietnam's.
    DELETE FROM registration_days WHERE site = old.site AND appointment = old.appointment AND person_id = old.person_id
        AND old.appointment >= date(new.updated_at, '+7 hours');
    INSERT OR IGNORE INTO registration_days (site, appointment, person_id) VALUES (new.site, new.appointment, new.person_id);
END;
CREATE TRIGGER registration_days_delete AFTER DELETE ON registrations BEGIN
    DELETE FROM registration_days WHERE site = old.site AND appointment = old.appointment AND person_id = old.person_id
        AND old.appointment >= date('now', '+7 hours');
END;
