//! The HTTP listener. `axum::serve` (0.8) gives a client all the time it likes to send its
//! request header and accepts every connection it is offered, so a few hundred sockets that
//! trickle a header byte now and then hold the server's file descriptors and memory. Here each
//! connection is served by hyper directly with a header read timeout, and at most
//! `max_connections` are open: past that, new ones wait in the kernel's backlog.
//!
//! Realtime streams hold their connections: at most `realtime.max_clients` of them (keep it below
//! `max_connections`), swept on a timer, and ended first at shutdown so that it does not wait
//! for them. A connection that opens with one is served without hyper ([`crate::stream_handoff`]).

use crate::stream_handoff::{Handoff, try_serve};
use axum::extract::ConnectInfo;
use gatehouse_domain::Gatehouse;
use gatehouse_domain::realtime::RealtimeLimits;
use gatehouse_http::AllowedOrigins;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Layer;

#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// A client that has not sent a whole request header within this is disconnected (also
    /// between requests on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Realtime clients (each holds a connection).
    pub realtime: RealtimeLimits,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(15),
            // Well inside the usual limit of 1024 open files, leaving room for the database.
            max_connections: 768,
            realtime: RealtimeLimits::default(),
        }
    }
}

/// A server listening on `listener`, until `shutdown` resolves; then it waits for the requests
/// in flight. The hourly purge runs meanwhile. Browser apps of every origin may call the API.
pub async fn serve_with(
    gh: Arc<Gatehouse>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: ListenerLimits,
) -> anyhow::Result<()> {
    serve_for(gh, listener, shutdown, limits, AllowedOrigins::Any).await
}

/// [`serve_with`], with the API callable from browser apps of `origins` only.
pub async fn serve_for(
    gh: Arc<Gatehouse>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: ListenerLimits,
    origins: AllowedOrigins,
) -> anyhow::Result<()> {
    let purge = crate::housekeeping::start(gh.clone());
    gh.realtime().set_limits(limits.realtime);
    let sweep = crate::housekeeping::sweep_realtime(gh.clone());
    let app = gatehouse_http::router_for(gh.clone(), origins);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (app, http, watcher) = (app.clone(), http.clone(), graceful.watcher());
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            // A realtime stream opened first on the connection is served without hyper's
            // buffers (see stream_handoff); everything else is hyper's.
            let stream = match try_serve(stream, peer, &app, header_timeout).await {
                Handoff::Done => return drop(slot),
                Handoff::NotOurs(stream) => stream,
            };
            // What `into_make_service_with_connect_info` does: handlers read the peer address.
            let service = TowerToHyperService::new(
                axum::Extension(ConnectInfo::<SocketAddr>(peer)).layer(app),
            );
            let _ = watcher
                .watch(http.serve_connection(TokioIo::new(stream), service))
                .await;
            drop(slot);
        });
    }
    drop(listener);
    purge.abort();
    sweep.abort();
    gh.realtime().close_all();
    graceful.shutdown().await;
    Ok(())
}
