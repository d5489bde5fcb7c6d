//! Credential changes made by many requests at once (a mailed link used 8 times, 8 password
//! changes read from one state): exactly one wins, in each of 100 trials. (Rate limits and the
//! lockout are off in the test app, so all 8 reach the write.)

use crate::both_backends;
use crate::support::*;
use crate::writes::{link_token, reset_link};
use serde_json::{Value, json};
use tokio::task::JoinSet;

const TRIALS: usize = 100;
const USES: usize = 8;

/// Sends `USES` requests at once, the `n`th made by `request(n)`; returns each answer's status
/// and body, in the order of `n`.
async fn at_once(request: impl Fn(usize) -> reqwest::RequestBuilder) -> Vec<(u16, Value)> {
    let mut set = JoinSet::new();
    for n in 0..USES {
        let sent = request(n).send();
        set.spawn(async move {
            let resp = sent.await.expect("request");
            let status = resp.status().as_u16();
            (n, status, resp.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let mut answers = set.join_all().await;
    answers.sort_by_key(|(n, _, _)| *n);
    answers.into_iter().map(|(_, s, body)| (s, body)).collect()
}

/// A guest's POST of `body` to `path`, for [`at_once`].
fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::RequestBuilder {
    app.client.post(format!("{}{path}", app.url)).json(body)
}

/// Exactly one 204; every other answer is a 400 about the token.
fn exactly_one_wins(trial: usize, answers: &[(u16, Value)]) {
    let wins = answers.iter().filter(|(s, _)| *s == 204).count();
    assert_eq!(wins, 1, "trial {trial}: {answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 204) {
        assert_eq!(*status, 400, "trial {trial}: {body}");
        let code = body["data"]["token"]["code"].as_str().unwrap_or_default();
        assert!(
            code == "validation_invalid_token" || code == "validation_invalid_token_email",
            "trial {trial}: {body}"
        );
    }
}

both_backends!(
    a_reset_link_used_at_once_works_once,
    |app: TestApp| async move {
        for trial in 0..TRIALS {
            let email = format!("reset{trial}@example.com");
            app.user(&email, "first-password-1").await;
            let token = reset_link(&app, &email).await;
            let body = json!({"token": token, "password": "new-password-1", "passwordConfirm": "new-password-1"});
            let path = "/api/collections/users/confirm-password-reset";
            let answers = at_once(|_| post(&app, path, &body)).await;
            exactly_one_wins(trial, &answers);
        }
    }
);

both_backends!(
    an_email_change_link_used_at_once_works_once,
    |app: TestApp| async move {
        for trial in 0..TRIALS {
            let email = format!("change{trial}@example.com");
            let new_email = format!("changed{trial}@example.com");
            let (_, auth) = app.user(&email, "change-password-1").await;
            let r = app
                .post(
                    "/api/collections/users/request-email-change",
                    Some(&auth),
                    json!({"newEmail": new_email}),
                )
                .await;
            assert_eq!(r.status, 204, "{}", r.text);
            let token = link_token(&app, &new_email, 1, "confirm-email-change").await;
            let body = json!({"token": token, "password": "change-password-1"});
            let path = "/api/collections/users/confirm-email-change";
            let answers = at_once(|_| post(&app, path, &body)).await;
            exactly_one_wins(trial, &answers);
        }
    }
);

both_backends!(
    password_changes_read_from_one_state_land_once,
    |app: TestApp| async move {
        for trial in 0..TRIALS {
            let email = format!("patch{trial}@example.com");
            let (id, auth) = app.user(&email, "patch-password-0").await;
            let url = format!("{}/api/collections/users/records/{id}", app.url);
            // Each checked against the old password; only one may replace it.
            let answers = at_once(|n| {
                let new = format!("patch-password-{}", n + 1);
                let body = json!({"oldPassword": "patch-password-0", "password": new, "passwordConfirm": new});
                app.client
                    .patch(&url)
                    .header("Authorization", &auth)
                    .json(&body)
            })
            .await;
            let winners: Vec<usize> = (0..USES).filter(|n| answers[*n].0 == 200).collect();
            assert_eq!(winners.len(), 1, "trial {trial}: {answers:?}");
            for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
                // Refused at the write (400), or after the winner's new tokenKey ended the
                // session (404: the record is not the caller's any more).
                assert!(*status == 400 || *status == 404, "trial {trial}: {body}");
            }
            let winner = format!("patch-password-{}", winners[0] + 1);
            assert_eq!(app.login("users", &email, &winner).await.status, 200);
        }
    }
);
