//! The three confirm pages. Each GET shows a form; each POST calls the same domain function as
//! the API route and shows the outcome, or the form again with the field errors.

use super::{escape, page};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Meta};
use crate::limit::{Authenticated, check_as_api_route};
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::service::email_change::EmailChangeConfirm;
use gatehouse_domain::service::password_reset::PasswordResetConfirm;
use gatehouse_domain::{Caller, Error, ErrorKind, token};
use serde::Deserialize;

const BAD_LINK: &str = "This link is invalid or has expired. Ask for a new one.";

/// The fields the three forms post. No `Debug`: passwords and a token.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Fields {
    token: String,
    password: String,
    password_confirm: String,
}

type Posted = Result<Body<Fields>, ApiError>;

/// The posted fields and the collection their token claims to be for (the domain checks the
/// claim); `None` for a body or token that cannot be read.
fn read_post(posted: Posted) -> Option<(Fields, String)> {
    let Body(fields) = posted.ok()?;
    let collection = token::claimed_collection(&fields.token)?;
    Some((fields, collection))
}

/// [`read_post`], then the API route's rate limit for the token's collection; the page to show
/// instead when either fails.
async fn read_within_limit(
    s: &AppState,
    caller: Option<&Caller>,
    ip: &str,
    flow: Flow,
    posted: Posted,
) -> Result<(Fields, String), Response> {
    let Some((fields, collection)) = read_post(posted) else {
        return Err(bad_link());
    };
    match check_as_api_route(&s.gh, caller, ip, flow.route(), &collection).await {
        Ok(()) => Ok((fields, collection)),
        Err(e) => Err(failed(flow, &fields.token, &e)),
    }
}

pub async fn verification_form(Path(token): Path<String>) -> Response {
    form_page(Flow::Verification, &token, None)
}

pub async fn verification_submit(
    State(s): State<AppState>,
    Extension(Authenticated(caller)): Extension<Authenticated>,
    Meta(meta): Meta,
    posted: Posted,
) -> Response {
    let (fields, collection) =
        match read_within_limit(&s, caller.as_ref(), &meta.ip, Flow::Verification, posted).await {
            Ok(read) => read,
            Err(page) => return page,
        };
    match s
        .gh
        .confirm_verification(&collection, &fields.token, &meta)
        .await
    {
        Ok(()) => done(
            "Email verified",
            "Your email address is verified. You can close this page.",
        ),
        Err(e) => failed(Flow::Verification, &fields.token, &e),
    }
}

pub async fn password_reset_form(Path(token): Path<String>) -> Response {
    form_page(Flow::PasswordReset, &token, None)
}

pub async fn password_reset_submit(
    State(s): State<AppState>,
    Extension(Authenticated(caller)): Extension<Authenticated>,
    Meta(meta): Meta,
    posted: Posted,
) -> Response {
    let (fields, collection) =
        match read_within_limit(&s, caller.as_ref(), &meta.ip, Flow::PasswordReset, posted).await {
            Ok(read) => read,
            Err(page) => return page,
        };
    let form = PasswordResetConfirm {
        token: fields.token.clone(),
        password: fields.password,
        password_confirm: fields.password_confirm,
    };
    match s.gh.confirm_password_reset(&collection, form, &meta).await {
        Ok(()) => done(
            "Password changed",
            "Your password has been changed and every other session has been signed out. You can sign in with the new password now.",
        ),
        Err(e) => failed(Flow::PasswordReset, &fields.token, &e),
    }
}

pub async fn email_change_form(Path(token): Path<String>) -> Response {
    form_page(Flow::EmailChange, &token, None)
}

pub async fn email_change_submit(
    State(s): State<AppState>,
    Extension(Authenticated(caller)): Extension<Authenticated>,
    Meta(meta): Meta,
    posted: Posted,
) -> Response {
    let (fields, collection) =
        match read_within_limit(&s, caller.as_ref(), &meta.ip, Flow::EmailChange, posted).await {
            Ok(read) => read,
            Err(page) => return page,
        };
    let form = EmailChangeConfirm {
        token: fields.token.clone(),
        password: fields.password,
    };
    match s.gh.confirm_email_change(&collection, form, &meta).await {
        Ok(()) => done(
            "Email changed",
            "Your email address has been changed. Sign in again with the new address.",
        ),
        Err(e) => failed(Flow::EmailChange, &fields.token, &e),
    }
}

#[derive(Clone, Copy)]
enum Flow {
    Verification,
    PasswordReset,
    EmailChange,
}

impl Flow {
    /// The API route that does the same, whose rate limit the page shares.
    fn route(self) -> &'static str {
        match self {
            Self::Verification => "confirm-verification",
            Self::PasswordReset => "confirm-password-reset",
            Self::EmailChange => "confirm-email-change",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Self::Verification => "/_/auth/confirm-verification",
            Self::PasswordReset => "/_/auth/confirm-password-reset",
            Self::EmailChange => "/_/auth/confirm-email-change",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Verification => "Verify your email",
            Self::PasswordReset => "Choose a new password",
            Self::EmailChange => "Confirm your new email",
        }
    }

    /// The form's fields after the hidden token: (name, label, autocomplete).
    fn inputs(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            Self::Verification => &[],
            Self::PasswordReset => &[
                ("password", "New password", "new-password"),
                ("passwordConfirm", "New password again", "new-password"),
            ],
            Self::EmailChange => &[("password", "Your current password", "current-password")],
        }
    }

    fn button(self) -> &'static str {
        match self {
            Self::Verification => "Verify my email",
            Self::PasswordReset => "Set new password",
            Self::EmailChange => "Confirm new email",
        }
    }
}

/// The flow's form; `errors` (from a failed submit) are shown under their fields.
fn form_page(flow: Flow, token: &str, errors: Option<&Error>) -> Response {
    let mut body = format!(
        "<form method=\"post\" action=\"{}\">\n<input type=\"hidden\" name=\"token\" value=\"{}\">\n",
        flow.action(),
        escape(token)
    );
    if let Some(e) = errors.filter(|e| e.data.is_empty()) {
        body.push_str(&format!("<p class=\"error\">{}</p>\n", escape(&e.message)));
    }
    for (name, label, autocomplete) in flow.inputs() {
        body.push_str(&format!(
            "<label for=\"{name}\">{label}</label>\n\
             <input type=\"password\" id=\"{name}\" name=\"{name}\" autocomplete=\"{autocomplete}\" required>\n"
        ));
        if let Some(message) = errors.and_then(|e| e.data.message_of(name)) {
            body.push_str(&format!("<p class=\"error\">{}</p>\n", escape(message)));
        }
    }
    body.push_str(&format!(
        "<button type=\"submit\">{}</button>\n</form>",
        flow.button()
    ));
    let status = match errors {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    page(status, flow.title(), &body)
}

fn failed(flow: Flow, token: &str, e: &Error) -> Response {
    match e.kind {
        ErrorKind::BadRequest if e.data.has("token") => bad_link(),
        ErrorKind::BadRequest => form_page(flow, token, Some(e)),
        ErrorKind::TooManyRequests => page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "<p class=\"error\">Too many attempts. Wait a minute and try again.</p>",
        ),
        ErrorKind::NotFound => bad_link(),
        _ => {
            if let Some(cause) = &e.cause {
                tracing::error!(%cause, "a confirm page failed");
            }
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p class=\"error\">Something went wrong. Please try again later.</p>",
            )
        }
    }
}

fn bad_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Link not valid",
        &format!("<p class=\"error\">{BAD_LINK}</p>"),
    )
}

fn done(title: &str, message: &str) -> Response {
    page(
        StatusCode::OK,
        title,
        &format!("<p class=\"ok\">{}</p>", escape(message)),
    )
}
