//! vaxdesk-core: everything a vaccination desk does that is not UI — records,
//! validation, the catalog, the local store and search. The `vaxdesk` CLI,
//! the hub and the FFI bindings are thin layers over this crate.

pub mod catalog;
pub mod cert;
pub mod correction;
pub mod dates;
pub mod desk;
pub mod error;
pub mod export;
pub mod fold;
pub mod model;
pub mod pin;
pub mod qr;
pub mod search;
pub mod store;
pub mod sync;
pub mod synth;
pub mod timeline;
pub mod validate;

pub use error::{Error, Result};
