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
