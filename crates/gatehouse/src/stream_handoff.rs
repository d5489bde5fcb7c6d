//! Realtime streams served without hyper's connection. An idle hyper HTTP/1 connection keeps its
//! two 8 KiB buffers (about 12 KiB of RSS each, measured), which for thousands of realtime
//! clients is nearly all the memory they cost. So when a new connection's first request is
//! `GET /api/realtime` and its whole header is already in the socket, the request is read here,
//! run through the same router (client IP, rate limits, security headers, the handler), and the
//! answer written by hand with `Connection: close`: the stream's frames go straight to the
//! socket, and a client costs its channel, its registry entry and this small task.
//!
//! Anything else (another request first, a header not all there yet, a body, odd framing) goes
//! to hyper untouched: nothing is read from the socket until the request is known to be ours.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, TRANSFER_ENCODING};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

const PATH: &str = "/api/realtime";
/// A head longer than this, or with more header lines, is left to hyper.
const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
/// An answer that is not a stream (an error in PocketBase's shape) is small.
const MAX_ANSWER: usize = 64 * 1024;
/// A client that takes no bytes for this long is gone (a write waits on its window otherwise
/// forever, holding a connection that the realtime limit no longer counts).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) enum Handoff {
    /// Served (or dropped: the client sent nothing in time).
    Done,
    /// Not a realtime stream: for hyper, unread.
    NotOurs(TcpStream),
}

/// Serves the connection here if its first request opens a realtime stream.
pub(crate) async fn try_serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: &Router,
    header_timeout: Duration,
) -> Handoff {
    let prefix = format!("GET {PATH}");
    let mut probe = [0u8; 17];
    match tokio::time::timeout(header_timeout, stream.peek(&mut probe)).await {
        // Silent past the header timeout: hyper would cut it off the same way.
        Err(_) => return Handoff::Done,
        Ok(Ok(n)) if probe[..n] == *prefix.as_bytes() => {}
        Ok(_) => return Handoff::NotOurs(stream),
    }
    let mut head = vec![0u8; MAX_HEAD];
    let Ok(seen) = stream.peek(&mut head).await else {
        return Handoff::NotOurs(stream);
    };
    let Some((request, len)) = parse(&head[..seen]) else {
        return Handoff::NotOurs(stream);
    };
    let mut stream = stream;
    // The head is in the socket's buffer already: this read does not wait.
    if stream.read_exact(&mut head[..len]).await.is_err() {
        return Handoff::Done;
    }
    drop(head);
    let mut request = request;
    request.extensions_mut().insert(ConnectInfo(peer));
    let Ok(response) = app.clone().oneshot(request).await;
    let _ = answer(&mut stream, response).await;
    Handoff::Done
}

/// The request, if the head is complete and is a plain `GET /api/realtime[?…]` over HTTP/1.1
/// with no body; with the head's length.
fn parse(bytes: &[u8]) -> Option<(Request<Body>, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(len) = parsed.parse(bytes).ok()? else {
        return None;
    };
    let path = parsed.path?;
    let ours = path == PATH || path.strip_prefix(PATH)?.starts_with('?');
    if parsed.method? != "GET" || parsed.version? != 1 || !ours {
        return None;
    }
    let mut request = Request::builder().method(Method::GET).uri(path);
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let framed = name == TRANSFER_ENCODING || (name == CONTENT_LENGTH && h.value != b"0");
        if framed || name == axum::http::header::UPGRADE {
            return None;
        }
        request = request.header(name, HeaderValue::from_bytes(h.value).ok()?);
    }
    Some((request.body(Body::empty()).ok()?, len))
}

/// Writes the router's answer: a stream frame by frame until it ends or the client leaves,
/// anything else whole. The connection closes after it.
async fn answer(stream: &mut TcpStream, response: Response<Body>) -> std::io::Result<()> {
    let (parts, body) = response.into_parts();
    let streaming = parts.status == StatusCode::OK
        && parts
            .headers
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        if name != CONNECTION && name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(format!("{DATE}: {}\r\nconnection: close\r\n", now()).as_bytes());
    if !streaming {
        let bytes = match Limited::new(body, MAX_ANSWER).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Default::default(),
        };
        head.extend_from_slice(format!("{CONTENT_LENGTH}: {}\r\n\r\n", bytes.len()).as_bytes());
        head.extend_from_slice(&bytes);
        write_timed(stream, &head).await?;
        return stream.shutdown().await;
    }
    head.extend_from_slice(b"\r\n");
    write_timed(stream, &head).await?;
    drop(head);
    // Without a length or chunks the stream runs until the connection closes, which HTTP/1.1
    // allows for a response that ends the connection.
    let mut body = body;
    let (mut reader, mut writer) = stream.split();
    let mut byte = [0u8; 1];
    loop {
        tokio::select! {
            frame = body.frame() => {
                let Some(Ok(frame)) = frame else { break };
                if let Ok(data) = frame.into_data()
                    && write_timed(&mut writer, &data).await.is_err()
                {
                    break;
                }
            }
            // The client closed its side (or sent more, which a stream does not take): done.
            _ = reader.read(&mut byte) => break,
        }
    }
    stream.shutdown().await
}

async fn write_timed(out: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> std::io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, out.write_all(bytes))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)?
}

/// The `Date` header's value.
#[allow(clippy::disallowed_methods)] // A transport header, not the service's clock.
fn now() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_a_complete_plain_realtime_get_is_ours() {
        let ok = b"GET /api/realtime HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
        let (request, len) = parse(ok).unwrap();
        assert_eq!(len, ok.len());
        assert_eq!(request.uri(), "/api/realtime");
        assert_eq!(request.headers()["accept"], "text/event-stream");
        assert!(parse(b"GET /api/realtime?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").is_some());
        for not_ours in [
            &b"GET /api/realtime HTTP/1.1\r\nHost: x\r\n"[..],
            b"GET /api/realtimes HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /api/realtime HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /api/realtime HTTP/1.0\r\nHost: x\r\n\r\n",
            b"GET /api/realtime HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            b"GET /api/realtime HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET /api/realtime HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        ] {
            assert!(
                parse(not_ours).is_none(),
                "{}",
                String::from_utf8_lossy(not_ours)
            );
        }
    }
}
