//! The background work `serve` runs until the server stops: the purge, once at start and then
//! hourly, and the realtime sweep every [`SWEEP_EVERY`]. What goes and when is the service's
//! business ([`Gatehouse::purge`], [`Gatehouse::realtime_sweep`]: its clock and settings).

use gatehouse_domain::Gatehouse;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(3600);
/// Also the realtime keep-alive period: well inside the 60 s idle timeout of common proxies.
pub const SWEEP_EVERY: Duration = Duration::from_secs(25);

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

/// Runs the realtime sweep on a timer; dropping (aborting) the returned task stops it.
pub fn sweep_realtime(gh: Arc<Gatehouse>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            gh.realtime_sweep();
        }
    })
}
