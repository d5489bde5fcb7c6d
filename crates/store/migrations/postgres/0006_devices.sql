-- Trusted devices: a record skips its second step on a device until `expires_ms`. The device token
-- is stored only as a keyed hash (unique, so a token names one device of one record); `expires_ms`
-- is indexed for the hourly purge.
CREATE TABLE trusted_devices (
    id            TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    created       TEXT NOT NULL,
    last_used     TEXT NOT NULL DEFAULT '',
    expires_ms    BIGINT NOT NULL,
    CONSTRAINT trusted_devices_token_hash UNIQUE (token_hash)
);
CREATE INDEX trusted_devices_record ON trusted_devices (record_id);
CREATE INDEX trusted_devices_expires ON trusted_devices (expires_ms);
