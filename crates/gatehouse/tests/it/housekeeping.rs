//! Housekeeping: old audit rows and mail-folder files go after `settings.retention`, expired
//! tickets at once. The purge is called directly with the test clock moved forward.

use crate::both_backends;
use crate::smtp::request_mail;
use crate::support::*;
use serde_json::json;

const DAY: i64 = 86_400;

/// The `created` of every audit row, as a superuser sees them.
async fn audit_dates(app: &TestApp) -> Vec<String> {
    let su = app.superuser_token().await;
    let r = app.get("/api/audit?perPage=500", Some(&su)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["created"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(
    old_audit_rows_and_mail_files_are_purged,
    |app: TestApp| async move {
        request_mail(&app, "old@example.com").await;
        app.mail_idle().await;
        let before = audit_dates(&app).await;
        assert!(!before.is_empty());
        assert_eq!(app.mails_to("old@example.com").len(), 1);

        app.clock.advance_secs(91 * DAY);
        request_mail(&app, "new@example.com").await;
        app.mail_idle().await;
        let purged = app.gh.purge().await.unwrap();
        assert_eq!(purged.audit_rows, before.len() as u64, "{purged:?}");

        let after = audit_dates(&app).await;
        assert!(!after.is_empty());
        assert!(after.iter().all(|d| !before.contains(d)), "{after:?}");
        assert!(app.mails_to("old@example.com").is_empty());
        assert_eq!(app.mails_to("new@example.com").len(), 1);
        assert_eq!(purged.mail_files, 1);

        // Within the retention nothing more goes.
        let again = app.gh.purge().await.unwrap();
        assert_eq!((again.audit_rows, again.mail_files), (0, 0));
    }
);

both_backends!(retention_is_a_setting, |app: TestApp| async move {
    let su = app.superuser_token().await;
    let r = app.get("/api/settings", Some(&su)).await;
    assert_eq!(
        r.body["retention"],
        json!({"auditDays": 90, "mailFolderDays": 7})
    );
    let bad = app
        .patch(
            "/api/settings",
            Some(&su),
            json!({"retention": {"auditDays": 0, "mailFolderDays": 7}}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.body["data"]["retention"]["auditDays"]["code"].is_string());
    let r = app
        .patch(
            "/api/settings",
            Some(&su),
            json!({"retention": {"mailFolderDays": 1}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["retention"]["mailFolderDays"], 1);
});
