-- vaxdesk desk store, schema 4: an outbox state for events the hub must not
-- get. When the hub refuses a dose record it never has it; correcting that
-- record voids it here and records it afresh. The refused record, the void
-- and any earlier correction of it are then 'withdrawn': kept, never sent.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt.

CREATE TABLE outbox_v4 (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    stream         TEXT NOT NULL CHECK (stream IN ('person', 'dose')),
    state          TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'accepted', 'to_fix', 'withdrawn')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    reject_code    TEXT,
    reject_message TEXT,
    updated_at     TEXT NOT NULL
) STRICT;
INSERT INTO outbox_v4 (seq, event_id, stream, state, attempts, reject_code, reject_message, updated_at)
    SELECT seq, event_id, stream, state, attempts, reject_code, reject_message, updated_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
CREATE INDEX outbox_state ON outbox (state, seq);
