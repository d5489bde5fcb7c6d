//! `POST /api/collections/{c}/auth-with-oauth2` (PocketBase's `authWithOAuth2Code`): the code is
//! exchanged for the provider's account, which picks the record — the one already linked to it,
//! else the caller (a record of the same collection), else the record whose email equals the
//! provider's *verified* email — or signs a new one up through the normal create path and its
//! `createRule`. Then the usual auth pipeline (authRule, MFA) with `meta` = the account.
//!
//! Writes: a sign-up stores the record, its link and the audit event in one transaction. An
//! existing record first gets its changes (verified, a random password against pre-hijacking)
//! through the checked record write, then its link in a second transaction; a failed link leaves
//! the record verified but unlinked, never a link without a record.

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::auth::{AuthResponse, Proof};
use super::mfa::mfa_id_of;
use crate::access::{Caller, RequestInfo};
use crate::collection::Collection;
use crate::error::{Error, ErrorKind, FieldErrors, Result, codes};
use crate::oauth2::authorize::nonce_for;
use crate::oauth2::{CodeExchange, ExchangeError, Kind, OAuth2User, ProviderConfig};
use crate::random;
use crate::record::Record;
use gatehouse_store::{ExternalAuthRow, OAuth2Write, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const LOADING: &str = "An error occurred while loading the submitted data.";
const FAILED: &str = "Failed to authenticate.";
const TOKEN_FAILED: &str = "Failed to fetch OAuth2 token.";
const USER_FAILED: &str = "Failed to fetch OAuth2 user.";
/// Bounds on the caller's strings (PocketBase bounds `provider` at 100).
const MAX_PROVIDER: usize = 100;
const MAX_CODE: usize = 4096;
const MAX_VERIFIER: usize = 255;
const MAX_REDIRECT: usize = 2048;

/// The body of `auth-with-oauth2`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OAuth2Login {
    pub provider: String,
    pub code: String,
    pub code_verifier: String,
    #[serde(rename = "redirectURL", alias = "redirectUrl")]
    pub redirect_url: String,
    pub create_data: Map<String, Value>,
    pub mfa_id: String,
}

// Hand-written: the code and verifier are one-time credentials, createData may hold a password.
impl std::fmt::Debug for OAuth2Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Login")
            .field("provider", &self.provider)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

impl Gatehouse {
    pub async fn auth_with_oauth2(
        &self,
        collection: &str,
        login: OAuth2Login,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let c = self.auth_collection(collection).await?;
        if !c.oauth2.enabled {
            return Err(Error::forbidden(
                "The collection is not configured to allow OAuth2 authentication.",
            ));
        }
        let provider = check_login(&c, &login)?;
        let user = match self.exchange(provider, &login).await {
            Ok(user) => user,
            Err(e) => {
                let message = match e {
                    ExchangeError::Token(_) => TOKEN_FAILED,
                    ExchangeError::User(_) => USER_FAILED,
                };
                tracing::warn!(provider = %provider.name, error = %e, "OAuth2 exchange failed");
                let event = oauth2_event(kinds::LOGIN_FAILURE, &c.id, "", &provider.name);
                self.audit(event, request).await?;
                return Err(Error::bad_request(message));
            }
        };
        let (record, is_new) = self
            .oauth2_record(&c, &provider.name, &user, &login, caller, request)
            .await?;
        let record_id = record.id().to_owned();
        let proof = Proof {
            amr: vec!["oauth2".to_owned()],
            aal: 1,
            auth_time: self.clock.now_secs(),
        };
        let mfa_id = mfa_id_of(request, &login.mfa_id);
        let answer = self
            .auth_response(&c, record, caller, proof, (mfa_id, false), request)
            .await;
        match &answer {
            Ok(_) => {
                let event = oauth2_event(kinds::LOGIN_SUCCESS, &c.id, &record_id, &provider.name);
                self.audit(event, request).await?;
            }
            // The MFA challenge writes its own event.
            Err(e) if e.body.is_some() => {}
            Err(e) => {
                let mut event =
                    oauth2_event(kinds::LOGIN_FAILURE, &c.id, &record_id, &provider.name);
                event.data["reason"] = json!(e.message);
                self.audit(event, request).await?;
            }
        }
        let mut answer = answer?;
        let mut meta = meta_of(&user, is_new);
        if let Some(Value::Object(extra)) = answer.meta.take()
            && let Value::Object(m) = &mut meta
        {
            m.extend(extra);
        }
        answer.meta = Some(meta);
        Ok(answer)
    }

    /// Keeps the name Apple posted with `code` to the redirect URL (its form's `user` field)
    /// for that code's exchange, a minute at most.
    pub fn remember_apple_name(&self, code: &str, user_json: &str) {
        let now_ms = self.clock.now_millis();
        self.apple_names.remember(code, user_json, now_ms);
    }

    /// The name kept for `code`'s exchange, taken (what that exchange does; tests look with it).
    pub fn take_apple_name(&self, code: &str) -> Option<String> {
        self.apple_names.take(code, self.clock.now_millis())
    }

    /// The code exchange; an account without an id is no account.
    async fn exchange(
        &self,
        provider: &ProviderConfig,
        login: &OAuth2Login,
    ) -> std::result::Result<OAuth2User, ExchangeError> {
        let kind = provider.kind();
        let provider = &provider.resolved();
        // The nonce went out with the authorize URL only with PKCE (it is derived from the verifier).
        let nonce = (matches!(kind, Kind::Oidc | Kind::Apple)
            && provider.uses_pkce()
            && !login.code_verifier.is_empty())
        .then(|| nonce_for(&login.code_verifier));
        let exchange = CodeExchange {
            code: &login.code,
            code_verifier: &login.code_verifier,
            redirect_url: &login.redirect_url,
            nonce,
            now_secs: self.clock.now_secs(),
        };
        let mut user = self.oauth2.fetch_user(provider, exchange).await?;
        if user.id.is_empty() {
            return Err(ExchangeError::User("the account has no id".to_owned()));
        }
        if kind == Kind::Apple && user.name.is_empty() {
            let now_ms = self.clock.now_millis();
            if let Some(name) = self.apple_names.take(&login.code, now_ms) {
                user.name = name;
            }
        }
        Ok(user)
    }

    /// The record this account logs in to, and whether it was just created.
    async fn oauth2_record(
        &self,
        c: &Arc<Collection>,
        provider: &str,
        user: &OAuth2User,
        login: &OAuth2Login,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<(Record, bool)> {
        let existing = self
            .store
            .find_external_auth(&c.id, provider, &user.id)
            .await?;
        let caller_record = caller
            .filter(|x| x.collection.id == c.id)
            .map(|x| &x.record);
        let mut found = match &existing {
            Some(link) => self
                .store
                .find_record(&c.id, &link.record_id)
                .await?
                .map(Record::from_row),
            None => None,
        };
        if found.is_none() {
            found = caller_record.cloned();
        }
        if found.is_none() && !user.email.is_empty() {
            found = self
                .store
                .find_record_by_email(&c.id, &user.email)
                .await?
                .map(Record::from_row);
        }
        let now = self.now();
        let link = ExternalAuthRow {
            id: random::record_id(),
            collection_id: c.id.clone(),
            record_id: String::new(),
            provider: provider.to_owned(),
            provider_id: user.id.clone(),
            created: now.clone(),
            updated: now,
        };
        match found {
            None => {
                let record = self
                    .oauth2_sign_up(c, user, link, login, caller, request)
                    .await?;
                Ok((record, true))
            }
            Some(record) => {
                let is_caller = caller_record.is_some_and(|r| r.id() == record.id());
                let record = self
                    .oauth2_link(
                        c,
                        record,
                        user,
                        link,
                        existing.is_none(),
                        is_caller,
                        request,
                    )
                    .await?;
                Ok((record, false))
            }
        }
    }

    /// A new record from `createData`, the provider's email and the mapped fields, through the
    /// create path (its validation and `createRule`); stored with its link in one transaction.
    async fn oauth2_sign_up(
        &self,
        c: &Arc<Collection>,
        user: &OAuth2User,
        mut link: ExternalAuthRow,
        login: &OAuth2Login,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Record> {
        if c.is_superusers() {
            return Err(Error::bad_request(FAILED));
        }
        let body = self.sign_up_body(c, user, &login.create_data).await?;
        let create = RequestInfo {
            body,
            ..request.clone()
        };
        let (mut record, _) = self
            .new_record(c, caller, &create)
            .await
            .map_err(failed_to_authenticate)?;
        if !record.row.email.is_empty() && record.row.email == user.email {
            record.row.verified = true;
        }
        link.record_id = record.id().to_owned();
        let event = oauth2_event(kinds::OAUTH2_SIGNUP, &c.id, record.id(), &link.provider);
        let write = OAuth2Write {
            new_record: Some(record.to_row()),
            drop_other_links: false,
            link,
            link_is_new: true,
            events: vec![self.audit_row(event, request)],
        };
        match self.store.save_oauth2_login(&write).await {
            Ok(()) => Ok(record),
            Err(StoreError::Unique { target }) => {
                tracing::info!(target = %target, "OAuth2 sign-up clashed with a stored value");
                Err(Error::bad_request(FAILED))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// PocketBase's sign-up payload: `createData`, then the provider's email and the mapped
    /// fields where `createData` left them empty, and a random password unless one was given.
    async fn sign_up_body(
        &self,
        c: &Collection,
        user: &OAuth2User,
        create_data: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let mut body = create_data.clone();
        let empty = |b: &Map<String, Value>, k: &str| {
            b.get(k)
                .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        };
        let email = match user.email.is_empty() {
            true => &user.unverified_email,
            false => &user.email,
        };
        if empty(&body, "email") && !email.is_empty() {
            body.insert("email".to_owned(), json!(email));
        }
        let m = &c.oauth2.mapped_fields;
        for (field, value) in [
            (&m.id, &user.id),
            (&m.name, &user.name),
            (&m.username, &user.username),
            (&m.avatar_url, &user.avatar_url),
        ] {
            if field.is_empty()
                || value.is_empty()
                || c.field(field).is_none()
                || !empty(&body, field)
            {
                continue;
            }
            // A taken username is left out rather than failing the sign-up (PocketBase's rule).
            if field == &m.username
                && self
                    .store
                    .find_record_by_field(&c.id, field, value, false)
                    .await?
                    .is_some()
            {
                continue;
            }
            body.insert(field.clone(), json!(value));
        }
        if empty(&body, "password") {
            let password = random::password();
            body.insert("password".to_owned(), json!(password));
            body.insert("passwordConfirm".to_owned(), json!(password));
        }
        Ok(body)
    }

    /// An existing record logs in with the account. Unverified, it may have been pre-registered
    /// by someone else with the victim's address: unless it is the caller, it gets a random
    /// password (a new token key ends the squatter's sessions), and its other links go.
    #[allow(clippy::too_many_arguments)]
    async fn oauth2_link(
        &self,
        c: &Arc<Collection>,
        mut record: Record,
        user: &OAuth2User,
        mut link: ExternalAuthRow,
        link_is_new: bool,
        is_caller: bool,
        request: &RequestInfo,
    ) -> Result<Record> {
        let before = record.clone();
        let unverified = !record.row.verified;
        let new_password = unverified && !is_caller;
        if new_password {
            record.row.password_hash = self
                .passwords
                .hash(&crate::password::Password(random::password()))
                .await?;
            record.row.token_key = random::secret();
        }
        if record.row.email.is_empty() && !user.email.is_empty() {
            record.row.email.clone_from(&user.email);
        }
        if record.row.email.is_empty() || record.row.email == user.email {
            record.row.verified = true;
        }
        if record.row != before.row {
            record.row.updated = self.now();
            match self.save_changes(&before, &record, &[]).await {
                Ok(()) => {}
                Err(StoreError::NotFound | StoreError::Stale | StoreError::Unique { .. }) => {
                    return Err(Error::bad_request(FAILED));
                }
                Err(e) => return Err(e.into()),
            }
            if new_password {
                self.forget_credentials(record.id(), true).await?;
            }
        }
        if !link_is_new && !unverified {
            return Ok(record);
        }
        link.record_id = record.id().to_owned();
        let events = match link_is_new {
            true => {
                let event = oauth2_event(kinds::OAUTH2_LINKED, &c.id, record.id(), &link.provider);
                vec![self.audit_row(event, request)]
            }
            false => Vec::new(),
        };
        let write = OAuth2Write {
            new_record: None,
            drop_other_links: unverified,
            link,
            link_is_new,
            events,
        };
        match self.store.save_oauth2_login(&write).await {
            Ok(()) => Ok(record),
            // The record has another account of this provider linked, or this account was
            // linked to another record meanwhile.
            Err(StoreError::Unique { .. }) => Err(Error::bad_request(FAILED)),
            Err(e) => Err(e.into()),
        }
    }
}

/// The body's checks: PocketBase answers them with the *loading* message.
fn check_login<'c>(c: &'c Collection, login: &OAuth2Login) -> Result<&'c ProviderConfig> {
    let mut errors = FieldErrors::default();
    let provider = c.oauth2.providers.iter().find(|p| p.name == login.provider);
    if login.provider.is_empty() {
        errors.add_code("provider", codes::REQUIRED);
    } else if login.provider.chars().count() > MAX_PROVIDER {
        errors.length_out_of_range("provider", 0, MAX_PROVIDER);
    } else if provider.is_none() {
        errors.add_with_params(
            "provider",
            "validation_invalid_provider",
            &format!(
                "Provider with name {} is missing or is not enabled.",
                login.provider
            ),
            json!({"name": login.provider}),
        );
    }
    for (field, value, max) in [
        ("code", &login.code, MAX_CODE),
        ("codeVerifier", &login.code_verifier, MAX_VERIFIER),
        ("redirectURL", &login.redirect_url, MAX_REDIRECT),
    ] {
        if field == "code" && value.is_empty() {
            errors.add_code(field, codes::REQUIRED);
        } else if value.len() > max {
            errors.length_out_of_range(field, 0, max);
        }
    }
    errors.into_result(LOADING)?;
    provider.ok_or_else(|| Error::bad_request(LOADING))
}

/// A refused sign-up: PocketBase's 400, with the validation data when there was some.
fn failed_to_authenticate(e: Error) -> Error {
    match e.kind {
        ErrorKind::Internal => e,
        _ if !e.data.is_empty() => Error::validation(FAILED, e.data),
        _ => Error::bad_request(FAILED),
    }
}

fn oauth2_event<'a>(
    kind: &'static str,
    collection_id: &'a str,
    record_id: &'a str,
    provider: &str,
) -> Event<'a> {
    Event {
        kind,
        collection_id,
        record_id,
        method: "oauth2",
        data: json!({"provider": provider}),
    }
}

/// PocketBase's `meta`: the provider's account, with legacy `avatarUrl`.
fn meta_of(user: &OAuth2User, is_new: bool) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "email": if user.email.is_empty() { &user.unverified_email } else { &user.email },
        "avatarURL": user.avatar_url,
        "avatarUrl": user.avatar_url,
        "accessToken": user.access_token,
        "refreshToken": user.refresh_token,
        "expiry": user.expiry,
        "rawUser": user.raw_user,
        "isNew": is_new,
    })
}
