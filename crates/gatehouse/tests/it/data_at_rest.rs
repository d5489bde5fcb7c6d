//! What Gatehouse leaves on disk is for its own user only: the data dir 0700, the SQLite database
//! with its WAL and SHM files, the key file and the mail folder's files 0600 (SQLite only: on
//! PostgreSQL the data dir holds the key and the mail folder alone).

use crate::both_backends;
use crate::smtp::request_mail;
use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A mail to the log mailer, so that the mail folder exists.
async fn write_a_mail(app: &TestApp, email: &str) {
    request_mail(app, email).await;
    app.mail_idle().await;
}

both_backends!(a_new_data_dir_is_private, |app: TestApp| async move {
    write_a_mail(&app, "ann@example.com").await;
    let dir = app.config.data_dir.clone();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("gatehouse.key")), 0o600);
    assert_eq!(mode(&dir.join("mail")), 0o700);
    if app.config.db_url.is_none() {
        for file in ["data.db", "data.db-wal", "data.db-shm"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_modes_are_tightened_at_start() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        write_a_mail(&app, "bea@example.com").await;
        let dir = app.config.data_dir.clone();
        // As an older version (or a careless copy) left them.
        chmod(&dir, 0o755);
        chmod(&dir.join("mail"), 0o755);
        for file in ["data.db", "data.db-wal", "data.db-shm", "gatehouse.key"] {
            chmod(&dir.join(file), 0o644);
        }
        let _again = gatehouse::open(&app.config).await.unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("mail")), 0o700);
        for file in ["data.db", "data.db-wal", "data.db-shm", "gatehouse.key"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
    })
    .await;
}
