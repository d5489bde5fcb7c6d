//! Who is calling, and the API rules: PocketBase's filter expressions (see [`crate::filter`])
//! evaluated against the record a request is about.
//!
//! What is evaluated: record fields, `@request.auth.*`, `@request.context`, `@request.method`,
//! `@request.query.*`, `@request.headers.*`, `@request.body.*` and the date macros. A rule that
//! mentions `@collection.*` allows superusers only for now (fails closed).
//!
//! Rules about one loaded record are evaluated in memory; list rules and the `filter` parameter
//! are compiled to a store condition ([`compile`]) and run in the database.

mod compile;
mod list_conditions;
mod rules;

pub use compile::{CompileError, Compiler, and};
pub use list_conditions::ListConditionCache;
pub use rules::RuleCache;

use crate::clock::format_datetime;
use crate::collection::Collection;
use crate::filter::{self, Context, Expr};
use crate::record::Record;
use crate::token::AuthClaims;
use gatehouse_store::Condition;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use time::{Date, Duration, OffsetDateTime, Time};

/// An authenticated caller: the record behind a valid auth token.
#[derive(Clone)]
pub struct Caller {
    pub collection: Arc<Collection>,
    pub record: Record,
    pub claims: AuthClaims,
    /// The raw token, answered back unchanged when a non-refreshable token is "refreshed".
    pub token: String,
}

// Hand-written: the raw token is a bearer credential, and the collection carries secrets.
impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("collection", &self.collection.name)
            .field("record", &self.record.row.id)
            .field("amr", &self.claims.amr)
            .field("aal", &self.claims.aal)
            .finish_non_exhaustive()
    }
}

impl Caller {
    pub fn is_superuser(&self) -> bool {
        self.collection.is_superusers()
    }
}

pub fn is_superuser(caller: Option<&Caller>) -> bool {
    caller.is_some_and(Caller::is_superuser)
}

/// A collection rule, parsed.
#[derive(Debug, Clone)]
pub enum Rule {
    /// `null`, or an expression that does not parse (refused when saved; fail closed if stored).
    SuperusersOnly,
    /// `""`.
    Everyone,
    Expr(Expr),
}

/// The parts of the request a rule may read. Header names are lower-case with `-` as `_`, as
/// PocketBase exposes them (`@request.headers.x_api_key`).
#[derive(Default, Clone)]
pub struct RequestInfo {
    /// The client's IP (after `settings.trustedProxy`), for limits and the audit log; rules do
    /// not see it.
    pub ip: String,
    pub method: String,
    pub query: Map<String, Value>,
    pub headers: Map<String, Value>,
    pub body: Map<String, Value>,
}

// Hand-written: bodies hold passwords and codes, headers and queries tokens. Names only.
impl std::fmt::Debug for RequestInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |map: &Map<String, Value>| map.keys().cloned().collect::<Vec<_>>();
        f.debug_struct("RequestInfo")
            .field("ip", &self.ip)
            .field("method", &self.method)
            .field("query", &names(&self.query))
            .field("headers", &names(&self.headers))
            .field("body", &names(&self.body))
            .finish()
    }
}

/// The request-wide values a rule reads: `@request.*` and the date macros.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub caller: Option<&'a Caller>,
    /// `@request.context`: `default`, or the auth method (`password`, `otp`, `oauth2`).
    pub context: &'a str,
    pub request: &'a RequestInfo,
    pub now_millis: i64,
}

/// What a rule about one record is evaluated against.
pub struct Subject<'a> {
    pub collection: &'a Collection,
    pub record: &'a Record,
    pub scope: Scope<'a>,
}

impl Rule {
    pub fn of(rule: Option<&str>) -> Self {
        match rule {
            None => Self::SuperusersOnly,
            Some(r) if r.trim().is_empty() => Self::Everyone,
            Some(r) => match filter::parse(r) {
                Ok(expr) if expr.identifiers().iter().all(|(path, _)| evaluable(path)) => {
                    Self::Expr(expr)
                }
                _ => Self::SuperusersOnly,
            },
        }
    }

    /// The expression, for a rule that is one.
    pub fn expr(&self) -> Option<&Expr> {
        match self {
            Self::Expr(expr) => Some(expr),
            _ => None,
        }
    }

    /// Whether a non-superuser passes this rule for `subject`.
    pub fn allows(&self, subject: &Subject<'_>) -> bool {
        match self {
            Self::SuperusersOnly => false,
            Self::Everyone => true,
            Self::Expr(expr) => filter::evaluate(expr, subject),
        }
    }

    /// The records of `collection` a non-superuser may list under this rule, as a store
    /// condition. A rule that cannot run as SQL shows nothing (fails closed).
    pub fn list_condition(&self, collection: &Collection, scope: Scope<'_>) -> Condition {
        match self {
            Self::SuperusersOnly => Condition::Const(false),
            Self::Everyone => Condition::Const(true),
            Self::Expr(expr) => Compiler {
                collection,
                scope,
                public: false,
            }
            .compile(expr)
            .unwrap_or(Condition::Const(false)),
        }
    }
}

/// Identifiers this evaluator has values for (see the module comment).
fn evaluable(path: &str) -> bool {
    !path.starts_with("@collection")
}

/// `@request.body.a.b` → the value under `a.b` in `map`.
fn nested(map: &Map<String, Value>, path: &str) -> Option<Value> {
    let mut parts = path.split('.');
    let mut value = map.get(parts.next()?)?.clone();
    for key in parts {
        value = value.get(key)?.clone();
    }
    Some(value)
}

impl Context for Scope<'_> {
    /// `@request.*` and the macros; record fields are not known here (read as unset).
    fn lookup(&self, path: &str) -> Option<Value> {
        if let Some(field) = path.strip_prefix("@request.auth.") {
            let caller = self.caller?;
            return match field {
                "collectionId" => Some(json!(caller.collection.id)),
                "collectionName" => Some(json!(caller.collection.name)),
                "password" | "tokenKey" => None,
                _ => field_value(&caller.collection, &caller.record, field),
            };
        }
        if path == "@request.context" {
            return Some(json!(self.context));
        }
        if path == "@request.method" {
            return Some(json!(self.request.method));
        }
        for (prefix, map) in [
            ("@request.body.", &self.request.body),
            ("@request.query.", &self.request.query),
            ("@request.headers.", &self.request.headers),
        ] {
            if let Some(rest) = path.strip_prefix(prefix) {
                return nested(map, rest);
            }
        }
        if path.starts_with('@') {
            return date_macro(path, self.now_millis);
        }
        None
    }
}

impl Context for Subject<'_> {
    fn lookup(&self, path: &str) -> Option<Value> {
        if path.starts_with('@') {
            return self.scope.lookup(path);
        }
        match path {
            "password" | "tokenKey" => None,
            "collectionId" => Some(json!(self.collection.id)),
            "collectionName" => Some(json!(self.collection.name)),
            _ => field_value(self.collection, self.record, path),
        }
    }

    fn current(&self, field: &str) -> Option<Value> {
        field_value(self.collection, self.record, field)
    }
}

/// A field, or a key inside a JSON field (`meta.plan`).
fn field_value(collection: &Collection, record: &Record, path: &str) -> Option<Value> {
    let mut parts = path.split('.');
    let name = parts.next()?;
    collection.field(name)?;
    let mut value = record.value(collection, name);
    for key in parts {
        value = value.get(key)?.clone();
    }
    Some(value)
}

/// PocketBase's date macros, in UTC.
fn date_macro(name: &str, now_millis: i64) -> Option<Value> {
    let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_millis) * 1_000_000).ok()?;
    let at = |d: OffsetDateTime| {
        Some(json!(format_datetime(
            i64::try_from(d.unix_timestamp_nanos() / 1_000_000).ok()?
        )))
    };
    let day_start = now.replace_time(Time::MIDNIGHT);
    let month_start = Date::from_calendar_date(now.year(), now.month(), 1)
        .ok()?
        .midnight()
        .assume_utc();
    let next_month = if now.month() == time::Month::December {
        Date::from_calendar_date(now.year() + 1, time::Month::January, 1)
    } else {
        Date::from_calendar_date(now.year(), now.month().next(), 1)
    }
    .ok()?
    .midnight()
    .assume_utc();
    let year_start = Date::from_calendar_date(now.year(), time::Month::January, 1)
        .ok()?
        .midnight()
        .assume_utc();
    let next_year = Date::from_calendar_date(now.year() + 1, time::Month::January, 1)
        .ok()?
        .midnight()
        .assume_utc();
    let last_ms = Duration::milliseconds(1);
    match name {
        "@now" => at(now),
        "@yesterday" => at(now - Duration::days(1)),
        "@tomorrow" => at(now + Duration::days(1)),
        "@todayStart" => at(day_start),
        "@todayEnd" => at(day_start + Duration::days(1) - last_ms),
        "@monthStart" => at(month_start),
        "@monthEnd" => at(next_month - last_ms),
        "@yearStart" => at(year_start),
        "@yearEnd" => at(next_year - last_ms),
        "@second" => Some(json!(now.second())),
        "@minute" => Some(json!(now.minute())),
        "@hour" => Some(json!(now.hour())),
        "@weekday" => Some(json!(now.weekday().number_days_from_sunday())),
        "@day" => Some(json!(now.day())),
        "@month" => Some(json!(u8::from(now.month()))),
        "@year" => Some(json!(now.year())),
        _ => None,
    }
}

/// Whether `caller` may manage `record` (change email, verified or password without the old
/// password; see the email).
pub fn can_manage(subject: &Subject<'_>) -> bool {
    is_superuser(subject.scope.caller)
        || Rule::of(subject.collection.manage_rule.as_deref()).allows(subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::users;
    use gatehouse_store::RecordRow;

    fn record(id: &str, verified: bool) -> Record {
        Record::from_row(RecordRow {
            id: id.into(),
            collection_id: "_pb_users_auth_".into(),
            email: format!("{id}@example.com"),
            email_visibility: false,
            verified,
            password_hash: String::new(),
            token_key: String::new(),
            data: r#"{"name":"Ann"}"#.into(),
            created: "2026-01-01 00:00:00.000Z".into(),
            updated: "2026-01-01 00:00:00.000Z".into(),
        })
    }

    fn claims(collection_id: &str, id: &str) -> AuthClaims {
        AuthClaims {
            aal: 1,
            amr: vec!["password".into()],
            auth_time: 0,
            collection_id: collection_id.into(),
            exp: 0,
            id: id.into(),
            refreshable: true,
            kind: "auth".into(),
        }
    }

    #[test]
    fn rules_read_the_record_the_caller_and_the_clock() {
        let users = users("x");
        let target = record("abc", true);
        let caller = Caller {
            collection: Arc::new(users.clone()),
            record: record("abc", false),
            claims: claims(&users.id, "abc"),
            token: String::new(),
        };
        let now = 1_795_854_471_408; // 2026-11-28
        let mut request = RequestInfo {
            method: "PATCH".into(),
            ..RequestInfo::default()
        };
        request.body.insert("role".into(), json!("admin"));
        request.body.insert("name".into(), json!("Ann"));
        request.headers.insert("x_app".into(), json!("web"));
        let scope = Scope {
            caller: None,
            context: "default",
            request: &request,
            now_millis: now,
        };
        let guest = Subject {
            collection: &users,
            record: &target,
            scope,
        };
        let owner = Subject {
            collection: &users,
            record: &target,
            scope: Scope {
                caller: Some(&caller),
                ..scope
            },
        };
        let allows = |rule: &str, s: &Subject<'_>| Rule::of(Some(rule)).allows(s);
        assert!(allows("verified = true && name = 'Ann'", &guest));
        assert!(!allows("id = @request.auth.id", &guest));
        assert!(allows("id = @request.auth.id", &owner));
        assert!(allows("@request.auth.collectionName = 'users'", &owner));
        assert!(allows(
            "created < @now && @year = 2026 && @todayStart < @now",
            &guest
        ));
        assert!(!allows("password != ''", &guest));
        assert!(!Rule::of(Some("id = (")).allows(&guest));
        assert!(allows(
            "@request.body.role:isset = true && @request.body.role = 'admin'",
            &owner
        ));
        assert!(allows(
            "@request.body.name:changed = false && @request.body.role:changed = true",
            &owner
        ));
        assert!(allows(
            "@request.method = 'PATCH' && @request.headers.x_app = 'web'",
            &owner
        ));
        assert!(allows("@request.query.page = ''", &owner));
        // Not evaluated yet: fails closed.
        assert!(!allows("@collection.users.id != ''", &owner));
    }

    #[test]
    fn debug_output_keeps_tokens_bodies_and_secrets_out() {
        let mut users = users("x");
        users.oauth2.providers = vec![crate::oauth2::ProviderConfig {
            name: "google".into(),
            client_secret: "oauth-secret-1".into(),
            ..Default::default()
        }];
        users.auth_token.secret = "collection-secret-1".into();
        let caller = Caller {
            collection: Arc::new(users.clone()),
            record: record("abc", true),
            claims: claims(&users.id, "abc"),
            token: "eyJhbGciOiJIUzI1NiJ9.raw-token-1".into(),
        };
        let mut request = RequestInfo {
            ip: "203.0.113.7".into(),
            method: "POST".into(),
            ..RequestInfo::default()
        };
        request
            .body
            .insert("password".into(), json!("body-password-1"));
        request
            .headers
            .insert("authorization".into(), json!("Bearer header-token-1"));
        request.query.insert("token".into(), json!("query-token-1"));
        let printed = format!("{caller:?} {request:?} {users:?}");
        for secret in [
            "raw-token-1",
            "body-password-1",
            "header-token-1",
            "query-token-1",
            "oauth-secret-1",
            "collection-secret-1",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        // Still useful for a log: who, from where, which fields.
        for shown in ["abc", "203.0.113.7", "POST", "password", "users"] {
            assert!(printed.contains(shown), "{shown} not in {printed}");
        }
    }
}
