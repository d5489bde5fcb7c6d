//! Concurrent second steps over HTTP: eight MFA sessions of one record racing with the same
//! backup code, or the same TOTP code, get exactly one login per trial. Each trial first moves
//! the clock past the 15-minute lock window (the seven losers count as failures) and, for
//! TOTP, to a fresh time step. And eight different backup codes on one session spend one.

use crate::both_backends;
use crate::support::*;
use crate::totp::{PASSWORD, code, enrolled_user, mfa_id};
use serde_json::json;

/// Trials per race test; `GATEHOUSE_RACE_TRIALS` lowers it for a quick run (each trial is
/// eight password logins, so 100 take tens of seconds per backend in a debug build).
fn trials() -> usize {
    std::env::var("GATEHOUSE_RACE_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100)
}

const RACERS: usize = 8;
const LOCK_WINDOW_SECS: i64 = 15 * 60 + 1;

/// `RACERS` fresh MFA sessions of `email`, then as many concurrent `auth-with-{kind}` calls with
/// the same `code`, one per session: their statuses, sorted.
async fn race(app: &TestApp, email: &str, kind: &str, code: &str) -> Vec<u16> {
    let mut sessions = Vec::new();
    for _ in 0..RACERS {
        sessions.push(mfa_id(app, email).await);
    }
    let path = format!("{}/api/collections/users/auth-with-{kind}", app.url);
    let racers: Vec<_> = sessions
        .into_iter()
        .map(|id| {
            let request = app
                .client
                .post(&path)
                .json(&json!({"mfaId": id, "code": code}));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in racers {
        statuses.push(r.await.unwrap());
    }
    statuses.sort_unstable();
    statuses
}

const ONE_WINNER: [u16; RACERS] = [200, 400, 400, 400, 400, 400, 400, 400];

/// How many audit rows of `kind` the record `id` has.
async fn events(app: &TestApp, id: &str, kind: &str) -> u64 {
    let su = app.superuser_token().await;
    let r = app
        .get(
            &format!("/api/collections/users/records/{id}/security-events?type={kind}&perPage=1"),
            Some(&su),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["totalItems"].as_u64().unwrap()
}

both_backends!(
    one_backup_code_raced_by_eight_sessions_logs_in_once,
    |app: TestApp| async move {
        let started = std::time::Instant::now();
        let (id, token, _, mut codes) = enrolled_user(&app, "race@example.com").await;
        for trial in 0..trials() {
            app.clock.advance_secs(LOCK_WINDOW_SECS);
            if trial > 0 && trial % codes.len() == 0 {
                // The set is used up: a new one, proven with the password (the token is old).
                let r = app
                    .post(
                        &format!("/api/collections/users/records/{id}/mfa/backup-codes"),
                        Some(&token),
                        json!({"password": PASSWORD}),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                codes = serde_json::from_value(r.body["backupCodes"].clone()).unwrap();
            }
            let code = &codes[trial % codes.len()];
            let statuses = race(&app, "race@example.com", "backup-code", code).await;
            assert_eq!(statuses, ONE_WINNER, "trial {trial}");
        }
        let o = app
            .get(
                &format!("/api/collections/users/records/{id}/mfa"),
                Some(&token),
            )
            .await;
        let left = (codes.len() - trials() % codes.len()) % codes.len();
        assert_eq!(o.body["backupCodesRemaining"], left, "{}", o.text);
        assert_eq!(events(&app, &id, "backupCode.used").await, trials() as u64);
        assert_eq!(events(&app, &id, "mfa.success").await, trials() as u64);
        eprintln!(
            "{} x {RACERS} backup-code races: {:?}",
            trials(),
            started.elapsed()
        );
    }
);

both_backends!(
    one_totp_code_raced_by_eight_sessions_logs_in_once,
    |app: TestApp| async move {
        let started = std::time::Instant::now();
        let (id, token, secret, _) = enrolled_user(&app, "race@example.com").await;
        for trial in 0..trials() {
            app.clock.advance_secs(LOCK_WINDOW_SECS);
            let now = code(&app, &secret, 0);
            let statuses = race(&app, "race@example.com", "totp", &now).await;
            assert_eq!(statuses, ONE_WINNER, "trial {trial}");
        }
        let o = app
            .get(
                &format!("/api/collections/users/records/{id}/mfa"),
                Some(&token),
            )
            .await;
        let totp = o.body["factors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["type"] == "totp")
            .unwrap();
        assert_ne!(totp["lastUsedAt"], "", "{}", o.text);
        assert_eq!(o.body["backupCodesRemaining"], 10, "{}", o.text);
        assert_eq!(events(&app, &id, "mfa.success").await, trials() as u64);
        assert_eq!(
            events(&app, &id, "mfa.failure").await,
            (trials() * (RACERS - 1)) as u64
        );
        eprintln!(
            "{} x {RACERS} TOTP races: {:?}",
            trials(),
            started.elapsed()
        );
    }
);

both_backends!(
    eight_backup_codes_raced_on_one_session_spend_one_code,
    |app: TestApp| async move {
        let (id, token, _, mut codes) = enrolled_user(&app, "race@example.com").await;
        for trial in 0..10 {
            app.clock.advance_secs(LOCK_WINDOW_SECS);
            let session = mfa_id(&app, "race@example.com").await;
            let path = format!("{}/api/collections/users/auth-with-backup-code", app.url);
            let racers: Vec<_> = codes
                .iter()
                .take(RACERS)
                .map(|code| {
                    let request = app
                        .client
                        .post(&path)
                        .json(&json!({"mfaId": session, "code": code}));
                    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
                })
                .collect();
            let mut statuses = Vec::new();
            for r in racers {
                statuses.push(r.await.unwrap());
            }
            statuses.sort_unstable();
            assert_eq!(statuses[0], 200, "trial {trial}: {statuses:?}");
            assert!(
                statuses[1..].iter().all(|&s| s == 400),
                "trial {trial}: {statuses:?}"
            );
            // Only the winner's code is spent: the seven others still work.
            let o = app
                .get(
                    &format!("/api/collections/users/records/{id}/mfa"),
                    Some(&token),
                )
                .await;
            assert_eq!(
                o.body["backupCodesRemaining"], 9,
                "trial {trial}: {statuses:?}"
            );
            let r = app
                .post(
                    &format!("/api/collections/users/records/{id}/mfa/backup-codes"),
                    Some(&token),
                    json!({"password": PASSWORD}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            codes = serde_json::from_value(r.body["backupCodes"].clone()).unwrap();
        }
        assert_eq!(events(&app, &id, "backupCode.used").await, 10);
    }
);
