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

-- The fill of `name_words` and `name_word_counts` is 0006_fill_name_words.sql
-- (today's fill, run again when a first pull has set the word index aside,
-- ADR 0023, is fill_name_words.sql since schema 7).
