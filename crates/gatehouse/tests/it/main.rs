//! One integration-test binary (one link step): the real server on an ephemeral port, on SQLite
//! always and on PostgreSQL when `GATEHOUSE_TEST_PG_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod account;
mod audit;
mod auth;
mod cli;
mod client_ip;
mod collections;
mod data_at_rest;
mod device_store;
mod enrolment_required;
mod expiry;
mod factor_access;
mod factor_input;
mod factor_lock;
mod factor_races;
mod factor_store;
mod filter_sql;
mod hostile;
mod housekeeping;
mod key_rotation;
mod limiter_keys;
mod limits;
mod listener;
mod lockout;
mod mfa;
mod multi_instance;
mod oauth2;
mod oauth2_fake;
mod oauth2_links;
mod oauth2_providers;
mod otp;
mod otp_attempts;
mod pages_account;
mod pages_dashboard;
mod pages_login;
mod query_limits;
mod realtime;
mod records;
mod routes;
mod rules;
mod settings_test_send;
mod sms_login;
mod sms_providers;
mod sms_settings;
mod smtp;
mod smtp_sink;
mod tickets;
mod tickets_race;
mod totp;
mod transport;
mod trusted_devices;
mod write_races;
mod writes;
