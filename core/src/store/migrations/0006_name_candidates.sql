-- vaxdesk desk store, schema 6: name search on a word index that carries
-- what ranking reads. Until now a search asked the full-text index for up to
-- 2,000 candidate rowids and read each candidate's folded name and birth year
-- from its `persons` row: a page read each once the file had left the page
-- cache (after a restart: half a second for a common given name at
-- 1,000,000 persons). Here each word of a folded name is an entry of
-- `name_words` that holds the name and birth year too, ordered by word and
-- birth year: a search reads the entries of its rarest word (or of the few
-- words its rarest prefix stands for) as one contiguous range, and checks
-- the other words on the name in the entry. `name_word_counts` says which
-- word is rarest. The full-text index goes; exact names keep their index
-- on `persons` (one short range, no row read).

-- The old index first, so its pages are free for the new one (the desk never
-- VACUUMs: pages freed after the fill would stay empty in the file).
DROP TRIGGER persons_search_insert;
DROP TRIGGER persons_search_delete;
DROP TRIGGER persons_search_update;
DROP TABLE person_search;

CREATE TABLE name_words (
    word       TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    name_key   TEXT NOT NULL,
    -- The person's rowid in `persons` (stable: the desk never VACUUMs).
    id         INTEGER NOT NULL,
    PRIMARY KEY (word, birth_year, name_key, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE name_word_counts (
    word TEXT PRIMARY KEY,
    -- Persons with this word in their name.
    n    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The words of a folded name: letters and digits (accents removed, lower
-- case) separated by single spaces, so the name becomes a JSON array of
-- strings (quotes and backslashes escaped all the same) that json_each
-- splits. A name may repeat a word once accents are gone ("Nguyễn Thị
-- Nguyên"): each word is one entry (DISTINCT: inside the persons upsert an
-- INSERT OR IGNORE would abort like the upsert).
-- In key order: the entries land in the file in the order a search reads them.
INSERT INTO name_words (word, birth_year, name_key, id)
    SELECT DISTINCT w.value, p.birth_year, p.name_key, p.rowid
    FROM persons p, json_each('["' || replace(replace(replace(p.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') w
    WHERE w.value <> ''
    ORDER BY 1, 2, 3, 4;
INSERT INTO name_word_counts (word, n)
    SELECT word, count(*) FROM (SELECT DISTINCT word, id FROM name_words) GROUP BY word;


CREATE TRIGGER name_words_insert AFTER INSERT ON persons BEGIN
    INSERT OR IGNORE INTO name_words (word, birth_year, name_key, id)
        SELECT DISTINCT value, new.birth_year, new.name_key, new.rowid
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> '';
    INSERT INTO name_word_counts (word, n)
        SELECT DISTINCT value, 1
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> ''
        ON CONFLICT (word) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER name_words_delete AFTER DELETE ON persons BEGIN
    DELETE FROM name_words WHERE birth_year = old.birth_year AND name_key = old.name_key AND id = old.rowid
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    UPDATE name_word_counts SET n = n - 1
        WHERE word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    DELETE FROM name_word_counts WHERE n <= 0
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
END;

CREATE TRIGGER name_words_update AFTER UPDATE OF name_key, birth_year ON persons
WHEN old.name_key <> new.name_key OR old.birth_year <> new.birth_year BEGIN
    DELETE FROM name_words WHERE birth_year = old.birth_year AND name_key = old.name_key AND id = old.rowid
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    UPDATE name_word_counts SET n = n - 1
        WHERE word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    DELETE FROM name_word_counts WHERE n <= 0
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    INSERT OR IGNORE INTO name_words (word, birth_year, name_key, id)
        SELECT DISTINCT value, new.birth_year, new.name_key, new.rowid
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> '';
    INSERT INTO name_word_counts (word, n)
        SELECT DISTINCT value, 1
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> ''
        ON CONFLICT (word) DO UPDATE SET n = n + 1;
END;
