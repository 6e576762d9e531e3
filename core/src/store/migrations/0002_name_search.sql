-- vaxdesk desk store, schema 2: full-text index over folded names.
-- External-content FTS5 over `persons` (no second copy of the names), kept
-- in step by triggers. Birth year is a column of its own so a search can be
-- narrowed by it inside the index rather than after it. Prefix indexes up to
-- six letters cover nearly every Vietnamese syllable, so a prefix query on a
-- common word ("nguyen") reads one merged list instead of merging many.

CREATE VIRTUAL TABLE person_search USING fts5 (
    name_key,
    birth_year,
    content = 'persons',
    content_rowid = 'rowid',
    tokenize = 'ascii',
    prefix = '1 2 3 4 5 6'
);

INSERT INTO person_search (rowid, name_key, birth_year)
    SELECT rowid, name_key, birth_year FROM persons;

CREATE TRIGGER persons_search_insert AFTER INSERT ON persons BEGIN
    INSERT INTO person_search (rowid, name_key, birth_year) VALUES (new.rowid, new.name_key, new.birth_year);
END;
CREATE TRIGGER persons_search_delete AFTER DELETE ON persons BEGIN
    INSERT INTO person_search (person_search, rowid, name_key, birth_year) VALUES ('delete', old.rowid, old.name_key, old.birth_year);
END;
CREATE TRIGGER persons_search_update AFTER UPDATE OF name_key, birth_year ON persons BEGIN
    INSERT INTO person_search (person_search, rowid, name_key, birth_year) VALUES ('delete', old.rowid, old.name_key, old.birth_year);
    INSERT INTO person_search (rowid, name_key, birth_year) VALUES (new.rowid, new.name_key, new.birth_year);
END;
