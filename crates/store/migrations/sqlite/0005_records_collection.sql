-- A collection's records in insertion (rowid) order, which is a list's default order and its
-- tie-break: with it a list walks its matches in order instead of sorting them. (Every index
-- ends in the rowid, so equal collection ids are in rowid order.)
CREATE INDEX records_collection ON records (collection_id);
