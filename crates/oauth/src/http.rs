//! The HTTP client behind every provider request: no redirects (a code or token goes only to the
//! configured host), short timeouts, bounded answers. `openidconnect` calls it through its
//! `AsyncHttpClient` seam.

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long connecting to a provider may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one exchange with a provider may take.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read from a provider (token, user info, JWKS).
pub const MAX_BODY: usize = 1 << 20;

#[derive(Debug)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// A client with the standard limits, or other timeouts (tests use short ones).
pub fn client(connect: Duration, total: Duration) -> Result<reqwest::Client, String> {
    // reqwest is built without a TLS provider of its own: ring, as for SMS.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("building the OAuth2 HTTP client: {e}"))
}

/// Reads at most [`MAX_BODY`] bytes of an answer.
pub async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError(format!("reading the answer: {}", e.without_url())))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError("the answer is too large".to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One request for `openidconnect`, sent with `http`.
pub async fn send(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let sent = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(format!("sending: {}", e.without_url())))?;
    let status = sent.status();
    let headers = sent.headers().clone();
    let body = read_body(sent).await?;
    let mut response = HttpResponse::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// `openidconnect`'s view of the client (a cheap clone of it).
pub struct Adapter(pub reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Adapter {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}
