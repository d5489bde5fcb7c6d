-- One-time things: email OTPs, MFA sessions. A ticket is consumed by deleting it, in one
-- statement, so of two concurrent uses exactly one wins. `secret_hash` is a keyed hash, never
-- the secret; `data` holds kind-specific JSON (the MFA's first method, where an OTP was sent).
CREATE TABLE tickets (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    secret_hash   TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL DEFAULT '{}',
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    failures      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tickets_record ON tickets (record_id, kind, created_ms);
CREATE INDEX tickets_expires ON tickets (expires_ms);
