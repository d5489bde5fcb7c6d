//! How many guesses an email code allows, and that the answers never tell whether an address
//! has an account.

use crate::both_backends;
use crate::otp::{auth_with_otp, code_for, enable_otp, request_otp};
use crate::support::*;
use gatehouse_domain::service::otp_limits::OtpLimits;
use serde_json::{Value, json};

/// What a client can see of an answer: the status, the message and the body's keys.
fn seen(status: u16, body: &Value) -> String {
    let mut keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    keys.sort();
    format!("{status} {} {keys:?}", body["message"])
}

/// One fixed sequence of requests about `target`, after priming with wrong codes for another
/// (unknown) address `primer`; returns what the client saw.
async fn probe(app: &TestApp, primer: &str, target: &str) -> Vec<String> {
    let mut trace = Vec::new();
    let primed = request_otp(app, primer).await;
    for _ in 0..5 {
        let (status, body) = auth_with_otp(app, &primed, "00000000", "").await;
        trace.push(seen(status, &body));
    }
    let mut ids = Vec::new();
    for _ in 0..11 {
        ids.push(request_otp(app, target).await);
    }
    let (status, body) = auth_with_otp(app, &ids[0], "00000000", "").await;
    trace.push(seen(status, &body));
    // PocketBase: past 10 live codes the newest id is answered again.
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    trace.push(format!(
        "{} distinct ids, last repeated: {}",
        distinct.len(),
        ids[10] == ids[9]
    ));
    for _ in 0..5 {
        let (status, body) = auth_with_otp(app, &ids[10], "00000000", "").await;
        trace.push(seen(status, &body));
    }
    trace
}

both_backends!(
    known_and_unknown_addresses_answer_alike,
    |app: TestApp| async move {
        enable_otp(&app).await;
        app.user("ola@example.com", "ola-password-1").await;
        let known = probe(&app, "primer-a@example.com", "ola@example.com").await;
        let unknown = probe(&app, "primer-b@example.com", "nobody@example.com").await;
        assert_eq!(known, unknown);
        assert_eq!(known[6], "10 distinct ids, last repeated: true");
        assert_eq!(app.mails_to("nobody@example.com").len(), 0);
    }
);

/// `n` concurrent POSTs of `body` to `path`; their statuses.
pub(crate) async fn concurrently(app: &TestApp, n: usize, path: &str, body: Value) -> Vec<u16> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let request = app.client.post(format!("{}{path}", app.url)).json(&body);
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}

/// The product's limits, with PocketBase's per-IP guard out of the way (every test request
/// comes from one IP).
fn without_ip_guard() -> OtpLimits {
    OtpLimits {
        per_ip: 1_000_000,
        ..OtpLimits::default()
    }
}

both_backends!(
    concurrent_guesses_get_no_more_tries_than_one_code_allows,
    |app: TestApp| async move {
        enable_otp(&app).await;
        app.gh.set_otp_limits(without_ip_guard());
        let per_code = app.gh.otp_limits().per_code;
        for trial in 0..20 {
            let otp_id = request_otp(&app, &format!("nobody{trial}@example.com")).await;
            let body = json!({"otpId": otp_id, "password": "00000000"});
            let statuses =
                concurrently(&app, 8, "/api/collections/users/auth-with-otp", body).await;
            // A 400 is a guess that was compared; the rest were refused before comparing.
            let compared = statuses.iter().filter(|s| **s == 400).count();
            assert_eq!(compared, per_code as usize, "trial {trial}: {statuses:?}");
            assert!(
                statuses.iter().all(|s| [400, 429].contains(s)),
                "{statuses:?}"
            );
        }
    }
);

both_backends!(
    an_address_takes_a_bounded_number_of_guesses_from_everywhere,
    |app: TestApp| async move {
        enable_otp(&app).await;
        app.user("ola@example.com", "ola-password-1").await;
        app.user("pat@example.com", "pat-password-1").await;
        app.gh.set_otp_limits(without_ip_guard());
        let mut seen_for = Vec::new();
        for email in ["ola@example.com", "nobody@example.com"] {
            let mut trace = Vec::new();
            let ids = [
                request_otp(&app, email).await,
                request_otp(&app, email).await,
                request_otp(&app, email).await,
            ];
            // Two codes' worth of wrong guesses (as if from many IPs)...
            for id in &ids[..2] {
                for _ in 0..5 {
                    trace.push(auth_with_otp(&app, id, "00000000", "").await.0);
                }
            }
            // ...and the address takes no more, not even the right code.
            let right = if email.starts_with("ola") {
                code_for(&app, email, 3).await
            } else {
                "00000000".to_owned()
            };
            let (status, body) = auth_with_otp(&app, &ids[2], &right, "").await;
            trace.push(status);
            assert_eq!(status, 429, "{email}: {body}");
            assert_eq!(
                body["message"],
                "Too many attempts, please try again later with a new OTP."
            );
            seen_for.push(trace);
        }
        assert_eq!(seen_for[0], seen_for[1]);
        assert_eq!(seen_for[0][..10], [400; 10]);
        // Another address is not affected.
        let otp_id = request_otp(&app, "pat@example.com").await;
        let code = code_for(&app, "pat@example.com", 1).await;
        assert_eq!(auth_with_otp(&app, &otp_id, &code, "").await.0, 200);
    }
);

both_backends!(
    the_per_ip_guard_counts_an_ipv6_64_as_one_client,
    |app: TestApp| async move {
        enable_otp(&app).await;
        let su = app.superuser_token().await;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"trustedProxy": {"headers": ["X-Forwarded-For"], "proxyIPs": ["127.0.0.1"]}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Two codes, so that neither reaches its own limit.
        let ids = [
            request_otp(&app, "nobody@example.com").await,
            request_otp(&app, "nobody@example.com").await,
        ];
        let mut statuses = Vec::new();
        for host in 1..=6 {
            let otp_id = &ids[host % 2];
            let r = app
                .send_with_headers(
                    reqwest::Method::POST,
                    "/api/collections/users/auth-with-otp",
                    None,
                    Some(json!({"otpId": otp_id, "password": "00000000"})),
                    &[("x-forwarded-for", &format!("2001:db8:1:2::{host}"))],
                )
                .await;
            statuses.push(r.status.as_u16());
        }
        // PocketBase's 5 per client, the sixth refused, however the /64 varies its address.
        assert_eq!(statuses, [400, 400, 400, 400, 400, 429]);
    }
);
