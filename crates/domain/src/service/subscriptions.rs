//! `GET` and `POST /api/realtime`: connecting a realtime client and setting its subscriptions,
//! with PocketBase's answers, and the sweep that closes idle and old clients.

use super::Gatehouse;
use crate::access::Caller;
use crate::error::{Error, Result};
use crate::realtime::{AuthRef, Connection, Hub, Refused, SubscribeForm, SubscribeRefused};
use serde_json::Value;
use std::sync::Arc;

impl Gatehouse {
    /// The connected realtime clients.
    pub fn realtime(&self) -> &Arc<Hub> {
        &self.realtime
    }

    /// A new realtime client for a connection from `ip` (the client IP the rate limiter saw).
    pub async fn realtime_connect(&self, ip: &str) -> Result<Connection> {
        let ip_key = self.current_settings().await?.rate_limits.client_key(ip);
        self.realtime
            .connect(ip, &ip_key, self.clock.now_millis())
            .map_err(|refused| match refused {
                Refused::IpFull => Error::too_many_requests("Too Many Requests."),
                Refused::Full | Refused::Closed => {
                    Error::unavailable("Too many realtime connections, try again later.")
                }
            })
    }

    /// `POST /api/realtime`: replaces the client's subscriptions and binds the caller to it.
    pub fn realtime_subscribe(&self, body: Value, caller: Option<&Caller>, ip: &str) -> Result<()> {
        let form = SubscribeForm::read(body)?;
        let auth = caller.map(|c| AuthRef {
            collection_id: c.collection.id.clone(),
            record_id: c.record.id().to_owned(),
        });
        self.realtime
            .subscribe(&form.client_id, ip, auth, form.subscriptions)
            .map_err(|refused| match refused {
                SubscribeRefused::Unknown => Error::not_found("Missing or invalid client id."),
                SubscribeRefused::OtherIp => Error::bad_request("Invalid realtime client."),
                SubscribeRefused::OtherAuth => Error::forbidden(
                    "The current and the previous request authorization don't match.",
                ),
            })
    }

    /// Closes idle and old realtime clients and keeps the others' connections alive; the
    /// server runs it on a timer. Returns how many were closed.
    pub fn realtime_sweep(&self) -> usize {
        self.realtime.sweep(self.clock.now_millis())
    }
}
