//! Logging in and holding a session: auth-methods, auth-with-password, auth-refresh, impersonate,
//! and turning an `Authorization` header into a [`Caller`].

use super::audit::{Event, kinds};
use super::mfa::mfa_id_of;
use super::{Gatehouse, require_record_of};
use crate::access::{Caller, RequestInfo, Scope, Subject, is_superuser};
use crate::collection::Collection;
use crate::collection::field::is_email;
use crate::error::{Error, FieldErrors, Result, codes};
use crate::password::Password;
use crate::record::{Record, View};
use crate::token::{self, AuthClaims, TYPE_AUTH};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

/// PocketBase's auth answer. `meta` carries what a second step adds (backup codes left).
#[derive(Serialize)]
pub struct AuthResponse {
    pub token: String,
    pub record: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

// Hand-written: the token is a bearer credential and the record may show the email.
impl std::fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthResponse")
            .field("record", &self.record.get("id"))
            .finish_non_exhaustive()
    }
}

/// The body of `auth-with-password`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordLogin {
    pub identity: String,
    pub password: Password,
    pub identity_field: String,
    /// The second step of an MFA login (the query string's `mfaId` wins).
    pub mfa_id: String,
    /// With a second step: trust this device (`meta.deviceToken`).
    pub trust_device: bool,
}

const FAILED_TO_AUTHENTICATE: &str = "Failed to authenticate.";

/// How a login proved who the user is; becomes the token's `amr` and `aal`.
pub(super) struct Proof {
    /// The methods used, the latest first until MFA completes (then in the order used).
    pub(super) amr: Vec<String>,
    pub(super) aal: u8,
    pub(super) auth_time: i64,
}

impl Gatehouse {
    /// `GET /api/collections/{c}/auth-methods`.
    pub async fn auth_methods(&self, collection: &str) -> Result<Value> {
        let c = self.auth_collection(collection).await?;
        let password = &c.password_auth;
        let identity_fields: Vec<&String> = if password.enabled {
            password.identity_fields.iter().collect()
        } else {
            Vec::new()
        };
        let has = |f: &str| password.enabled && password.identity_fields.iter().any(|x| x == f);
        // Each item carries a fresh state and PKCE pair; the legacy list only when enabled.
        let providers: Vec<Value> = if c.oauth2.enabled {
            c.oauth2
                .providers
                .iter()
                .map(crate::oauth2::authorize::provider_item)
                .collect()
        } else {
            Vec::new()
        };
        Ok(json!({
            "password": {"identityFields": identity_fields, "enabled": password.enabled},
            "oauth2": {"providers": providers, "enabled": c.oauth2.enabled},
            "mfa": {"enabled": c.mfa.enabled, "duration": if c.mfa.enabled { c.mfa.duration } else { 0 }},
            "otp": {"enabled": c.otp.enabled, "duration": if c.otp.enabled { c.otp.duration } else { 0 }},
            // Gatehouse's second factors (PocketBase SDKs pass unknown keys through).
            "totp": {"enabled": c.totp.enabled, "digits": c.totp.digits, "period": c.totp.period, "algorithm": c.totp.algorithm},
            "backupCodes": {"enabled": c.backup_codes.enabled},
            "sms": {"enabled": c.sms.enabled, "duration": if c.sms.enabled { c.sms.duration } else { 0 }},
            "authProviders": providers,
            "usernamePassword": has("username"),
            "emailPassword": has("email"),
        }))
    }

    /// `POST /api/collections/{c}/auth-with-password`. A wrong password and an unknown identity
    /// give the same answer after the same work (one password hash check each).
    pub async fn auth_with_password(
        &self,
        collection: &str,
        login: PasswordLogin,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let c = self.auth_collection(collection).await?;
        if !c.password_auth.enabled {
            return Err(Error::forbidden(
                "The collection is not configured to allow password authentication.",
            ));
        }
        let mut errors = FieldErrors::default();
        for (name, value) in [
            ("identity", login.identity.as_str()),
            ("password", login.password.as_str()),
        ] {
            if value.is_empty() {
                errors.add_code(name, codes::REQUIRED);
            } else if value.chars().count() > 255 {
                errors.length_out_of_range(name, 1, 255);
            }
        }
        if !login.identity_field.is_empty()
            && !c
                .password_auth
                .identity_fields
                .contains(&login.identity_field)
        {
            errors.add_code("identityField", codes::IN_INVALID);
        }
        errors.into_result("An error occurred while validating the submitted data.")?;

        self.before_password_check(&c.id, &login.identity, &request.ip)
            .await?;
        let record = self.find_by_identity(&c, &login).await?;
        let verdict = self
            .passwords
            .verify(
                &login.password,
                record.as_ref().map(|r| r.row.password_hash.as_str()),
            )
            .await?;
        let matched = record.is_some() && verdict.matched;
        self.after_password_check(&c.id, &login.identity, &request.ip, matched)
            .await?;
        let known_id = record
            .as_ref()
            .map(|r| r.id().to_owned())
            .unwrap_or_default();
        let mfa_id = mfa_id_of(request, &login.mfa_id);
        let Some(record) = record.filter(|_| matched) else {
            self.second_step_failed(mfa_id, &known_id).await?;
            // Neither the identity (it may be a mistyped password) nor whether it exists.
            self.audit(
                login_event(kinds::LOGIN_FAILURE, &c.id, &known_id, json!({})),
                request,
            )
            .await?;
            return Err(Error::bad_request(FAILED_TO_AUTHENTICATE));
        };
        if verdict.needs_rehash {
            self.rehash(&record, &login.password).await;
        }
        let proof = Proof {
            amr: vec!["password".to_owned()],
            aal: 1,
            auth_time: self.clock.now_secs(),
        };
        let answer = self
            .auth_response(
                &c,
                record,
                caller,
                proof,
                (mfa_id, login.trust_device),
                request,
            )
            .await;
        self.audit_login(&c, &known_id, "password", &answer, request)
            .await?;
        answer
    }

    /// `login.success`, or `login.failure` with the reason; nothing for an MFA challenge (which
    /// writes `mfa.required`).
    pub(super) async fn audit_login(
        &self,
        c: &Collection,
        record_id: &str,
        method: &str,
        answer: &Result<AuthResponse>,
        request: &RequestInfo,
    ) -> Result<()> {
        let (kind, data) = match answer {
            Ok(_) => (kinds::LOGIN_SUCCESS, json!({})),
            Err(e) if e.body.is_some() => return Ok(()),
            Err(e) => (kinds::LOGIN_FAILURE, json!({"reason": e.message})),
        };
        let mut event = login_event(kind, &c.id, record_id, data);
        event.method = method;
        self.audit(event, request).await
    }

    /// Identity fields in PocketBase's order: `email` first (skipped when the identity does not look
    /// like an email), then the others; the first hit wins.
    async fn find_by_identity(
        &self,
        c: &Collection,
        login: &PasswordLogin,
    ) -> Result<Option<Record>> {
        let mut fields: Vec<&str> = if login.identity_field.is_empty() {
            c.password_auth
                .identity_fields
                .iter()
                .map(String::as_str)
                .collect()
        } else {
            vec![login.identity_field.as_str()]
        };
        fields.sort_by_key(|f| *f != "email");
        let specs = c.index_specs();
        for field in fields {
            let row = if field == "email" {
                if !is_email(&login.identity) {
                    continue;
                }
                self.store
                    .find_record_by_email(&c.id, &login.identity)
                    .await?
            } else {
                let nocase = specs
                    .iter()
                    .any(|s| s.unique_column() == Some(field) && s.nocase);
                self.store
                    .find_record_by_field(&c.id, field, &login.identity, nocase)
                    .await?
            };
            if let Some(row) = row {
                return Ok(Some(Record::from_row(row)));
            }
        }
        Ok(None)
    }

    /// Replaces a bcrypt (PocketBase) or outdated hash after a successful login. Best effort: a
    /// failure is logged and the login still succeeds.
    async fn rehash(&self, record: &Record, password: &Password) {
        let result = async {
            let fresh = self.passwords.hash(password).await?;
            self.store
                .replace_password_hash(record.id(), &record.row.password_hash, &fresh)
                .await?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(record = record.id(), error = %e, "password re-hash failed");
        }
    }

    /// `POST /api/collections/{c}/auth-refresh`: a new token for a refreshable one, the same token
    /// for an impersonation token; `authTime`, `amr` and `aal` carry over (a refresh is no login).
    pub async fn auth_refresh(
        &self,
        collection: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let c = self.auth_collection(collection).await?;
        let caller = require_record_of(&c, caller)?;
        let record = caller.record.clone();
        self.check_auth_rule(&c, &record, Some(caller), "default", request)?;
        let token = if caller.claims.refreshable {
            let proof = Proof {
                amr: caller.claims.amr.clone(),
                aal: caller.claims.aal,
                auth_time: caller.claims.auth_time,
            };
            self.mint(&c, &record, &proof, true, c.auth_token.duration)?
        } else {
            caller.token.clone()
        };
        Ok(AuthResponse {
            token,
            record: render_auth_record(&c, &record),
            meta: None,
        })
    }

    /// `POST /api/collections/{c}/impersonate/{id}`: superusers only; a non-refreshable token that
    /// lasts `duration` seconds (0 = the collection's auth token duration).
    pub async fn impersonate(
        &self,
        collection: &str,
        id: &str,
        duration: &Value,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let caller = caller.ok_or_else(|| {
            Error::unauthorized("The request requires valid record authorization token.")
        })?;
        if !caller.is_superuser() {
            return Err(Error::forbidden(
                "The authorized record is not allowed to perform this action.",
            ));
        }
        let c = self.auth_collection(collection).await?;
        // Like PocketBase, the record is looked up before the body is read.
        let row = self
            .store
            .find_record(&c.id, id)
            .await?
            .ok_or_else(Error::resource_not_found)?;
        let duration = match duration {
            Value::Null => 0,
            Value::Number(n) => n.as_i64().ok_or_else(bad_body)?,
            Value::String(s) => s.trim().parse().map_err(|_| bad_body())?,
            _ => return Err(bad_body()),
        };
        if duration < 0 {
            let mut errors = FieldErrors::default();
            errors.min_threshold("duration", 0);
            return Err(Error::validation(
                "An error occurred while validating the submitted data.",
                errors,
            ));
        }
        let record = Record::from_row(row);
        let duration = if duration == 0 {
            c.auth_token.duration
        } else {
            duration
        };
        let proof = Proof {
            amr: vec!["impersonation".to_owned()],
            aal: 1,
            auth_time: self.clock.now_secs(),
        };
        let token = self.mint(&c, &record, &proof, false, duration)?;
        let event = Event {
            kind: kinds::IMPERSONATION,
            collection_id: &c.id,
            record_id: id,
            method: "",
            data: json!({
                "by": caller.record.id(),
                "byCollectionId": caller.collection.id,
                "duration": duration,
            }),
        };
        self.audit(event, request).await?;
        Ok(AuthResponse {
            token,
            record: render_auth_record(&c, &record),
            meta: None,
        })
    }

    /// The shared end of every login (PocketBase's `recordAuthResponse`).
    pub(super) async fn auth_response(
        &self,
        c: &Arc<Collection>,
        record: Record,
        caller: Option<&Caller>,
        proof: Proof,
        (mfa_id, trust_device): (&str, bool),
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        self.check_superuser_ip(&c.id, &request.ip).await?;
        self.check_auth_rule(c, &record, caller, &proof.amr.join(","), request)?;
        let proof = self
            .check_mfa(c, &record, caller, proof, mfa_id, request)
            .await?;
        // Only a second step that just passed can make a device trusted.
        let device =
            match trust_device && proof.aal == 2 && !proof.amr.iter().any(|m| m == "device") {
                true => self.trust_device(c, &record, request).await?,
                false => None,
            };
        let mut answer = self.finish_login(c, record, &proof, request).await?;
        super::factors::add_device_token(&mut answer, device);
        Ok(answer)
    }

    /// The end of a login whose every step passed: the new-location alert and the token.
    pub(super) async fn finish_login(
        &self,
        c: &Collection,
        record: Record,
        proof: &Proof,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        self.note_login_origin(c, &record, request).await?;
        let token = self.mint(c, &record, proof, true, c.auth_token.duration)?;
        Ok(AuthResponse {
            token,
            record: render_auth_record(c, &record),
            meta: None,
        })
    }

    /// The collection's `authRule`, against the record logging in (bypassed for superuser
    /// callers). `context` is PocketBase's `@request.context`: the login method, or `default`.
    pub(super) fn check_auth_rule(
        &self,
        c: &Collection,
        record: &Record,
        caller: Option<&Caller>,
        context: &str,
        request: &RequestInfo,
    ) -> Result<()> {
        if is_superuser(caller) {
            return Ok(());
        }
        let subject = Subject {
            collection: c,
            record,
            scope: Scope {
                caller,
                context,
                request,
                now_millis: self.clock.now_millis(),
            },
        };
        if self.rules.get(c.auth_rule.as_deref()).allows(&subject) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "The request doesn't satisfy the collection requirements to authenticate.",
            ))
        }
    }

    fn mint(
        &self,
        c: &Collection,
        record: &Record,
        proof: &Proof,
        refreshable: bool,
        duration: i64,
    ) -> Result<String> {
        let claims = AuthClaims {
            aal: proof.aal,
            amr: proof.amr.clone(),
            auth_time: proof.auth_time,
            collection_id: c.id.clone(),
            // An impersonation may ask for any duration: the expiry saturates, never wraps.
            exp: self.clock.now_secs().saturating_add(duration),
            id: record.id().to_owned(),
            refreshable,
            kind: TYPE_AUTH.to_owned(),
        };
        token::sign(&claims, &record.row.token_key, &c.auth_token.secret)
            .ok_or_else(|| Error::internal("token signing failed"))
    }

    /// The caller behind an `Authorization` header value, or `None` (a guest) for a missing,
    /// malformed, expired or forged token — PocketBase never answers 401 for a bad token by itself.
    pub async fn authenticate(&self, header: &str) -> Option<Caller> {
        let raw = header.trim();
        let raw = match raw.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") && raw.len() > 7 => {
                raw[7..].trim()
            }
            _ => raw,
        };
        let peek = token::peek(raw, self.clock.now_secs())?;
        if peek.kind != TYPE_AUTH {
            return None;
        }
        let collection = self
            .collections
            .get(&peek.collection_id)
            .await
            .ok()
            .flatten()?;
        if collection.id != peek.collection_id || collection.kind != "auth" {
            return None;
        }
        let row = self
            .store
            .find_record(&collection.id, &peek.id)
            .await
            .ok()
            .flatten()?;
        let claims: AuthClaims = token::verify(raw, &row.token_key, &collection.auth_token.secret)?;
        Some(Caller {
            collection,
            record: Record::from_row(row),
            claims,
            token: raw.to_owned(),
        })
    }
}

fn login_event<'a>(
    kind: &'static str,
    collection_id: &'a str,
    record_id: &'a str,
    data: Value,
) -> Event<'a> {
    Event {
        kind,
        collection_id,
        record_id,
        method: "password",
        data,
    }
}

fn bad_body() -> Error {
    Error::bad_request("An error occurred while loading the submitted data.")
}

/// A record inside an auth answer: email always shown; superusers' hidden fields too.
fn render_auth_record(c: &Collection, record: &Record) -> Value {
    record.render(
        c,
        View {
            email: true,
            hidden: c.is_superusers(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_the_token_nor_the_record() {
        let answer = AuthResponse {
            token: "eyJ.secret-token-1".into(),
            record: serde_json::json!({"id": "abc", "email": "ann@example.com"}),
            meta: None,
        };
        let printed = format!("{answer:?}");
        assert!(
            !printed.contains("secret-token-1") && !printed.contains("ann@"),
            "{printed}"
        );
        assert!(printed.contains("abc"), "{printed}");
    }
}
