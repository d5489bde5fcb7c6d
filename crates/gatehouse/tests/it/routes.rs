//! Routes no other module exercises: collection delete, `HEAD /api/health`, `/_/`, the email
//! change pages, the 404 and 405 fallbacks, and bad input for the guest mail requests and the
//! verification page.

use crate::both_backends;
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// PocketBase's error shape: `{status, message, data}` and nothing else.
fn assert_error_shape(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    let keys: Vec<&String> = r.body.as_object().expect("a JSON object").keys().collect();
    assert_eq!(keys, ["data", "message", "status"], "{}", r.text);
    assert_eq!(r.body["status"], status);
}

async fn form_post(app: &TestApp, path: &str, body: &str) -> (StatusCode, String) {
    let resp = app
        .client
        .post(format!("{}{path}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

both_backends!(
    deleting_a_collection_deletes_its_records,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let created = app
            .post(
                "/api/collections",
                Some(&su),
                json!({"name": "members", "type": "auth"}),
            )
            .await;
        assert_eq!(created.status, 200, "{}", created.text);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let record = app
        .post(
            "/api/collections/members/records",
            Some(&su),
            json!({"email": "m@example.com", "password": "m-password-1", "passwordConfirm": "m-password-1"}),
        )
        .await;
        assert_eq!(record.status, 200, "{}", record.text);
        let record_id = record.body["id"].as_str().unwrap().to_owned();

        // Guests and ordinary users may not delete collections.
        let guest = app.delete("/api/collections/members", None).await;
        assert_error_shape(&guest, 401);
        let (_, user) = app.user("u@example.com", "u-password-1").await;
        let forbidden = app.delete("/api/collections/members", Some(&user)).await;
        assert_error_shape(&forbidden, 403);

        let deleted = app
            .delete(&format!("/api/collections/{id}"), Some(&su))
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        assert!(deleted.text.is_empty());
        assert_error_shape(&app.get("/api/collections/members", Some(&su)).await, 404);
        let records = app
            .get(
                &format!("/api/collections/members/records/{record_id}"),
                Some(&su),
            )
            .await;
        assert_error_shape(&records, 404);
        assert!(
            app.gh
                .store()
                .find_record(&id, &record_id)
                .await
                .unwrap()
                .is_none(),
            "the collection's records are gone from the store"
        );
        // Deleting it again: 404.
        let again = app
            .delete(&format!("/api/collections/{id}"), Some(&su))
            .await;
        assert_error_shape(&again, 404);
        // The superusers collection cannot be deleted.
        let system = app.delete("/api/collections/_superusers", Some(&su)).await;
        assert_error_shape(&system, 400);
        assert_eq!(
            app.get("/api/collections/_superusers", Some(&su))
                .await
                .status,
            200
        );
    }
);

both_backends!(
    health_fallbacks_and_the_dashboard_path,
    |app: TestApp| async move {
        let head = app
            .client
            .head(format!("{}/api/health", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.text().await.unwrap(), "");
        let get = app.get("/api/health", None).await;
        assert_eq!(
            get.body,
            json!({"message": "API is healthy.", "code": 200, "data": {}})
        );

        let missing = app.get("/api/nothing-here", None).await;
        assert_error_shape(&missing, 404);
        assert_eq!(
            missing.body["message"],
            "The requested resource wasn't found."
        );
        let wrong_method = app.send(Method::PUT, "/api/health", None, None).await;
        assert_error_shape(&wrong_method, 405);
        assert_eq!(wrong_method.body["message"], "Method not allowed.");
        let wrong_method = app
            .delete("/api/collections/users/auth-with-password", None)
            .await;
        assert_error_shape(&wrong_method, 405);

        // `/_/` forwards PocketBase-style `#/auth/…` links with a same-origin script.
        let dashboard = app.get("/_/", None).await;
        assert_eq!(dashboard.status, 200);
        assert!(
            dashboard.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            dashboard.text.contains("/_/forward.js"),
            "{}",
            dashboard.text
        );
        let script = app.get("/_/forward.js", None).await;
        assert_eq!(script.status, 200);
        assert!(script.text.contains("/_/auth/"), "{}", script.text);
    }
);

both_backends!(email_change_pages, |app: TestApp| async move {
    let (_, token) = app.user("ed@example.com", "ed-password-1").await;
    let asked = app
        .post(
            "/api/collections/users/request-email-change",
            Some(&token),
            json!({"newEmail": "ed.new@example.com"}),
        )
        .await;
    assert_eq!(asked.status, 204, "{}", asked.text);
    let mail = app.mail_to("ed.new@example.com", 1).await;
    let link = mail
        .split("/_/auth/confirm-email-change/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect::<String>();

    // Opening the link shows a form asking for the password; nothing changes yet.
    let form = app
        .get(&format!("/_/auth/confirm-email-change/{link}"), None)
        .await;
    assert_eq!(form.status, 200);
    assert!(
        form.text
            .contains("action=\"/_/auth/confirm-email-change\""),
        "{}",
        form.text
    );
    assert!(form.text.contains("type=\"password\""), "{}", form.text);
    assert_eq!(form.headers["cache-control"], "no-store");
    assert_eq!(
        app.login("users", "ed@example.com", "ed-password-1")
            .await
            .status,
        200
    );

    let path = "/_/auth/confirm-email-change";
    let (status, page) =
        form_post(&app, path, &format!("token={link}&password=wrong-password")).await;
    assert_eq!(status, 400);
    assert!(!page.contains("Email changed"), "{page}");
    assert_eq!(
        app.login("users", "ed@example.com", "ed-password-1")
            .await
            .status,
        200
    );

    let (status, page) =
        form_post(&app, path, &format!("token={link}&password=ed-password-1")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        app.login("users", "ed.new@example.com", "ed-password-1")
            .await
            .status,
        200
    );
    assert_eq!(
        app.login("users", "ed@example.com", "ed-password-1")
            .await
            .status,
        400
    );
    // The link is spent: the email change rotated the record's token key.
    let (status, _) = form_post(&app, path, &format!("token={link}&password=ed-password-1")).await;
    assert_eq!(status, 400);
    // Garbage and no token at all: a page with a 400, never a 500.
    for body in ["token=garbage&password=x", "", "token=%ZZ", "password=only"] {
        let (status, page) = form_post(&app, path, body).await;
        assert_eq!(status, 400, "{body}: {page}");
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    }
});

both_backends!(pages_escape_what_they_echo, |app: TestApp| async move {
    // The token in a link's path is echoed into the form's hidden field: escaped, not markup.
    let hostile = "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for flow in [
        "confirm-verification",
        "confirm-password-reset",
        "confirm-email-change",
    ] {
        let page = app.get(&format!("/_/auth/{flow}/{hostile}"), None).await;
        assert!(
            page.status.is_success() || page.status == 400,
            "{flow}: {}",
            page.status
        );
        assert!(!page.text.contains("<script>"), "{flow}: {}", page.text);
        assert!(
            page.text.contains("&lt;script&gt;"),
            "{flow}: the token is not echoed: {}",
            page.text
        );
    }
});

both_backends!(
    guest_mail_requests_refuse_bad_input,
    |app: TestApp| async move {
        app.user("req@example.com", "req-password-1").await;
        for route in ["request-password-reset", "request-verification"] {
            let path = format!("/api/collections/users/{route}");
            let cases: [(Value, &str); 4] = [
                (json!({}), "validation_required"),
                (json!({"email": ""}), "validation_required"),
                (json!({"email": "not an address"}), "validation_is_email"),
                (
                    json!({"email": format!("{}@example.com", "a".repeat(300))}),
                    "validation_length_out_of_range",
                ),
            ];
            for (body, code) in cases {
                let r = app.post(&path, None, body.clone()).await;
                assert_error_shape(&r, 400);
                assert_eq!(
                    r.body["data"]["email"]["code"], code,
                    "{route} {body}: {}",
                    r.text
                );
            }
            // Not JSON, and JSON of the wrong type: 400 in the same shape.
            let raw = app
                .client
                .post(format!("{}{path}", app.url))
                .header("content-type", "application/json")
                .body("{\"email\":")
                .send()
                .await
                .unwrap();
            assert_eq!(raw.status(), 400);
            let body: Value = raw.json().await.unwrap();
            assert_eq!(body["status"], 400);
            let wrong_type = app
                .post(&path, None, json!({"email": ["req@example.com"]}))
                .await;
            assert_error_shape(&wrong_type, 400);
            // An unknown collection: 404, not a mail.
            let unknown = app
                .post(
                    &format!("/api/collections/nope/{route}"),
                    None,
                    json!({"email": "req@example.com"}),
                )
                .await;
            assert_error_shape(&unknown, 404);
        }
        app.mail_idle().await;
        assert!(app.mails_to("req@example.com").is_empty());

        // The verification page: garbage tokens answer a 400 page, and nothing is verified.
        let (status, page) = form_post(&app, "/_/auth/confirm-verification", "token=garbage").await;
        assert_eq!(status, 400, "{page}");
        let (status, page) = form_post(&app, "/_/auth/confirm-verification", "").await;
        assert_eq!(status, 400, "{page}");
        let su = app.superuser_token().await;
        let list = app
            .get(
                "/api/collections/users/records?filter=(email='req@example.com')",
                Some(&su),
            )
            .await;
        assert_eq!(list.body["items"][0]["verified"], false, "{}", list.text);
    }
);
