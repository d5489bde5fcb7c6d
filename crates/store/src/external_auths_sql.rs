//! The OAuth2-link statements both backends share, written with PostgreSQL's `$n` placeholders
//! (the SQLite backend turns them into its positional `?n`).

/// A link's columns in [`crate::ExternalAuthRow`]'s order.
macro_rules! link_columns {
    () => {
        "id, collection_id, record_id, provider, provider_id, created, updated"
    };
}

/// Every column, `$1` = id … `$7` = updated.
pub const INSERT_LINK: &str = concat!(
    "INSERT INTO external_auths (",
    link_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
);

/// `$1` collection, `$2` provider, `$3` the provider's account id.
pub const FIND_LINK: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM external_auths WHERE collection_id = $1 AND provider = $2 AND provider_id = $3"
);

/// `$1` record: oldest first.
pub const LIST_LINKS: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM external_auths WHERE record_id = $1 ORDER BY created, id"
);

/// `$1` the link's id.
pub const FIND_LINK_BY_ID: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM external_auths WHERE id = $1"
);

/// Every link, oldest first, `$1` at most.
pub const LIST_ALL_LINKS: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM external_auths ORDER BY created, id LIMIT $1"
);

/// `$1` the link's id.
pub const DELETE_LINK: &str = "DELETE FROM external_auths WHERE id = $1";

/// `$1` record; `$2` provider and `$3` account: the link that stays.
pub const DELETE_OTHER_LINKS: &str = "DELETE FROM external_auths \
     WHERE record_id = $1 AND NOT (provider = $2 AND provider_id = $3)";
/// `$1` record: every link, when the record goes. A new record may take a deleted one's id.
pub const DELETE_RECORD_LINKS: &str = "DELETE FROM external_auths WHERE record_id = $1";
pub const DELETE_COLLECTION_LINKS: &str = "DELETE FROM external_auths WHERE collection_id = $1";
