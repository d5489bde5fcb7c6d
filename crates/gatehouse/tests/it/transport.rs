//! What every endpoint shares: bodies, limits, the error shape, headers and `?fields`.

use crate::both_backends;
use crate::support::*;
use serde_json::json;

both_backends!(
    bad_bodies_get_pocketbase_errors,
    |app: TestApp| async move {
        let url = format!("{}/api/collections/users/auth-with-password", app.url);
        let send = |body: Vec<u8>, content_type: &'static str| {
            let client = app.client.clone();
            let url = url.clone();
            async move {
                let r = client
                    .post(url)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (
                    r.status().as_u16(),
                    r.json::<serde_json::Value>().await.unwrap(),
                )
            }
        };
        let (status, body) = send(b"{\"identity\":".to_vec(), "application/json").await;
        assert_eq!(
            (status, body["message"].as_str().unwrap()),
            (400, "An error occurred while loading the submitted data.")
        );
        let (status, body) = send(
            b"{\"identity\":123,\"password\":\"x\"}".to_vec(),
            "application/json",
        )
        .await;
        assert_eq!((status, body["data"].clone()), (400, json!({})));
        let (status, body) = send(b"{}".to_vec(), "application/json").await;
        assert_eq!(status, 400);
        assert_eq!(body["data"]["identity"]["code"], "validation_required");
        let (status, body) = send(b"<x/>".to_vec(), "text/plain").await;
        assert_eq!(
            (status, body["message"].as_str().unwrap()),
            (400, "Unsupported Content-Type.")
        );
        let huge = format!("{{\"identity\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
        let (status, body) = send(huge.into_bytes(), "application/json").await;
        assert_eq!(
            (status, body["message"].as_str().unwrap()),
            (413, "Request entity too large.")
        );
        // Forms work too (PocketBase binds url-encoded bodies).
        app.user("nia@example.com", "nia-password").await;
        let (status, body) = send(
            b"identity=nia%40example.com&password=nia-password".to_vec(),
            "application/x-www-form-urlencoded",
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
);

both_backends!(errors_and_headers_everywhere, |app: TestApp| async move {
    let r = app.get("/api/nope", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"data": {}, "message": "The requested resource wasn't found.", "status": 404})
    );
    for reply in [&r, &app.get("/api/health", None).await] {
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["x-frame-options"], "SAMEORIGIN");
    }
    let methods = app.get("/api/collections/nope/auth-methods", None).await;
    assert_eq!(
        methods.body["message"],
        "Missing or invalid collection context."
    );
});

both_backends!(
    fields_picker_and_garbage_tokens,
    |app: TestApp| async move {
        let r = app
            .get(
                "/api/collections/users/auth-methods?fields=password,mfa.enabled",
                None,
            )
            .await;
        assert_eq!(
            r.body,
            json!({"password": {"identityFields": ["email"], "enabled": true}, "mfa": {"enabled": false}})
        );
        let (_, token) = app.user("oli@example.com", "oli-password").await;
        let picked = app
            .post(
                "/api/collections/users/auth-refresh?fields=record.email",
                Some(&format!("Bearer {token}")),
                json!({}),
            )
            .await;
        assert_eq!(picked.body, json!({"record": {"email": "oli@example.com"}}));
        // An invalid token is a guest, not an error.
        let guest = app
            .get("/api/collections/users/records", Some("garbage.token.here"))
            .await;
        assert_eq!(guest.status, 200);
        assert_eq!(guest.body["items"], json!([]));
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            app.post(
                "/api/collections/users/auth-refresh",
                Some(&tampered),
                json!({})
            )
            .await
            .status,
            401
        );
    }
);
