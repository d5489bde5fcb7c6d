//! The listener's own limits: a client that sends its header slowly (or not at all) is cut off,
//! and connections past the limit wait for a free slot instead of all being served at once.

use crate::support::*;
use gatehouse::{ListenerLimits, serve_with};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A second listener on the app's service with `limits`; its address.
async fn listen(app: &TestApp, limits: ListenerLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_with(
        app.gh.clone(),
        listener,
        std::future::pending(),
        limits,
    ));
    addr
}

/// Everything the server sends until it closes the connection (at most 10 s).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&got).into_owned()
}

const HEALTH: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_header_is_cut_off() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let addr = listen(
            &app,
            ListenerLimits {
                header_read_timeout: Duration::from_millis(300),
                ..ListenerLimits::default()
            },
        )
        .await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let answer = read_until_closed(&mut slow).await;
        assert!(!answer.contains("200 OK"), "{answer}");
        // A whole header in time is served.
        let mut quick = TcpStream::connect(addr).await.unwrap();
        quick.write_all(HEALTH).await.unwrap();
        assert!(
            read_until_closed(&mut quick)
                .await
                .starts_with("HTTP/1.1 200 OK")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_for_a_free_slot() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let addr = listen(
            &app,
            ListenerLimits {
                max_connections: 1,
                ..ListenerLimits::default()
            },
        )
        .await;
        let idle = TcpStream::connect(addr).await.unwrap();
        let mut waiting = TcpStream::connect(addr).await.unwrap();
        waiting.write_all(HEALTH).await.unwrap();
        let mut first = [0u8; 1];
        // Nothing can come while the one slot is taken (a negative needs some window).
        let early =
            tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut first)).await;
        assert!(early.is_err(), "served past the connection limit");
        drop(idle);
        let answer = read_until_closed(&mut waiting).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    })
    .await;
}
