//! The superuser dashboard at `/_/` over raw HTTP: the page and its scripts come with a policy
//! that runs only our own scripts, lets them call only our API, lets no form submit itself and no
//! site frame the page; nothing is cached; every module the entry script imports is served as
//! JavaScript; and the page still loads the forwarder of PocketBase-style mail links first.
//! (What the script does in a browser is tested in tests/pages.)

use crate::support::*;

/// The scripts the page runs, by path: the entry and every module it imports, directly or
/// through another module (an import is relative to the folder of the module that makes it).
async fn scripts(app: &TestApp) -> Vec<(String, Reply)> {
    let mut all: Vec<(String, Reply)> = Vec::new();
    let mut pending = vec!["/_/admin.js".to_owned()];
    while let Some(path) = pending.pop() {
        if all.iter().any(|(seen, _)| *seen == path) {
            continue;
        }
        let reply = app.get(&path, None).await;
        let folder = &path[..=path.rfind('/').unwrap_or_default()];
        pending.extend(
            reply
                .text
                .split("from './")
                .skip(1)
                .filter_map(|rest| rest.split('\'').next())
                .map(|relative| format!("{folder}{relative}")),
        );
        all.push((path, reply));
    }
    all
}

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_runs_only_our_scripts_and_calls_only_our_api() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let page = app.get("/_/", None).await;
        assert_eq!(page.status, 200);
        assert!(header(&page, "content-type").starts_with("text/html"));
        assert_eq!(header(&page, "cache-control"), "no-store");
        assert_eq!(header(&page, "referrer-policy"), "no-referrer");
        let policy = header(&page, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(policy.contains(directive), "{directive} in {policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");

        // No inline script or style for the policy to block; the forwarder runs before the
        // dashboard, so a PocketBase mail link never reaches it.
        let html = &page.text;
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=").count()
                + html.matches("<script type=\"module\" src=").count()
        );
        assert!(!html.contains("style="), "{html}");
        let forward = html.find("/_/forward.js").expect("the forwarder");
        let admin = html.find("/_/admin.js").expect("the dashboard");
        assert!(forward < admin);

        let all = scripts(&app).await;
        assert!(all.len() >= 3, "the entry imports its modules");
        assert!(
            all.iter().any(|(path, _)| path == "/_/admin/oauth2.js"),
            "modules imported by modules are checked too"
        );
        for (path, r) in &all {
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(
                header(r, "content-type"),
                "text/javascript; charset=utf-8",
                "{path}"
            );
            assert_eq!(header(r, "cache-control"), "no-store", "{path}");
            // Data reaches the page as text: no HTML parsing of strings, no code from strings.
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                ".style.",
            ] {
                assert!(!r.text.contains(banned), "{banned} in {path}");
            }
            // The token is never put where a URL could carry it.
            assert!(!r.text.contains("localStorage"), "{path}");
            assert!(!r.text.contains("?token="), "{path}");
        }

        let missing = app.get("/_/admin/nothing.js", None).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["status"], 404);
        let outside = app.get("/_/admin/..%2Fadmin.js", None).await;
        assert_eq!(outside.status, 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_links_of_pocketbase_still_reach_the_confirm_pages() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let script = app.get("/_/forward.js", None).await;
        assert_eq!(script.status, 200);
        assert!(header(&script, "content-type").starts_with("text/javascript"));
        for page in [
            "confirm-verification",
            "confirm-password-reset",
            "confirm-email-change",
        ] {
            assert!(
                script.text.contains(page.split('-').nth(1).unwrap()),
                "{page}"
            );
        }
        assert!(
            script.text.contains("location.replace('/_/auth/'"),
            "{}",
            script.text
        );
        // The dashboard leaves such links alone (forward.js moves them).
        let entry = app.get("/_/admin.js", None).await;
        assert!(entry.text.contains("#\\/auth\\/"), "{}", entry.text);
    })
    .await;
}
