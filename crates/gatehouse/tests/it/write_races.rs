//! Mailed links used by many requests at once: of 8 concurrent uses exactly one wins, in each of
//! 100 trials. (Rate limits and the lockout are off in the test app, so all 8 reach the write.)

use crate::both_backends;
use crate::support::*;
use crate::writes::{link_token, reset_link};
use serde_json::{Value, json};
use tokio::task::JoinSet;

const TRIALS: usize = 100;
const USES: usize = 8;

/// Posts `body` to `path` from `USES` concurrent requests; returns each answer's status and body.
async fn at_once(app: &TestApp, path: &str, body: Value) -> Vec<(u16, Value)> {
    let mut set = JoinSet::new();
    for _ in 0..USES {
        let request = app
            .client
            .post(format!("{}{path}", app.url))
            .json(&body)
            .send();
        set.spawn(async move {
            let resp = request.await.expect("request");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    set.join_all().await
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
            let answers =
                at_once(&app, "/api/collections/users/confirm-password-reset", body).await;
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
            let answers = at_once(&app, "/api/collections/users/confirm-email-change", body).await;
            exactly_one_wins(trial, &answers);
        }
    }
);
