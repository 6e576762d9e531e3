//! The core's error. Each module has its own; this one gathers them for
//! callers (CLI, hub, FFI) that act on the kind of failure.

use crate::catalog::CatalogError;
use crate::store::StoreError;
use crate::validate::Findings;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Validation refused the save: errors, or warnings not confirmed.
    /// Nothing was written.
    #[error("not saved: {0}")]
    Refused(Findings),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Input that is wrong before any rule applies (unparseable id, ...).
    #[error("{field}: {message}")]
    Input { field: String, message: String },
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    #[error("desk is not set up: {0}")]
    NotSetUp(String),
    /// Reading from somewhere other than the desk's store failed (the
    /// hub's database, for an export).
    #[error("reading {what}: {detail}")]
    Source { what: &'static str, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Input { field: field.into(), message: message.into() }
    }
}
