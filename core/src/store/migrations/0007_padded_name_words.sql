-- vaxdesk desk store, schema 7 (start): the word index's names carry a space
-- at each end (ADR 0035). A search checks each other word of the query on
-- the entry's name; with the spaces stored, SQLite no longer builds
-- ' ' || name_key || ' ' for every entry of a common word's range (more
-- than half the time of a full-name search that reads 100,000 entries).
-- The store is whole here: a first pull's set-aside indexes are restored
-- before a migration runs.
DROP TRIGGER name_words_insert;
DROP TRIGGER name_words_delete;
DROP TRIGGER name_words_update;
-- Emptied, then filled again from `persons` (fill_name_words.sql): the
-- freed pages are reused, so the file does not grow by a second index.
DELETE FROM name_words;
DELETE FROM name_word_counts;
