//! What a collection definition must satisfy before it is saved (PocketBase's rules, plus
//! Gatehouse's refusals of what it cannot honour yet).

use super::defaults::{autodate_fields, system_fields};
use super::field::SUPPORTED_TYPES;
use super::index::IndexSpec;
use super::options::{TOKEN_DURATION_RANGE, TOKEN_SECRET_LEN_RANGE, TokenOptions};
use super::{Collection, FieldKind, SYSTEM_FIELDS};
use crate::error::{FieldErrors, codes};
use crate::filter;
use serde_json::{Value, json};

/// Field names that would clash with keys of the record JSON or of the auth request bodies.
pub const RESERVED_FIELD_NAMES: &[&str] = &[
    "expand",
    "collectionId",
    "collectionName",
    "passwordConfirm",
    "oldPassword",
];

/// Checks a raw collection body before it is typed: unsupported field types get a clear message
/// instead of a serde error.
pub fn check_raw_fields(raw: &Value) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if let Some(fields) = raw.get("fields").and_then(Value::as_array) {
        let mut field_errors = FieldErrors::default();
        for (i, f) in fields.iter().enumerate() {
            let ty = f.get("type").and_then(Value::as_str).unwrap_or_default();
            if !SUPPORTED_TYPES.contains(&ty) {
                let mut e = FieldErrors::default();
                e.add(
                    "type",
                    "validation_unsupported_field_type",
                    &format!("Gatehouse does not support \"{ty}\" fields (supported: text, email, url, number, bool, select, date, json, autodate)."),
                );
                field_errors.nest(&i.to_string(), e);
            }
        }
        errors.nest("fields", field_errors);
    }
    errors
}

/// Fills in what the client may leave out: field ids, the system fields, identity de-duplication.
pub fn prepare(c: &mut Collection) {
    for f in &mut c.fields {
        f.assign_id();
    }
    // System fields cannot be removed: put back any the body dropped, in their usual place.
    let mut fields = Vec::new();
    for sys in system_fields() {
        match c.fields.iter().position(|f| f.name == sys.name) {
            Some(pos) => {
                let mut kept = c.fields.remove(pos);
                kept.system = true;
                fields.push(kept);
            }
            None => fields.push(sys),
        }
    }
    fields.append(&mut c.fields);
    c.fields = fields;
    if c.is_superusers() {
        for auto in autodate_fields() {
            if c.field(&auto.name).is_none() {
                c.fields.push(auto);
            }
        }
        // PocketBase forces these on every save of _superusers.
        c.password_auth.enabled = true;
        c.oauth2.enabled = false;
        c.oauth2.providers.clear();
        if c.otp.enabled {
            c.mfa.enabled = true;
        }
    }
    let mut seen = std::collections::HashSet::new();
    c.password_auth
        .identity_fields
        .retain(|f| seen.insert(f.clone()));
}

/// All checks on a prepared definition. `previous` is the stored version on update.
pub fn check_collection(c: &Collection, previous: Option<&Collection>) -> FieldErrors {
    let mut errors = FieldErrors::default();

    if c.name.is_empty() {
        errors.add_code("name", codes::REQUIRED);
    } else if c.name.len() > 255
        || !c
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    {
        errors.add_code("name", codes::MATCH_INVALID);
    } else if c.name.starts_with('_') && !c.system {
        errors.add(
            "name",
            "validation_invalid_name",
            "Collection names starting with \"_\" are reserved for system collections.",
        );
    }
    if c.kind != "auth" {
        errors.add(
            "type",
            "validation_unsupported_collection_type",
            "Gatehouse manages auth collections only (type \"auth\").",
        );
    }

    errors.nest("fields", check_fields(c));
    let specs = check_indexes(c, &mut errors);

    if c.manage_rule.as_deref() == Some("") {
        errors.add_code("manageRule", codes::NIL_OR_NOT_EMPTY);
    }
    if let Some(old) = previous.filter(|o| o.system) {
        let rules = [
            ("listRule", &c.list_rule, &old.list_rule),
            ("viewRule", &c.view_rule, &old.view_rule),
            ("createRule", &c.create_rule, &old.create_rule),
            ("updateRule", &c.update_rule, &old.update_rule),
            ("deleteRule", &c.delete_rule, &old.delete_rule),
        ];
        for (name, new, old) in rules {
            if new != old {
                errors.add(
                    name,
                    "validation_collection_system_rule_change",
                    "System collection API rule cannot be changed.",
                );
            }
        }
        if c.name != old.name {
            errors.add(
                "name",
                "validation_collection_system_name_change",
                "System collection name cannot be changed.",
            );
        }
    }

    check_rules(c, &mut errors);
    check_password_auth(c, &specs, &mut errors);
    check_methods(c, &mut errors);

    let tokens = [
        ("authToken", &c.auth_token),
        ("passwordResetToken", &c.password_reset_token),
        ("emailChangeToken", &c.email_change_token),
        ("verificationToken", &c.verification_token),
        ("fileToken", &c.file_token),
    ];
    for (name, token) in tokens {
        errors.nest(name, check_token(token));
    }
    errors
}

fn check_fields(c: &Collection) -> FieldErrors {
    let mut all = FieldErrors::default();
    let mut names = std::collections::HashSet::new();
    for (i, f) in c.fields.iter().enumerate() {
        let mut e = FieldErrors::default();
        let valid_name = !f.name.is_empty()
            && f.name.len() <= 100
            && f.name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !valid_name {
            e.add_code("name", codes::MATCH_INVALID);
        } else if RESERVED_FIELD_NAMES.contains(&f.name.as_str()) {
            e.add("name", "validation_not_in_invalid", "The name is reserved.");
        } else if !names.insert(f.name.to_ascii_lowercase()) {
            e.add(
                "name",
                "validation_duplicated_field_name",
                "Duplicated or invalid field name.",
            );
        }
        let expected_type = match f.name.as_str() {
            "id" | "tokenKey" => Some("text"),
            "password" => Some("password"),
            "email" => Some("email"),
            "emailVisibility" | "verified" => Some("bool"),
            "created" | "updated" if matches!(f.kind, FieldKind::Autodate { .. }) => None,
            _ => None,
        };
        if let Some(t) = expected_type
            && f.kind.type_name() != t
        {
            e.add(
                "type",
                "validation_system_field_change",
                "System field type cannot be changed.",
            );
        }
        if matches!(f.kind, FieldKind::Password { .. }) && f.name != "password" {
            e.add(
                "type",
                "validation_unsupported_field_type",
                "Only the system \"password\" field can have type password.",
            );
        }
        if !SYSTEM_FIELDS.contains(&f.name.as_str()) {
            f.check_definition(&mut e);
        }
        all.nest(&i.to_string(), e);
    }
    all
}

fn check_indexes(c: &Collection, errors: &mut FieldErrors) -> Vec<IndexSpec> {
    let mut specs = Vec::new();
    let mut index_errors = FieldErrors::default();
    for (i, sql) in c.indexes.iter().enumerate() {
        let Some(spec) = IndexSpec::parse(sql) else {
            index_errors.add(
                &i.to_string(),
                "validation_invalid_index_expression",
                "Invalid CREATE INDEX expression.",
            );
            continue;
        };
        let supported = match spec.unique_column() {
            Some("tokenKey") => true,
            Some("email") => !spec.nocase,
            Some("id") => true,
            Some(col) => c.custom_fields().any(|f| f.name == col) && !spec.has_where,
            None => false,
        };
        if !supported {
            index_errors.add(
                &i.to_string(),
                "validation_unsupported_index",
                "Gatehouse supports unique indexes on a single custom field (optionally COLLATE NOCASE) and the default tokenKey/email indexes.",
            );
            continue;
        }
        specs.push(spec);
    }
    errors.nest("indexes", index_errors);
    specs
}

/// Every rule must parse and name only things that exist; the error says where it went wrong.
fn check_rules(c: &Collection, errors: &mut FieldErrors) {
    let rules = [
        ("listRule", &c.list_rule),
        ("viewRule", &c.view_rule),
        ("createRule", &c.create_rule),
        ("updateRule", &c.update_rule),
        ("deleteRule", &c.delete_rule),
        ("authRule", &c.auth_rule),
        ("manageRule", &c.manage_rule),
    ];
    for (name, rule) in rules {
        if let Some(problem) = rule.as_deref().and_then(|r| rule_problem(c, r)) {
            errors.add_with_params(
                name,
                "validation_invalid_rule",
                &problem.0,
                json!({"position": problem.1}),
            );
        }
    }
    if let Some(problem) = rule_problem(c, &c.mfa.rule) {
        let mut mfa = FieldErrors::default();
        mfa.add_with_params(
            "rule",
            "validation_invalid_rule",
            &problem.0,
            json!({"position": problem.1}),
        );
        errors.nest("mfa", mfa);
    }
}

const MODIFIERS: &[&str] = &["isset", "length", "lower", "each", "changed"];
const MACROS: &[&str] = &[
    "@now",
    "@yesterday",
    "@tomorrow",
    "@todayStart",
    "@todayEnd",
    "@monthStart",
    "@monthEnd",
    "@yearStart",
    "@yearEnd",
    "@second",
    "@minute",
    "@hour",
    "@weekday",
    "@day",
    "@month",
    "@year",
];

fn rule_problem(c: &Collection, rule: &str) -> Option<(String, usize)> {
    if rule.trim().is_empty() {
        return None;
    }
    let expr = match filter::parse(rule) {
        Ok(expr) => expr,
        Err(e) => return Some((format!("Invalid rule: {e}."), e.position)),
    };
    for (path, modifier) in expr.identifiers() {
        let known = if let Some(field) = path.strip_prefix("@request.auth.") {
            !field.is_empty()
        } else if path.starts_with('@') {
            MACROS.contains(&path)
                || matches!(path, "@request.context" | "@request.method")
                || ["@request.body.", "@request.query.", "@request.headers."]
                    .iter()
                    .any(|p| path.starts_with(p))
        } else {
            path.split('.').next().is_some_and(|f| c.field(f).is_some())
        };
        if !known {
            return Some((
                format!("Invalid rule: unknown field or variable \"{path}\"."),
                rule.find(path).unwrap_or(0),
            ));
        }
        if let Some(m) = modifier
            && !MODIFIERS.contains(&m)
        {
            return Some((
                format!("Invalid rule: unknown modifier \":{m}\"."),
                rule.find(path).unwrap_or(0),
            ));
        }
    }
    None
}

fn check_password_auth(c: &Collection, specs: &[IndexSpec], errors: &mut FieldErrors) {
    if !c.password_auth.enabled {
        return;
    }
    let mut e = FieldErrors::default();
    if c.password_auth.identity_fields.is_empty() {
        e.add_code("identityFields", codes::REQUIRED);
    }
    for name in &c.password_auth.identity_fields {
        let unique = name == "email"
            || specs
                .iter()
                .any(|s| s.unique_column() == Some(name.as_str()));
        if c.field(name).is_none() || !unique {
            e.add_with_params(
                "identityFields",
                "validation_missing_unique_constraint",
                &format!("The field \"{name}\" doesn't have a UNIQUE constraint."),
                serde_json::json!({"fieldName": name}),
            );
        }
    }
    errors.nest("passwordAuth", e);
}

fn check_methods(c: &Collection, errors: &mut FieldErrors) {
    let mut otp = FieldErrors::default();
    if c.otp.enabled {
        in_range(&mut otp, "duration", c.otp.duration, METHOD_DURATION_RANGE);
        if c.otp.length < 4 {
            otp.min_threshold("length", 4);
        }
    }
    errors.nest("otp", otp);

    let mut mfa = FieldErrors::default();
    if c.mfa.enabled {
        if c.mfa.duration == 0 {
            mfa.add_code("duration", codes::REQUIRED);
        } else {
            in_range(&mut mfa, "duration", c.mfa.duration, METHOD_DURATION_RANGE);
        }
        // Two factors need two methods. Gatehouse
        // widens PocketBase's check: one first step and a second-step factor also make two.
        let first_steps = [c.password_auth.enabled, c.otp.enabled, c.oauth2.enabled]
            .iter()
            .filter(|on| **on)
            .count();
        let factors = c.totp.enabled || c.backup_codes.enabled || c.sms.enabled;
        if first_steps < 2 && !(first_steps == 1 && factors) {
            mfa.add(
                "enabled",
                "validation_mfa_not_enough_auths",
                "MFA requires at least 2 auth methods to be enabled.",
            );
        }
    }
    in_range(
        &mut mfa,
        "reauthWindow",
        c.mfa.reauth_window,
        REAUTH_WINDOW_RANGE,
    );
    in_range(
        &mut mfa,
        "trustedDeviceDuration",
        c.mfa.trusted_device_duration,
        TRUSTED_DEVICE_RANGE,
    );
    errors.nest("mfa", mfa);
    errors.nest("totp", check_totp(c));
    let mut backup = FieldErrors::default();
    in_range(
        &mut backup,
        "count",
        c.backup_codes.count,
        BACKUP_CODE_COUNT_RANGE,
    );
    errors.nest("backupCodes", backup);
    errors.nest("sms", check_sms(c));

    errors.nest(
        "oauth2",
        crate::oauth2::check_providers(&c.oauth2.providers),
    );
}

/// Bounds of Gatehouse's additions: seconds, steps, digits, codes.
const REAUTH_WINDOW_RANGE: (i64, i64) = (0, 86_400);
const TRUSTED_DEVICE_RANGE: (i64, i64) = (0, 366 * 86_400);
const TOTP_DIGITS_RANGE: (i64, i64) = (6, 8);
const TOTP_PERIOD_RANGE: (i64, i64) = (15, 300);
const TOTP_SKEW_RANGE: (i64, i64) = (0, 10);
const BACKUP_CODE_COUNT_RANGE: (i64, i64) = (1, 50);

/// The `totp` block: what RFC 6238 apps understand. A `:` in the issuer would split the
/// otpauth label in two, so it is refused.
fn check_totp(c: &Collection) -> FieldErrors {
    let mut e = FieldErrors::default();
    let t = &c.totp;
    in_range(&mut e, "digits", t.digits, TOTP_DIGITS_RANGE);
    in_range(&mut e, "period", t.period, TOTP_PERIOD_RANGE);
    in_range(&mut e, "skew", t.skew, TOTP_SKEW_RANGE);
    if !["SHA1", "SHA256", "SHA512"].contains(&t.algorithm.as_str()) {
        e.add_code("algorithm", codes::IN_INVALID);
    }
    if t.issuer.chars().count() > 100 {
        e.length_out_of_range("issuer", 0, 100);
    } else if t.issuer.contains(':') {
        e.add(
            "issuer",
            "validation_invalid_issuer",
            "The issuer cannot contain a colon.",
        );
    }
    e
}

/// The `sms` block: a code must fit in the message and reach the phone.
fn check_sms(c: &Collection) -> FieldErrors {
    let mut e = FieldErrors::default();
    let sms = &c.sms;
    in_range(&mut e, "duration", sms.duration, METHOD_DURATION_RANGE);
    in_range(&mut e, "length", sms.length, SMS_LENGTH_RANGE);
    if sms.template.chars().count() > SMS_TEMPLATE_MAX {
        e.length_out_of_range("template", 1, SMS_TEMPLATE_MAX);
    } else if !sms.template.contains("{OTP}") {
        e.add(
            "template",
            "validation_missing_otp_placeholder",
            "The template must contain the {OTP} placeholder.",
        );
    }
    e
}

const SMS_LENGTH_RANGE: (i64, i64) = (4, 10);
/// Two concatenated SMS segments at most, so one message never costs more.
const SMS_TEMPLATE_MAX: usize = 300;

/// PocketBase's bounds on `otp.duration` and `mfa.duration`, in seconds.
const METHOD_DURATION_RANGE: (i64, i64) = (10, 86_400);

/// A superuser-set number within `(min, max)`, with the error naming the bound it crosses.
fn in_range(e: &mut FieldErrors, field: &str, value: i64, (min, max): (i64, i64)) {
    if value < min {
        e.min_threshold(field, min);
    } else if value > max {
        e.max_threshold(field, max);
    }
}

fn check_token(token: &TokenOptions) -> FieldErrors {
    let mut e = FieldErrors::default();
    in_range(&mut e, "duration", token.duration, TOKEN_DURATION_RANGE);
    let (smin, smax) = TOKEN_SECRET_LEN_RANGE;
    if !(smin..=smax).contains(&token.secret.len()) {
        e.length_out_of_range("secret", smin, smax);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::{auth_scaffold, users};
    use serde_json::json;

    #[test]
    fn defaults_are_valid() {
        let users = users("x");
        assert!(
            check_collection(&users, None).is_empty(),
            "{:?}",
            check_collection(&users, None)
        );
        let mut c = auth_scaffold("service_accounts", "x");
        prepare(&mut c);
        assert!(check_collection(&c, None).is_empty());
    }

    #[test]
    fn identity_fields_need_a_unique_index() {
        let mut c = users("x");
        c.password_auth.identity_fields = vec!["email".into(), "name".into()];
        assert!(check_collection(&c, None).has("passwordAuth"));
        c.indexes
            .push("CREATE UNIQUE INDEX idx_name ON users (name)".into());
        assert!(check_collection(&c, None).is_empty());
    }

    #[test]
    fn durations_past_the_maximum_name_the_maximum() {
        let mut c = users("x");
        c.otp.enabled = true;
        c.mfa.enabled = true;
        c.otp.duration = i64::MAX;
        c.mfa.duration = 86_401;
        c.auth_token.duration = i64::MAX;
        let errors = format!("{:?}", check_collection(&c, None));
        assert_eq!(
            errors.matches("Must be no greater than 86400.").count(),
            2,
            "{errors}"
        );
        assert!(
            errors.contains("Must be no greater than 94670856."),
            "{errors}"
        );
        c.otp.duration = i64::MIN;
        let errors = format!("{:?}", check_collection(&c, None));
        assert!(errors.contains("Must be no less than 10."), "{errors}");
    }

    #[test]
    fn unsupported_field_types_are_named() {
        let e = check_raw_fields(&json!({"fields": [{"name": "avatar", "type": "file"}]}));
        assert!(format!("{:?}", e).contains("does not support \\\"file\\\""));
    }

    #[test]
    fn system_fields_come_back() {
        let mut c = auth_scaffold("x", "x");
        c.fields.retain(|f| f.name != "tokenKey");
        prepare(&mut c);
        assert_eq!(c.fields.iter().filter(|f| f.name == "tokenKey").count(), 1);
    }
}
