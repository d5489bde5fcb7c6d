//! Gatehouse's domain: auth collections, records, passwords, tokens and the flows that use them.
//! No HTTP here: the `gatehouse-http` crate parses requests, calls one function of [`Gatehouse`]
//! and renders its answer or its [`Error`].

pub mod access;
pub mod clock;
pub mod collection;
pub mod error;
pub mod factor_codes;
pub mod filter;
pub mod mail;
pub mod oauth2;
pub mod password;
pub mod random;
pub mod realtime;
pub mod record;
mod registry;
pub mod server_key;
pub mod service;
pub mod settings;
pub mod sms;
pub mod token;

pub use access::{Caller, RequestInfo};
pub use error::{Error, ErrorKind, FieldErrors, Result};
pub use password::Password;
pub use service::auth::{AuthResponse, PasswordLogin};
pub use service::oauth2_login::OAuth2Login;
pub use service::records::ListParams;
pub use service::{Gatehouse, ListOf};
