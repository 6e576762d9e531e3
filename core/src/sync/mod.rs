//! Sync between a desk and its hub: the protocol types, and the desk's
//! client that pushes the outbox and pulls its site's changes.

pub mod client;
pub mod engine;
pub mod protocol;
pub mod tls_pin;

pub use client::{HubClient, SyncError};
pub use engine::{enroll, enroll_with, fetch_certificate, is_enrolled, pending_enrollment, rotate_token, sync_once, verify_certificate, PendingEnrollment, SyncOptions, SyncReport};
