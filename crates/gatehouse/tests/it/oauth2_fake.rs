//! A stand-in for the named OAuth2 providers on 127.0.0.1: per provider a token endpoint that
//! answers the provider's documented token shape, its user info endpoint (GitHub's separate
//! `/user/emails` too), and for Apple the JWKS its id_tokens are signed with. A test grants a
//! code for an account with [`FakeProviders::grant`], then exchanges it through Gatehouse.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Barrier;

pub const CLIENT_ID: &str = "gatehouse-app";
pub const CLIENT_SECRET: &str = "provider-client-secret";
pub const APPLE_KID: &str = "apple-test-key";

/// A test-only RSA key (Apple signs with RS256), PKCS#1 DER in base64; [`APPLE_N`] is its
/// modulus for the JWKS.
const APPLE_KEY_DER: &str = "\
MIIEpAIBAAKCAQEAnImrWMNShYDhiBq6DZ0ytEYEkLzT380QjCP2g7ldrexaxVd7\
7HhIYC3nEQDfVtQO5lq8GXbxyGJDuhK6W5qH+adGcj/7wjAsUCXe4KtApCTZLOzm\
wzn/Xhz6CC6nqn7ssfXjLfsfTveCD6QxoGO1gW6Fy61HHWnSURbmz5S+PDU8iuap\
G9o8AyyxyfGAIX3iAQs+DqaFFgl8WJ1vk8HaCyKcLh8eJQlYSRFmXNnesT/wlDlF\
TEOq6jypEXa4GoTbrxySDODY7Ppa0RJ/B3w9NoH4uAAvQjvxXhs1Vq3yfWZudH7B\
h6BOi/yoV8Oj9EvUzZpYoNSVs9ey4f+HximiCwIDAQABAoIBAESNsgGMgK5A1ARE\
GCjwKA11AHjWiT9g0hddhI8JdfI+KT51Yqsbvi6Iy8HRjP28ns3Y/Ll2Msrb5ecu\
XnjRgy0dSaetR7cyW6W6ABKKTSPVk1quYR0sYB66N/GvZPQw473H/nbbnEl78XSi\
Jq2kHRAS8/tP5m4GMvoaOni8HlfFFP3Fr6ioamAF+tTmr7g/w/vDTSeakn1G7ZAE\
nyg4g0XV4AglOnFM/ev8HSzJNl3ALYPbOugxYTvG7oTQVajOAxhz8AawfgvrFz3k\
26KzThLlmHfjY2HZYiR6SuJZu+dKSIu7hTjJKugzkGpFfmTRu8W7XV75C4VvpBxT\
y3pBzvkCgYEA1oEhvnHyHjSdMV1blpZtYhWWK+fDRA54xCCvQKxVYfPSYRXP6h+M\
d3yaUo/bcjrrjCpFAvEIvX5F7pv9HTXQbN06+fqg/uWLoMZKwZ7U4VA6teZDszfS\
3YKFM66zROgPXd4GGF7d72W6mkgme6ploccE9HMzloKpyEq+0Zz2vJUCgYEAutHd\
RahqnjoFJt0wtuYKHsEfYauoW37FeKPxy0hviHSQ48yUgLvYGKvECKb3YoIiYMGu\
IHwtK3Aeau84IZ83LTHPiV3EQX39bd6J0xZV88eiPLbIXOsRun54jQb+YJ3JBb3Q\
m6JrH5XfgZjuYbyYNd3tUb9YB9AiGh1ON65mnB8CgYEAlbR8A3ls/E3GI4y/fiKw\
ZpMgQrY23omnGWKiTWW5FWrguidJ+2FXXJEW92Y1Rsz+Vc2uanYknnPBhN1TUw6a\
z0+7eHnF4P/9ahDaXbVnZ3Th9M+nEi50uWn9YuubbAz1pJJu+JVFGW6LRF/0k7yB\
v92xhJXePD4nFoWsFYkR3t0CgYEAgFQMpP7NTicYxtuFzP0z0nBieBsMKN1qFDa5\
ryPwyVEY/gHXuJ5QEJJctHzMzjQKHWCtlc720DHSEy6D5kSSCE+A+iEY4MwEu+Xz\
0rYzEKP/Q6li9MDciri5YlZ9giygm3sJwv7MiwPOZh2BEk4UWFw72r2PYL6NzlZ3\
FjSMc40CgYAQWU811wHHhJMN9N1Dj/6TLqlYO/8o/ahermnMU0Wf8YAPYiildAKt\
XaMx3+AdkzqBoj/o7tMZQZGVKxvnJ9/nhuwLyXLW0mgscBvAPvBZ0sSU8wMy7dtJ\
B5aZIyKAmET/FDuCaL1ygSkHLEvxaauQDNghO7jYLX/MKsjQCWriPQ==";
const APPLE_N: &str = "nImrWMNShYDhiBq6DZ0ytEYEkLzT380QjCP2g7ldrexaxVd77HhIYC3nEQDfVtQO5lq8GXbxyGJDuhK6W5qH-adGcj_7wjAsUCXe4KtApCTZLOzmwzn_Xhz6CC6nqn7ssfXjLfsfTveCD6QxoGO1gW6Fy61HHWnSURbmz5S-PDU8iuapG9o8AyyxyfGAIX3iAQs-DqaFFgl8WJ1vk8HaCyKcLh8eJQlYSRFmXNnesT_wlDlFTEOq6jypEXa4GoTbrxySDODY7Ppa0RJ_B3w9NoH4uAAvQjvxXhs1Vq3yfWZudH7Bh6BOi_yoV8Oj9EvUzZpYoNSVs9ey4f-HximiCw";

/// What a code was granted for.
#[derive(Clone)]
struct Grant {
    provider: String,
    /// The user info answer (Apple: `{"id_token": …}`).
    account: Value,
    /// GitHub's `/user/emails` answer, or its status when it refuses (404 without the scope).
    emails: Result<Value, u16>,
}

#[derive(Default)]
struct Shared {
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Grant>,
    /// Every token request's form, without the secret's value (only whether it matched).
    token_forms: Vec<HashMap<String, String>>,
    /// When set, each token request waits here for the other racer.
    barrier: Option<Arc<Barrier>>,
    counter: u64,
}

#[derive(Clone)]
pub struct FakeProviders {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl FakeProviders {
    pub async fn start() -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = Router::new()
            .route("/{provider}/token", post(token))
            .route("/{provider}/user", get(user))
            .route("/github/user/emails", get(github_emails))
            .route("/apple/keys", get(apple_keys))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    /// The provider's configuration with every URL pointed here.
    pub fn provider(&self, name: &str) -> Value {
        let mut p = json!({
            "name": name, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
            "authURL": format!("{}/{name}/authorize", self.url),
            "tokenURL": format!("{}/{name}/token", self.url),
            "userInfoURL": format!("{}/{name}/user", self.url),
        });
        if name == "apple" {
            p["userInfoURL"] = json!("");
            p["extra"] = json!({"jwksURL": format!("{}/apple/keys", self.url)});
        }
        p
    }

    /// A one-time code for `account` at `provider`.
    pub fn grant(&self, provider: &str, account: Value) -> String {
        self.grant_with(Grant {
            provider: provider.to_owned(),
            account,
            emails: Err(404),
        })
    }

    /// A GitHub code whose `/user/emails` answers `emails` (or that status).
    pub fn grant_github(&self, account: Value, emails: Result<Value, u16>) -> String {
        self.grant_with(Grant {
            provider: "github".to_owned(),
            account,
            emails,
        })
    }

    fn grant_with(&self, grant: Grant) -> String {
        let mut s = self.shared.lock().unwrap();
        s.counter += 1;
        let code = format!("code-{}-{}", grant.provider, s.counter);
        s.codes.insert(code.clone(), grant);
        code
    }

    /// The token requests seen so far.
    pub fn token_forms(&self) -> Vec<HashMap<String, String>> {
        self.shared.lock().unwrap().token_forms.clone()
    }

    /// Makes the next token requests wait for each other, `n` at a time.
    pub fn race(&self, n: usize) {
        self.shared.lock().unwrap().barrier = Some(Arc::new(Barrier::new(n)));
    }
}

/// An id_token as Apple signs it at `now` (Unix seconds; RS256, `kid` in the header), with
/// `claims` over the standard ones.
pub fn apple_id_token(claims: &Value, now: i64) -> String {
    let mut body = json!({
        "iss": "https://appleid.apple.com", "aud": CLIENT_ID, "iat": now, "exp": now + 600,
        "auth_time": now, "nonce_supported": true,
    });
    for (k, v) in claims.as_object().unwrap() {
        body[k] = v.clone();
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(APPLE_KID.to_owned());
    let der = STANDARD.decode(APPLE_KEY_DER).unwrap();
    let key = EncodingKey::from_rsa_der(&der);
    jsonwebtoken::encode(&header, &body, &key).unwrap()
}

/// `token` with one claim of its payload changed and the signature kept: a forgery.
pub fn tampered(token: &str, claim: &str, value: Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims[claim] = value;
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

type Shared_ = Arc<Mutex<Shared>>;

async fn token(
    State(shared): State<Shared_>,
    Path(provider): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let barrier = shared.lock().unwrap().barrier.clone();
    if let Some(b) = barrier {
        b.wait().await;
    }
    let mut s = shared.lock().unwrap();
    let mut seen = form.clone();
    if let Some(secret) = seen.get_mut("client_secret") {
        *secret = (secret == CLIENT_SECRET).to_string();
    }
    s.token_forms.push(seen);
    let grant = match form.get("code").and_then(|c| s.codes.remove(c)) {
        Some(g) if g.provider == provider => g,
        // GitHub refuses a code with a 200 and an error body; the others with a 400.
        _ if provider == "github" => {
            let body = json!({"error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired."});
            return Json(body).into_response();
        }
        _ => {
            let body = json!({"error": "invalid_grant", "error_description": "Bad code."});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    s.counter += 1;
    let access = format!("at-{provider}-{}", s.counter);
    s.tokens.insert(access.clone(), grant.clone());
    Json(token_answer(&provider, &access, &grant)).into_response()
}

/// Each provider's documented token answer.
fn token_answer(provider: &str, access: &str, grant: &Grant) -> Value {
    match provider {
        "google" => json!({"access_token": access, "expires_in": 3599, "token_type": "Bearer",
            "scope": "https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid",
            "refresh_token": "1//google-refresh"}),
        "github" => {
            json!({"access_token": access, "token_type": "bearer", "scope": "read:user,user:email"})
        }
        "microsoft" => json!({"token_type": "Bearer", "scope": "User.Read profile openid email",
            "expires_in": 3599, "ext_expires_in": 3599, "access_token": access, "refresh_token": "ms-refresh"}),
        "gitlab" => json!({"access_token": access, "token_type": "Bearer", "expires_in": 7200,
            "refresh_token": "gl-refresh", "scope": "read_user", "created_at": 1_607_635_748}),
        "discord" => json!({"access_token": access, "token_type": "Bearer", "expires_in": 604_800,
            "refresh_token": "dc-refresh", "scope": "identify email"}),
        "facebook" => {
            json!({"access_token": access, "token_type": "bearer", "expires_in": 5_183_944})
        }
        "apple" => json!({"access_token": access, "expires_in": 3600, "token_type": "Bearer",
            "refresh_token": "apple-refresh", "id_token": grant.account["id_token"]}),
        _ => json!({"error": "unsupported"}),
    }
}

fn granted(shared: &Shared_, headers: &HeaderMap) -> Option<Grant> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let token = auth.strip_prefix("Bearer ")?;
    shared.lock().unwrap().tokens.get(token).cloned()
}

async fn user(State(shared): State<Shared_>, headers: HeaderMap) -> Response {
    match granted(&shared, &headers) {
        Some(g) => Json(g.account).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn github_emails(State(shared): State<Shared_>, headers: HeaderMap) -> Response {
    match granted(&shared, &headers).map(|g| g.emails) {
        Some(Ok(list)) => Json(list).into_response(),
        Some(Err(status)) => StatusCode::from_u16(status).unwrap().into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn apple_keys() -> Json<Value> {
    Json(
        json!({"keys": [{"kty": "RSA", "kid": APPLE_KID, "use": "sig", "alg": "RS256",
        "n": APPLE_N, "e": "AQAB"}]}),
    )
}
