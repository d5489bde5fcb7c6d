//! Two Gatehouse instances on one PostgreSQL database behave as one service.

use crate::support::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_share_records_tokens_and_collection_changes() {
    with_app(Backend::Postgres, |a: TestApp| async move {
        let b = a.sibling().await;
        let (_, token) = a.user("pia@example.com", "pia-password").await;
        // A token minted by one instance is honoured by the other.
        assert_eq!(
            b.post(
                "/api/collections/users/auth-refresh",
                Some(&token),
                json!({})
            )
            .await
            .status,
            200
        );
        // A secret rotated on one instance reaches the other within the cache age (bounded poll).
        let su = a.superuser_token().await;
        let r = a
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"authToken": {"secret": "y".repeat(40)}}),
            )
            .await;
        assert_eq!(r.status, 200);
        let mut status = 0;
        for _ in 0..40 {
            status = b
                .post(
                    "/api/collections/users/auth-refresh",
                    Some(&token),
                    json!({}),
                )
                .await
                .status
                .as_u16();
            if status == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            status, 401,
            "the second instance kept accepting a revoked token"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_instance_with_another_server_key_refuses_to_start() {
    with_app(Backend::Postgres, |a: TestApp| async move {
        // Another data dir: another `gatehouse.key`, so codes and counters would not match.
        let other = tempfile::tempdir().unwrap();
        let config = gatehouse::StoreConfig {
            data_dir: other.path().join("data"),
            db_url: a.config.db_url.clone(),
        };
        let refused = gatehouse::open(&config)
            .await
            .err()
            .expect("a second key is refused");
        let message = format!("{refused:#}");
        assert!(
            message.contains("same GATEHOUSE_ENCRYPTION_KEY"),
            "{message}"
        );
        // The same key (here: the same data dir) starts as before.
        let same = gatehouse::open(&a.config).await;
        assert!(same.is_ok());
    })
    .await;
}
