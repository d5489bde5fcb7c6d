//! The providers Gatehouse knows, by PocketBase's names: their default endpoints, scopes and how
//! the account is read ([`Kind`]). A stored configuration's empty URL falls back to the table
//! here, so an override (another tenant, a test server) is just a URL in the configuration.

/// How a provider's account is read once the code is exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OpenID Connect: the id_token checked against the JWKS, or the user info URL.
    Oidc,
    /// Apple: an OpenID Connect id_token and no user info endpoint.
    Apple,
    Google,
    Github,
    Microsoft,
    Gitlab,
    Discord,
    Facebook,
}

/// One row of the table (PocketBase's `tools/auth/<name>.go` defaults).
#[derive(Debug)]
pub struct Provider {
    pub name: &'static str,
    pub display_name: &'static str,
    pub kind: Kind,
    pub auth_url: &'static str,
    pub token_url: &'static str,
    pub user_info_url: &'static str,
    pub scopes: &'static [&'static str],
}

/// Apple signs its id_tokens with these keys, and names itself so in `iss`.
pub const APPLE_JWKS_URL: &str = "https://appleid.apple.com/auth/keys";
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";

const OIDC_SCOPES: &[&str] = &["openid", "email", "profile"];

const fn oidc(name: &'static str) -> Provider {
    Provider {
        name,
        display_name: "",
        kind: Kind::Oidc,
        auth_url: "",
        token_url: "",
        user_info_url: "",
        scopes: OIDC_SCOPES,
    }
}

pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "google",
        display_name: "Google",
        kind: Kind::Google,
        auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        user_info_url: "https://www.googleapis.com/oauth2/v3/userinfo",
        scopes: &[
            "https://www.googleapis.com/auth/userinfo.profile",
            "https://www.googleapis.com/auth/userinfo.email",
        ],
    },
    Provider {
        name: "github",
        display_name: "GitHub",
        kind: Kind::Github,
        auth_url: "https://github.com/login/oauth/authorize",
        token_url: "https://github.com/login/oauth/access_token",
        user_info_url: "https://api.github.com/user",
        scopes: &["read:user", "user:email"],
    },
    Provider {
        name: "microsoft",
        display_name: "Microsoft",
        kind: Kind::Microsoft,
        auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        user_info_url: "https://graph.microsoft.com/v1.0/me",
        scopes: &["User.Read"],
    },
    Provider {
        name: "gitlab",
        display_name: "GitLab",
        kind: Kind::Gitlab,
        auth_url: "https://gitlab.com/oauth/authorize",
        token_url: "https://gitlab.com/oauth/token",
        user_info_url: "https://gitlab.com/api/v4/user",
        scopes: &["read_user"],
    },
    Provider {
        name: "discord",
        display_name: "Discord",
        kind: Kind::Discord,
        auth_url: "https://discord.com/api/oauth2/authorize",
        token_url: "https://discord.com/api/oauth2/token",
        user_info_url: "https://discord.com/api/users/@me",
        scopes: &["identify", "email"],
    },
    Provider {
        name: "apple",
        display_name: "Apple",
        kind: Kind::Apple,
        auth_url: "https://appleid.apple.com/auth/authorize",
        token_url: "https://appleid.apple.com/auth/token",
        user_info_url: "",
        scopes: &["name", "email"],
    },
    Provider {
        name: "facebook",
        display_name: "Facebook",
        kind: Kind::Facebook,
        auth_url: "https://www.facebook.com/v3.2/dialog/oauth",
        token_url: "https://graph.facebook.com/v3.2/oauth/access_token",
        user_info_url: "https://graph.facebook.com/me?fields=name,email,picture.type(large)",
        scopes: &["email"],
    },
    oidc("oidc"),
    oidc("oidc2"),
    oidc("oidc3"),
];

/// The table's row for a configured name.
pub fn find(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// Every name, for the "not supported" message.
pub fn names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|p| p.name).collect()
}
