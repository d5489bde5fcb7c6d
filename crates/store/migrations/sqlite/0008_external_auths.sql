-- OAuth2 links (PocketBase's `_externalAuths`): a record signs in with an account of a provider.
-- One link per (record, provider), and one record per provider account within a collection.
CREATE TABLE external_auths (
    id            TEXT PRIMARY KEY NOT NULL,
    collection_id TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    provider      TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL
);
CREATE UNIQUE INDEX external_auths_record_provider ON external_auths (collection_id, record_id, provider);
CREATE UNIQUE INDEX external_auths_provider_account ON external_auths (collection_id, provider, provider_id);
CREATE INDEX external_auths_record ON external_auths (record_id);
