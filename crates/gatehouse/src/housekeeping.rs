//! The background purge `serve` runs: once at start, then hourly, until the server stops. What
//! goes and when is [`Gatehouse::purge`]'s business (the service's clock and settings).

use gatehouse_domain::Gatehouse;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(3600);

/// Runs the purge on a timer; dropping (aborting) the returned task stops it.
pub fn start(gh: Arc<Gatehouse>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = gh.purge().await {
                tracing::warn!(error = %e.message, "the hourly purge failed");
            }
        }
    })
}
