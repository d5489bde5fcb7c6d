//! The store's second factors: enrolment and verification, backup-code sets, the single-use of a
//! backup code and of a TOTP step (8 concurrent uses, 100 times: exactly one wins each time), and
//! the clean-up that goes with a record, a collection or a reset.

use crate::both_backends;
use crate::support::*;
use gatehouse_store::{
    AuditRow, FactorRow, Spend, StepOutcome, Store, StoreError, TicketKey, TicketRow,
};
use std::sync::Arc;

const TRIALS: usize = 100;
const USES: usize = 8;
const USERS: &str = "_pb_users_auth_";
const WHEN: &str = "2026-01-02 03:04:05.000Z";

fn factor(id: &str, record_id: &str, kind: &str, status: &str) -> FactorRow {
    FactorRow {
        id: id.to_owned(),
        collection_id: USERS.to_owned(),
        record_id: record_id.to_owned(),
        kind: kind.to_owned(),
        status: status.to_owned(),
        secret: if kind == "totp" { "sealed" } else { "" }.to_owned(),
        target: String::new(),
        data: "{}".to_owned(),
        created: WHEN.to_owned(),
        last_used: String::new(),
        last_step: 0,
    }
}

pub(crate) fn event(id: &str, record_id: &str) -> AuditRow {
    AuditRow {
        id: id.to_owned(),
        kind: "factor".to_owned(),
        created: WHEN.to_owned(),
        collection_id: USERS.to_owned(),
        record_id: record_id.to_owned(),
        method: String::new(),
        ip: String::new(),
        user_agent: String::new(),
        data: "{}".to_owned(),
    }
}

pub(crate) fn hashes(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

async fn listed(store: &Arc<dyn Store>, record_id: &str) -> Vec<FactorRow> {
    store.list_factors(record_id).await.unwrap()
}

/// How many audit events the record has.
pub(crate) async fn events_of(store: &Arc<dyn Store>, record_id: &str) -> i64 {
    let query = gatehouse_store::AuditQuery {
        record_id: Some(record_id.to_owned()),
        limit: 100,
        ..Default::default()
    };
    store.list_audit(&query).await.unwrap().total
}

/// Runs `uses` copies of `call` at once (lined up on a barrier) and returns their results.
async fn at_once<T, F, Fut>(uses: usize, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(uses));
    let mut tasks = Vec::new();
    for _ in 0..uses {
        let start = start.clone();
        let call = call();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            call.await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

both_backends!(
    a_pending_factor_is_verified_once_and_then_kept,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let rec = "factorrec000001";
        let first = factor("factor000000001", rec, "totp", "verified");
        store
            .put_pending_factor(&first, &[event("event0000000001", rec)])
            .await
            .unwrap();
        // Stored as pending whatever the row said; a second enrolment takes its place.
        let second = factor("factor000000002", rec, "totp", "pending");
        store.put_pending_factor(&second, &[]).await.unwrap();
        assert_eq!(listed(&store, rec).await, vec![second.clone()]);
        assert_eq!(events_of(&store, rec).await, 1);
        // Only the pending factor of this record, and only once.
        assert!(
            !store
                .verify_factor(rec, &first.id, 7, None, &[])
                .await
                .unwrap()
        );
        assert!(
            !store
                .verify_factor("otherrec0000001", &second.id, 7, None, &[])
                .await
                .unwrap()
        );
        assert!(
            store
                .verify_factor(rec, &second.id, 7, None, &[])
                .await
                .unwrap()
        );
        assert!(
            !store
                .verify_factor(rec, &second.id, 8, None, &[])
                .await
                .unwrap()
        );
        let verified = listed(&store, rec).await;
        assert_eq!(verified.len(), 1);
        assert_eq!(
            (verified[0].status.as_str(), verified[0].last_step),
            ("verified", 7)
        );
        // A verified factor is not replaced by a new enrolment: nothing is written.
        let third = factor("factor000000003", rec, "totp", "pending");
        let refused = store
            .put_pending_factor(&third, &[event("event0000000002", rec)])
            .await;
        assert!(
            matches!(refused, Err(StoreError::Unique { .. })),
            "{refused:?}"
        );
        assert_eq!(listed(&store, rec).await, verified);
        assert_eq!(events_of(&store, rec).await, 1);
        // Another kind is another place; the list is oldest first.
        let mut email = factor("factor000000004", rec, "email", "pending");
        email.created = "2026-01-02 03:04:06.000Z".to_owned();
        email.target = "alt@example.com".to_owned();
        store.put_pending_factor(&email, &[]).await.unwrap();
        let kinds: Vec<String> = listed(&store, rec)
            .await
            .into_iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, ["totp", "email"]);
        // The Debug form never shows the secret.
        assert!(!format!("{verified:?}").contains("sealed"));
    }
);

both_backends!(
    backup_codes_are_replaced_as_a_set_and_used_once,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let rec = "factorrec000002";
        let totp = factor("factor000000011", rec, "totp", "pending");
        store.put_pending_factor(&totp, &[]).await.unwrap();
        // Verifying can bring the first set with it, in the same transaction.
        let set = factor("factor000000012", rec, "backupCode", "verified");
        let codes = hashes(&["h-a", "h-b", "h-c"]);
        assert!(
            store
                .verify_factor(
                    rec,
                    &totp.id,
                    1,
                    Some((&set, &codes)),
                    &[event("event0000000011", rec)]
                )
                .await
                .unwrap()
        );
        assert_eq!(store.count_backup_codes(rec).await.unwrap(), 3);
        assert_eq!(events_of(&store, rec).await, 1);
        // A new set replaces the old one: the old codes no longer work.
        let new_set = factor("factor000000013", rec, "backupCode", "verified");
        store
            .replace_backup_codes(&new_set, &hashes(&["h-x", "h-y"]), &[])
            .await
            .unwrap();
        assert_eq!(store.count_backup_codes(rec).await.unwrap(), 2);
        let ids: Vec<String> = listed(&store, rec)
            .await
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(ids, [totp.id.clone(), new_set.id.clone()]);
        let used = |names: &[&str]| {
            let (store, names) = (store.clone(), hashes(names));
            async move { store.consume_backup_code(rec, &names, WHEN).await.unwrap() }
        };
        assert_eq!(used(&["h-a"]).await, None);
        assert_eq!(used(&["nope", "h-b"]).await, None);
        // Any of the hashes given (one per server key) matches; one code is taken per call.
        assert_eq!(used(&["old-key-hash", "h-x"]).await, Some(1));
        assert_eq!(used(&["h-x"]).await, None);
        // Another record's codes are not this record's.
        assert_eq!(
            store
                .consume_backup_code("otherrec0000002", &hashes(&["h-y"]), WHEN)
                .await
                .unwrap(),
            None
        );
        assert_eq!(used(&["h-y", "h-x"]).await, Some(0));
        assert_eq!(store.count_backup_codes(rec).await.unwrap(), 0);
        let stamped = listed(&store, rec).await;
        assert_eq!(stamped[1].last_used, WHEN);
        assert_eq!(stamped[0].last_used, "");
        // Deleting the set takes its codes; deleting it again finds nothing and logs nothing.
        store
            .replace_backup_codes(&new_set, &hashes(&["h-z"]), &[])
            .await
            .unwrap();
        let gone = store
            .delete_factor(rec, "backupCode", &[event("event0000000012", rec)])
            .await
            .unwrap();
        assert!(gone);
        assert_eq!(store.count_backup_codes(rec).await.unwrap(), 0);
        assert!(
            !store
                .delete_factor(rec, "backupCode", &[event("event0000000013", rec)])
                .await
                .unwrap()
        );
        assert_eq!(events_of(&store, rec).await, 2);
    }
);

both_backends!(
    a_totp_step_is_accepted_only_when_newer,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let rec = "factorrec000003";
        let totp = factor("factor000000021", rec, "totp", "pending");
        store.put_pending_factor(&totp, &[]).await.unwrap();
        // A pending factor records no step.
        assert!(!store.use_totp_step(&totp.id, 5, WHEN).await.unwrap());
        assert!(
            store
                .verify_factor(rec, &totp.id, 10, None, &[])
                .await
                .unwrap()
        );
        for (step, accepted) in [(10, false), (9, false), (11, true), (11, false), (13, true)] {
            assert_eq!(
                store.use_totp_step(&totp.id, step, WHEN).await.unwrap(),
                accepted,
                "step {step}"
            );
        }
        let stored = &listed(&store, rec).await[0];
        assert_eq!((stored.last_step, stored.last_used.as_str()), (13, WHEN));
        // Key rotation: the secret changes only from the value read.
        assert!(
            !store
                .replace_factor_secret(&totp.id, "stale", "resealed")
                .await
                .unwrap()
        );
        assert!(
            store
                .replace_factor_secret(&totp.id, "sealed", "resealed")
                .await
                .unwrap()
        );
        let all = store.factors_of_kind("totp").await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].secret, "resealed");
        // An email factor's use is a stamp.
        let email = factor("factor000000022", rec, "email", "verified");
        store.put_pending_factor(&email, &[]).await.unwrap();
        store
            .touch_factor(&email.id, "2026-02-02 00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(
            store.factors_of_kind("email").await.unwrap()[0].last_used,
            "2026-02-02 00:00:00.000Z"
        );
    }
);

both_backends!(
    one_backup_code_used_8_times_at_once_is_taken_once,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let rec = "factorrec000004";
        for trial in 0..TRIALS {
            let set = factor(
                &format!("factorbc{trial:07}"),
                rec,
                "backupCode",
                "verified",
            );
            let codes = hashes(&["the-code", "another-code"]);
            store.replace_backup_codes(&set, &codes, &[]).await.unwrap();
            let results = at_once(USES, || {
                let store = store.clone();
                async move {
                    let tried = hashes(&["other-key-hash", "the-code"]);
                    store.consume_backup_code(rec, &tried, WHEN).await.unwrap()
                }
            })
            .await;
            let wins: Vec<_> = results.iter().filter(|r| r.is_some()).collect();
            assert_eq!(wins, [&Some(1)], "trial {trial}: {results:?}");
            assert_eq!(store.count_backup_codes(rec).await.unwrap(), 1);
        }
    }
);

both_backends!(
    one_totp_step_used_8_times_at_once_is_accepted_once,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let rec = "factorrec000005";
        let totp = factor("factor000000051", rec, "totp", "pending");
        store.put_pending_factor(&totp, &[]).await.unwrap();
        assert!(
            store
                .verify_factor(rec, &totp.id, 0, None, &[])
                .await
                .unwrap()
        );
        for trial in 1..=TRIALS {
            let step = i64::try_from(trial).unwrap();
            let results = at_once(USES, || {
                let (store, id) = (store.clone(), totp.id.clone());
                async move { store.use_totp_step(&id, step, WHEN).await.unwrap() }
            })
            .await;
            let wins = results.iter().filter(|accepted| **accepted).count();
            assert_eq!(wins, 1, "trial {trial}: {results:?}");
        }
    }
);

both_backends!(
    factors_go_with_their_record_collection_or_a_reset,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let (rec, _) = app.user("fay@example.com", "fay-password-1").await;
        let other = "factorrec000006";
        for (owner, n) in [(rec.as_str(), 1), (other, 2)] {
            let set = factor(
                &format!("factorbc000000{n}"),
                owner,
                "backupCode",
                "verified",
            );
            store
                .replace_backup_codes(&set, &hashes(&["h-1", "h-2"]), &[])
                .await
                .unwrap();
            let totp = factor(&format!("factortp000000{n}"), owner, "totp", "pending");
            store.put_pending_factor(&totp, &[]).await.unwrap();
        }
        assert!(store.delete_record(USERS, &rec, false).await.unwrap());
        assert!(listed(&store, &rec).await.is_empty());
        assert_eq!(store.count_backup_codes(&rec).await.unwrap(), 0);
        // The other record keeps its own.
        assert_eq!(listed(&store, other).await.len(), 2);
        assert_eq!(store.count_backup_codes(other).await.unwrap(), 2);
        // A superuser's reset: every factor and code, with its event.
        let reset = store
            .delete_factors(other, &[event("event0000000061", other)])
            .await
            .unwrap();
        assert_eq!(reset, 2);
        assert!(listed(&store, other).await.is_empty());
        assert_eq!(store.count_backup_codes(other).await.unwrap(), 0);
        assert_eq!(events_of(&store, other).await, 1);
        // A collection's delete takes its records' factors, and only theirs.
        let mut elsewhere = factor(
            "factorcol000001",
            "factorrec000007",
            "backupCode",
            "verified",
        );
        elsewhere.collection_id = "othercollection".to_owned();
        store
            .replace_backup_codes(&elsewhere, &hashes(&["h-3"]), &[])
            .await
            .unwrap();
        store
            .replace_backup_codes(
                &factor("factorcol000002", other, "backupCode", "verified"),
                &hashes(&["h-4"]),
                &[],
            )
            .await
            .unwrap();
        store.delete_collection("othercollection").await.unwrap();
        assert!(listed(&store, "factorrec000007").await.is_empty());
        assert_eq!(
            store.count_backup_codes("factorrec000007").await.unwrap(),
            0
        );
        assert_eq!(store.count_backup_codes(other).await.unwrap(), 1);
    }
);

/// A live MFA session of `record_id`, as the password step leaves it.
fn session(id: &str, record_id: &str, now_ms: i64) -> TicketRow {
    TicketRow {
        id: id.to_owned(),
        kind: "mfa".to_owned(),
        collection_id: USERS.to_owned(),
        record_id: record_id.to_owned(),
        secret_hash: String::new(),
        data: "{}".to_owned(),
        created_ms: now_ms,
        expires_ms: now_ms + 60_000,
        failures: 0,
    }
}

both_backends!(
    a_second_step_writes_all_or_nothing,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let now = 1_000_000;
        let rec = "factorrec000008";
        let totp = factor("factor000000081", rec, "totp", "pending");
        store.put_pending_factor(&totp, &[]).await.unwrap();
        assert!(
            store
                .verify_factor(rec, &totp.id, 10, None, &[])
                .await
                .unwrap()
        );
        let set = factor("factor000000082", rec, "backupCode", "verified");
        store
            .replace_backup_codes(&set, &hashes(&["h-a", "h-b"]), &[])
            .await
            .unwrap();
        let live = session("mfasession00001", rec, now);
        store.insert_ticket(&live, &[]).await.unwrap();
        let key = TicketKey {
            id: &live.id,
            kind: "mfa",
            record_id: rec,
        };
        let step = |step| Spend::TotpStep {
            factor_id: "factor000000081",
            step,
            used_at: WHEN,
        };
        let codes = [hashes(&["h-x"]), hashes(&["other-key", "h-a"])];
        let code = |i: usize| Spend::BackupCode {
            record_id: rec,
            code_hashes: &codes[i],
            used_at: WHEN,
        };
        let events = |n: u8| vec![event(&format!("event00000008{n}"), rec)];
        let complete = |key, spend, events: Vec<AuditRow>| {
            let store = store.clone();
            async move {
                store
                    .complete_second_step(key, 4, now, spend, &events)
                    .await
                    .unwrap()
            }
        };
        // Refused (a replayed step, an unknown code): the session stays, nothing is spent or logged.
        assert_eq!(
            complete(key, step(10), events(1)).await,
            StepOutcome::Refused
        );
        assert_eq!(
            complete(key, code(0), events(2)).await,
            StepOutcome::Refused
        );
        assert!(
            store
                .find_ticket(&live.id, "mfa", now)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(listed(&store, rec).await[0].last_step, 10);
        assert_eq!(events_of(&store, rec).await, 0);
        // No session (another kind, too many failures, expired): nothing is spent or logged.
        let otp = TicketKey { kind: "otp", ..key };
        assert_eq!(
            complete(otp, step(11), events(3)).await,
            StepOutcome::NoSession
        );
        store.fail_ticket(key, 5, now).await.unwrap();
        let strict = store
            .complete_second_step(key, 0, now, code(1), &events(4))
            .await
            .unwrap();
        assert_eq!(strict, StepOutcome::NoSession);
        let late = store
            .complete_second_step(key, 4, now + 60_000, step(11), &events(5))
            .await
            .unwrap();
        assert_eq!(late, StepOutcome::NoSession);
        assert_eq!(listed(&store, rec).await[0].last_step, 10);
        assert_eq!(store.count_backup_codes(rec).await.unwrap(), 2);
        assert_eq!(events_of(&store, rec).await, 0);
        // Done: the session is consumed, the code spent (the set stamped), the events written.
        assert_eq!(
            complete(key, code(1), [events(6), events(7)].concat()).await,
            StepOutcome::Done {
                backup_codes_left: Some(1)
            }
        );
        assert!(
            store
                .find_ticket(&live.id, "mfa", now)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.count_backup_codes(rec).await.unwrap(), 1);
        assert_eq!(listed(&store, rec).await[1].last_used, WHEN);
        assert_eq!(events_of(&store, rec).await, 2);
        // The session is gone: a second step on it spends nothing.
        assert_eq!(
            complete(key, step(11), events(8)).await,
            StepOutcome::NoSession
        );
        // A TOTP step on a fresh session is recorded with it.
        let next = session("mfasession00002", rec, now);
        store.insert_ticket(&next, &[]).await.unwrap();
        let key = TicketKey {
            id: &next.id,
            ..key
        };
        assert_eq!(
            complete(key, step(11), events(9)).await,
            StepOutcome::Done {
                backup_codes_left: None
            }
        );
        let stored = &listed(&store, rec).await[0];
        assert_eq!((stored.last_step, stored.last_used.as_str()), (11, WHEN));
        assert!(
            store
                .find_ticket(&next.id, "mfa", now)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(events_of(&store, rec).await, 3);
    }
);
