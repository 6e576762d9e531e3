-- The fill of the word index from `persons` as schema 7 has it: part of
-- migration 7, and run again when a first pull has set the index aside
-- (ADR 0023). A change here changes a past migration: make it a new one.
-- The words of a folded name: letters and digits (accents removed, lower
-- case) separated by single spaces, so the name becomes a JSON array of
-- strings (quotes and backslashes escaped all the same) that json_each
-- splits. A name may repeat a word once accents are gone ("Nguyễn Thị
-- Nguyên"): each word is one entry (DISTINCT: inside the persons upsert an
-- INSERT OR IGNORE would abort like the upsert).
-- Each entry's name has a space at each end (ADR 0035), so a search checks
-- a word with `instr(name_key, ' hoa ')` and no string is built per entry.
-- In key order (the spaces keep the names' order: every other character of
-- a folded name sorts after a space): in a new file the entries land in the
-- order a search reads them (migration 7 refills freed pages, in whatever
-- order those lie).
INSERT INTO name_words (word, birth_year, name_key, id)
    SELECT DISTINCT w.value, p.birth_year, ' ' || p.name_key || ' ', p.rowid
    FROM persons p, json_each('["' || replace(replace(replace(p.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') w
    WHERE w.value <> ''
    ORDER BY 1, 2, 3, 4;
INSERT INTO name_word_counts (word, n)
    SELECT word, count(*) FROM (SELECT DISTINCT word, id FROM name_words) GROUP BY word;
