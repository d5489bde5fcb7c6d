//! The `gatehouse` binary's building blocks, public so that the integration tests start exactly
//! the server the binary starts.

mod data_dir;
mod housekeeping;
mod listener;
mod server_key;
mod stream_handoff;

pub use gatehouse_http::AllowedOrigins;
pub use listener::{ListenerLimits, serve_for, serve_with};
pub use server_key::{Rotation, new_key_hex};

use gatehouse_domain::Gatehouse;
use gatehouse_domain::clock::{Clock, SystemClock};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Where the data lives: a PostgreSQL URL, or SQLite in the data dir.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub db_url: Option<String>,
}

/// Opens the store (running migrations) and the domain service on it, on the wall clock.
pub async fn open(config: &StoreConfig) -> anyhow::Result<Arc<Gatehouse>> {
    open_with_clock(config, Arc::new(SystemClock)).await
}

/// [`open`] with another clock (the tests move time forward instead of sleeping).
pub async fn open_with_clock(
    config: &StoreConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Gatehouse>> {
    let sqlite_file = data_dir::sqlite_file(&config.data_dir, config.db_url.as_deref());
    data_dir::prepare(&config.data_dir, sqlite_file.as_deref())?;
    let store = gatehouse_store::open(config.db_url.as_deref(), &config.data_dir).await?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let key = server_key::load(&config.data_dir)?;
    server_key::check_matches_database(&*store, &key).await?;
    let mailer = Arc::new(gatehouse_mail::Mailer::new(&config.data_dir, clock.clone()));
    let sms = sms_sender(&config.data_dir, clock.clone())?;
    let oauth2 = Arc::new(gatehouse_oauth::OidcClient::new().map_err(anyhow::Error::msg)?);
    let gh = Gatehouse::start(store, clock, cores, mailer, sms, key, oauth2).await?;
    Ok(Arc::new(gh))
}

/// `gatehouse keys rotate`: a new server key first in the ring, every stored secret re-sealed
/// under it (see `server_key::rotate`).
pub async fn rotate_keys(config: &StoreConfig) -> anyhow::Result<Rotation> {
    let sqlite_file = data_dir::sqlite_file(&config.data_dir, config.db_url.as_deref());
    data_dir::prepare(&config.data_dir, sqlite_file.as_deref())?;
    let store = gatehouse_store::open(config.db_url.as_deref(), &config.data_dir).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mailer = Arc::new(gatehouse_mail::Mailer::new(&config.data_dir, clock.clone()));
    let sms = sms_sender(&config.data_dir, clock.clone())?;
    server_key::rotate(&config.data_dir, store, async move |store, key| {
        let oauth2 = Arc::new(gatehouse_domain::oauth2::NoExchange);
        Ok(Gatehouse::start(store, clock, 1, mailer, sms, key, oauth2).await?)
    })
    .await
}

fn sms_sender(
    data_dir: &Path,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<gatehouse_sms::SmsSender>> {
    let sender = gatehouse_sms::SmsSender::new(data_dir, clock).map_err(anyhow::Error::msg)?;
    Ok(Arc::new(sender))
}

/// A server listening on `listener` with the default [`ListenerLimits`], until `shutdown`
/// resolves.
pub async fn serve(
    gh: Arc<Gatehouse>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(gh, listener, shutdown, ListenerLimits::default()).await
}

/// The default data directory, next to where the server is started (as PocketBase's `pb_data`).
pub fn default_data_dir() -> PathBuf {
    Path::new("gh_data").to_path_buf()
}
