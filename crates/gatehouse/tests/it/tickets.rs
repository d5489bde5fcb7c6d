//! The store's ticket operations: every change is bounded by kind, owner and failure count.

use crate::both_backends;
use crate::support::*;
use gatehouse_store::{TicketKey, TicketRow};

both_backends!(
    ticket_changes_respect_kind_owner_and_failures,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let now = 1_000_000;
        let row = TicketRow {
            id: "ticket000000001".to_owned(),
            kind: "otp".to_owned(),
            collection_id: "_pb_users_auth_".to_owned(),
            record_id: "owner0000000001".to_owned(),
            secret_hash: "hash".to_owned(),
            data: "{}".to_owned(),
            created_ms: now,
            expires_ms: now + 60_000,
            failures: 0,
        };
        store.insert_ticket(&row, &[]).await.unwrap();
        let key = TicketKey {
            id: &row.id,
            kind: "otp",
            record_id: &row.record_id,
        };
        let other_kind = TicketKey { kind: "mfa", ..key };
        let other_owner = TicketKey {
            record_id: "owner0000000002",
            ..key
        };
        for wrong in [other_kind, other_owner] {
            assert_eq!(store.fail_ticket(wrong, 5, now).await.unwrap(), None);
            assert!(
                store
                    .consume_ticket(wrong, "hash", 5, now)
                    .await
                    .unwrap()
                    .is_none()
            );
            store.delete_ticket(wrong).await.unwrap();
        }
        // Counted up to the limit, never past it.
        for n in 1..=3 {
            assert_eq!(store.fail_ticket(key, 3, now).await.unwrap(), Some(n));
        }
        assert_eq!(store.fail_ticket(key, 3, now).await.unwrap(), None);
        // Consumed only while within the failures allowed, and only once.
        assert!(
            store
                .consume_ticket(key, "hash", 2, now)
                .await
                .unwrap()
                .is_none()
        );
        let used = store.consume_ticket(key, "hash", 3, now).await.unwrap();
        assert_eq!(used.map(|t| t.failures), Some(3));
        assert!(
            store
                .consume_ticket(key, "hash", 3, now)
                .await
                .unwrap()
                .is_none()
        );
    }
);
