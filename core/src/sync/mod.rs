//! Sync between a desk and its hub: the protocol types, and the desk's
//! client that pushes the outbox and pulls its site's changes.

pub mod client;
pub mod engine;
pub mod protocol;
pub mod tls_pin;

pub use client::{HubClient, SyncError};
pub use engine::{enroll, fetch_certificate, rotate_token, sync_once, verify_certificate, SyncOptions, SyncReport};
