//! The store's trusted devices: found by any of a token's hashes only for their own record and only
//! while live, listed newest first, revoked one by one (the event written only for a real revoke) or
//! all at once, and gone with their record, their collection or the hourly purge.

use crate::both_backends;
use crate::factor_store::{event, events_of, hashes};
use crate::support::*;
use gatehouse_store::{DeviceRow, Store};
use std::sync::Arc;

const USERS: &str = "_pb_users_auth_";
/// Far ahead of the test clock, so the hourly purge (at the clock's now) leaves these devices alone.
const NOW: i64 = 4_000_000_000_000;
const LATER: i64 = NOW + 1_000;

fn device(id: &str, record_id: &str, token_hash: &str, created: &str) -> DeviceRow {
    DeviceRow {
        id: id.to_owned(),
        collection_id: USERS.to_owned(),
        record_id: record_id.to_owned(),
        token_hash: token_hash.to_owned(),
        name: "Firefox on Linux".to_owned(),
        created: created.to_owned(),
        last_used: String::new(),
        expires_ms: LATER,
    }
}

async fn listed_ids(store: &Arc<dyn Store>, record_id: &str, now_ms: i64) -> Vec<String> {
    store
        .list_devices(record_id, now_ms)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect()
}

both_backends!(
    a_device_is_found_by_any_hash_of_its_record_while_live,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let rec = "devicerec000001";
        let trusted = device("device000000001", rec, "h-new", "2026-01-02 03:04:05.000Z");
        store
            .insert_device(&trusted, &[event("event0000000001", rec)])
            .await
            .unwrap();
        assert_eq!(events_of(&store, rec).await, 1);
        let find = |record: &'static str, names: &[&str], now_ms: i64| {
            let (store, names) = (store.clone(), hashes(names));
            async move { store.find_device(record, &names, now_ms).await.unwrap() }
        };
        // Any of the hashes given (one per server key) matches.
        assert_eq!(
            find(rec, &["h-old", "h-new"], NOW).await,
            Some(trusted.clone())
        );
        assert_eq!(find(rec, &["h-new"], NOW).await, Some(trusted.clone()));
        assert_eq!(find(rec, &["h-old", "nope"], NOW).await, None);
        assert_eq!(find(rec, &[], NOW).await, None);
        // Expired at its `expires_ms`, as a ticket is.
        assert_eq!(
            find(rec, &["h-new"], LATER - 1).await,
            Some(trusted.clone())
        );
        assert_eq!(find(rec, &["h-new"], LATER).await, None);
        // Bound to its record: another record presenting the same token finds nothing.
        assert_eq!(find("otherrec0000001", &["h-new"], NOW).await, None);
        // A token hash names one device.
        let clash = device("device000000002", "otherrec0000001", "h-new", "");
        assert!(store.insert_device(&clash, &[]).await.is_err());
        // A use stamps it.
        store
            .touch_device(&trusted.id, "2026-02-02 00:00:00.000Z")
            .await
            .unwrap();
        let used = find(rec, &["h-new"], NOW).await.unwrap();
        assert_eq!(used.last_used, "2026-02-02 00:00:00.000Z");
        // The Debug form never shows the token's hash.
        let printed = format!("{used:?}");
        assert!(printed.contains("Firefox on Linux"), "{printed}");
        assert!(!printed.contains("h-new"), "{printed}");
    }
);

both_backends!(
    devices_are_listed_newest_first_and_revoked,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let rec = "devicerec000002";
        let older = device("device000000011", rec, "h-1", "2026-01-02 03:04:05.000Z");
        let newer = device("device000000012", rec, "h-2", "2026-01-03 03:04:05.000Z");
        let mut expired = device("device000000013", rec, "h-3", "2026-01-04 03:04:05.000Z");
        expired.expires_ms = NOW;
        let elsewhere = device(
            "device000000014",
            "otherrec0000002",
            "h-4",
            "2026-01-05 03:04:05.000Z",
        );
        for row in [&older, &newer, &expired, &elsewhere] {
            store.insert_device(row, &[]).await.unwrap();
        }
        assert_eq!(
            listed_ids(&store, rec, NOW).await,
            [newer.id.as_str(), older.id.as_str()]
        );
        assert_eq!(
            store.list_devices(rec, NOW).await.unwrap(),
            vec![newer.clone(), older.clone()]
        );
        assert!(listed_ids(&store, rec, LATER).await.is_empty());

        // A record revokes only its own devices; the event goes only with a real revoke. Each
        // step: the device revoked, whether it was there, the record's events after.
        for (n, id, revoked, events) in [
            (1, &elsewhere.id, false, 0),
            (2, &older.id, true, 1),
            (3, &older.id, false, 1),
        ] {
            let logged = event(&format!("event000000001{n}"), rec);
            let done = store.delete_device(rec, id, &[logged]).await.unwrap();
            assert_eq!(done, revoked, "step {n}");
            assert_eq!(events_of(&store, rec).await, events, "step {n}");
        }
        assert_eq!(listed_ids(&store, rec, NOW).await, [newer.id.as_str()]);

        // Revoking all (a password change, a factor reset) counts the expired one too.
        assert_eq!(store.delete_devices(rec).await.unwrap(), 2);
        assert!(listed_ids(&store, rec, NOW).await.is_empty());
        assert_eq!(store.delete_devices(rec).await.unwrap(), 0);
        assert_eq!(
            listed_ids(&store, "otherrec0000002", NOW).await,
            [elsewhere.id.as_str()]
        );
    }
);

both_backends!(
    devices_go_with_their_record_collection_or_expiry,
    |app: TestApp| async move {
        let store = app.gh.store().clone();
        let (rec, _) = app.user("dee@example.com", "dee-password-1").await;
        let other = "devicerec000003";
        store
            .insert_device(&device("device000000021", &rec, "h-1", ""), &[])
            .await
            .unwrap();
        store
            .insert_device(&device("device000000022", other, "h-2", ""), &[])
            .await
            .unwrap();
        assert!(store.delete_record(USERS, &rec, false).await.unwrap());
        assert!(listed_ids(&store, &rec, NOW).await.is_empty());
        assert_eq!(listed_ids(&store, other, NOW).await, ["device000000022"]);

        // A collection's delete takes its records' devices, and only theirs.
        let mut there = device("device000000023", "devicerec000004", "h-3", "");
        there.collection_id = "othercollection".to_owned();
        store.insert_device(&there, &[]).await.unwrap();
        store.delete_collection("othercollection").await.unwrap();
        assert!(listed_ids(&store, "devicerec000004", NOW).await.is_empty());
        assert_eq!(listed_ids(&store, other, NOW).await, ["device000000022"]);

        // Housekeeping deletes what expired at `now`, and nothing live.
        let mut short = device("device000000024", other, "h-4", "");
        short.expires_ms = NOW;
        store.insert_device(&short, &[]).await.unwrap();
        assert_eq!(store.delete_expired_devices(NOW - 1).await.unwrap(), 0);
        assert_eq!(store.delete_expired_devices(NOW).await.unwrap(), 1);
        assert!(
            store
                .find_device(other, &hashes(&["h-4"]), NOW - 1)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(listed_ids(&store, other, NOW).await, ["device000000022"]);
        // The hourly purge runs it at the clock's now.
        let mut long_gone = device("device000000025", other, "h-5", "");
        long_gone.expires_ms = 1;
        store.insert_device(&long_gone, &[]).await.unwrap();
        let purged = app.gh.purge().await.unwrap();
        assert_eq!(purged.devices, 1, "{purged:?}");
        assert!(
            store
                .find_device(other, &hashes(&["h-5"]), 0)
                .await
                .unwrap()
                .is_none()
        );
    }
);
