-- Every text column compared byte by byte (COLLATE "C"), as SQLite compares
-- them (ADR 0029). The hub's keys are ids, codes, dates and folded names:
-- a language's collation earns nothing on them and costs every comparison in
-- every index (a database made with a locale such as C.UTF-8 or vi_VN.UTF-8
-- compares through the C library's strcoll). For UTF-8 text byte order is
-- code point order, so a C.UTF-8 database sorts exactly as before; one made
-- with a language's locale now sorts names as the SQLite hub does, and the
-- person search's prefix range (`name_key >= k AND name_key < k || U+10FFFF`)
-- is a prefix match there too, which it is only when compared as bytes.
-- Only the hub's own tables (an operator's view or table is not touched).
-- A column keeps its type; each index on it is built again, once (two
-- minutes at 10M events).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.table_name, string_agg(format('ALTER COLUMN %I TYPE text COLLATE "C"', c.column_name), ', ' ORDER BY c.ordinal_position) AS alters
        FROM information_schema.columns c
        JOIN information_schema.tables b ON b.table_schema = c.table_schema AND b.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND b.table_type = 'BASE TABLE' AND c.data_type = 'text'
          AND c.collation_name IS DISTINCT FROM 'C'
          AND c.table_name IN ('coordinators', 'sites', 'coordinator_sites', 'sessions', 'desks', 'catalogs', 'enrollment_codes',
                               'devices', 'events', 'persons', 'possible_duplicates', 'rejections', 'feed', 'audit_log',
                               'registration_uploads', 'registrations', 'certificates_issued', 'registration_days', 'day_records')
        GROUP BY c.table_name
        ORDER BY c.table_name
    LOOP
        EXECUTE format('ALTER TABLE %I %s', t.table_name, t.alters);
        -- A changed column loses its statistics: without them the planner
        -- took a site's 2,400 rows of a day for 163 and read the province's
        -- list three times slower.
        EXECUTE format('ANALYZE %I', t.table_name);
    END LOOP;
END $$;
