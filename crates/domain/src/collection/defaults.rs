//! The built-in collections and the scaffold of a new auth collection, with PocketBase's defaults.

use super::Collection;
use super::field::{Field, FieldKind};
use super::options::*;
use crate::random::crc32;

pub const SUPERUSERS_ID: &str = "pbc_3142635823";
pub const SUPERUSERS_NAME: &str = "_superusers";
pub const USERS_ID: &str = "_pb_users_auth_";
pub const USERS_NAME: &str = "users";

const OWNER_RULE: &str = "id = @request.auth.id";

fn text(
    required: bool,
    min: u32,
    max: u32,
    pattern: &str,
    autogenerate: &str,
    primary_key: bool,
) -> FieldKind {
    FieldKind::Text {
        required,
        min,
        max,
        pattern: pattern.to_owned(),
        autogenerate_pattern: autogenerate.to_owned(),
        primary_key,
        help: String::new(),
    }
}

fn bool_kind() -> FieldKind {
    FieldKind::Bool {
        required: false,
        help: String::new(),
    }
}

/// The six fields every auth collection has, in PocketBase's order.
pub fn system_fields() -> Vec<Field> {
    vec![
        Field::new(
            "id",
            text(true, 15, 15, "^[a-z0-9]+$", "[a-z0-9]{15}", true),
        )
        .system(),
        Field::new(
            "password",
            FieldKind::Password {
                required: true,
                min: 8,
                max: 0,
                cost: 0,
                pattern: String::new(),
                help: String::new(),
            },
        )
        .system()
        .hidden(),
        Field::new("tokenKey", text(true, 30, 60, "", "[a-zA-Z0-9]{50}", false))
            .system()
            .hidden(),
        Field::new(
            "email",
            FieldKind::Email {
                required: true,
                except_domains: vec![],
                only_domains: vec![],
                help: String::new(),
            },
        )
        .system(),
        Field::new("emailVisibility", bool_kind()).system(),
        Field::new("verified", bool_kind()).system(),
    ]
}

pub fn autodate_fields() -> Vec<Field> {
    vec![
        Field::new(
            "created",
            FieldKind::Autodate {
                on_create: true,
                on_update: false,
            },
        ),
        Field::new(
            "updated",
            FieldKind::Autodate {
                on_create: true,
                on_update: true,
            },
        ),
    ]
}

pub fn default_indexes(id: &str, name: &str) -> Vec<String> {
    vec![
        format!("CREATE UNIQUE INDEX `idx_tokenKey_{id}` ON `{name}` (`tokenKey`)"),
        format!("CREATE UNIQUE INDEX `idx_email_{id}` ON `{name}` (`email`) WHERE `email` != ''"),
    ]
}

fn mail_body(paragraphs: &str) -> String {
    format!("<p>Hello,</p>\n{paragraphs}\n<p>\n  Thanks,<br/>\n  {{APP_NAME}} team\n</p>")
}

/// A new auth collection as `POST /api/collections` scaffolds it before the body is merged in.
pub fn auth_scaffold(name: &str, now: &str) -> Collection {
    let id = format!("pbc_{}", crc32(format!("auth{name}").as_bytes()));
    Collection {
        indexes: default_indexes(&id, name),
        id,
        list_rule: None,
        view_rule: None,
        create_rule: None,
        update_rule: None,
        delete_rule: None,
        name: name.to_owned(),
        kind: "auth".to_owned(),
        fields: system_fields(),
        created: now.to_owned(),
        updated: now.to_owned(),
        system: false,
        auth_rule: Some(String::new()),
        manage_rule: None,
        auth_alert: AuthAlert {
            enabled: true,
            email_template: EmailTemplate::new(
                "Login from a new location",
                &mail_body(
                    "<p>We noticed a login to your {APP_NAME} account from a new location:</p>\n\
                     <p><em>{ALERT_INFO}</em></p>\n\
                     <p><strong>If this wasn't you, you should immediately change your {APP_NAME} account password to revoke access from all other locations.</strong></p>\n\
                     <p>If this was you, you may disregard this email.</p>",
                ),
            ),
        },
        oauth2: OAuth2Options {
            providers: vec![],
            mapped_fields: MappedFields::default(),
            enabled: false,
        },
        password_auth: PasswordAuth {
            enabled: true,
            identity_fields: vec!["email".to_owned()],
        },
        mfa: MfaOptions {
            enabled: false,
            duration: 600,
            rule: String::new(),
            user_opt_in: true,
            reauth_window: 600,
            trusted_device_duration: 30 * 24 * 3600,
        },
        totp: TotpOptions::default(),
        backup_codes: BackupCodeOptions::default(),
        sms: SmsOptions::default(),
        otp: OtpOptions {
            enabled: false,
            duration: 180,
            length: 8,
            email_template: EmailTemplate::new(
                "OTP for {APP_NAME}",
                &mail_body(
                    "<p>Your one-time password is: <strong>{OTP}</strong></p>\n\
                     <p><i>If you didn't ask for the one-time password, you can ignore this email.</i></p>",
                ),
            ),
        },
        auth_token: TokenOptions::new(432_000),
        password_reset_token: TokenOptions::new(1800),
        email_change_token: TokenOptions::new(1800),
        verification_token: TokenOptions::new(86_400),
        file_token: TokenOptions::new(180),
        verification_template: EmailTemplate::new(
            "Verify your {APP_NAME} email",
            &mail_body(
                "<p>Thank you for joining us at {APP_NAME}.</p>\n\
                 <p>Click on the button below to verify your email address.</p>\n\
                 <p>\n  <a class=\"btn\" href=\"{APP_URL}/_/auth/confirm-verification/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Verify</a>\n</p>",
            ),
        ),
        reset_password_template: EmailTemplate::new(
            "Reset your {APP_NAME} password",
            &mail_body(
                "<p>Click on the button below to reset your password.</p>\n\
                 <p>\n  <a class=\"btn\" href=\"{APP_URL}/_/auth/confirm-password-reset/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Reset password</a>\n</p>\n\
                 <p><i>If you didn't ask to reset your password, you can ignore this email.</i></p>",
            ),
        ),
        security_alert_template: security_alert_template(),
        confirm_email_change_template: EmailTemplate::new(
            "Confirm your {APP_NAME} new email address",
            &mail_body(
                "<p>Click on the button below to confirm your new email address.</p>\n\
                 <p>\n  <a class=\"btn\" href=\"{APP_URL}/_/auth/confirm-email-change/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Confirm new email</a>\n</p>\n\
                 <p><i>If you didn't ask to change your email address, you can ignore this email.</i></p>",
            ),
        ),
    }
}

/// PocketBase's `_superusers`: every CRUD rule null, a one-day token, system collection.
pub fn superusers(now: &str) -> Collection {
    let mut c = auth_scaffold(SUPERUSERS_NAME, now);
    c.id = SUPERUSERS_ID.to_owned();
    c.indexes = default_indexes(SUPERUSERS_ID, SUPERUSERS_NAME);
    c.system = true;
    c.fields.extend(autodate_fields());
    c.auth_token = TokenOptions::new(86_400);
    c
}

/// PocketBase's default `users` collection: public sign-up, owner-only access, a `name` field.
/// (PocketBase also has an `avatar` file field; Gatehouse does not store files.)
pub fn users(now: &str) -> Collection {
    let mut c = auth_scaffold(USERS_NAME, now);
    c.id = USERS_ID.to_owned();
    c.indexes = default_indexes(USERS_ID, USERS_NAME);
    c.list_rule = Some(OWNER_RULE.to_owned());
    c.view_rule = Some(OWNER_RULE.to_owned());
    c.create_rule = Some(String::new());
    c.update_rule = Some(OWNER_RULE.to_owned());
    c.delete_rule = Some(OWNER_RULE.to_owned());
    c.fields
        .push(Field::new("name", text(false, 0, 255, "", "", false)));
    c.fields.extend(autodate_fields());
    c.oauth2.mapped_fields.name = "name".to_owned();
    c
}

/// The mail sent when a record's second factors change (added, removed, codes regenerated or
/// used, reset by a superuser).
pub(crate) fn security_alert_template() -> EmailTemplate {
    EmailTemplate::new(
        "Your {APP_NAME} sign-in settings changed",
        &mail_body(
            "<p>We noticed a change to how you sign in to your {APP_NAME} account:</p>\n\
             <p><em>{ALERT_INFO}</em></p>\n\
             <p><strong>If this wasn't you, change your {APP_NAME} password and review your two-factor settings right away.</strong></p>",
        ),
    )
}
