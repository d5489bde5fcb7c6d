//! The realtime connection, PocketBase's subscriptions broker: `GET /api/realtime` opens a
//! server-sent event stream whose first event (`PB_CONNECT`) names the client, `POST
//! /api/realtime` sets the client's subscriptions, and events reach the clients subscribed to
//! them. The OAuth2 popup flow is its main user: the popup's redirect finds the client by the
//! `state` it was given (the client id) and sends it the code as an `@oauth2` event.
//!
//! Clients live in this process's memory, as in PocketBase: with several instances behind one
//! address, a client's stream and its `POST`s must reach the same instance (sticky routing).

mod frame;
mod hub;
mod subscribe;

pub use frame::{Frame, KEEP_ALIVE};
pub use hub::{
    AuthRef, Connection, Hub, IDLE_MS, LIFETIME_MS, RealtimeLimits, Refused, SubscribeRefused,
    TakeRefused,
};
pub use subscribe::SubscribeForm;

/// The topic the JS SDK's `authWithOAuth2` subscribes to before opening the popup.
pub const OAUTH2_TOPIC: &str = "@oauth2";
