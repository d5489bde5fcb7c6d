//! The sign-in flow of the hosted pages, apart from how its result is handed back: first step
//! (password or an emailed code), second step (the 401 challenge's `methods`), and the forced
//! enrolment of an authenticator app. Each step calls the same [`Gatehouse`] method as its API
//! route and ends in [`Next`]: signed in, or the next form to show.

use gatehouse_domain::service::factors::{FactorLogin, TotpEnrolment};
use gatehouse_domain::service::otp::OtpLogin;
use gatehouse_domain::{
    AuthResponse, Error, ErrorKind, Gatehouse, Password, PasswordLogin, RequestInfo, token,
};
use serde_json::Value;

/// Where a step leads.
pub(crate) enum Next {
    SignedIn(SignedIn),
    SecondStep(Challenge),
    Enrol(Enrolment),
}

/// A finished sign-in: the record and its auth token (and a device token when it asked to be
/// trusted). No `Debug`: bearer tokens.
pub(crate) struct SignedIn {
    pub(crate) record_id: String,
    pub(crate) token: String,
    pub(crate) device_token: Option<String>,
}

/// The second step to offer, from the 401's `methods`.
pub(crate) struct Challenge {
    pub(crate) mfa_id: String,
    pub(crate) methods: Vec<Method>,
}

pub(crate) struct Method {
    /// `totp`, `backupCode`, `sms` or `otp` (the password is never offered as a second step
    /// here: the first step was a password or a code).
    pub(crate) kind: String,
    /// Where a code goes (`sentTo`) or how many backup codes are left.
    pub(crate) detail: String,
}

/// A pending authenticator of a record that must enrol before it signs in.
pub(crate) struct Enrolment {
    pub(crate) mfa_id: String,
    pub(crate) enroll_token: String,
    pub(crate) secret: String,
    pub(crate) qr: String,
}

/// One browser's sign-in to one collection.
pub(crate) struct Flow<'a> {
    pub(crate) gh: &'a Gatehouse,
    pub(crate) collection: &'a str,
    pub(crate) meta: &'a RequestInfo,
}

impl Flow<'_> {
    pub(crate) async fn password(&self, identity: &str, password: &str) -> Result<Next, Error> {
        let login = PasswordLogin {
            identity: identity.to_owned(),
            password: Password(password.to_owned()),
            identity_field: String::new(),
            mfa_id: String::new(),
            trust_device: false,
        };
        let answer = self
            .gh
            .auth_with_password(self.collection, login, None, self.meta)
            .await;
        self.settle(answer).await
    }

    /// A TOTP (`totp`) or backup code (`backupCode`) as the second step.
    pub(crate) async fn factor(
        &self,
        kind: &str,
        mfa_id: &str,
        code: &str,
        trust: bool,
    ) -> Result<Next, Error> {
        let kind = if kind == "backupCode" {
            "backupCode"
        } else {
            "totp"
        };
        let login = FactorLogin {
            mfa_id: mfa_id.to_owned(),
            code: code.to_owned(),
            trust_device: trust,
        };
        let answer = self
            .gh
            .auth_with_factor(self.collection, kind, login, self.meta)
            .await;
        self.settle(answer).await
    }

    /// Emails a code: a first step (no `mfa_id`) or a second one. Answers the `otpId`.
    pub(crate) async fn request_email_code(
        &self,
        email: &str,
        mfa_id: &str,
    ) -> Result<String, Error> {
        let answer = self
            .gh
            .request_otp(self.collection, email, mfa_id, self.meta)
            .await?;
        Ok(otp_id(&answer))
    }

    /// Texts a code for the second step of `mfa_id`. Answers the `otpId`.
    pub(crate) async fn request_sms_code(&self, mfa_id: &str) -> Result<String, Error> {
        let answer = self
            .gh
            .request_sms_otp(self.collection, mfa_id, self.meta)
            .await?;
        Ok(otp_id(&answer))
    }

    /// A code sent by email or text message.
    pub(crate) async fn code(
        &self,
        otp_id: &str,
        code: &str,
        mfa_id: &str,
        trust: bool,
    ) -> Result<Next, Error> {
        let login = OtpLogin {
            otp_id: otp_id.to_owned(),
            password: code.to_owned(),
            mfa_id: mfa_id.to_owned(),
            trust_device: trust,
        };
        let answer = self
            .gh
            .auth_with_otp(self.collection, login, None, self.meta)
            .await;
        self.settle(answer).await
    }

    /// Confirms the pending authenticator with its first code; answers the backup codes.
    pub(crate) async fn confirm_enrolment(
        &self,
        enroll_token: &str,
        code: &str,
    ) -> Result<Vec<String>, Error> {
        let record_id = enrolling_record(enroll_token)?;
        let meta = self.with_enroll_token(enroll_token);
        let answer = self
            .gh
            .confirm_totp(self.collection, &record_id, code, None, &meta)
            .await?;
        Ok(answer["backupCodes"]
            .as_array()
            .map(|codes| {
                codes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn settle(&self, answer: Result<AuthResponse, Error>) -> Result<Next, Error> {
        let e = match answer {
            Ok(auth) => return Ok(Next::SignedIn(signed_in(auth))),
            Err(e) => e,
        };
        let Some(body) = e
            .body
            .as_deref()
            .filter(|_| e.kind == ErrorKind::Unauthorized)
        else {
            return Err(e);
        };
        let mfa_id = body["mfaId"].as_str().unwrap_or_default().to_owned();
        if body["enrollmentRequired"].as_bool() == Some(true) {
            let enroll_token = body["enrollToken"].as_str().unwrap_or_default();
            return Ok(Next::Enrol(
                self.start_enrolment(mfa_id, enroll_token).await?,
            ));
        }
        let methods = body["methods"]
            .as_array()
            .map(|all| all.iter().filter_map(method).collect())
            .unwrap_or_default();
        Ok(Next::SecondStep(Challenge { mfa_id, methods }))
    }

    async fn start_enrolment(
        &self,
        mfa_id: String,
        enroll_token: &str,
    ) -> Result<Enrolment, Error> {
        let record_id = enrolling_record(enroll_token)?;
        let meta = self.with_enroll_token(enroll_token);
        let answer = self
            .gh
            .enrol_totp(
                self.collection,
                &record_id,
                TotpEnrolment::default(),
                None,
                &meta,
            )
            .await?;
        let text = |key: &str| answer[key].as_str().unwrap_or_default().to_owned();
        Ok(Enrolment {
            mfa_id,
            enroll_token: enroll_token.to_owned(),
            secret: text("secret"),
            qr: text("qr"),
        })
    }

    /// The enrolment calls take the token from `Authorization`, as the API routes do.
    fn with_enroll_token(&self, enroll_token: &str) -> RequestInfo {
        let mut meta = self.meta.clone();
        meta.headers.insert(
            "authorization".to_owned(),
            Value::String(enroll_token.to_owned()),
        );
        meta
    }
}

/// The record an enrolment token names (unverified: the domain checks the token).
fn enrolling_record(enroll_token: &str) -> Result<String, Error> {
    token::peek(enroll_token, 0)
        .map(|claims| claims.id)
        .ok_or_else(|| Error::bad_request("Invalid or expired MFA session."))
}

fn signed_in(auth: AuthResponse) -> SignedIn {
    let record_id = auth.record["id"].as_str().unwrap_or_default().to_owned();
    let device_token = auth
        .meta
        .as_ref()
        .and_then(|m| m["deviceToken"].as_str())
        .map(str::to_owned);
    SignedIn {
        record_id,
        token: auth.token,
        device_token,
    }
}

fn method(m: &Value) -> Option<Method> {
    let kind = m["type"].as_str()?;
    let detail = match kind {
        "totp" => String::new(),
        "backupCode" => m["remaining"]
            .as_i64()
            .map(|n| n.to_string())
            .unwrap_or_default(),
        "sms" | "otp" => m["sentTo"].as_str().unwrap_or_default().to_owned(),
        _ => return None,
    };
    Some(Method {
        kind: kind.to_owned(),
        detail,
    })
}

fn otp_id(answer: &Value) -> String {
    answer["otpId"].as_str().unwrap_or_default().to_owned()
}
