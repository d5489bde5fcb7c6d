use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint refused the write. `target` names what clashed: `id`, `email`,
    /// `tokenKey`, `name` (collections) or a custom field name.
    #[error("unique constraint violated on {target}")]
    Unique { target: String },
    #[error("row not found")]
    NotFound,
    /// A conditional write found the row changed since it was read (a new `tokenKey`).
    #[error("row changed since it was read")]
    Stale,
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
    #[error("sqlite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
