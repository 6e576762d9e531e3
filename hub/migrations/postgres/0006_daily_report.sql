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
);
INSERT INTO registration_days (site, appointment, person_id) SELECT site, appointment, person_id FROM registrations;

CREATE FUNCTION registration_days_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- Vietnam's day of the change: the upload's time (UTC text), or now.
    cutoff TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        cutoff := to_char((now() AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM-DD');
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.appointment <> NEW.appointment OR OLD.person_id <> NEW.person_id THEN
            cutoff := to_char((NEW.updated_at::timestamptz AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM-DD');
        END IF;
    END IF;
    IF cutoff IS NOT NULL THEN
        DELETE FROM registration_days WHERE site = OLD.site AND appointment = OLD.appointment AND person_id = OLD.person_id
            AND OLD.appointment >= cutoff;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO registration_days (site, appointment, person_id) VALUES (NEW.site, NEW.appointment, NEW.person_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER registration_days_follow AFTER INSERT OR UPDATE OR DELETE ON registrations
    FOR EACH ROW EXECUTE FUNCTION registration_days_follow();
