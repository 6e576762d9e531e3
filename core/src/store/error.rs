use std::path::PathBuf;

use rusqlite::ErrorCode;

/// What can go wrong with the desk's database. Each variant says what to do
/// about it; none of them is raised after a partial write (every write is one
/// transaction).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path} is not a vaxdesk database or is damaged ({detail}); it was not modified")]
    Corrupt { path: PathBuf, detail: String },
    #[error("database {path}: wrong PIN or passphrase (nothing was changed)")]
    WrongKey { path: PathBuf },
    #[error("database {path} is encrypted, or is not a vaxdesk database: give its PIN or passphrase (VAXDESK_PASSPHRASE); it was not modified")]
    NeedsKey { path: PathBuf },
    #[error("database {path} is locked by another program; close it and try again")]
    Locked { path: PathBuf },
    #[error("database {path} is read-only; nothing can be saved to it")]
    ReadOnly { path: PathBuf },
    #[error("database {path} has schema version {found}, newer than this vaxdesk supports ({supported}); update vaxdesk")]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("cannot open database {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{what} {value} is already on record")]
    Duplicate { what: &'static str, value: String },
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    #[error("row in {table} cannot be read: {detail}")]
    BadRow { table: &'static str, detail: String },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database {path}: every read connection stayed busy for {secs} s; try again")]
    ReadersBusy { path: PathBuf, secs: u64 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Turn SQLite's result codes into the errors a user can act on.
    pub(crate) fn classify(e: rusqlite::Error, path: &std::path::Path) -> StoreError {
        let path = path.to_path_buf();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { path, detail: e.to_string() }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
            _ => StoreError::Sqlite(e),
        }
    }
}
