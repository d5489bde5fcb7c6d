//! What Gatehouse leaves on disk is for its own user only: the data dir 0700, the SQLite database
//! with its WAL and SHM files, the key file and the mail folder's files 0600 (SQLite only: on
//! PostgreSQL the data dir holds the key and the mail folder alone). And what the database holds
//! of second factors is no secret: no TOTP secret in the clear, no backup or one-time code.

use crate::both_backends;
use crate::otp::{auth_with_otp, enable_otp, request_otp};
use crate::smtp::request_mail;
use crate::support::*;
use crate::totp::{enrolled_user, login_with_totp, second_step, secret_of};
use serde_json::json;
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

/// Every one-time code mailed to `to` so far.
async fn mailed_codes(app: &TestApp, to: &str) -> Vec<String> {
    app.mail_idle().await;
    app.mails_to(to)
        .iter()
        .filter_map(|m| m.split("one-time password is: ").nth(1))
        .map(|after| after.chars().take_while(char::is_ascii_digit).collect())
        .collect()
}

/// The database as bytes: the SQLite file and its WAL and SHM, or a dump of the app's
/// PostgreSQL schema.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let Some(db_url) = &app.config.db_url else {
        let dir = &app.config.data_dir;
        let mut bytes = Vec::new();
        for file in ["data.db", "data.db-wal", "data.db-shm"] {
            bytes.extend(std::fs::read(dir.join(file)).unwrap_or_default());
        }
        return bytes;
    };
    let schema = db_url.rsplit("schema=").next().unwrap();
    let out = std::process::Command::new("pg_dump")
        .arg(format!("--schema={schema}"))
        .arg(pg_url().unwrap())
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 1000, "an empty dump");
    out.stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

both_backends!(
    no_factor_secret_or_code_is_stored_in_the_clear,
    |app: TestApp| async move {
        enable_otp(&app).await;
        let (id, token, secret, mut codes) = enrolled_user(&app, "ann@example.com").await;
        // The secret as the app showed it.
        let uri = app
            .get(
                &format!("/api/collections/users/records/{id}/mfa/totp/uri"),
                Some(&token),
            )
            .await
            .body["uri"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(secret_of(&uri), secret);
        let base32 = uri
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("secret="))
            .unwrap()
            .to_owned();

        // Verified: an emailed code then proves nothing new (an unverified record's password
        // would be replaced, as in PocketBase).
        let su = app.superuser_token().await;
        let r = app
            .patch(
                &format!("/api/collections/users/records/{id}"),
                Some(&su),
                json!({"verified": true}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // An emailed code as a first step, a backup code as the second.
        let otp_id = request_otp(&app, "ann@example.com").await;
        let otp = mailed_codes(&app, "ann@example.com").await.pop().unwrap();
        let (status, body) = auth_with_otp(&app, &otp_id, &otp, "").await;
        assert_eq!(status, 401, "{body}");
        let r = second_step(
            &app,
            "backup-code",
            body["mfaId"].as_str().unwrap(),
            &codes[0],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // The app after a password, then a new set of backup codes.
        let fresh = login_with_totp(&app, "ann@example.com", &secret).await;
        let r = app
            .post(
                &format!("/api/collections/users/records/{id}/mfa/backup-codes"),
                Some(&fresh),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        codes.extend(serde_json::from_value::<Vec<String>>(r.body["backupCodes"].clone()).unwrap());
        // An email address as a factor, confirmed with a mailed code (left pending once more).
        let base = format!("/api/collections/users/records/{id}/mfa/email");
        let r = app.post(&base, Some(&fresh), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
        let otp = mailed_codes(&app, "ann@example.com").await.pop().unwrap();
        let r = app
            .post(
                &format!("{base}/confirm"),
                Some(&fresh),
                json!({"otpId": otp_id, "code": otp}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        request_otp(&app, "ann@example.com").await;

        let otps = mailed_codes(&app, "ann@example.com").await;
        assert_eq!(otps.len(), 3, "{otps:?}");
        let stored = database_bytes(&app);
        let text = String::from_utf8_lossy(&stored).to_lowercase();
        // The right bytes: the record and its factors are there.
        assert!(
            text.contains("ann@example.com") && text.contains(&id),
            "not the app's data"
        );
        let mut needles = vec![base32.to_lowercase(), hex(&secret)];
        for code in &codes {
            needles.push(code.to_lowercase());
            needles.push(code.replace('-', "").to_lowercase());
        }
        needles.extend(otps);
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "{needle} is stored in the clear"
            );
        }
    }
);
