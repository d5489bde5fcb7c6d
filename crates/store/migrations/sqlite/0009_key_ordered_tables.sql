-- A second step writes fewer pages. Tickets and backup codes are found by their primary key
-- only, so they are stored in it (WITHOUT ROWID): a delete then changes one tree less than a
-- rowid table beside its key index. Backup codes are reached through their record (the first
-- column of their key), so their factor index goes; `factors_record` repeats what the unique
-- (record_id, kind) index already serves.
CREATE TABLE tickets_by_id (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    secret_hash   TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL DEFAULT '{}',
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO tickets_by_id (id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures)
    SELECT id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures FROM tickets;
DROP TABLE tickets;
ALTER TABLE tickets_by_id RENAME TO tickets;
CREATE INDEX tickets_record ON tickets (record_id, kind, created_ms);
CREATE INDEX tickets_expires ON tickets (expires_ms);

CREATE TABLE factor_codes_by_record (
    factor_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (record_id, code_hash)
) WITHOUT ROWID;
INSERT INTO factor_codes_by_record (factor_id, record_id, code_hash)
    SELECT factor_id, record_id, code_hash FROM factor_codes;
DROP TABLE factor_codes;
ALTER TABLE factor_codes_by_record RENAME TO factor_codes;

DROP INDEX factors_record;
