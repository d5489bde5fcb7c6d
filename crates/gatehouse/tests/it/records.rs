//! Records CRUD and PocketBase's default rules for `users`.

use crate::both_backends;
use crate::support::*;
use serde_json::json;

both_backends!(
    signup_hides_email_and_secrets_from_guests,
    |app: TestApp| async move {
        let r = app
        .post("/api/collections/users/records", None, json!({"email": "hal@example.com", "password": "hal-password", "passwordConfirm": "hal-password", "name": "Hal"}))
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let record = r.body.as_object().unwrap();
        assert!(!record.contains_key("email"));
        assert!(!record.contains_key("password") && !record.contains_key("tokenKey"));
        assert_eq!(r.body["name"], "Hal");
        assert_eq!(r.body["verified"], false);
        assert!(!r.text.contains("hal-password"));

        let bad = app
        .post("/api/collections/users/records", None, json!({"email": "not-an-email", "password": "short", "passwordConfirm": "other", "verified": true}))
        .await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.body["message"], "Failed to create record.");
        assert_eq!(bad.body["data"]["email"]["code"], "validation_is_email");
        assert_eq!(
            bad.body["data"]["password"]["code"],
            "validation_min_text_constraint"
        );
        assert_eq!(
            bad.body["data"]["passwordConfirm"]["code"],
            "validation_values_mismatch"
        );
        assert_eq!(
            bad.body["data"]["verified"]["code"],
            "validation_values_mismatch"
        );

        let dup = app
        .post("/api/collections/users/records", None, json!({"email": "hal@example.com", "password": "hal-password", "passwordConfirm": "hal-password"}))
        .await;
        assert_eq!(dup.body["data"]["email"]["code"], "validation_not_unique");
    }
);

both_backends!(
    owners_only_under_the_default_rules,
    |app: TestApp| async move {
        let (ivy, ivy_token) = app.user("ivy@example.com", "ivy-password").await;
        let (jon, jon_token) = app.user("jon@example.com", "jon-password").await;
        let ivy_path = format!("/api/collections/users/records/{ivy}");
        assert_eq!(app.get(&ivy_path, Some(&jon_token)).await.status, 404);
        assert_eq!(app.get(&ivy_path, None).await.status, 404);
        assert_eq!(
            app.patch(&ivy_path, Some(&jon_token), json!({"name": "x"}))
                .await
                .status,
            404
        );
        assert_eq!(
            app.send(reqwest::Method::DELETE, &ivy_path, Some(&jon_token), None)
                .await
                .status,
            404
        );

        let own = app.get(&ivy_path, Some(&ivy_token)).await;
        assert_eq!(own.status, 200);
        assert_eq!(own.body["email"], "ivy@example.com");
        let list = app
            .get("/api/collections/users/records", Some(&jon_token))
            .await;
        assert_eq!(list.body["totalItems"], 1);
        assert_eq!(list.body["items"][0]["id"], jon.as_str());
        let guest_list = app.get("/api/collections/users/records", None).await;
        assert_eq!(guest_list.body["items"], json!([]));

        // Without manage access, email and verified cannot be changed.
        let r = app
            .patch(
                &ivy_path,
                Some(&ivy_token),
                json!({"email": "new@example.com", "verified": true}),
            )
            .await;
        assert_eq!(
            r.body["data"]["email"]["code"],
            "validation_values_mismatch"
        );
        assert_eq!(
            r.body["data"]["verified"]["code"],
            "validation_values_mismatch"
        );

        let su = app.superuser_token().await;
        let all = app
            .get(
                "/api/collections/users/records?sort=-created&perPage=1",
                Some(&su),
            )
            .await;
        assert_eq!(all.body["totalItems"], 2);
        assert_eq!(all.body["totalPages"], 2);
        assert_eq!(all.body["items"][0]["id"], jon.as_str());
        let skip = app
            .get("/api/collections/users/records?skipTotal=1", Some(&su))
            .await;
        assert_eq!(skip.body["totalItems"], -1);
        assert_eq!(
            app.get("/api/collections/users/records?sort=nosuchfield", Some(&su))
                .await
                .status,
            400
        );
        let one = app
            .get(
                &format!("/api/collections/users/records?filter=id%3D%27{jon}%27"),
                Some(&su),
            )
            .await;
        assert_eq!(one.body["totalItems"], 1, "{}", one.text);
        assert_eq!(one.body["items"][0]["id"], jon.as_str());
        let bad = app
            .get("/api/collections/users/records?filter=id%3D%28", Some(&su))
            .await;
        assert_eq!(bad.status, 400);
        assert_eq!(
            bad.body["message"],
            "Something went wrong while processing your request."
        );
    }
);

both_backends!(
    record_ids_are_unique_across_auth_collections,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
            .post(
                "/api/collections",
                Some(&su),
                json!({"name": "staff", "type": "auth", "createRule": ""}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let body = |email: &str| json!({"id": "sameid000000001", "email": email, "password": "pass-word-1", "passwordConfirm": "pass-word-1"});
        assert_eq!(
            app.post(
                "/api/collections/users/records",
                None,
                body("a@example.com")
            )
            .await
            .status,
            200
        );
        let clash = app
            .post(
                "/api/collections/staff/records",
                None,
                body("b@example.com"),
            )
            .await;
        assert_eq!(clash.status, 400);
        assert_eq!(
            clash.body["data"]["id"]["code"],
            "validation_invalid_auth_id"
        );
    }
);

both_backends!(the_last_superuser_stays, |app: TestApp| async move {
    let su = app.superuser_token().await;
    let me = claims(&su)["id"].as_str().unwrap().to_owned();
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/collections/_superusers/records/{me}"),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["message"],
        "You can't delete the only existing superuser."
    );
    let (_, user) = app.user("kim@example.com", "kim-password").await;
    assert_eq!(
        app.get("/api/collections/_superusers/records", Some(&user))
            .await
            .status,
        403
    );
});

both_backends!(
    concurrent_deletes_keep_one_superuser,
    |app: TestApp| async move {
        use gatehouse_domain::Password;
        use gatehouse_domain::collection::SUPERUSERS_ID;
        let gh = app.gh.clone();
        let mut alive = vec![SU_EMAIL.to_owned()];
        for trial in 0..20 {
            let mut all = alive.clone();
            for n in all.len()..4 {
                let email = format!("su{trial}-{n}@example.com");
                let password = Password("super-password-1".into());
                assert!(gh.upsert_superuser(&email, &password).await.unwrap());
                all.push(email);
            }
            // All four deleted at once: any three may go, never the fourth.
            let mut set = tokio::task::JoinSet::new();
            for email in all.clone() {
                let gh = gh.clone();
                set.spawn(async move { gh.delete_superuser(&email).await.is_ok() });
            }
            let deleted = set.join_all().await.into_iter().filter(|ok| *ok).count();
            assert_eq!(deleted, 3, "trial {trial}");
            assert_eq!(gh.store().count_records(SUPERUSERS_ID).await.unwrap(), 1);
            alive.clear();
            for email in all {
                if gh
                    .store()
                    .find_record_by_email(SUPERUSERS_ID, &email)
                    .await
                    .unwrap()
                    .is_some()
                {
                    alive.push(email);
                }
            }
        }
    }
);

/// Field names long enough that their index names share the first 63 bytes, the most
/// PostgreSQL keeps of an identifier.
const LONG_A: &str = "a_field_name_long_enough_to_fill_an_index_name_to_its_limit_one";
const LONG_B: &str = "a_field_name_long_enough_to_fill_an_index_name_to_its_limit_two";

both_backends!(
    long_unique_fields_get_their_own_indexes,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let fields = json!([{"name": LONG_A, "type": "text"}, {"name": LONG_B, "type": "text"}]);
        let indexes = json!([
            format!("CREATE UNIQUE INDEX idx_a ON long_names ({LONG_A})"),
            format!("CREATE UNIQUE INDEX idx_b ON long_names ({LONG_B})"),
        ]);
        let r = app
            .post(
                "/api/collections",
                Some(&su),
                json!({"name": "long_names", "type": "auth", "createRule": "", "fields": fields, "indexes": indexes}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Saving again re-syncs the indexes: both must survive it.
        let r = app
            .patch(
                "/api/collections/long_names",
                Some(&su),
                json!({"listRule": ""}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .post(
                "/api/collections/long_names/records",
                None,
                json!({"email": "l1@example.com", "password": "pass-word-1", "passwordConfirm": "pass-word-1", LONG_A: "a1", LONG_B: "b1"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // The indexes themselves, past the domain's own look-up: a second record with either value.
        let store = app.gh.store();
        let first = store
            .find_record(
                r.body["collectionId"].as_str().unwrap(),
                r.body["id"].as_str().unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        for (n, data) in [
            (2, json!({LONG_A: "a2", LONG_B: "b1"})),
            (3, json!({LONG_A: "a1", LONG_B: "b3"})),
        ] {
            let mut row = first.clone();
            row.id = format!("longnames00000{n}");
            row.email = format!("l{n}@example.com");
            row.token_key = format!("key-{n}");
            row.data = data.to_string();
            let clash = store.insert_record(&row).await;
            assert!(
                matches!(clash, Err(gatehouse_store::StoreError::Unique { .. })),
                "{n}: {clash:?}"
            );
        }
    }
);

/// Our index names in a PostgreSQL schema.
async fn index_names(conn: &mut sqlx::PgConnection, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE 'gh_uniq_%'",
    )
    .bind(schema)
    .fetch_all(conn)
    .await
    .unwrap()
}

/// An index made under the old readable name is replaced when its collection is next synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_legacy_index_names_are_replaced_on_sync() {
    with_app(Backend::Postgres, |app: TestApp| async move {
        use sqlx::{AssertSqlSafe, Connection};
        let su = app.superuser_token().await;
        let fields = json!([{"name": "code", "type": "text"}]);
        let r = app
            .post(
                "/api/collections",
                Some(&su),
                json!({"name": "legacy", "type": "auth", "fields": fields}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let db_url = app.config.db_url.clone().unwrap();
        let (base, schema) = db_url.split_once("?schema=").unwrap();
        let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
        let legacy = format!("gh_uniq_{id}__code");
        let ddl = format!(
            "CREATE UNIQUE INDEX \"{legacy}\" ON \"{schema}\".records ((data ->> 'code')) WHERE collection_id = '{id}'"
        );
        sqlx::query(AssertSqlSafe(ddl)).execute(&mut conn).await.unwrap();
        assert_eq!(index_names(&mut conn, schema).await, vec![legacy.clone()]);

        let index = "CREATE UNIQUE INDEX idx_code ON legacy (code)";
        let r = app
            .patch("/api/collections/legacy", Some(&su), json!({"indexes": [index]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let now = index_names(&mut conn, schema).await;
        assert_eq!(now.len(), 1, "{now:?}");
        assert_ne!(now[0], legacy);
        assert!(now[0].len() <= 63);
    })
    .await;
}
