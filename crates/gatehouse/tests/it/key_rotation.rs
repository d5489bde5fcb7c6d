//! `gatehouse keys rotate`: a new server key first in the ring, TOTP secrets re-sealed under it,
//! codes hashed under the old key still accepted, and an instance with only the old key refused.

use crate::both_backends;
use crate::cli::gatehouse;
use crate::support::*;
use crate::totp::{code, enrolled_user};
use serde_json::json;

both_backends!(
    rotation_reseals_totp_secrets_and_keeps_old_codes_working,
    |app: TestApp| async move {
        let (id, _, secret, backup) = enrolled_user(&app, "ann@example.com").await;
        let key_file = app.config.data_dir.join("gatehouse.key");
        let old_ring = std::fs::read_to_string(&key_file).unwrap();
        let sealed_before = stored_secret(&app, &id).await;

        let out = gatehouse(&app, &["keys", "rotate"], "").await;
        let printed = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{printed}");
        assert!(printed.contains("re-encrypted 1 TOTP secret"), "{printed}");

        let new_ring = std::fs::read_to_string(&key_file).unwrap();
        let lines: Vec<&str> = new_ring.lines().collect();
        assert_eq!(lines.len(), 2, "new key first, the old one kept");
        assert_eq!(lines[1], old_ring.trim());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed_after = stored_secret(&app, &id).await;
        assert_ne!(sealed_before, sealed_after);
        assert_ne!(
            sealed_before.split(':').nth(2),
            sealed_after.split(':').nth(2),
            "sealed under another key id"
        );

        // A server on the new ring: the re-sealed secret and the old backup codes work.
        let fresh = app.sibling().await;
        let login = |second: &'static str, code: String| {
            let fresh = &fresh;
            async move {
                let r = fresh
                    .login("users", "ann@example.com", "correct horse battery")
                    .await;
                assert_eq!(r.status, 401, "{}", r.text);
                fresh
                    .post(
                        &format!("/api/collections/users/{second}"),
                        None,
                        json!({"mfaId": r.body["mfaId"], "code": code}),
                    )
                    .await
            }
        };
        let r = login("auth-with-totp", code(&fresh, &secret, 1)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = login("auth-with-backup-code", backup[0].clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);

        // Another rotation moves the secret on again; the ring keeps every older key.
        let out = gatehouse(&app, &["keys", "rotate"], "").await;
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted 1 TOTP secret"));
        assert_eq!(
            std::fs::read_to_string(&key_file).unwrap().lines().count(),
            3
        );

        // An instance that has only the old key is refused at start.
        std::fs::write(&key_file, old_ring).unwrap();
        let out = gatehouse(
            &app,
            &["superuser", "upsert", "x@example.com", "pw-123456789"],
            "",
        )
        .await;
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("server key"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
);

/// The stored (sealed) TOTP secret of a record.
async fn stored_secret(app: &TestApp, record_id: &str) -> String {
    let factors = app.gh.store().list_factors(record_id).await.unwrap();
    factors
        .into_iter()
        .find(|f| f.kind == "totp")
        .map(|f| f.secret)
        .unwrap()
}
