//! Adding a phone or email codes on the account page over raw HTTP, against the signed-webhook
//! SMS sink and the SMTP sink on 127.0.0.1: a refused number keeps the field, a wrong code
//! changes nothing, sending again counts against the SMS caps (the code already sent still
//! works), the backup codes are shown once for a first factor, a code typed twice gets the
//! API's answer, the re-authentication carries the number, and a forged form changes nothing.

use super::browser::{Browser, Page};
use super::{ACCOUNT, events, overview};
use crate::both_backends;
use crate::otp::enable_otp;
use crate::settings_test_send::{smtp_to, sunk};
use crate::sms_login::{MASKED, PHONE, last_code, messages, sink, sms_on};
use crate::smtp_sink::SmtpSink;
use crate::support::*;
use crate::totp::PASSWORD;
use serde_json::{Value, json};

const CAPPED: &str = "Too many text messages were sent, please try again later.";

/// The status of the record's factor of `kind`, if it has one.
fn status_of(overview: &Value, kind: &str) -> Option<String> {
    overview["factors"]
        .as_array()?
        .iter()
        .find(|f| f["type"] == kind)
        .map(|f| f["status"].as_str().unwrap_or_default().to_owned())
}

fn sent_code(page: &Page) -> (String, String) {
    (page.field("otpId"), page.field("phone"))
}

both_backends!(
    a_phone_is_added_on_the_page_and_its_codes_shown_once,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, json!({"perNumberPerHour": 2})).await;
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let page = browser.get(ACCOUNT).await;
        page.assert_shows(200, "Add a phone number");
        assert!(!page.html.contains("Add email codes"), "email OTP is off");
        let csrf = page.field("csrf");

        // A number the API refuses: its message by the field, the number kept, nothing sent.
        let bad = [("phone", "555-0100")];
        let refused = browser.post("/_/account/sms", &csrf, &bad).await;
        refused.assert_shows(400, "Must be a phone number in international format");
        assert_eq!(refused.field("phone"), "555-0100");
        assert!(messages(&sink).is_empty());
        let long = "+1".repeat(40);
        let refused = browser
            .post("/_/account/sms", &csrf, &[("phone", &long)])
            .await;
        refused.assert_shows(400, "international format");
        assert_eq!(status_of(&overview(&app, &id, &token).await, "sms"), None);

        let sent = browser
            .post("/_/account/sms", &csrf, &[("phone", PHONE)])
            .await;
        sent.assert_shows(200, &format!("We sent a code by text message to {PHONE}"));
        let (first_otp, phone) = sent_code(&sent);
        assert_eq!(phone, PHONE);
        assert_eq!(messages(&sink).len(), 1);
        assert_eq!(messages(&sink)[0]["to"], PHONE);
        let first_code = last_code(&sink);

        // A wrong code: the same form again, the phone still pending.
        let wrong = [
            ("otpId", first_otp.as_str()),
            ("code", "000000"),
            ("phone", PHONE),
        ];
        let again = browser.post("/_/account/sms/confirm", &csrf, &wrong).await;
        again.assert_shows(400, "Invalid or expired code.");
        assert_eq!(sent_code(&again), (first_otp.clone(), PHONE.to_owned()));
        assert_eq!(
            status_of(&overview(&app, &id, &token).await, "sms").as_deref(),
            Some("pending")
        );

        // Send again: a second message (the caps allow two an hour), then the cap, which keeps
        // the last code's form.
        let resend = [("otpId", first_otp.as_str()), ("phone", PHONE)];
        let second = browser.post("/_/account/sms", &csrf, &resend).await;
        second.assert_shows(200, "We sent a code by text message");
        let (second_otp, _) = sent_code(&second);
        assert_ne!(second_otp, first_otp);
        assert_eq!(messages(&sink).len(), 2);
        let resend = [("otpId", second_otp.as_str()), ("phone", PHONE)];
        let capped = browser.post("/_/account/sms", &csrf, &resend).await;
        capped.assert_shows(429, CAPPED);
        assert_eq!(capped.field("otpId"), second_otp);
        assert_eq!(messages(&sink).len(), 2, "over the cap nothing is sent");
        assert_eq!(events(&app, &id, "sms.capped").await, 1);

        let second_code = last_code(&sink);
        assert_ne!(second_code, first_code);
        let right = [
            ("otpId", second_otp.as_str()),
            ("code", second_code.as_str()),
            ("phone", PHONE),
        ];
        let shown = browser.post("/_/account/sms/confirm", &csrf, &right).await;
        shown.assert_shows(200, "Your phone is set up.");
        assert_eq!(shown.codes().len(), 10, "{}", shown.html);
        let o = overview(&app, &id, &token).await;
        assert_eq!(status_of(&o, "sms").as_deref(), Some("verified"));
        assert_eq!(o["backupCodesRemaining"], 10);

        // Typed twice: the API's own answer to the same body, and nothing changes.
        let twice = browser.post("/_/account/sms/confirm", &csrf, &right).await;
        let path = format!("/api/collections/users/records/{id}/mfa/sms/confirm");
        let api = app
            .post(
                &path,
                Some(&token),
                json!({"otpId": second_otp, "code": second_code}),
            )
            .await;
        assert_eq!(api.status, 400, "{}", api.text);
        twice.assert_shows(400, api.body["message"].as_str().unwrap());
        assert!(twice.codes().is_empty());
        assert_eq!(
            overview(&app, &id, &token).await["backupCodesRemaining"],
            10
        );
        assert_eq!(events(&app, &id, "factor.enrolled").await, 1);

        // The page lists the phone, masked, and offers no second one.
        let page = browser.get(ACCOUNT).await;
        page.assert_shows(200, &format!("Text message</strong> ({MASKED})"));
        assert!(!page.html.contains("Add a phone number"), "{}", page.html);
        assert!(!page.html.contains("4155552671"), "{}", page.html);
    }
);

/// The code of the newest one-time-password mail the sink accepted.
fn mailed_code(sink: &SmtpSink) -> String {
    let all = sunk(sink);
    let mail = all
        .iter()
        .rev()
        .find(|m| m.contains("one-time password is:"))
        .expect("a code mail");
    let after = mail
        .split("one-time password is:")
        .nth(1)
        .unwrap_or_default();
    let after = after.trim_start().trim_start_matches("<strong>");
    after.chars().take_while(char::is_ascii_digit).collect()
}

async fn mails_with_codes(sink: &SmtpSink, n: usize) {
    sink.wait_for(|s| {
        s.iter()
            .flat_map(|s| &s.messages)
            .filter(|m| m.contains("one-time password is"))
            .count()
            >= n
    })
    .await;
}

both_backends!(
    email_codes_are_added_on_the_page_over_smtp,
    |app: TestApp| async move {
        let smtp = SmtpSink::start(false).await;
        let su = app.superuser_token().await;
        smtp_to(&app, &su, smtp.port, "none").await;
        enable_otp(&app).await;
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let page = browser.get(ACCOUNT).await;
        page.assert_shows(200, "Add email codes");
        assert!(!page.html.contains("Add a phone number"), "SMS is off");
        let csrf = page.field("csrf");

        let sent = browser.post("/_/account/email", &csrf, &[]).await;
        sent.assert_shows(200, "We sent a code to ann@example.com.");
        let otp_id = sent.field("otpId");
        mails_with_codes(&smtp, 1).await;
        let code = mailed_code(&smtp);
        assert_eq!(code.len(), 8, "{:?}", sunk(&smtp));
        assert!(
            sunk(&smtp)
                .iter()
                .any(|m| m.contains("To: ann@example.com"))
        );

        let wrong = [("otpId", otp_id.as_str()), ("code", "00000000")];
        let again = browser
            .post("/_/account/email/confirm", &csrf, &wrong)
            .await;
        again.assert_shows(400, "Invalid or expired code.");
        assert_eq!(again.field("otpId"), otp_id);
        assert_eq!(
            status_of(&overview(&app, &id, &token).await, "email").as_deref(),
            Some("pending")
        );

        let right = [("otpId", otp_id.as_str()), ("code", code.as_str())];
        let done = browser
            .post("/_/account/email/confirm", &csrf, &right)
            .await;
        // The API's confirm answers `{}`: no backup codes to show.
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location, format!("{ACCOUNT}&done=email-added"));
        assert_eq!(
            status_of(&overview(&app, &id, &token).await, "email").as_deref(),
            Some("verified")
        );
        let back = browser.get(&done.location).await;
        back.assert_shows(200, "Email codes are set up.");
        assert!(back.html.contains("Email code</strong>"), "{}", back.html);
        assert!(!back.html.contains("Add email codes"), "{}", back.html);

        let twice = browser
            .post("/_/account/email/confirm", &csrf, &right)
            .await;
        twice.assert_shows(400, "Invalid or expired code.");
        assert_eq!(events(&app, &id, "factor.enrolled").await, 1);
    }
);

both_backends!(
    adding_a_phone_after_the_window_asks_for_the_password_and_keeps_the_number,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        app.clock.advance_secs(700);
        let asked = browser
            .post("/_/account/sms", &csrf, &[("phone", PHONE)])
            .await;
        asked.assert_shows(403, "To add a phone number, confirm it");
        let then = asked.field("then");
        assert_eq!(then, format!("add-sms:{PHONE}"));
        assert!(messages(&sink).is_empty(), "nothing sent before");
        assert_eq!(status_of(&overview(&app, &id, &token).await, "sms"), None);

        let right = [("then", then.as_str()), ("password", PASSWORD)];
        let sent = browser.post("/_/account/reauth", &csrf, &right).await;
        sent.assert_shows(200, &format!("We sent a code by text message to {PHONE}"));
        assert_ne!(
            browser.session(),
            token,
            "the fresh session is in the cookie"
        );
        assert_eq!(messages(&sink).len(), 1);
        let fields = [
            ("otpId", sent.field("otpId")),
            ("code", last_code(&sink)),
            ("phone", PHONE.to_owned()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let shown = browser.post("/_/account/sms/confirm", &csrf, &fields).await;
        shown.assert_shows(200, "Save your backup codes");

        // Email codes after the window ask too.
        enable_otp(&app).await;
        app.clock.advance_secs(700);
        let asked = browser.post("/_/account/email", &csrf, &[]).await;
        asked.assert_shows(403, "To add email codes, confirm it");
        assert_eq!(asked.field("then"), "add-email");
    }
);

both_backends!(
    forged_forms_add_no_phone_and_send_nothing,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, Value::Null).await;
        enable_otp(&app).await;
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        let mut stranger = Browser::signed_in(&app, &token).await;
        for bad in ["", "00ff", csrf.as_str()] {
            let who = if bad == csrf {
                &mut stranger
            } else {
                &mut browser
            };
            let page = who.post("/_/account/sms", bad, &[("phone", PHONE)]).await;
            page.assert_shows(403, "Nothing was changed");
            let page = who.post("/_/account/email", bad, &[]).await;
            page.assert_shows(403, "Nothing was changed");
        }
        assert!(messages(&sink).is_empty());
        app.mail_idle().await;
        let mails = app.mails_to("ann@example.com");
        assert!(mails.iter().all(|m| !m.contains("one-time password")));

        // A forged confirm does not finish a real set-up either.
        let sent = browser
            .post("/_/account/sms", &csrf, &[("phone", PHONE)])
            .await;
        assert_eq!(sent.status, 200, "{}", sent.html);
        let otp_id = sent.field("otpId");
        let code = last_code(&sink);
        let forged = [("otpId", otp_id.as_str()), ("code", code.as_str())];
        let page = browser
            .post("/_/account/sms/confirm", "00ff", &forged)
            .await;
        page.assert_shows(403, "Nothing was changed");
        assert_eq!(
            status_of(&overview(&app, &id, &token).await, "sms").as_deref(),
            Some("pending")
        );
    }
);
