//! The connected clients. A client is a small struct in one map plus the sending half of a
//! short channel; its connection reads the other half and nothing else runs for it. One sweep on
//! the server's timer closes idle and old clients and sends the keep-alives, so an idle client
//! costs a few hundred bytes here (its socket's buffers are the HTTP server's).

use super::frame::{self, Frame, KEEP_ALIVE};
use crate::random;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::mpsc::{self, error::TrySendError};

/// Events waiting for a connection that does not read them; past this it is dropped.
const QUEUE: usize = 16;
/// PocketBase closes a connection that has had no event for 5 minutes…
pub const IDLE_MS: i64 = 5 * 60 * 1000;
/// …and any connection after 30 minutes; the SDK reconnects and subscribes again.
pub const LIFETIME_MS: i64 = 30 * 60 * 1000;

/// How many clients may be connected at once. Each holds an open connection of the HTTP server,
/// so these stay below its connection limit, leaving room for ordinary requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealtimeLimits {
    pub max_clients: usize,
    /// Per client IP (an IPv6 client counts as its prefix, as for rate limits), so that one
    /// address cannot take every place.
    pub max_clients_per_ip: usize,
}

impl Default for RealtimeLimits {
    fn default() -> Self {
        Self {
            max_clients: 512,
            max_clients_per_ip: 32,
        }
    }
}

/// The auth record a client's subscriptions were set with (PocketBase binds it on the first
/// authenticated subscription request; only a guest may become someone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRef {
    pub collection_id: String,
    pub record_id: String,
}

/// Why a connection was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Every place is taken.
    Full,
    /// The client's IP holds all the places it may.
    IpFull,
    /// The server is shutting down.
    Closed,
}

/// Why a subscription request was refused (PocketBase's order of checks).
#[derive(Debug, PartialEq, Eq)]
pub enum SubscribeRefused {
    Unknown,
    OtherIp,
    OtherAuth,
}

/// Why a one-time topic could not be taken from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum TakeRefused {
    /// No such client, or it is not subscribed to the topic.
    NotSubscribed,
    /// The client connected from another IP (the topic is gone all the same).
    OtherIp,
}

#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    limits: RealtimeLimits,
    clients: HashMap<Box<str>, Client>,
    per_ip: HashMap<Box<str>, usize>,
    closed: bool,
}

struct Client {
    ip: Box<str>,
    /// What the per-IP bound counts under (an IPv6 address's prefix).
    ip_key: Box<str>,
    auth: Option<Box<AuthRef>>,
    topics: Vec<Box<str>>,
    tx: mpsc::Sender<Frame>,
    connected_ms: i64,
    last_event_ms: i64,
}

/// A connected client: its id and the frames to write to it. Dropping it (the connection is
/// gone) removes the client.
pub struct Connection {
    pub id: String,
    pub frames: mpsc::Receiver<Frame>,
    hub: Arc<Hub>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.hub.lock().remove(&self.id);
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map stays consistent at every await-free step, so a panic elsewhere leaves it usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_limits(&self, limits: RealtimeLimits) {
        self.lock().limits = limits;
    }

    /// Connected clients.
    pub fn len(&self) -> usize {
        self.lock().clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new client for a connection from `ip`, counted under `ip_key` for the per-IP bound;
    /// its `PB_CONNECT` event already queued.
    pub fn connect(
        self: &Arc<Self>,
        ip: &str,
        ip_key: &str,
        now_ms: i64,
    ) -> Result<Connection, Refused> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Refused::Closed);
        }
        if inner.clients.len() >= inner.limits.max_clients {
            return Err(Refused::Full);
        }
        let from_ip = inner.per_ip.get(ip_key).copied().unwrap_or(0);
        if from_ip >= inner.limits.max_clients_per_ip {
            return Err(Refused::IpFull);
        }
        let id = loop {
            let id = random::client_id();
            if !inner.clients.contains_key(id.as_str()) {
                break id;
            }
        };
        let (tx, frames) = mpsc::channel(QUEUE);
        let data = format!(r#"{{"clientId":"{id}"}}"#);
        if let Some(first) = frame::event(&id, "PB_CONNECT", &data) {
            // A fresh channel has room.
            let _ = tx.try_send(first);
        }
        *inner.per_ip.entry(ip_key.into()).or_default() += 1;
        let client = Client {
            ip: ip.into(),
            ip_key: ip_key.into(),
            auth: None,
            topics: Vec::new(),
            tx,
            connected_ms: now_ms,
            last_event_ms: now_ms,
        };
        inner.clients.insert(id.as_str().into(), client);
        drop(inner);
        Ok(Connection {
            id,
            frames,
            hub: self.clone(),
        })
    }

    /// Replaces a client's subscriptions, binding `auth` to it. As PocketBase: the request must
    /// come from the client's IP, and once bound to a record only that record may change them.
    pub fn subscribe(
        &self,
        id: &str,
        ip: &str,
        auth: Option<AuthRef>,
        topics: Vec<String>,
    ) -> Result<(), SubscribeRefused> {
        let mut inner = self.lock();
        let client = inner.clients.get_mut(id).ok_or(SubscribeRefused::Unknown)?;
        if *client.ip != *ip {
            return Err(SubscribeRefused::OtherIp);
        }
        if client.auth.is_some() && client.auth.as_deref() != auth.as_ref() {
            return Err(SubscribeRefused::OtherAuth);
        }
        client.auth = auth.map(Box::new);
        let mut kept: Vec<Box<str>> = Vec::with_capacity(topics.len());
        for topic in topics {
            if !topic.is_empty() && !kept.iter().any(|t| **t == *topic) {
                kept.push(topic.into_boxed_str());
            }
        }
        client.topics = kept;
        Ok(())
    }

    /// Removes `topic` from client `id`'s subscriptions, as the OAuth2 redirect does with
    /// `@oauth2` (one redirect per popup). The IP is checked after the topic is gone, so a
    /// redirect from elsewhere spends it.
    pub fn take_topic(&self, id: &str, topic: &str, ip: &str) -> Result<(), TakeRefused> {
        let mut inner = self.lock();
        let client = inner
            .clients
            .get_mut(id)
            .ok_or(TakeRefused::NotSubscribed)?;
        let at = client
            .topics
            .iter()
            .position(|t| **t == *topic)
            .ok_or(TakeRefused::NotSubscribed)?;
        client.topics.swap_remove(at);
        if *client.ip != *ip {
            return Err(TakeRefused::OtherIp);
        }
        Ok(())
    }

    /// Queues the event `name` with `data` for client `id`; false when there is no such client.
    /// A client whose queue is full does not read its stream: it is dropped.
    pub fn send(&self, id: &str, name: &str, data: &str, now_ms: i64) -> bool {
        let mut inner = self.lock();
        let Some(client) = inner.clients.get_mut(id) else {
            return false;
        };
        let Some(event) = frame::event(id, name, data) else {
            return false;
        };
        match client.tx.try_send(event) {
            Ok(()) => {
                client.last_event_ms = now_ms;
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                inner.remove(id);
                false
            }
        }
    }

    /// Closes the clients idle for [`IDLE_MS`] or connected for [`LIFETIME_MS`] (their streams
    /// end), and sends the others a keep-alive. Returns how many were closed.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let mut inner = self.lock();
        let mut gone: Vec<Box<str>> = Vec::new();
        for (id, client) in &inner.clients {
            let expired = now_ms - client.last_event_ms >= IDLE_MS
                || now_ms - client.connected_ms >= LIFETIME_MS;
            if expired || client.tx.try_send(Cow::Borrowed(KEEP_ALIVE)).is_err() {
                gone.push(id.clone());
            }
        }
        for id in &gone {
            inner.remove(id);
        }
        gone.len()
    }

    /// Ends every stream and refuses new clients: the server is stopping, and a stream would
    /// otherwise keep its connection (and the shutdown) waiting.
    pub fn close_all(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.clients.clear();
        inner.per_ip.clear();
    }

    /// The subscriptions of client `id` (tests and diagnostics).
    pub fn topics(&self, id: &str) -> Option<Vec<String>> {
        let inner = self.lock();
        let client = inner.clients.get(id)?;
        Some(client.topics.iter().map(|t| t.to_string()).collect())
    }
}

impl Inner {
    fn remove(&mut self, id: &str) {
        let Some(client) = self.clients.remove(id) else {
            return;
        };
        if let Some(n) = self.per_ip.get_mut(&client.ip_key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&client.ip_key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hub(max_clients: usize, max_clients_per_ip: usize) -> Arc<Hub> {
        let hub = Arc::new(Hub::default());
        hub.set_limits(RealtimeLimits {
            max_clients,
            max_clients_per_ip,
        });
        hub
    }

    fn next(c: &mut Connection) -> Option<String> {
        c.frames.try_recv().ok().map(|f| f.into_owned())
    }

    #[test]
    fn one_subscription_raced_by_eight_redirects_is_taken_once() {
        for _ in 0..100 {
            let hub = hub(4, 4);
            let c = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
            hub.subscribe(&c.id, "10.0.0.1", None, vec!["@oauth2".to_owned()])
                .unwrap();
            let start = Arc::new(std::sync::Barrier::new(8));
            let takers: Vec<_> = (0..8)
                .map(|_| {
                    let (hub, start, id) = (hub.clone(), start.clone(), c.id.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        hub.take_topic(&id, "@oauth2", "10.0.0.1").is_ok()
                    })
                })
                .collect();
            let won = takers
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|won| *won)
                .count();
            assert_eq!(won, 1);
        }
    }

    #[test]
    fn the_first_frame_names_the_client() {
        let hub = hub(4, 4);
        let mut c = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        assert_eq!(c.id.len(), 40);
        assert!(c.id.chars().all(|ch| ch.is_ascii_alphanumeric()));
        let first = next(&mut c).unwrap();
        assert_eq!(
            first,
            format!(
                "id:{0}\nevent:PB_CONNECT\ndata:{{\"clientId\":\"{0}\"}}\n\n",
                c.id
            )
        );
    }

    #[test]
    fn places_are_bounded_overall_and_per_ip_and_freed_on_drop() {
        let hub = hub(3, 2);
        let a = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        let _b = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        assert_eq!(
            hub.connect("10.0.0.1", "10.0.0.1", 0).err(),
            Some(Refused::IpFull)
        );
        let _c = hub.connect("10.0.0.2", "10.0.0.2", 0).unwrap();
        assert_eq!(
            hub.connect("10.0.0.3", "10.0.0.3", 0).err(),
            Some(Refused::Full)
        );
        drop(a);
        assert_eq!(hub.len(), 2);
        assert!(hub.connect("10.0.0.1", "10.0.0.1", 0).is_ok());
    }

    #[test]
    fn the_per_ip_bound_counts_an_ipv6_prefix_as_one() {
        let hub = hub(8, 1);
        let _a = hub.connect("2001:db8::1", "2001:db8::/64", 0).unwrap();
        assert_eq!(
            hub.connect("2001:db8::2", "2001:db8::/64", 0).err(),
            Some(Refused::IpFull)
        );
        // The client keeps its own address for the checks that follow.
        let b = hub.connect("2001:db9::1", "2001:db9::/64", 0).unwrap();
        assert_eq!(hub.subscribe(&b.id, "2001:db9::1", None, vec![]), Ok(()));
        assert_eq!(
            hub.subscribe(&b.id, "2001:db9::2", None, vec![]),
            Err(SubscribeRefused::OtherIp)
        );
    }

    #[test]
    fn subscriptions_check_ip_then_auth() {
        let hub = hub(4, 4);
        let c = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        let ann = AuthRef {
            collection_id: "users".into(),
            record_id: "ann".into(),
        };
        let bob = AuthRef {
            record_id: "bob".into(),
            ..ann.clone()
        };
        assert_eq!(
            hub.subscribe("nope", "10.0.0.1", None, vec![]),
            Err(SubscribeRefused::Unknown)
        );
        assert_eq!(
            hub.subscribe(&c.id, "10.0.0.9", None, vec![]),
            Err(SubscribeRefused::OtherIp)
        );
        // A guest may become ann; then only ann may change the subscriptions.
        hub.subscribe(&c.id, "10.0.0.1", None, vec!["a".into()])
            .unwrap();
        hub.subscribe(
            &c.id,
            "10.0.0.1",
            Some(ann.clone()),
            vec!["b".into(), "b".into()],
        )
        .unwrap();
        assert_eq!(hub.topics(&c.id).unwrap(), vec!["b"]);
        assert_eq!(
            hub.subscribe(&c.id, "10.0.0.1", Some(bob), vec![]),
            Err(SubscribeRefused::OtherAuth)
        );
        assert_eq!(
            hub.subscribe(&c.id, "10.0.0.1", None, vec![]),
            Err(SubscribeRefused::OtherAuth)
        );
        hub.subscribe(&c.id, "10.0.0.1", Some(ann), vec![]).unwrap();
    }

    #[test]
    fn a_topic_is_taken_once_and_spent_from_another_ip() {
        let hub = hub(4, 4);
        let c = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        hub.subscribe(&c.id, "10.0.0.1", None, vec!["@oauth2".into()])
            .unwrap();
        assert_eq!(hub.take_topic(&c.id, "@oauth2", "10.0.0.1"), Ok(()));
        assert_eq!(
            hub.take_topic(&c.id, "@oauth2", "10.0.0.1"),
            Err(TakeRefused::NotSubscribed)
        );
        hub.subscribe(&c.id, "10.0.0.1", None, vec!["@oauth2".into()])
            .unwrap();
        assert_eq!(
            hub.take_topic(&c.id, "@oauth2", "10.0.0.9"),
            Err(TakeRefused::OtherIp)
        );
        assert_eq!(
            hub.take_topic(&c.id, "@oauth2", "10.0.0.1"),
            Err(TakeRefused::NotSubscribed)
        );
    }

    #[test]
    fn idle_and_old_clients_are_swept_and_the_rest_kept_alive() {
        let hub = hub(4, 4);
        let mut idle = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        let mut busy = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        next(&mut idle);
        next(&mut busy);
        // An event resets the idle clock; a keep-alive does not.
        assert_eq!(hub.sweep(IDLE_MS - 1000), 0);
        assert_eq!(next(&mut idle).as_deref(), Some(KEEP_ALIVE));
        assert!(hub.send(&busy.id, "@oauth2", "{}", IDLE_MS - 1000));
        assert_eq!(hub.sweep(IDLE_MS), 1);
        assert_eq!(next(&mut idle), None);
        assert!(idle.frames.is_closed());
        assert!(!busy.frames.is_closed());
        // However busy, a client lives at most LIFETIME_MS.
        assert!(hub.send(&busy.id, "x", "{}", LIFETIME_MS - 1));
        assert_eq!(hub.sweep(LIFETIME_MS), 1);
        assert!(hub.is_empty());
    }

    #[test]
    fn a_client_that_does_not_read_is_dropped() {
        let hub = hub(4, 4);
        let c = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        for _ in 0..QUEUE - 1 {
            assert!(hub.send(&c.id, "x", "{}", 0));
        }
        assert!(!hub.send(&c.id, "x", "{}", 0));
        assert!(hub.is_empty());
    }

    #[test]
    fn closing_ends_every_stream_and_refuses_new_ones() {
        let hub = hub(4, 4);
        let c = hub.connect("10.0.0.1", "10.0.0.1", 0).unwrap();
        hub.close_all();
        assert!(c.frames.is_closed());
        assert_eq!(
            hub.connect("10.0.0.1", "10.0.0.1", 0).err(),
            Some(Refused::Closed)
        );
    }
}
