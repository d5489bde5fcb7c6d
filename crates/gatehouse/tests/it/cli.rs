//! The `gatehouse` binary's commands, run as a process against the test app's database.

use crate::both_backends;
use crate::support::*;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `gatehouse <args>` on the app's data dir and database with `stdin` as its input.
pub(crate) async fn gatehouse(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.arg("--dir").arg(&app.config.data_dir);
    if let Some(db) = &app.config.db_url {
        command.arg("--db").arg(db);
    }
    command
        .args(args)
        .env_remove("GATEHOUSE_ENCRYPTION_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

both_backends!(
    superuser_upsert_reads_the_password_from_stdin,
    |app: TestApp| async move {
        // `-`, or no password at all: one line from stdin, so it stays out of the shell history
        // and the process list.
        let cases = [
            (
                vec!["superuser", "upsert", "dash@example.com", "-"],
                "dash-password-123\n",
            ),
            (
                vec!["superuser", "upsert", "bare@example.com"],
                "bare-password-123\r\n",
            ),
        ];
        for (args, input) in cases {
            let out = gatehouse(&app, &args, input).await;
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{printed}");
            assert!(printed.contains("Created superuser"), "{printed}");
            assert!(!printed.contains(input.trim()), "{printed}");
            let email = args[2];
            let login = app.login("_superusers", email, input.trim()).await;
            assert_eq!(login.status, 200, "{email}: {}", login.text);
        }
        let empty = gatehouse(&app, &["superuser", "upsert", "none@example.com", "-"], "").await;
        assert!(!empty.status.success());
        assert!(
            String::from_utf8_lossy(&empty.stderr).contains("no password on stdin"),
            "{}",
            String::from_utf8_lossy(&empty.stderr)
        );
    }
);

both_backends!(
    superuser_reset_mfa_removes_a_superusers_factors,
    |app: TestApp| async move {
        use crate::totp::{code, enrolled_user, secret_of};
        use serde_json::json;
        let login = app.login("_superusers", SU_EMAIL, SU_PASSWORD).await;
        let su = login.body["token"].as_str().unwrap().to_owned();
        let su_id = login.body["record"]["id"].as_str().unwrap().to_owned();
        let base = format!("/api/collections/_superusers/records/{su_id}/mfa");
        let r = app
            .post(&format!("{base}/totp"), Some(&su), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let secret = secret_of(r.body["uri"].as_str().unwrap());
        let r = app
            .post(
                &format!("{base}/totp/confirm"),
                Some(&su),
                json!({"code": code(&app, &secret, 0)}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.login("_superusers", SU_EMAIL, SU_PASSWORD).await;
        assert_eq!(r.status, 401, "{}", r.text);
        // The API refuses a superuser's reset, even the caller's own.
        assert_eq!(app.delete(&base, Some(&su)).await.status, 403);

        let out = gatehouse(&app, &["superuser", "reset-mfa", SU_EMAIL], "").await;
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(printed.contains("Removed every second factor"), "{printed}");
        let r = app.login("_superusers", SU_EMAIL, SU_PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let su = r.body["token"].as_str().unwrap().to_owned();
        let o = app.get(&base, Some(&su)).await;
        assert_eq!(o.body["factors"], json!([]), "{}", o.text);
        let audit = app.get("/api/audit?type=mfa.reset", Some(&su)).await;
        assert_eq!(audit.body["totalItems"], 1, "{}", audit.text);
        assert_eq!(audit.body["items"][0]["recordId"], su_id.as_str());

        // Any auth collection, by --collection; an unknown address fails.
        let (ann, _, _, _) = enrolled_user(&app, "ann@example.com").await;
        let args = [
            "superuser",
            "reset-mfa",
            "ann@example.com",
            "--collection",
            "users",
        ];
        let out = gatehouse(&app, &args, "").await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let o = app
            .get(
                &format!("/api/collections/users/records/{ann}/mfa"),
                Some(&su),
            )
            .await;
        assert_eq!(o.body["factors"], json!([]), "{}", o.text);
        let out = gatehouse(&app, &["superuser", "reset-mfa", "nobody@example.com"], "").await;
        assert!(!out.status.success());
    }
);
