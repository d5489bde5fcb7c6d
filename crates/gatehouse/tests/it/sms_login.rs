//! SMS codes end to end over HTTP against a signed-webhook sink on 127.0.0.1: enrolment, the
//! `request-sms-otp` second step through `auth-with-otp`, codes that must not log in, the
//! toll-fraud caps and allowed countries, provider failures and malformed phones.

use crate::both_backends;
use crate::factor_access::event_types;
use crate::sms_providers::{FakeProvider, hmac_sha256_hex};
use crate::support::*;
use crate::totp::{PASSWORD, challenge};
use serde_json::{Value, json};

/// A number libphonenumber accepts (many 555 numbers are not valid).
pub(crate) const PHONE: &str = "+14155552671";
pub(crate) const MASKED: &str = "+1 *** *** **71";
const SINK_SECRET: &str = "sink-hmac-secret";
const CAPPED: &str = "Too many text messages were sent, please try again later.";

/// A webhook sink that accepts every message.
pub(crate) async fn sink() -> FakeProvider {
    FakeProvider::start(200, "application/json", "{}").await
}

/// Points `settings.sms` at `sink` (caps as given, `null` for the defaults) and turns SMS on for
/// `users`.
pub(crate) async fn sms_on(app: &TestApp, sink: &FakeProvider, caps: Value) {
    let su = app.superuser_token().await;
    let mut sms = json!({"enabled": true, "provider": "webhook",
        "webhook": {"url": format!("{}/sms", sink.url), "secret": SINK_SECRET}});
    if !caps.is_null() {
        sms["caps"] = caps;
    }
    let r = app
        .patch("/api/settings", Some(&su), json!({ "sms": sms }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"sms": {"enabled": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Every message the sink got, oldest first, each one's signature checked with the test's own
/// HMAC.
pub(crate) fn messages(sink: &FakeProvider) -> Vec<Value> {
    let seen = sink.seen.lock().unwrap().clone();
    seen.iter()
        .map(|s| {
            assert_eq!(s.method, "POST");
            assert_eq!(s.path, "/sms");
            assert_eq!(
                s.header("x-gatehouse-signature"),
                format!(
                    "sha256={}",
                    hmac_sha256_hex(SINK_SECRET.as_bytes(), &s.body)
                )
            );
            serde_json::from_slice(&s.body).unwrap()
        })
        .collect()
}

/// The code of the sink's latest message.
pub(crate) fn last_code(sink: &FakeProvider) -> String {
    let all = messages(sink);
    let text = all.last().expect("a message")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    text.chars().filter(char::is_ascii_digit).collect()
}

fn sms_base(id: &str) -> String {
    format!("/api/collections/users/records/{id}/mfa/sms")
}

/// Starts enrolling `phone` for `id`: the reply.
pub(crate) async fn enrol(app: &TestApp, id: &str, token: &str, phone: Value) -> Reply {
    app.post(&sms_base(id), Some(token), json!({ "phone": phone }))
        .await
}

/// A user with a verified phone: `(id, token, backup codes)`.
pub(crate) async fn phone_user(
    app: &TestApp,
    sink: &FakeProvider,
    email: &str,
) -> (String, String, Vec<String>) {
    let (id, token) = app.user(email, PASSWORD).await;
    let r = enrol(app, &id, &token, json!(PHONE)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("{}/confirm", sms_base(&id)),
            Some(&token),
            json!({"otpId": otp_id, "code": last_code(sink)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes = serde_json::from_value(r.body["backupCodes"].clone()).unwrap();
    (id, token, codes)
}

pub(crate) async fn request_sms(app: &TestApp, mfa_id: &str) -> Reply {
    app.post(
        "/api/collections/users/request-sms-otp",
        None,
        json!({ "mfaId": mfa_id }),
    )
    .await
}

pub(crate) async fn auth_with_otp(app: &TestApp, body: Value) -> Reply {
    app.post("/api/collections/users/auth-with-otp", None, body)
        .await
}

/// The `mfaId` of a fresh password login of `email`.
async fn session(app: &TestApp, email: &str) -> String {
    challenge(app, email).await["mfaId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn assert_no_login(r: &Reply, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.body["status"], status, "{}", r.text);
    assert!(r.body["data"].is_object(), "{}", r.text);
    assert!(r.body.get("token").is_none(), "{}", r.text);
}

both_backends!(
    a_phone_is_enrolled_and_its_code_is_a_second_step,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let r = enrol(&app, &id, &token, json!(PHONE)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let enrol_otp = r.body["otpId"].as_str().unwrap().to_owned();
        let sent = messages(&sink);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["to"], PHONE);
        assert_eq!(sent[0]["type"], "otp");
        let text = sent[0]["message"].as_str().unwrap();
        let enrol_code = last_code(&sink);
        assert_eq!(enrol_code.len(), 6, "{text}");
        assert_eq!(text, format!("Your Gatehouse code: {enrol_code}"));

        // The enrolment code is no login code.
        let r = auth_with_otp(&app, json!({"otpId": enrol_otp, "password": enrol_code})).await;
        assert_no_login(&r, 400);

        let r = app
            .post(
                &format!("{}/confirm", sms_base(&id)),
                Some(&token),
                json!({"otpId": enrol_otp, "code": enrol_code}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["backupCodes"].as_array().unwrap().len(), 10);
        let o = app
            .get(
                &format!("/api/collections/users/records/{id}/mfa"),
                Some(&token),
            )
            .await;
        assert_eq!(o.body["factors"][0]["type"], "sms", "{}", o.text);
        assert_eq!(o.body["factors"][0]["status"], "verified", "{}", o.text);
        assert_eq!(o.body["factors"][0]["sentTo"], MASKED, "{}", o.text);
        assert!(!o.text.contains("4155552671"), "{}", o.text);

        let c = challenge(&app, "ann@example.com").await;
        let methods = c["methods"].as_array().unwrap();
        assert!(
            methods.contains(&json!({"type": "sms", "sentTo": MASKED})),
            "{c}"
        );
        assert!(!c.to_string().contains("4155552671"), "{c}");
        let mfa_id = c["mfaId"].as_str().unwrap().to_owned();
        let r = request_sms(&app, &mfa_id).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
        assert_eq!(messages(&sink).len(), 2);
        let code = last_code(&sink);

        // Without the session, or with another one (this record's or another record's): refused.
        let r = auth_with_otp(&app, json!({"otpId": otp_id, "password": code})).await;
        assert_no_login(&r, 400);
        let other = session(&app, "ann@example.com").await;
        let r = auth_with_otp(
            &app,
            json!({"otpId": otp_id, "password": code, "mfaId": other}),
        )
        .await;
        assert_no_login(&r, 400);
        let (bob_id, _, _) = phone_user(&app, &sink, "bob@example.com").await;
        let bob_session = session(&app, "bob@example.com").await;
        let r = auth_with_otp(
            &app,
            json!({"otpId": otp_id, "password": code, "mfaId": bob_session}),
        )
        .await;
        assert_no_login(&r, 400);
        assert!(
            !event_types(&app, &bob_id)
                .await
                .contains(&"mfa.success".to_owned())
        );

        // PocketBase's per-(record, IP) guard allows 5 tries per 180 s.
        app.clock.advance_secs(181);
        let r = auth_with_otp(
            &app,
            json!({"otpId": otp_id, "password": code, "mfaId": mfa_id, "trustDevice": true}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let device = r.body["meta"]["deviceToken"].as_str().unwrap().to_owned();
        let token_claims = claims(r.body["token"].as_str().unwrap());
        assert_eq!(
            token_claims["amr"],
            json!(["password", "sms"]),
            "{token_claims}"
        );
        assert_eq!(token_claims["aal"], 2, "{token_claims}");
        assert_eq!(r.body["record"]["id"], id.as_str());
        // Spent, and the session with it.
        let r = auth_with_otp(
            &app,
            json!({"otpId": otp_id, "password": code, "mfaId": mfa_id}),
        )
        .await;
        assert_no_login(&r, 400);
        let o = app
            .get(
                &format!("/api/collections/users/records/{id}/mfa"),
                Some(&token),
            )
            .await;
        assert_ne!(o.body["factors"][0]["lastUsedAt"], "", "{}", o.text);
        let events = event_types(&app, &id).await;
        assert!(events.contains(&"mfa.success".to_owned()), "{events:?}");
        // The device trusted on the SMS step skips it next time.
        let r = app
            .send_with_headers(
                reqwest::Method::POST,
                "/api/collections/users/auth-with-password",
                None,
                Some(json!({"identity": "ann@example.com", "password": PASSWORD})),
                &[("X-Gatehouse-Device", &device)],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let claims = claims(r.body["token"].as_str().unwrap());
        assert_eq!(claims["amr"], json!(["password", "device"]), "{claims}");
    }
);

both_backends!(
    wrong_sms_codes_count_and_the_session_dies_after_five,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        phone_user(&app, &sink, "ann@example.com").await;
        let mfa_id = session(&app, "ann@example.com").await;
        let r = request_sms(&app, &mfa_id).await;
        let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
        let code = last_code(&sink);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for attempt in 1..=5 {
            let r = auth_with_otp(
                &app,
                json!({"otpId": otp_id, "password": wrong, "mfaId": mfa_id}),
            )
            .await;
            assert_no_login(&r, 400);
            assert_eq!(r.body["message"], "Invalid or expired OTP.", "{attempt}");
        }
        // Past PocketBase's per-(record, IP) guard (5 tries in 180 s), well within the code's
        // 300 s: the right code now meets a dead session.
        app.clock.advance_secs(181);
        let r = auth_with_otp(
            &app,
            json!({"otpId": otp_id, "password": code, "mfaId": mfa_id}),
        )
        .await;
        assert_no_login(&r, 400);
        assert_eq!(
            r.body["message"], "Invalid or expired MFA session.",
            "{}",
            r.text
        );
        assert!(r.body.get("token").is_none(), "{}", r.text);
        // The session is gone: no new code either.
        let r = request_sms(&app, &mfa_id).await;
        assert_no_login(&r, 400);
    }
);

/// How many `sms.capped` rows the record has.
async fn capped_events(app: &TestApp, id: &str) -> usize {
    event_types(app, id)
        .await
        .iter()
        .filter(|t| *t == "sms.capped")
        .count()
}

fn assert_capped(r: &Reply) {
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"status": 429, "message": CAPPED, "data": {}}),
        "{}",
        r.text
    );
}

both_backends!(
    each_sms_cap_answers_429_sends_nothing_and_passes_with_its_window,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        let (id, _, _) = phone_user(&app, &sink, "ann@example.com").await;
        let caps = |caps: Value| {
            let app = &app;
            async move {
                // A fresh token: the clock moves by days here.
                let su = app.superuser_token().await;
                let r = app
                    .patch("/api/settings", Some(&su), json!({"sms": {"caps": caps}}))
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
            }
        };
        // A fresh hour and day for each cap; the other two off.
        for (name, cap, window) in [
            (
                "perNumberPerHour",
                json!({"perNumberPerHour": 2, "perRecordPerDay": 0, "perDay": 0}),
                3601,
            ),
            (
                "perRecordPerDay",
                json!({"perNumberPerHour": 0, "perRecordPerDay": 2, "perDay": 0}),
                86_401,
            ),
            (
                "perDay",
                json!({"perNumberPerHour": 0, "perRecordPerDay": 0, "perDay": 2}),
                86_401,
            ),
        ] {
            app.clock.advance_secs(86_401);
            caps(cap).await;
            let before = messages(&sink).len();
            let capped_before = capped_events(&app, &id).await;
            let mfa_id = session(&app, "ann@example.com").await;
            for _ in 0..2 {
                let r = request_sms(&app, &mfa_id).await;
                assert_eq!(r.status, 200, "{name}: {}", r.text);
            }
            assert_capped(&request_sms(&app, &mfa_id).await);
            assert_eq!(messages(&sink).len(), before + 2, "{name}");
            assert_eq!(capped_events(&app, &id).await, capped_before + 1, "{name}");
            // Still capped a moment later; not once the window has passed.
            app.clock.advance_secs(window - 60);
            let mfa_id = session(&app, "ann@example.com").await;
            assert_capped(&request_sms(&app, &mfa_id).await);
            app.clock.advance_secs(61);
            let mfa_id = session(&app, "ann@example.com").await;
            let r = request_sms(&app, &mfa_id).await;
            assert_eq!(r.status, 200, "{name}: {}", r.text);
            assert_eq!(messages(&sink).len(), before + 3, "{name}");
        }
        // Refused messages were not counted: a fresh hour lets exactly 2 through again.
        app.clock.advance_secs(3601);
        caps(json!({"perNumberPerHour": 2, "perRecordPerDay": 0, "perDay": 0})).await;
        let mfa_id = session(&app, "ann@example.com").await;
        let before = messages(&sink).len();
        for _ in 0..2 {
            assert_eq!(request_sms(&app, &mfa_id).await.status, 200);
        }
        for _ in 0..3 {
            assert_capped(&request_sms(&app, &mfa_id).await);
        }
        assert_eq!(messages(&sink).len(), before + 2);
    }
);

both_backends!(
    enrolment_is_capped_and_a_country_not_allowed_gets_a_field_error,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, json!({"perNumberPerHour": 2})).await;
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        for _ in 0..2 {
            let r = enrol(&app, &id, &token, json!(PHONE)).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        assert_capped(&enrol(&app, &id, &token, json!(PHONE)).await);
        assert_eq!(messages(&sink).len(), 2);
        assert_eq!(capped_events(&app, &id).await, 1);

        let su = app.superuser_token().await;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {"allowedCountries": ["+44"], "caps": {"perNumberPerHour": 0}}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (id, token) = app.user("bob@example.com", PASSWORD).await;
        let r = enrol(&app, &id, &token, json!("+14155552672")).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(
            r.body["data"]["phone"]["code"], "validation_phone_country",
            "{}",
            r.text
        );
        assert_eq!(messages(&sink).len(), 2);
        let r = enrol(&app, &id, &token, json!("+447911123456")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(messages(&sink).last().unwrap()["to"], "+447911123456");
    }
);

/// The stored factors of `id` as `(type, status)`.
async fn factors(app: &TestApp, id: &str) -> Vec<(String, String)> {
    app.gh
        .store()
        .list_factors(id)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.kind, f.status))
        .collect()
}

both_backends!(
    a_provider_failure_leaves_no_usable_code,
    |app: TestApp| async move {
        let good = sink().await;
        sms_on(&app, &good, Value::Null).await;
        let (id, _, _) = phone_user(&app, &good, "ann@example.com").await;
        let su = app.superuser_token().await;
        let broken = FakeProvider::start(500, "text/plain", "oops").await;
        let refusing =
            FakeProvider::start(422, "application/json", r#"{"error": "bad number"}"#).await;
        for (fake, status) in [(&broken, 502), (&refusing, 400)] {
            let r = app
                .patch(
                    "/api/settings",
                    Some(&su),
                    json!({"sms": {"webhook": {"url": format!("{}/sms", fake.url)}}}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let mfa_id = session(&app, "ann@example.com").await;
            let r = request_sms(&app, &mfa_id).await;
            assert_no_login(&r, status);
            assert!(
                r.body["message"].as_str().unwrap().contains("SMS provider"),
                "{}",
                r.text
            );
            assert!(r.body.get("otpId").is_none(), "{}", r.text);
            // The provider got the message (then failed), and its code went with it: no ticket
            // of the record is live, so no `otpId` could ever take the code.
            assert_eq!(fake.seen.lock().unwrap().len(), 1);
            let now = {
                use gatehouse_domain::clock::Clock;
                app.clock.now_millis()
            };
            let live = app.gh.store().live_tickets(&id, "otp", now).await.unwrap();
            assert!(live.is_empty(), "{} ticket(s) left behind", live.len());
        }
        // Enrolment on a failing provider: what is left is a pending phone, which logs nobody
        // in and is replaced by the next enrolment.
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {"webhook": {"url": format!("{}/sms", broken.url)}}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (bob, bob_token) = app.user("bob@example.com", PASSWORD).await;
        let r = enrol(&app, &bob, &bob_token, json!(PHONE)).await;
        assert_no_login(&r, 502);
        let left = factors(&app, &bob).await;
        assert!(
            left.iter().all(|(_, status)| status == "pending"),
            "{left:?}"
        );
        assert_eq!(
            app.login("users", "bob@example.com", PASSWORD).await.status,
            200
        );
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {"webhook": {"url": format!("{}/sms", good.url)}}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = enrol(&app, &bob, &bob_token, json!(PHONE)).await;
        assert_eq!(
            r.status, 200,
            "a failed send must not block the next try: {}",
            r.text
        );
    }
);

both_backends!(
    malformed_phones_get_a_field_error_and_store_nothing,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        for phone in [
            json!(""),
            json!("   "),
            json!("4155552671"),
            json!("+1415555CALL"),
            json!("+1".to_owned() + &"4".repeat(40)),
            json!("+0123456789"),
            json!("+1 415 555 26710"),
            json!("++14155552671"),
            json!("+1\u{0}4155552671"),
            json!("+１４１５５５５２６７１"),
        ] {
            let r = enrol(&app, &id, &token, phone.clone()).await;
            assert_eq!(r.status, 400, "{phone}: {}", r.text);
            assert!(
                r.body["data"]["phone"]["code"].is_string(),
                "{phone}: {}",
                r.text
            );
        }
        for phone in [
            json!(14155552671u64),
            json!(null),
            json!(["+14155552671"]),
            json!({"n": 1}),
        ] {
            let r = enrol(&app, &id, &token, phone.clone()).await;
            assert_eq!(r.status, 400, "{phone}: {}", r.text);
            // Like every body PocketBase cannot bind: its generic 400, no field named.
            assert_eq!(
                r.body,
                json!({"status": 400, "message": "An error occurred while loading the submitted data.", "data": {}}),
                "{phone}"
            );
        }
        assert!(messages(&sink).is_empty());
        assert!(factors(&app, &id).await.is_empty());
        assert_eq!(
            app.login("users", "ann@example.com", PASSWORD).await.status,
            200
        );
    }
);

/// Two instances on one database share the caps: `2 × N` concurrent requests split over both
/// against a cap of N send exactly N messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_the_sms_caps_postgres() {
    with_app(Backend::Postgres, |app: TestApp| async move {
        const N: usize = 4;
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        let (id, _, _) = phone_user(&app, &sink, "ann@example.com").await;
        for (round, cap) in [
            json!({"perNumberPerHour": N, "perRecordPerDay": 0, "perDay": 0}),
            json!({"perNumberPerHour": 0, "perRecordPerDay": N, "perDay": 0}),
            json!({"perNumberPerHour": 0, "perRecordPerDay": 0, "perDay": N}),
        ]
        .into_iter()
        .enumerate()
        {
            app.clock.advance_secs(86_401);
            let su = app.superuser_token().await;
            let r = app
                .patch("/api/settings", Some(&su), json!({"sms": {"caps": cap}}))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let sibling = app.sibling().await;
            let before = messages(&sink).len();
            let capped_before = capped_events(&app, &id).await;
            let mut sessions = Vec::new();
            for _ in 0..2 * N {
                sessions.push(session(&app, "ann@example.com").await);
            }
            let racers: Vec<_> = sessions
                .into_iter()
                .enumerate()
                .map(|(i, mfa_id)| {
                    let url = if i % 2 == 0 { &app.url } else { &sibling.url };
                    let request = app
                        .client
                        .post(format!("{url}/api/collections/users/request-sms-otp"))
                        .json(&json!({ "mfaId": mfa_id }));
                    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
                })
                .collect();
            let mut statuses = Vec::new();
            for r in racers {
                statuses.push(r.await.unwrap());
            }
            statuses.sort_unstable();
            let mut expected = vec![200; N];
            expected.extend(vec![429; N]);
            assert_eq!(statuses, expected, "round {round}");
            assert_eq!(messages(&sink).len(), before + N, "round {round}");
            assert_eq!(
                capped_events(&app, &id).await,
                capped_before + N,
                "round {round}"
            );
        }
    })
    .await;
}

both_backends!(
    the_owner_is_mailed_when_a_phone_is_added_or_removed,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        let (id, token, _) = phone_user(&app, &sink, "ann@example.com").await;
        let r = app.delete(&sms_base(&id), Some(&token)).await;
        assert_eq!(r.status, 204, "{}", r.text);
        app.mail_idle().await;
        let mails = app.mails_to("ann@example.com");
        let about = |what: &str| mails.iter().filter(|m| m.contains(what)).count();
        assert_eq!(
            about("A phone for sign-in codes was added."),
            1,
            "{mails:#?}"
        );
        assert_eq!(
            about("A second factor was removed (phone)."),
            1,
            "{mails:#?}"
        );
        assert_eq!(about("4155552671"), 0, "{mails:#?}");
        let events = event_types(&app, &id).await;
        assert!(events.contains(&"factor.enrolled".to_owned()), "{events:?}");
        assert!(events.contains(&"factor.removed".to_owned()), "{events:?}");
        // Gone: a login asks for nothing more.
        assert_eq!(
            app.login("users", "ann@example.com", PASSWORD).await.status,
            200
        );
    }
);

both_backends!(
    past_ten_live_codes_only_the_sessions_own_is_answered_again,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(
            &app,
            &sink,
            json!({"perNumberPerHour": 0, "perRecordPerDay": 0, "perDay": 0}),
        )
        .await;
        phone_user(&app, &sink, "ann@example.com").await;
        let mfa_id = session(&app, "ann@example.com").await;
        let mut ids = Vec::new();
        for _ in 0..10 {
            let r = request_sms(&app, &mfa_id).await;
            assert_eq!(r.status, 200, "{}", r.text);
            ids.push(r.body["otpId"].as_str().unwrap().to_owned());
        }
        let sent = messages(&sink).len();
        // The eleventh for this session: its newest code again, no new message.
        let r = request_sms(&app, &mfa_id).await;
        assert!(
            ids.contains(&r.body["otpId"].as_str().unwrap().to_owned()),
            "{}",
            r.text
        );
        assert_eq!(messages(&sink).len(), sent);
        // Another session gets a code of its own, which it can use.
        let other = session(&app, "ann@example.com").await;
        let r = request_sms(&app, &other).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
        assert!(!ids.contains(&otp_id));
        assert_eq!(messages(&sink).len(), sent + 1);
        let r = auth_with_otp(
            &app,
            json!({"otpId": otp_id, "password": last_code(&sink), "mfaId": other}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);
