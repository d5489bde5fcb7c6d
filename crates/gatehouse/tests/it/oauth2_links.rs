//! OAuth2 links as the SDK sees them (`listExternalAuths` / `unlinkExternalAuth` on PocketBase's
//! `_externalAuths` records), and two first sign-ins of one account racing.

use crate::both_backends;
use crate::oauth2_fake::FakeProviders;
use crate::oauth2_providers::{configure_all, exchange};
use crate::support::*;
use serde_json::{Value, json};

fn links_path(filter: &str, per_page: u32) -> String {
    let filter: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!(
        "/api/collections/_externalAuths/records?page=1&perPage={per_page}&skipTotal=1&filter={filter}"
    )
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.text))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(
    oauth2_external_auths_list_and_unlink,
    |app: TestApp| async move {
        let fake = FakeProviders::start().await;
        configure_all(&app, &fake).await;
        let su = app.superuser_token().await;

        // Ann signs up with GitHub, then links Google while signed in.
        let github = json!({"login": "ann", "id": 11, "name": "Ann", "email": "ann@example.com"});
        let r = exchange(&app, "github", &fake.grant("github", github.clone()), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let ann = r.body["record"]["id"].as_str().unwrap().to_owned();
        let ann_token = r.body["token"].as_str().unwrap().to_owned();
        let google =
            json!({"sub": "g-ann", "email": "ann.other@gmail.com", "email_verified": true});
        let code = fake.grant("google", google);
        let r = exchange(&app, "google", &code, Some(&ann_token)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["record"]["id"], ann.as_str());
        let (bob, bob_token) = app.user("bob@example.com", "bob-password-1").await;

        // listExternalAuths: the owner's links, in PocketBase's record shape.
        let mine = app
            .get(
                &links_path(&format!("recordRef = '{ann}'"), 1000),
                Some(&ann_token),
            )
            .await;
        assert_eq!(mine.status, 200, "{}", mine.text);
        assert_eq!(mine.body["totalItems"], -1);
        let items = mine.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}", mine.text);
        let github_link = items.iter().find(|i| i["provider"] == "github").unwrap();
        assert_eq!(github_link["collectionName"], "_externalAuths");
        assert_eq!(github_link["collectionId"], "pbc_2281828961");
        assert_eq!(
            github_link["collectionRef"],
            r.body["record"]["collectionId"]
        );
        assert_eq!(github_link["recordRef"], ann.as_str());
        assert_eq!(github_link["providerId"], "11");
        for key in ["id", "created", "updated"] {
            assert!(github_link[key].as_str().is_some_and(|s| !s.is_empty()));
        }
        let github_id = github_link["id"].as_str().unwrap().to_owned();

        // Nobody else sees or removes them; superusers see every link.
        let theirs = app
            .get(
                &links_path(&format!("recordRef = '{ann}'"), 1000),
                Some(&bob_token),
            )
            .await;
        assert_eq!(theirs.status, 200, "{}", theirs.text);
        assert!(ids(&theirs).is_empty(), "{}", theirs.text);
        let guest = app.get(&links_path("", 30), None).await;
        assert_eq!(guest.status, 200, "{}", guest.text);
        assert!(ids(&guest).is_empty(), "{}", guest.text);
        let one = format!("/api/collections/_externalAuths/records/{github_id}");
        assert_eq!(app.get(&one, Some(&bob_token)).await.status, 404);
        assert_eq!(app.delete(&one, Some(&bob_token)).await.status, 404);
        assert_eq!(app.delete(&one, None).await.status, 404);
        assert_eq!(
            app.get(&one, Some(&ann_token)).await.body["provider"],
            "github"
        );
        let all = app
            .get("/api/collections/_externalAuths/records", Some(&su))
            .await;
        assert_eq!(all.body["totalItems"], 2, "{}", all.text);
        let sorted = app
            .get(
                "/api/collections/_externalAuths/records?sort=-provider",
                Some(&su),
            )
            .await;
        assert_eq!(
            sorted.body["items"][0]["provider"], "google",
            "{}",
            sorted.text
        );
        assert_eq!(
            app.get(
                "/api/collections/_externalAuths/records?sort=password",
                Some(&su)
            )
            .await
            .status,
            400
        );

        // Links are made by signing in, not through the records API.
        let link = json!({"collectionRef": "x", "recordRef": bob, "provider": "github", "providerId": "11"});
        let create = app
            .post(
                "/api/collections/_externalAuths/records",
                Some(&bob_token),
                link.clone(),
            )
            .await;
        assert_eq!(create.status, 403, "{}", create.text);
        let create = app
            .post("/api/collections/_externalAuths/records", Some(&su), link)
            .await;
        assert_eq!(create.status, 400, "{}", create.text);

        // unlinkExternalAuth: find the link by record and provider, delete it.
        let filter = format!("recordRef = '{ann}' && provider = 'github'");
        let found = app.get(&links_path(&filter, 1), Some(&ann_token)).await;
        assert_eq!(ids(&found), vec![github_id.clone()]);
        let gone = app.delete(&one, Some(&ann_token)).await;
        assert_eq!(gone.status, 204, "{}", gone.text);
        assert_eq!(app.delete(&one, Some(&ann_token)).await.status, 404);
        let left = app
            .get(
                &links_path(&format!("recordRef = '{ann}'"), 1000),
                Some(&ann_token),
            )
            .await;
        assert_eq!(left.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(left.body["items"][0]["provider"], "google");

        let audit = app
            .get(
                &format!("/api/audit?recordId={ann}&type=oauth2.unlinked,oauth2.linked"),
                Some(&su),
            )
            .await;
        let kinds: Vec<&str> = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect();
        assert!(kinds.contains(&"oauth2.unlinked"), "{}", audit.text);
        assert!(kinds.contains(&"oauth2.linked"), "{}", audit.text);

        // Signing in with GitHub again links it anew (the verified address matches).
        let r = exchange(&app, "github", &fake.grant("github", github), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["record"]["id"], ann.as_str());
        assert_eq!(r.body["meta"]["isNew"], false);
    }
);

both_backends!(
    oauth2_racing_first_sign_ins_make_one_record,
    |app: TestApp| async move {
        let fake = FakeProviders::start().await;
        configure_all(&app, &fake).await;
        let su = app.superuser_token().await;
        // The stand-in answers both token requests together, so both exchanges look for the
        // link at the same moment.
        fake.race(2);
        for round in 0..4 {
            let email = format!("racer{round}@example.com");
            let account = json!({"sub": format!("racer-{round}"), "name": "Racer",
                "email": email, "email_verified": true});
            let (a, b) = (
                fake.grant("google", account.clone()),
                fake.grant("google", account),
            );
            let (ra, rb) = tokio::join!(
                exchange(&app, "google", &a, None),
                exchange(&app, "google", &b, None)
            );
            let mut record_ids = Vec::new();
            for r in [&ra, &rb] {
                match r.status.as_u16() {
                    200 => record_ids.push(r.body["record"]["id"].as_str().unwrap().to_owned()),
                    400 => assert_eq!(r.body["message"], "Failed to authenticate.", "{}", r.text),
                    _ => panic!("round {round}: {} {}", r.status, r.text),
                }
            }
            assert!(!record_ids.is_empty(), "{} / {}", ra.text, rb.text);
            record_ids.dedup();
            assert_eq!(record_ids.len(), 1, "two records: {record_ids:?}");

            let filter: String =
                url::form_urlencoded::byte_serialize(format!("email = '{email}'").as_bytes())
                    .collect();
            let list = app
                .get(
                    &format!("/api/collections/users/records?filter={filter}"),
                    Some(&su),
                )
                .await;
            assert_eq!(list.body["totalItems"], 1, "{}", list.text);
            let links = app
                .gh
                .store()
                .list_external_auths(&record_ids[0])
                .await
                .unwrap();
            assert_eq!(links.len(), 1);
        }
        let all: Value = app
            .get("/api/collections/_externalAuths/records", Some(&su))
            .await
            .body;
        assert_eq!(all["totalItems"], 4, "{all}");
    }
);
