-- The desk's enrollment key: a random secret the desk makes once and sends
-- with every enrollment, kept here as a hash. Sending the same code again
-- after a lost reply, or a new code after an enrollment that never
-- completed, is answered only for the desk that holds it (ADR 0013): a
-- device id seen in the site's events is not enough to take a device over.
ALTER TABLE devices ADD COLUMN enroll_key_hash TEXT;
