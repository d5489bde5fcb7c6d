//! The named providers' user info answers, each read as PocketBase reads it
//! (`tools/auth/<name>.go`). Only what differs lives here: the endpoints are in the domain's
//! table, the exchange and the tokens are shared.
//!
//! The email is the one the provider vouches for: Google's and Discord's only with their
//! verified flag, GitLab's only once confirmed, GitHub's public address (GitHub shows only
//! verified ones) or else its verified primary one. Microsoft and Facebook say nothing about
//! verification. PocketBase takes their address as it comes; Gatehouse only lets it fill a new
//! record's email, unverified: Microsoft's `mail` is whatever a tenant's admin typed, and linking
//! by it would hand an existing account to anyone who runs a tenant.

use crate::http::{HttpError, read_body};
use crate::user::{Profile, flag, oidc_profile, text};
use gatehouse_domain::oauth2::Kind;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

type Raw = Map<String, Value>;

/// The account in `raw`, the user info answer of a provider of this kind.
pub fn profile(kind: Kind, raw: &Raw) -> Profile {
    match kind {
        Kind::Oidc | Kind::Apple => oidc_profile(raw),
        Kind::Google => google(raw),
        Kind::Github => github(raw),
        Kind::Microsoft => microsoft(raw),
        Kind::Gitlab => gitlab(raw),
        Kind::Discord => discord(raw),
        Kind::Facebook => facebook(raw),
    }
}

/// `text(raw, key)` when `vouched`, else empty.
fn email_if(raw: &Raw, vouched: bool) -> String {
    match vouched {
        true => text(raw, "email"),
        false => String::new(),
    }
}

/// Google's OpenID user info (`/oauth2/v3/userinfo`).
fn google(raw: &Raw) -> Profile {
    Profile {
        id: text(raw, "sub"),
        name: text(raw, "name"),
        email: email_if(raw, flag(raw, "email_verified")),
        avatar_url: text(raw, "picture"),
        ..Profile::default()
    }
}

/// GitHub's `/user`: a numeric id, `login`, and `email` only when made public.
fn github(raw: &Raw) -> Profile {
    Profile {
        id: text(raw, "id"),
        name: text(raw, "name"),
        username: text(raw, "login"),
        email: text(raw, "email"),
        avatar_url: text(raw, "avatar_url"),
        unverified_email: String::new(),
    }
}

/// Microsoft Graph's `/me`.
fn microsoft(raw: &Raw) -> Profile {
    Profile {
        id: text(raw, "id"),
        name: text(raw, "displayName"),
        unverified_email: text(raw, "mail"),
        ..Profile::default()
    }
}

/// GitLab's `/api/v4/user`: the address counts once `confirmed_at` is a date.
fn gitlab(raw: &Raw) -> Profile {
    let confirmed = raw
        .get("confirmed_at")
        .and_then(Value::as_str)
        .is_some_and(|at| OffsetDateTime::parse(at, &Rfc3339).is_ok());
    Profile {
        id: text(raw, "id"),
        name: text(raw, "name"),
        username: text(raw, "username"),
        email: email_if(raw, confirmed),
        avatar_url: text(raw, "avatar_url"),
        unverified_email: String::new(),
    }
}

/// Discord's `/users/@me`: PocketBase names the account `username#discriminator` and builds
/// the avatar's CDN address from its hash (none without a hash).
fn discord(raw: &Raw) -> Profile {
    let id = text(raw, "id");
    let username = text(raw, "username");
    let avatar = text(raw, "avatar");
    Profile {
        name: format!("{username}#{}", text(raw, "discriminator")),
        email: email_if(raw, flag(raw, "verified")),
        avatar_url: match avatar.is_empty() {
            true => String::new(),
            false => format!("https://cdn.discordapp.com/avatars/{id}/{avatar}.png"),
        },
        id,
        username,
        unverified_email: String::new(),
    }
}

/// Facebook Graph's `/me?fields=name,email,picture.type(large)`.
fn facebook(raw: &Raw) -> Profile {
    let picture = raw
        .get("picture")
        .and_then(|p| p.get("data"))
        .and_then(|d| d.get("url"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    Profile {
        id: text(raw, "id"),
        name: text(raw, "name"),
        unverified_email: text(raw, "email"),
        avatar_url: picture.to_owned(),
        ..Profile::default()
    }
}

#[derive(Deserialize)]
struct GithubEmail {
    #[serde(default)]
    email: String,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    primary: bool,
}

/// GitHub's verified primary address (`<user info URL>/emails`), for an account that keeps
/// its address private. A refusal for want of the `user:email` scope means no address, as in
/// PocketBase; other failures fail the sign-in.
pub async fn github_primary_email(
    http: &reqwest::Client,
    user_info_url: &str,
    access_token: &str,
) -> Result<String, HttpError> {
    let sent = http
        .get(format!("{}/emails", user_info_url.trim_end_matches('/')))
        .bearer_auth(access_token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| HttpError(format!("fetching the emails: {}", e.without_url())))?;
    match sent.status().as_u16() {
        401 | 403 | 404 => return Ok(String::new()),
        s if !(200..300).contains(&s) => {
            return Err(HttpError(format!("the emails answered {s}")));
        }
        _ => {}
    }
    let body = read_body(sent).await?;
    let emails: Vec<GithubEmail> = serde_json::from_slice(&body)
        .map_err(|_| HttpError("the emails are not a list".to_owned()))?;
    Ok(emails
        .into_iter()
        .find(|e| e.verified && e.primary)
        .map(|e| e.email)
        .unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed inputs: a failure fails the test at once
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> Raw {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn unverified_addresses_are_dropped() {
        let google = raw(json!({"sub": "1", "email": "a@x.com", "email_verified": false}));
        assert_eq!(profile(Kind::Google, &google).email, "");
        let discord = raw(json!({"id": "2", "email": "a@x.com", "verified": false}));
        assert_eq!(profile(Kind::Discord, &discord).email, "");
        let gitlab = raw(json!({"id": 3, "email": "a@x.com", "confirmed_at": null}));
        assert_eq!(profile(Kind::Gitlab, &gitlab).email, "");
        let gitlab =
            raw(json!({"id": 3, "email": "a@x.com", "confirmed_at": "2024-02-03T10:11:12.000Z"}));
        assert_eq!(profile(Kind::Gitlab, &gitlab).email, "a@x.com");
    }

    #[test]
    fn discord_and_facebook_shapes() {
        let d = raw(
            json!({"id": "80351110224678912", "username": "nelly", "discriminator": "1337",
            "avatar": "8342729096ea3675442027381ff50dfe", "verified": true, "email": "nelly@discord.com"}),
        );
        let p = profile(Kind::Discord, &d);
        assert_eq!(p.name, "nelly#1337");
        assert_eq!(
            p.avatar_url,
            "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"
        );
        let f = raw(
            json!({"id": "10", "name": "Fay", "picture": {"data": {"url": "https://x/p.jpg"}}}),
        );
        let p = profile(Kind::Facebook, &f);
        assert_eq!(
            (p.avatar_url.as_str(), p.email.as_str()),
            ("https://x/p.jpg", "")
        );
    }
}
