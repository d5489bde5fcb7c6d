//! Who is calling, and the API rules as far as Gatehouse evaluates them today.
//!
//! PocketBase's rules are filter expressions. Until the filter engine lands, Gatehouse understands
//! the three forms its defaults use — `null` (superusers only), `""` (everyone) and the owner rule
//! `id = @request.auth.id` — and treats any other expression as "superusers only", which is the
//! safe reading: nothing is ever allowed that the rule might not allow.

use crate::collection::Collection;
use crate::record::Record;
use crate::token::AuthClaims;
use std::sync::Arc;

/// An authenticated caller: the record behind a valid auth token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub collection: Arc<Collection>,
    pub record: Record,
    pub claims: AuthClaims,
    /// The raw token, answered back unchanged when a non-refreshable token is "refreshed".
    pub token: String,
}

impl Caller {
    pub fn is_superuser(&self) -> bool {
        self.collection.is_superusers()
    }
}

pub fn is_superuser(caller: Option<&Caller>) -> bool {
    caller.is_some_and(Caller::is_superuser)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    SuperusersOnly,
    Everyone,
    /// `id = @request.auth.id`: the record itself.
    Owner,
    /// An expression Gatehouse cannot evaluate yet: allows superusers only.
    Unsupported,
}

impl Rule {
    pub fn of(rule: Option<&str>) -> Self {
        let Some(rule) = rule else {
            return Self::SuperusersOnly;
        };
        let compact: String = rule.split_whitespace().collect::<Vec<_>>().join(" ");
        match compact.as_str() {
            "" => Self::Everyone,
            "id = @request.auth.id" | "@request.auth.id = id" => Self::Owner,
            _ => Self::Unsupported,
        }
    }

    /// Whether a non-superuser `caller` passes this rule for the record `target_id`.
    pub fn allows(self, caller: Option<&Caller>, target_id: &str) -> bool {
        match self {
            Self::Everyone => true,
            Self::Owner => caller.is_some_and(|c| c.record.id() == target_id),
            Self::SuperusersOnly | Self::Unsupported => false,
        }
    }
}

/// Whether `caller` may manage `target` in `collection` (change email, verified or password without
/// the old password; see the email).
pub fn can_manage(collection: &Collection, caller: Option<&Caller>, target_id: &str) -> bool {
    is_superuser(caller) || Rule::of(collection.manage_rule.as_deref()).allows(caller, target_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn understands_the_default_forms() {
        assert_eq!(Rule::of(None), Rule::SuperusersOnly);
        assert_eq!(Rule::of(Some("")), Rule::Everyone);
        assert_eq!(Rule::of(Some("id   =  @request.auth.id")), Rule::Owner);
        assert_eq!(Rule::of(Some("verified = true")), Rule::Unsupported);
        assert!(!Rule::Unsupported.allows(None, "x"));
        assert!(!Rule::Owner.allows(None, "x"));
    }
}
