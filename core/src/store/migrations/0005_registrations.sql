-- vaxdesk desk store, schema 5: the site's registration list, pulled from
-- the hub. One row per person (the latest appointment); the person's own
-- record comes as a person event like any other.

CREATE TABLE registrations (
    person_id   TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    appointment TEXT NOT NULL,
    pulled_at   TEXT NOT NULL
) STRICT;
CREATE INDEX registrations_appointment ON registrations (appointment);

-- The hub sends registrations only to desks that ask for them, which this
-- app now does: pull the site again from the start, so a list uploaded
-- before the update reaches this desk too (every change applies once).
DELETE FROM meta WHERE key = 'pull_cursor';
