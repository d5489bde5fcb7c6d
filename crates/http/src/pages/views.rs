//! The askama templates of the sign-in pages (`crates/http/templates/`), one struct each. Every
//! page has a `title` and an `error` line (empty for none); every form carries [`Ctx`].

use super::flow::Method;
use askama::Template;
use askama_web::WebTemplate;

/// What every form posts back: its token and where the sign-in is going.
pub(crate) struct Ctx {
    pub(crate) csrf: String,
    pub(crate) collection: String,
    pub(crate) redirect: String,
}

impl Ctx {
    /// The account page of this collection.
    pub(crate) fn account_link(&self) -> String {
        super::session::account_path(&self.collection)
    }
}

/// Where the second-step forms of the sign-in post.
pub(crate) const LOGIN_FORMS: &str = "/_/login";
/// Where the same forms post when they confirm a signed-in person before an account change.
pub(crate) const REAUTH_FORMS: &str = "/_/account/reauth";

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) password: bool,
    pub(crate) otp: bool,
    pub(crate) identity: String,
    /// The sign-up page's link, when the collection takes sign-ups (empty otherwise).
    pub(crate) signup: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
pub(crate) struct SignupPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) email: String,
    /// The API's field errors, one line each.
    pub(crate) problems: Vec<String>,
    pub(crate) sign_in: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "second_step.html")]
pub(crate) struct SecondStepPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) mfa_id: String,
    pub(crate) identity: String,
    pub(crate) methods: Vec<Method>,
    /// The methods again, for the hidden field that lets a failed attempt show the same page.
    pub(crate) methods_field: String,
    /// [`LOGIN_FORMS`] or [`REAUTH_FORMS`].
    pub(crate) base: &'static str,
    /// Whether to offer "Trust this device" (not when confirming a signed-in person).
    pub(crate) trust: bool,
    /// The account change waiting for the confirmation (empty on the sign-in).
    pub(crate) then: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "code.html")]
pub(crate) struct CodePage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) prompt: String,
    pub(crate) otp_id: String,
    pub(crate) mfa_id: String,
    pub(crate) identity: String,
    pub(crate) base: &'static str,
    pub(crate) trust: bool,
    pub(crate) then: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "enrol.html")]
pub(crate) struct EnrolPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) mfa_id: String,
    pub(crate) enroll_token: String,
    pub(crate) secret: String,
    pub(crate) qr: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "backup_codes.html")]
pub(crate) struct BackupCodesPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) mfa_id: String,
    pub(crate) codes: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) message: String,
    pub(crate) signed_in: bool,
    /// A link back to the sign-in form (empty for none).
    pub(crate) back: String,
}

/// `kind=detail` pairs joined by `;`, as the second-step page's hidden field carries them.
pub(crate) fn methods_to_field(methods: &[Method]) -> String {
    methods
        .iter()
        .map(|m| format!("{}={}", m.kind, m.detail.replace(';', "")))
        .collect::<Vec<_>>()
        .join(";")
}

/// The reverse of [`methods_to_field`]; display only (the domain decides what is accepted).
pub(crate) fn methods_from_field(field: &str) -> Vec<Method> {
    field
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(kind, _)| matches!(*kind, "totp" | "backupCode" | "sms" | "otp"))
        .map(|(kind, detail)| Method {
            kind: kind.to_owned(),
            detail: detail.to_owned(),
        })
        .collect()
}
