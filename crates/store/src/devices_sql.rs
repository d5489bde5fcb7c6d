//! The trusted-device statements both backends share, written with PostgreSQL's `$n` placeholders
//! (the SQLite backend turns them into its positional `?n`). A device is live while `expires_ms` is
//! after now, as a ticket is. The lookup takes a list of hashes (the token hashed under each server
//! key), which each dialect binds its own way: it comes in two spellings.

/// A device's columns in [`crate::DeviceRow`]'s order.
macro_rules! device_columns {
    () => {
        "id, collection_id, record_id, token_hash, name, created, last_used, expires_ms"
    };
}

/// Every column, `$1` = id … `$8` = expires_ms.
pub const INSERT_DEVICE: &str = concat!(
    "INSERT INTO trusted_devices (",
    device_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);

/// `$1` record, `$2` now, `$3` the hashes as a text array.
pub const FIND_DEVICE_PG: &str = concat!(
    "SELECT ",
    device_columns!(),
    " FROM trusted_devices WHERE record_id = $1 AND expires_ms > $2 AND token_hash = ANY($3) LIMIT 1"
);
/// `$1` record, `$2` now, `$3` the hashes as a JSON array.
pub const FIND_DEVICE_SQLITE: &str = concat!(
    "SELECT ",
    device_columns!(),
    " FROM trusted_devices WHERE record_id = $1 AND expires_ms > $2 \
     AND token_hash IN (SELECT value FROM json_each($3)) LIMIT 1"
);

/// `$1` record, `$2` now: newest first.
pub const LIST_DEVICES: &str = concat!(
    "SELECT ",
    device_columns!(),
    " FROM trusted_devices WHERE record_id = $1 AND expires_ms > $2 ORDER BY created DESC, id DESC"
);

pub const TOUCH_DEVICE: &str = "UPDATE trusted_devices SET last_used = $2 WHERE id = $1";
/// `$1` record, `$2` device: a record revokes only its own devices.
pub const DELETE_DEVICE: &str = "DELETE FROM trusted_devices WHERE record_id = $1 AND id = $2";
/// `$1` record: every device, when the record goes or its credentials change. Ids are unique across
/// collections and a new record may take a deleted one's id, which must not inherit its devices.
pub const DELETE_RECORD_DEVICES: &str = "DELETE FROM trusted_devices WHERE record_id = $1";
pub const DELETE_COLLECTION_DEVICES: &str = "DELETE FROM trusted_devices WHERE collection_id = $1";
pub const DELETE_EXPIRED_DEVICES: &str = "DELETE FROM trusted_devices WHERE expires_ms <= $1";
