-- Second factors: at most one per (record, kind), `pending` until the user proves possession once.
-- `secret` is sealed (AEAD), never the plain TOTP key; `last_step` is the last accepted TOTP time
-- step, so a code is accepted at most once. A backup-code set is one `backupCode` factor whose codes
-- (keyed hashes, never the codes) live in `factor_codes`, each used by deleting it in one statement.
CREATE TABLE factors (
    id            TEXT PRIMARY KEY NOT NULL,
    collection_id TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    secret        TEXT NOT NULL DEFAULT '',
    target        TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL DEFAULT '{}',
    created       TEXT NOT NULL,
    last_used     TEXT NOT NULL DEFAULT '',
    last_step     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (record_id, kind)
);
CREATE INDEX factors_record ON factors (record_id);
CREATE INDEX factors_collection ON factors (collection_id);
CREATE TABLE factor_codes (
    factor_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (record_id, code_hash)
);
CREATE INDEX factor_codes_factor ON factor_codes (factor_id);
