//! Authenticator-app two-factor end to end over HTTP: enrol (QR + secret), confirm, the login's
//! 401 challenge, `auth-with-totp`, replay and skew on the test clock, backup codes.

use crate::both_backends;
use crate::support::*;
use gatehouse_domain::factor_codes::totp::{Algorithm, TotpParams, code_at};
use serde_json::{Value, json};

/// The password of every user these factor tests sign up.
pub const PASSWORD: &str = "correct horse battery";
const SHA1_6_30: TotpParams = TotpParams {
    algorithm: Algorithm::Sha1,
    digits: 6,
    period: 30,
    skew: 1,
};

/// The secret bytes of an otpauth URI's `secret=` (base32).
pub fn secret_of(uri: &str) -> Vec<u8> {
    let b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret in uri");
    let (mut bits, mut n, mut out) = (0u32, 0u32, Vec::new());
    for c in b32.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {b32}"),
        };
        bits = (bits << 5) | u32::from(v);
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// A code of the app's clock `offset_steps` steps from now.
pub fn code(app: &TestApp, secret: &[u8], offset_steps: i64) -> String {
    use gatehouse_domain::clock::Clock;
    let now = app.clock.now_secs() + offset_steps * 30;
    code_at(&SHA1_6_30, secret, now)
}

/// A user with a confirmed authenticator app: `(id, token, secret, backup codes)`.
pub async fn enrolled_user(app: &TestApp, email: &str) -> (String, String, Vec<u8>, Vec<String>) {
    let (id, token) = app.user(email, PASSWORD).await;
    let base = format!("/api/collections/users/records/{id}/mfa");
    let r = app
        .post(&format!("{base}/totp"), Some(&token), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let uri = r.body["uri"].as_str().unwrap().to_owned();
    let secret = secret_of(&uri);
    let r = app
        .post(
            &format!("{base}/totp/confirm"),
            Some(&token),
            json!({"code": code(app, &secret, 0)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> = serde_json::from_value(r.body["backupCodes"].clone()).unwrap();
    (id, token, secret, codes)
}

/// The 401 challenge of a password login (MFA asked).
pub async fn challenge(app: &TestApp, email: &str) -> Value {
    let r = app.login("users", email, PASSWORD).await;
    assert_eq!(r.status, 401, "{}", r.text);
    r.body
}

/// The `mfaId` of a fresh password login.
pub async fn mfa_id(app: &TestApp, email: &str) -> String {
    challenge(app, email).await["mfaId"]
        .as_str()
        .expect("mfaId")
        .to_owned()
}

/// A second step: `kind` is `totp` or `backup-code`.
pub async fn second_step(app: &TestApp, kind: &str, mfa_id: &str, code: &str) -> Reply {
    app.post(
        &format!("/api/collections/users/auth-with-{kind}"),
        None,
        json!({"mfaId": mfa_id, "code": code}),
    )
    .await
}

/// A full login with a TOTP code: the token. The clock first moves past the skew, so that no
/// step an earlier call used is still acceptable.
pub async fn login_with_totp(app: &TestApp, email: &str, secret: &[u8]) -> String {
    app.clock.advance_secs(90);
    let id = mfa_id(app, email).await;
    let r = second_step(app, "totp", &id, &code(app, secret, 0)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["token"].as_str().expect("token").to_owned()
}

both_backends!(
    enrolment_answers_a_qr_and_the_uri_and_hides_the_secret_afterwards,
    |app: TestApp| async move {
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let base = format!("/api/collections/users/records/{id}/mfa");
        let r = app
            .post(&format!("{base}/totp"), Some(&token), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let uri = r.body["uri"].as_str().unwrap();
        // The issuer defaults to the app name (settings.meta.appName).
        assert!(
            uri.starts_with("otpauth://totp/Gatehouse:ann%40example.com?secret="),
            "{uri}"
        );
        assert!(uri.contains("&issuer=Gatehouse&"), "{uri}");
        assert!(uri.contains("&algorithm=SHA1&digits=6&period=30"), "{uri}");
        assert!(
            r.body["qr"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        assert!(r.body["qrSvg"].as_str().unwrap().starts_with("<svg"));
        assert_eq!(r.body["secret"].as_str().unwrap().len(), 32);
        // Pending: the overview lists it, and a login is not yet asked for a code.
        let o = app.get(&base, Some(&token)).await;
        assert_eq!(o.status, 200, "{}", o.text);
        assert_eq!(o.body["factors"][0]["status"], "pending");
        assert_eq!(o.body["required"], false);
        assert!(!o.text.contains(r.body["secret"].as_str().unwrap()));
        assert_eq!(
            app.login("users", "ann@example.com", PASSWORD).await.status,
            200
        );
    }
);

both_backends!(
    a_confirmed_app_asks_for_a_code_at_login_and_gives_aal_2,
    |app: TestApp| async move {
        let (id, _, secret, codes) = enrolled_user(&app, "ann@example.com").await;
        assert_eq!(codes.len(), 10);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
        let body = challenge(&app, "ann@example.com").await;
        let mfa_id = body["mfaId"].as_str().unwrap();
        let types: Vec<&str> = body["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["totp", "backupCode"], "{body}");
        assert_eq!(body["methods"][1]["remaining"], 10);
        // The confirm used the current step: the next step's code (within skew) logs in.
        let r = app
            .post(
                "/api/collections/users/auth-with-totp",
                None,
                json!({"mfaId": mfa_id, "code": code(&app, &secret, 1)}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let c = claims(r.body["token"].as_str().unwrap());
        assert_eq!(c["aal"], 2);
        assert_eq!(c["amr"], json!(["password", "totp"]));
        assert_eq!(r.body["record"]["id"], id);
        // The session is spent.
        let again = app
            .post(
                "/api/collections/users/auth-with-totp",
                None,
                json!({"mfaId": mfa_id, "code": code(&app, &secret, 1)}),
            )
            .await;
        assert_eq!(again.status, 400, "{}", again.text);
    }
);

both_backends!(
    a_code_is_accepted_once_and_only_within_the_skew,
    |app: TestApp| async move {
        let (_, _, secret, _) = enrolled_user(&app, "ann@example.com").await;
        app.clock.advance_secs(300);
        let login = |code: String| {
            let app = &app;
            async move {
                let body = challenge(app, "ann@example.com").await;
                app.post(
                    "/api/collections/users/auth-with-totp",
                    None,
                    json!({"mfaId": body["mfaId"], "code": code}),
                )
                .await
            }
        };
        assert_eq!(
            login(code(&app, &secret, 2)).await.status,
            400,
            "two steps ahead"
        );
        assert_eq!(
            login(code(&app, &secret, -1)).await.status,
            200,
            "one step back"
        );
        assert_eq!(login(code(&app, &secret, -1)).await.status, 400, "replayed");
        assert_eq!(login(code(&app, &secret, 0)).await.status, 200, "current");
        assert_eq!(login(code(&app, &secret, 0)).await.status, 400, "replayed");
        let r = login(code(&app, &secret, -1)).await;
        assert_eq!(r.status, 400, "older than the last accepted");
        assert_eq!(r.body["message"], "Invalid or expired code.");
        assert_eq!(
            login(code(&app, &secret, 1)).await.status,
            200,
            "one step ahead"
        );
    }
);

both_backends!(
    a_backup_code_logs_in_once_and_regenerating_kills_the_old_set,
    |app: TestApp| async move {
        let (id, token, _, codes) = enrolled_user(&app, "ann@example.com").await;
        let use_code = |code: String| {
            let app = &app;
            async move {
                let body = challenge(app, "ann@example.com").await;
                app.post(
                    "/api/collections/users/auth-with-backup-code",
                    None,
                    json!({"mfaId": body["mfaId"], "code": code}),
                )
                .await
            }
        };
        let r = use_code(codes[0].to_uppercase().replace('-', " ")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["backupCodesRemaining"], 9);
        assert_eq!(
            claims(r.body["token"].as_str().unwrap())["amr"],
            json!(["password", "backupCode"])
        );
        assert_eq!(use_code(codes[0].clone()).await.status, 400);
        let r = app
            .post(
                &format!("/api/collections/users/records/{id}/mfa/backup-codes"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let fresh: Vec<String> = serde_json::from_value(r.body["backupCodes"].clone()).unwrap();
        assert_eq!(
            use_code(codes[1].clone()).await.status,
            400,
            "old set is dead"
        );
        assert_eq!(use_code(fresh[0].clone()).await.status, 200);
    }
);

both_backends!(
    an_alternate_address_receives_second_step_codes_once_proven,
    |app: TestApp| async move {
        use crate::otp::{auth_with_otp, code_for, enable_otp};
        enable_otp(&app).await;
        let (id, token, _, _) = enrolled_user(&app, "ann@example.com").await;
        let base = format!("/api/collections/users/records/{id}/mfa/email");
        let r = app
            .post(
                &base,
                Some(&token),
                json!({"email": "ann.backup@example.org"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
        let code = code_for(&app, "ann.backup@example.org", 1).await;
        // The enrolment code is not a login code.
        let (status, _) = auth_with_otp(&app, &otp_id, &code, "").await;
        assert_eq!(status, 400);
        let wrong = app
            .post(
                &format!("{base}/confirm"),
                Some(&token),
                json!({"otpId": otp_id, "code": "00000000"}),
            )
            .await;
        assert_eq!(wrong.status, 400, "{}", wrong.text);
        let r = app
            .post(
                &format!("{base}/confirm"),
                Some(&token),
                json!({"otpId": otp_id, "code": code}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        let body = challenge(&app, "ann@example.com").await;
        let alternate = body["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["alternate"] == true)
            .cloned()
            .unwrap_or_default();
        assert_eq!(alternate["sentTo"], "a***@e******.org", "{body}");
        let mfa_id = body["mfaId"].as_str().unwrap();
        let r = app
            .post(
                "/api/collections/users/request-otp",
                None,
                json!({"email": "ann.backup@example.org", "mfaId": mfa_id}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let code = code_for(&app, "ann.backup@example.org", 2).await;
        let (status, body) =
            auth_with_otp(&app, r.body["otpId"].as_str().unwrap(), &code, mfa_id).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            claims(body["token"].as_str().unwrap())["amr"],
            json!(["password", "otp"])
        );
        // Without the session, the alternate address is nobody's: a decoy, and no mail.
        let r = app
            .post(
                "/api/collections/users/request-otp",
                None,
                json!({"email": "ann.backup@example.org"}),
            )
            .await;
        assert_eq!(r.status, 200);
        app.mail_idle().await;
        assert_eq!(app.mails_to("ann.backup@example.org").len(), 2);
    }
);
