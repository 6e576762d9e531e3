-- vaxdesk desk store, schema 7 (end): the triggers that keep the word index
-- in step with `persons`, made after its fill (fill_name_words.sql); each
-- entry's name with a space at each end (ADR 0035).

CREATE TRIGGER name_words_insert AFTER INSERT ON persons BEGIN
    INSERT OR IGNORE INTO name_words (word, birth_year, name_key, id)
        SELECT DISTINCT value, new.birth_year, ' ' || new.name_key || ' ', new.rowid
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> '';
    INSERT INTO name_word_counts (word, n)
        SELECT DISTINCT value, 1
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> ''
        ON CONFLICT (word) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER name_words_delete AFTER DELETE ON persons BEGIN
    DELETE FROM name_words WHERE birth_year = old.birth_year AND name_key = ' ' || old.name_key || ' ' AND id = old.rowid
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    UPDATE name_word_counts SET n = n - 1
        WHERE word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    DELETE FROM name_word_counts WHERE n <= 0
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
END;

CREATE TRIGGER name_words_update AFTER UPDATE OF name_key, birth_year ON persons
WHEN old.name_key <> new.name_key OR old.birth_year <> new.birth_year BEGIN
    DELETE FROM name_words WHERE birth_year = old.birth_year AND name_key = ' ' || old.name_key || ' ' AND id = old.rowid
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    UPDATE name_word_counts SET n = n - 1
        WHERE word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    DELETE FROM name_word_counts WHERE n <= 0
        AND word IN (SELECT value FROM json_each('["' || replace(replace(replace(old.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]'));
    INSERT OR IGNORE INTO name_words (word, birth_year, name_key, id)
        SELECT DISTINCT value, new.birth_year, ' ' || new.name_key || ' ', new.rowid
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> '';
    INSERT INTO name_word_counts (word, n)
        SELECT DISTINCT value, 1
        FROM json_each('["' || replace(replace(replace(new.name_key, '\', '\\'), '"', '\"'), ' ', '","') || '"]') WHERE value <> ''
        ON CONFLICT (word) DO UPDATE SET n = n + 1;
END;
