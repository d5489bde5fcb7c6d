//! Apple hands over the person's name once, on the first sign-in, and only in the `user` field
//! of the form it posts to the redirect URL; its id_token never has it. PocketBase keeps that
//! name for a minute under the authorization code, and `auth-with-oauth2` with the same code
//! takes it when the account has no name. So does this store: in memory, bounded, one use.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a name waits for its code exchange (PocketBase: one minute).
pub const TTL_MS: i64 = 60_000;
/// Names waiting at once; past this a new one is dropped (the sign-in still works, unnamed).
const MAX_ENTRIES: usize = 10_000;
/// PocketBase's bounds: a longer code is no Apple code, a longer name is cut.
const MAX_CODE_LEN: usize = 1000;
const MAX_NAME_CHARS: usize = 150;
/// The posted `user` field is small JSON; anything bigger is not read.
const MAX_USER_LEN: usize = 4096;

#[derive(Default)]
pub struct AppleNames {
    names: Mutex<HashMap<String, (String, i64)>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PostedName {
    first_name: String,
    last_name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostedUser {
    name: PostedName,
}

impl AppleNames {
    /// Keeps the name in Apple's posted `user` JSON (`{"name":{"firstName","lastName"}}`) for
    /// the exchange of `code`. Anything unreadable is ignored, as in PocketBase.
    pub fn remember(&self, code: &str, user_json: &str, now_ms: i64) {
        if code.is_empty() || code.len() > MAX_CODE_LEN || user_json.len() > MAX_USER_LEN {
            return;
        }
        let Ok(user) = serde_json::from_str::<PostedUser>(user_json) else {
            return;
        };
        let full = format!("{} {}", user.name.first_name, user.name.last_name);
        let name: String = full.chars().take(MAX_NAME_CHARS).collect();
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if names.len() >= MAX_ENTRIES {
            names.retain(|_, (_, expires)| *expires > now_ms);
        }
        if names.len() < MAX_ENTRIES {
            names.insert(code.to_owned(), (name.to_owned(), now_ms + TTL_MS));
        }
    }

    /// The name kept for `code`, removed on the way out; none once the minute is over.
    pub fn take(&self, code: &str, now_ms: i64) -> Option<String> {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let (name, expires) = names.remove(code)?;
        (expires > now_ms).then_some(name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed inputs: a failure fails the test at once
mod tests {
    use super::*;

    #[test]
    fn a_name_is_taken_once_within_the_minute() {
        let names = AppleNames::default();
        let user =
            r#"{"name":{"firstName":"Ann","lastName":"Lee"},"email":"a@privaterelay.appleid.com"}"#;
        names.remember("code-1", user, 1_000);
        names.remember("code-2", user, 1_000);
        assert_eq!(names.take("code-1", 2_000).as_deref(), Some("Ann Lee"));
        assert_eq!(names.take("code-1", 2_000), None);
        assert_eq!(names.take("code-2", 1_000 + TTL_MS), None);
    }

    #[test]
    fn unreadable_or_empty_names_are_ignored() {
        let names = AppleNames::default();
        names.remember("a", "not json", 0);
        names.remember("b", r#"{"name":{"firstName":" ","lastName":""}}"#, 0);
        names.remember(&"c".repeat(1001), r#"{"name":{"firstName":"X"}}"#, 0);
        assert_eq!(names.take("a", 0), None);
        assert_eq!(names.take("b", 0), None);
        assert_eq!(names.take(&"c".repeat(1001), 0), None);
        names.remember(
            "d",
            &format!(r#"{{"name":{{"firstName":"{}"}}}}"#, "é".repeat(400)),
            0,
        );
        assert_eq!(names.take("d", 0).unwrap().chars().count(), 150);
    }
}
