//! The desk's SQLite database. One write connection behind a mutex and a
//! small pool of read-only connections; WAL with `synchronous=FULL` so a save
//! that returned survives a crash or power cut. Callers never see SQL.
//! See `docs/adr/0002-store-concurrency-and-durability.md`.

mod doses;
mod error;
mod meta;
mod outbox;
mod persons;
mod schema;
mod search;
mod sync;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use error::{Result, StoreError};
pub use outbox::{OutboxCounts, OutboxEntry, OutboxState, ToFixItem};
pub use schema::LATEST_VERSION;
pub use search::NameCandidate;

/// How a store is opened. The defaults suit a phone or a desktop.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long a write waits for another program's lock before `Locked`.
    pub busy_timeout: Duration,
    /// Read connections in the pool.
    pub readers: u32,
    /// Stop migrating at this version (tests build old databases with it).
    pub target_version: i64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self { busy_timeout: Duration::from_secs(5), readers: 4, target_version: LATEST_VERSION }
    }
}

#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    read_only: bool,
}

impl Store {
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_with(path, &OpenOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let read_only = is_read_only(&path)?;
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let classify = |e| StoreError::classify(e, &path);
        let mut writer = Connection::open_with_flags(&path, flags).map_err(classify)?;
        writer.busy_timeout(opts.busy_timeout).map_err(classify)?;

        // Read the header before changing anything, so a foreign, damaged or
        // newer file is refused without a single byte written to it.
        let found = schema::user_version(&writer).map_err(classify)?;
        writer.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())).map_err(classify)?;
        if found > LATEST_VERSION {
            return Err(StoreError::NewerSchema { path, found, supported: LATEST_VERSION });
        }
        if read_only {
            if found < opts.target_version {
                return Err(StoreError::ReadOnly { path });
            }
        } else {
            writer.pragma_update(None, "journal_mode", "WAL").map_err(classify)?;
            writer.pragma_update(None, "synchronous", "FULL").map_err(classify)?;
            writer.pragma_update(None, "foreign_keys", "ON").map_err(classify)?;
            // Bulk writes grow the WAL; cut it back after each checkpoint.
            writer.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024).map_err(classify)?;
            schema::migrate_to(&mut writer, &path, opts.target_version)?;
        }

        let timeout = opts.busy_timeout;
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |c| {
                c.busy_timeout(timeout)?;
                // 8 MiB of page cache per reader keeps the name index warm.
                c.pragma_update(None, "cache_size", -8192)?;
                c.pragma_update(None, "query_only", "ON")
            });
        let readers = r2d2::Pool::builder()
            .max_size(opts.readers.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        Ok(Store { path, writer: Mutex::new(writer), readers, read_only })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.read(schema::user_version)
    }

    /// Run `f` in one write transaction: everything it writes commits
    /// together (and is on disk when this returns), or nothing does.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(StoreError::ReadOnly { path: self.path.clone() });
        }
        let mut c = self.writer();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| self.classify(e))?;
        let out = f(&tx).map_err(|e| self.reclassify(e))?;
        tx.commit().map_err(|e| self.classify(e))?;
        Ok(out)
    }

    /// Run `f` on a read connection (a consistent snapshot for its duration
    /// when it opens a transaction).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let c = self.readers.get()?;
        f(&c).map_err(|e| self.classify(e))
    }

    /// Like `read`, for closures that already produce `StoreError`s.
    pub(crate) fn read_with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let c = self.readers.get()?;
        f(&c).map_err(|e| self.reclassify(e))
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back when the
        // transaction was dropped, so the connection is still sound.
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn classify(&self, e: rusqlite::Error) -> StoreError {
        StoreError::classify(e, &self.path)
    }

    fn reclassify(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite(e) => self.classify(e),
            other => other,
        }
    }

    /// `PRAGMA integrity_check`: `Ok(())` or the problems SQLite lists.
    pub fn integrity_check(&self) -> Result<std::result::Result<(), Vec<String>>> {
        let rows = self.read(|c| {
            let mut st = c.prepare("PRAGMA integrity_check")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        Ok(if rows == ["ok"] { Ok(()) } else { Err(rows) })
    }
}

/// A file the user cannot write is opened read-only up front rather than
/// failing on the first save. Permission bits are checked explicitly because
/// root (a CI machine, a rooted phone) can write through them.
fn is_read_only(path: &Path) -> Result<bool> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(StoreError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a directory"),
        }),
        Ok(m) => Ok(m.permissions().readonly()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            match std::fs::metadata(dir) {
                Ok(d) if d.permissions().readonly() => Err(StoreError::ReadOnly { path: path.to_path_buf() }),
                Ok(_) => Ok(false),
                Err(source) => Err(StoreError::Io { path: path.to_path_buf(), source }),
            }
        }
        Err(source) => Err(StoreError::Io { path: path.to_path_buf(), source }),
    }
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    // Model types serialise to JSON without fail (string keys, no floats).
    serde_json::to_string(v).unwrap_or_default()
}

fn from_json<T: serde::de::DeserializeOwned>(table: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::BadRow { table, detail: e.to_string() })
}

fn count(c: &Connection, sql: &str) -> rusqlite::Result<u64> {
    let n: i64 = c.query_row(sql, [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
