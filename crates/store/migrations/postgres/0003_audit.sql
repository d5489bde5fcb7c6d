-- The audit log: one row per security event. `data` is a JSON object; never a secret.
CREATE TABLE audit (
    seq           BIGSERIAL UNIQUE,
    id            TEXT PRIMARY KEY,
    type          TEXT NOT NULL,
    created       TEXT NOT NULL,
    collection_id TEXT NOT NULL DEFAULT '',
    record_id     TEXT NOT NULL DEFAULT '',
    method        TEXT NOT NULL DEFAULT '',
    ip            TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_created ON audit (created);
CREATE INDEX audit_record ON audit (record_id, created);
