-- Token rotation: a device asks for a new token; the hub keeps its hash
-- here until the device first uses it, then it replaces the old one. A
-- reply lost on the way costs nothing: the old token still works until then.
ALTER TABLE devices ADD COLUMN next_token_hash TEXT;
CREATE UNIQUE INDEX devices_next_token ON devices (next_token_hash) WHERE next_token_hash IS NOT NULL;
