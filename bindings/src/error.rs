//! The one public error: a variant per thing the app does differently, each
//! with a stable code the shell can switch on and a `detail` it can show
//! (not `message`, which Kotlin exceptions already have).

use vaxdesk_core::store::StoreError;
use vaxdesk_core::sync::SyncError;

use crate::convert::Finding;

#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum VaxdeskError {
    /// Validation refused the save (errors, or warnings not confirmed).
    /// Nothing was written. `code` is the first finding's.
    #[error("not saved: {code}")]
    Refused { code: String, findings: Vec<Finding> },
    #[error("{detail}")]
    Input { field: String, detail: String },
    #[error("{detail}")]
    NotFound { detail: String },
    #[error("{detail}")]
    NotSetUp { detail: String },
    /// `storage.corrupt`, `storage.locked`, `storage.read_only`,
    /// `storage.newer_schema`, `storage.io`, `storage.duplicate`, `storage.other`.
    #[error("{code}: {detail}")]
    Storage { code: String, detail: String },
    /// `sync.network`, `sync.not_enrolled`, `sync.bad_code`, or the hub's own
    /// code (`enroll.code_used`, `auth.required`, ...). `transient`: try later.
    #[error("{code}: {detail}")]
    Sync { code: String, detail: String, transient: bool },
    #[error("{detail}")]
    Frame { detail: String },
    /// Not raised by the core: the shell wraps anything unexpected (a
    /// panic caught by uniffi, a closed object) in this, so a screen shows
    /// it instead of the process dying.
    #[error("{detail}")]
    Internal { detail: String },
}

impl From<StoreError> for VaxdeskError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::Corrupt { .. } | StoreError::BadRow { .. } => "storage.corrupt",
            StoreError::Locked { .. } => "storage.locked",
            StoreError::WrongKey { .. } => "storage.wrong_key",
            StoreError::NeedsKey { .. } => "storage.needs_key",
            StoreError::ReadOnly { .. } => "storage.read_only",
            StoreError::NewerSchema { .. } => "storage.newer_schema",
            StoreError::Io { .. } => "storage.io",
            StoreError::Duplicate { .. } => "storage.duplicate",
            StoreError::NotFound { .. } => "storage.not_found",
            StoreError::Sqlite(_) | StoreError::ReadersBusy { .. } => "storage.other",
        };
        VaxdeskError::Storage { code: code.into(), detail: e.to_string() }
    }
}

impl From<vaxdesk_core::Error> for VaxdeskError {
    fn from(e: vaxdesk_core::Error) -> Self {
        use vaxdesk_core::Error as E;
        match e {
            E::Refused(f) => {
                let code = f.0.first().map(|x| x.code.as_str().to_string()).unwrap_or_else(|| "refused".into());
                VaxdeskError::Refused { code, findings: f.0.into_iter().map(Into::into).collect() }
            }
            E::Store(s) => s.into(),
            E::Catalog(c) => VaxdeskError::Input { field: "catalog".into(), detail: c.to_string() },
            E::Input { field, message } => VaxdeskError::Input { field, detail: message },
            E::NotFound { .. } => VaxdeskError::NotFound { detail: e.to_string() },
            E::NotSetUp(m) => VaxdeskError::NotSetUp { detail: m },
            E::Source { .. } => VaxdeskError::Storage { code: "source".into(), detail: e.to_string() },
        }
    }
}

impl From<SyncError> for VaxdeskError {
    fn from(e: SyncError) -> Self {
        let transient = e.is_transient();
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::Core(c) => (*c).into(),
            SyncError::Refused { code, message, .. } => VaxdeskError::Sync { code, detail: message, transient },
            SyncError::NotEnrolled => VaxdeskError::Sync { code: "sync.not_enrolled".into(), detail: e.to_string(), transient },
            SyncError::BadCode(_) => VaxdeskError::Sync { code: "sync.bad_code".into(), detail: e.to_string(), transient },
            SyncError::PlainHttp(_) => VaxdeskError::Sync { code: "sync.plain_http".into(), detail: e.to_string(), transient },
            SyncError::PinMismatch(_) => VaxdeskError::Sync { code: "sync.pin_mismatch".into(), detail: e.to_string(), transient },
            SyncError::Network(_) | SyncError::Decode(_) => VaxdeskError::Sync { code: "sync.network".into(), detail: e.to_string(), transient },
        }
    }
}

impl From<vaxdesk_core::qr::decode::FrameError> for VaxdeskError {
    fn from(e: vaxdesk_core::qr::decode::FrameError) -> Self {
        VaxdeskError::Frame { detail: e.to_string() }
    }
}
