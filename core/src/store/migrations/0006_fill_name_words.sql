-- Part of migration 6 (between 0006_name_candidates.sql and its triggers).
-- A change here changes a past migration: make it a new migration instead
-- (migration 7 did: fill_name_words.sql is today's fill, ADR 0035).
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
