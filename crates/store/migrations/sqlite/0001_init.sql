-- Collections are JSON documents owned by the domain; names are unique regardless of case, as in PocketBase.
CREATE TABLE collections (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    system     BOOLEAN NOT NULL DEFAULT FALSE,
    definition TEXT NOT NULL,
    created    TEXT NOT NULL,
    updated    TEXT NOT NULL
);
CREATE UNIQUE INDEX collections_name ON collections (name COLLATE NOCASE);

-- Every auth collection's records live here: the primary key makes ids unique across collections.
CREATE TABLE records (
    id               TEXT PRIMARY KEY NOT NULL,
    collection_id    TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    email            TEXT NOT NULL DEFAULT '',
    email_visibility BOOLEAN NOT NULL DEFAULT FALSE,
    verified         BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash    TEXT NOT NULL,
    token_key        TEXT NOT NULL,
    data             TEXT NOT NULL DEFAULT '{}',
    created          TEXT NOT NULL,
    updated          TEXT NOT NULL
);
CREATE UNIQUE INDEX records_token_key ON records (token_key);
-- PocketBase's default email index: unique per collection, case-sensitive, empty emails allowed.
CREATE UNIQUE INDEX records_email ON records (collection_id, email) WHERE email <> '';
CREATE INDEX records_collection_created ON records (collection_id, created);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
