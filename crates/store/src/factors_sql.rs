//! The second-factor statements both backends share word for word, written with PostgreSQL's `$n`
//! placeholders (the SQLite backend turns them into its positional `?n`). Every use of a one-time
//! thing (a TOTP step, a backup code) is one conditional statement, so of concurrent uses exactly
//! one changes a row. The backup-code consume takes a list of hashes, which each dialect binds its
//! own way: it lives in the backends.

/// A factor's columns in [`crate::FactorRow`]'s order.
macro_rules! factor_columns {
    () => {
        "id, collection_id, record_id, kind, status, secret, target, data, created, last_used, last_step"
    };
}

pub const LIST_FACTORS: &str = concat!(
    "SELECT ",
    factor_columns!(),
    " FROM factors WHERE record_id = $1 ORDER BY created, id"
);
pub const FACTORS_OF_KIND: &str = concat!(
    "SELECT ",
    factor_columns!(),
    " FROM factors WHERE kind = $1 ORDER BY created, id"
);

/// Every column, `$1` = id … `$11` = last_step.
pub const INSERT_FACTOR: &str = concat!(
    "INSERT INTO factors (",
    factor_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);

/// Inserts a factor (every column, as [`INSERT_FACTOR`]; the backends bind `pending` as its
/// status) or puts it in place of the record's pending one of the same kind; a verified one stays,
/// and no row changes. One statement, so two
/// concurrent enrolments cannot both find the place empty and then clash.
pub const PUT_PENDING_FACTOR: &str = concat!(
    "INSERT INTO factors (",
    factor_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (record_id, kind) DO UPDATE SET id = excluded.id, collection_id = excluded.collection_id, \
     status = excluded.status, secret = excluded.secret, target = excluded.target, data = excluded.data, \
     created = excluded.created, last_used = excluded.last_used, last_step = excluded.last_step \
     WHERE factors.status = 'pending'"
);

/// `$1` record, `$2` factor id, `$3` the step that proved possession.
pub const VERIFY_FACTOR: &str = "UPDATE factors SET status = 'verified', last_step = $3 \
     WHERE record_id = $1 AND id = $2 AND status = 'pending'";

/// The step must be newer than the last accepted one: checked and recorded in one statement.
pub const USE_TOTP_STEP: &str = "UPDATE factors SET last_step = $2, last_used = $3 \
     WHERE id = $1 AND status = 'verified' AND last_step < $2";
pub const TOUCH_FACTOR: &str = "UPDATE factors SET last_used = $2 WHERE id = $1";
pub const REPLACE_FACTOR_SECRET: &str =
    "UPDATE factors SET secret = $3 WHERE id = $1 AND secret = $2";

/// `$1` record: its backup-code set, the factor and then its codes.
pub const DELETE_BACKUP_FACTOR: &str =
    "DELETE FROM factors WHERE record_id = $1 AND kind = 'backupCode'";
pub const DELETE_BACKUP_CODES: &str = "DELETE FROM factor_codes WHERE record_id = $1";
pub const INSERT_BACKUP_CODE: &str =
    "INSERT INTO factor_codes (factor_id, record_id, code_hash) VALUES ($1, $2, $3)";
pub const COUNT_BACKUP_CODES: &str = "SELECT COUNT(*) FROM factor_codes WHERE record_id = $1";
pub const TOUCH_BACKUP_FACTOR: &str =
    "UPDATE factors SET last_used = $2 WHERE record_id = $1 AND kind = 'backupCode'";

/// `$1` record, `$2` kind: the factor's codes first, while the factor still names them. Codes are
/// reached by their record (the first column of their key), then matched to the factor.
pub const DELETE_FACTOR_CODES: &str = "DELETE FROM factor_codes WHERE record_id = $1 \
     AND factor_id IN (SELECT id FROM factors WHERE record_id = $1 AND kind = $2)";
pub const DELETE_FACTOR: &str = "DELETE FROM factors WHERE record_id = $1 AND kind = $2";

/// `$1` record: every factor and code, when the record goes or a superuser resets its MFA. Ids are
/// unique across collections and a new record may take a deleted one's id, which must not inherit
/// its factors.
pub const DELETE_RECORD_FACTORS: &str = "DELETE FROM factors WHERE record_id = $1";
pub const DELETE_RECORD_CODES: &str = DELETE_BACKUP_CODES;

/// `$1` collection: its records' codes (while their factors still name them), then the factors.
pub const DELETE_COLLECTION_CODES: &str = "DELETE FROM factor_codes \
     WHERE record_id IN (SELECT record_id FROM factors WHERE collection_id = $1 AND kind = 'backupCode') \
     AND factor_id IN (SELECT id FROM factors WHERE collection_id = $1)";
pub const DELETE_COLLECTION_FACTORS: &str = "DELETE FROM factors WHERE collection_id = $1";
