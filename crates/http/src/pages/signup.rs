//! `/_/signup`: create an account in an auth collection, then sign in with it through the same
//! [`Flow`] as `/_/login` (so a collection that requires a second factor leads straight to its
//! enrolment). The record is created by the same domain call as `POST …/records`, under the
//! collection's create rule and the route's rate limit: the page gives the API's answers.

use super::flow::Flow;
use super::login::{advance, first_step};
use super::views::SignupPage;
use super::visit::{Submitted, failure, is_user_error, status_of, visit};
use crate::AppState;
use crate::extract::{Meta, Params};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::Error;
use serde_json::{Map, Value};

/// Offered when the collection lets someone create a record at all (a `null` create rule is
/// superusers only); the rule itself decides when the form is sent.
pub(crate) async fn open_for_signup(s: &AppState, collection: &str) -> bool {
    s.gh.auth_collection(collection)
        .await
        .is_ok_and(|c| c.create_rule.is_some())
}

/// `GET /_/signup?collection=…&redirect=…`.
pub async fn signup_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    let v = match visit(
        &s,
        &headers,
        params.get("collection"),
        params.get("redirect"),
    )
    .await
    {
        Ok(v) => v,
        Err(page) => return page,
    };
    if !open_for_signup(&s, &v.ctx.collection).await {
        return v.message(StatusCode::FORBIDDEN, "Sign up", CLOSED, "");
    }
    let page = SignupPage {
        title: "Create an account",
        error: String::new(),
        ctx: v.ctx(),
        email: String::new(),
        problems: Vec::new(),
        sign_in: v.login_link(),
    };
    v.page(StatusCode::OK, page, &[])
}

const CLOSED: &str = "This site does not take sign-ups here. Ask its administrator for an account.";

/// `POST /_/signup`: email, password, passwordConfirm.
pub async fn signup(
    State(s): State<AppState>,
    Meta(mut meta): Meta,
    Submitted { v, form }: Submitted,
) -> Response {
    if let Err(e) = v.within_limit(&s, &meta, "records").await {
        return form_again(&v, &form.identity, &e);
    }
    let mut body = Map::new();
    body.insert("email".into(), Value::String(form.identity.clone()));
    body.insert("password".into(), Value::String(form.password.clone()));
    body.insert(
        "passwordConfirm".into(),
        Value::String(form.password_confirm.clone()),
    );
    meta.body = body;
    match s.gh.create_record(&v.ctx.collection, None, &meta).await {
        Ok(_) => {}
        Err(e) if is_user_error(&e) || e.kind == gatehouse_domain::ErrorKind::NotFound => {
            return form_again(&v, &form.identity, &e);
        }
        Err(e) => return failure(&v, &e),
    }
    // The record exists: from here on this is a sign-in like any other.
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    match flow.password(&form.identity, &form.password).await {
        Ok(next) => advance(&s, &v, next, &form.identity).await,
        Err(e) if is_user_error(&e) => {
            let message = format!("Your account was created. {}", e.message);
            first_step(&s, &v, form.identity.clone(), message, StatusCode::OK).await
        }
        Err(e) => failure(&v, &e),
    }
}

/// The form again with the API's message and its field errors, nothing kept but the email.
fn form_again(v: &super::visit::Visit, email: &str, e: &Error) -> Response {
    let problems = e
        .data
        .clone()
        .into_map()
        .into_iter()
        .map(|(field, detail)| {
            let message = detail["message"].as_str().unwrap_or("Invalid value.");
            format!("{}: {message}", field_label(&field))
        })
        .collect();
    let page = SignupPage {
        title: "Create an account",
        error: e.message.clone(),
        ctx: v.ctx(),
        email: email.to_owned(),
        problems,
        sign_in: v.login_link(),
    };
    v.page(status_of(e), page, &[])
}

fn field_label(field: &str) -> &str {
    match field {
        "email" => "Email",
        "password" => "Password",
        "passwordConfirm" => "Repeat password",
        other => other,
    }
}
