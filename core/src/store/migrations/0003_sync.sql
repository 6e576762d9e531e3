-- vaxdesk desk store, schema 3: what sync needs.
-- Events pulled from the hub (other desks of the site) are stored like local
-- ones but never queued for sending back. Two desks may create the same
-- person offline; when the hub says so (or a pulled person carries a national
-- id already on record here), the later id becomes an alias of the one on
-- record and its doses are shown under that person.

CREATE TABLE person_aliases (
    alias     TEXT PRIMARY KEY,
    canonical TEXT NOT NULL REFERENCES persons (id)
) STRICT;
