//! The desk's SQLite database. One write connection behind a mutex and a
//! small pool of read-only connections; WAL with `synchronous=FULL` so a save
//! that returned survives a crash or power cut. Callers never see SQL.
//! See `docs/adr/0002-store-concurrency-and-durability.md`.

mod doses;
mod error;
pub mod key;
mod meta;
mod outbox;
mod persons;
mod readers;
mod schema;
mod search;
mod search_index;
mod sync;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use error::{Result, StoreError};
pub use key::DbKey;
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
    /// Open (or create) the file encrypted with this key (SQLCipher).
    pub key: Option<DbKey>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self { busy_timeout: Duration::from_secs(5), readers: 4, target_version: LATEST_VERSION, key: None }
    }
}

#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: readers::Readers,
    read_only: bool,
}

impl Store {
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_with(path, &OpenOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Store> {
        link_crypto();
        let path = path.as_ref().to_path_buf();
        // SQLite takes a 0-byte file for a new database: a desk whose file
        // was emptied (a failing card, a bad copy) would silently become a
        // fresh desk with a new device id. Only a missing file is new.
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(StoreError::Corrupt {
                path,
                detail: "the file is empty (0 bytes), not a vaxdesk database; nothing was written to it (`vaxdesk init` makes a new desk there)".into(),
            });
        }
        // A WAL left behind means the last program using the file did not
        // close it (killed, power lost): check the pages before trusting them.
        let unclean = std::fs::metadata(wal_path(&path)).is_ok_and(|m| m.len() > 0);
        let read_only = is_read_only(&path)?;
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let keyed = opts.key.is_some();
        let classify = |e: rusqlite::Error| match e.sqlite_error_code() {
            // SQLCipher cannot read page 1: the key is wrong, or the file
            // is encrypted and no key was given.
            Some(rusqlite::ErrorCode::NotADatabase) if keyed => StoreError::WrongKey { path: path.clone() },
            Some(rusqlite::ErrorCode::NotADatabase) if !key::looks_plain(&path) => StoreError::NeedsKey { path: path.clone() },
            _ => StoreError::classify(e, &path),
        };
        let mut writer = Connection::open_with_flags(&path, flags).map_err(classify)?;
        quiet(&writer);
        if let Some(k) = &opts.key {
            writer.execute_batch(&k.pragma("key")).map_err(classify)?;
        }
        writer.busy_timeout(opts.busy_timeout).map_err(classify)?;

        // Read the header before changing anything, so a foreign, damaged,
        // newer or wrongly keyed file is refused without a byte written to it.
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
            // A save that crosses the checkpoint mark copies the log into
            // the file and syncs it: at SQLite's 1,000 pages that save took
            // ~3 ms (up to 11), the saves' p99 on a 1M-person desk. At 100
            // pages, Android's own default (config `db_wal_autocheckpoint`),
            // the copies are small: p99 1.3-1.6 ms (README, ADR 0035).
            writer.pragma_update(None, "wal_autocheckpoint", 100).map_err(classify)?;
            // A store left with its search indexes aside gets them back
            // before anything else: here, best effort, when it is already
            // at the version wanted; otherwise inside the first migration
            // step, which must find the store whole (ADR 0035).
            if found >= opts.target_version {
                search_index::restore_on_open(&mut writer, &path);
            }
            schema::migrate_to(&mut writer, &path, opts.target_version)?;
        }

        let timeout = opts.busy_timeout;
        let reader_key = opts.key.as_ref().map(|k| k.pragma("key"));
        let reader_path = path.clone();
        let readers = readers::Readers::new(opts.readers as usize, Duration::from_secs(30), move || {
            let c = Connection::open_with_flags(&reader_path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            quiet(&c);
            if let Some(k) = &reader_key {
                c.execute_batch(k)?;
            }
            c.busy_timeout(timeout)?;
            // 8 MiB of page cache per reader keeps the name index warm.
            c.pragma_update(None, "cache_size", -8192)?;
            c.pragma_update(None, "query_only", "ON")?;
            Ok(c)
        });
        let store = Store { path, writer: Mutex::new(writer), readers, read_only };
        store.take_reader()?;
        if unclean {
            if let Err(problems) = store.quick_check()? {
                return Err(StoreError::Corrupt { path: store.path.clone(), detail: format!("damaged after an unclean shutdown: {}", problems.join("; ")) });
            }
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Change the key of the closed database at `path` (a PIN change):
    /// checked with the old key first, then every page re-encrypted in one
    /// step. With `new` = None the file becomes plain SQLite; with `old` =
    /// None a plain file becomes encrypted.
    pub fn rekey(path: &Path, old: Option<&DbKey>, new: Option<&DbKey>) -> Result<()> {
        let classify = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) if old.is_some() => StoreError::WrongKey { path: path.to_path_buf() },
            Some(rusqlite::ErrorCode::NotADatabase) if !key::looks_plain(path) => StoreError::NeedsKey { path: path.to_path_buf() },
            _ => StoreError::classify(e, path),
        };
        if !path.exists() {
            return Err(StoreError::Io { path: path.to_path_buf(), source: std::io::ErrorKind::NotFound.into() });
        }
        // CREATE so that ATTACH may make the new copy beside it.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = Connection::open_with_flags(path, flags).map_err(classify)?;
        quiet(&c);
        c.busy_timeout(Duration::from_secs(10)).map_err(classify)?;
        if let Some(k) = old {
            c.execute_batch(&k.pragma("key")).map_err(classify)?;
        }
        c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())).map_err(classify)?;
        // No WAL left behind to pair with the new file. Leaving WAL needs
        // every other connection gone, and SQLite does not wait for that:
        // another program (a copy, a viewer) may hold it for a moment, so
        // try again for a while.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            match c.pragma_update(None, "journal_mode", "DELETE") {
                Ok(()) => break,
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(classify(e)),
            }
        }
        // A fresh copy under the new key (or none), made by SQLCipher's
        // export, then put in place by a rename: a crash leaves the old file.
        let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(classify)?;
        let tmp = path.with_extension("rekey-tmp");
        let _ = std::fs::remove_file(&tmp);
        let target_key = match new {
            Some(n) => n.literal(),
            None => zeroize::Zeroizing::new("''".to_string()),
        };
        let sql = zeroize::Zeroizing::new(format!(
            "ATTACH DATABASE '{}' AS target KEY {}; SELECT sqlcipher_export('target'); PRAGMA target.user_version = {version}; DETACH DATABASE target;",
            sql_path(&tmp)?,
            target_key.as_str()
        ));
        c.execute_batch(&sql).map_err(classify)?;
        drop(c);
        replace(&tmp, path)?;
        Ok(())
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
        let c = self.take_reader()?;
        f(&c).map_err(|e| self.classify(e))
    }

    fn take_reader(&self) -> Result<readers::Reader<'_>> {
        self.readers.take().map_err(|e| match e {
            readers::TakeError::Open(e) => self.classify(e),
            readers::TakeError::Busy(wait) => StoreError::ReadersBusy { path: self.path.clone(), secs: wait.as_secs() },
        })
    }

    /// Like `read`, for closures that already produce `StoreError`s.
    pub(crate) fn read_with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let c = self.take_reader()?;
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

    /// `PRAGMA quick_check` (every page readable, the b-trees sound; not the
    /// index contents): `Ok(())` or the problems SQLite lists, at most ten.
    pub fn quick_check(&self) -> Result<std::result::Result<(), Vec<String>>> {
        let rows = self.read_with(|c| {
            let mut st = c.prepare("PRAGMA quick_check(10)").map_err(|e| self.classify(e))?;
            let rows = st.query_map([], |r| r.get::<_, String>(0)).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>());
            rows.map_err(|e| self.classify(e))
        });
        match rows {
            Ok(rows) => Ok(if rows == ["ok"] { Ok(()) } else { Err(rows) }),
            // A page so damaged that the check itself cannot read it.
            Err(StoreError::Corrupt { detail, .. }) => Ok(Err(vec![detail])),
            Err(e) => Err(e),
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

/// SQLCipher's cryptography is the Rust provider (`vaxdesk-sqlcipher-crypto`,
/// ADR 0014); every program that opens a database through SQLite (the
/// store here, the hub's own) calls this, which keeps the provider linked.
pub fn link_crypto() {
    vaxdesk_sqlcipher_crypto::link();
}

/// The write-ahead log beside a database file.
fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
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

impl Drop for Store {
    /// Fold the WAL into the database file on close, so a closed desk is
    /// one file (and a copy of it is complete).
    fn drop(&mut self) {
        if !self.read_only {
            let c = self.writer.get_mut().unwrap_or_else(|e| e.into_inner());
            let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

/// SQLCipher logs a wrong key to stderr (logcat on a phone); the error we
/// return says it, once, in the desk's words.
fn quiet(c: &Connection) {
    let _ = c.execute_batch("PRAGMA cipher_log_level = NONE;");
}

/// A path as a SQL string literal's content (quotes doubled).
fn sql_path(p: &Path) -> Result<String> {
    let s = p.to_str().ok_or_else(|| StoreError::BadRow { table: "key", detail: format!("path {} is not UTF-8", p.display()) })?;
    Ok(s.replace('\'', "''"))
}

/// Put `from` in place of `to` atomically (same directory).
fn replace(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| StoreError::Io { path: to.to_path_buf(), source })?;
    for side in ["-wal", "-shm"] {
        let mut p = to.as_os_str().to_owned();
        p.push(side);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    Ok(())
}

#[cfg(test)]
mod encryption_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn files(path: &Path) -> Vec<u8> {
        let mut all = Vec::new();
        for side in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(side);
            if let Ok(b) = std::fs::read(PathBuf::from(p)) {
                all.extend(b);
            }
        }
        all
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    fn keyed(path: &Path, secret: &str) -> OpenOptions {
        OpenOptions { key: Some(DbKey::for_database(path, secret).unwrap()), ..OpenOptions::default() }
    }

    #[test]
    fn encrypted_file_holds_no_plaintext_and_refuses_a_wrong_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        {
            let store = Store::open_with(&path, &keyed(&path, "2468")).unwrap();
            store.set_meta("probe", "Nguyễn Thị Hoa 022187001234").unwrap();
            assert_eq!(store.meta("probe").unwrap().as_deref(), Some("Nguyễn Thị Hoa 022187001234"));
        }
        let raw = files(&path);
        assert!(raw.len() > 4096);
        // Whole values only: a 3-letter fragment turns up in ciphertext by chance.
        for plain in ["022187001234", "Nguyễn Thị Hoa", "SQLite format 3"] {
            assert!(!contains(&raw, plain), "no plaintext on disk: {plain}");
        }

        let wal = |p: &Path| std::fs::read(format!("{}-wal", p.display())).unwrap_or_default();
        let before = (std::fs::read(&path).unwrap(), wal(&path));
        assert!(matches!(Store::open_with(&path, &keyed(&path, "1357")), Err(StoreError::WrongKey { .. })));
        assert!(matches!(Store::open(&path), Err(StoreError::NeedsKey { .. })));
        let after = (std::fs::read(&path).unwrap(), wal(&path));
        assert!(after == before, "a refused open writes nothing");

        // A PIN change re-keys: the old PIN stops working, the data stays.
        let (old, new) = (DbKey::for_database(&path, "2468").unwrap(), DbKey::for_database(&path, "8642").unwrap());
        assert!(matches!(Store::rekey(&path, Some(&new), Some(&old)), Err(StoreError::WrongKey { .. })));
        Store::rekey(&path, Some(&old), Some(&new)).unwrap();
        assert!(matches!(Store::open_with(&path, &keyed(&path, "2468")), Err(StoreError::WrongKey { .. })));
        let store = Store::open_with(&path, &keyed(&path, "8642")).unwrap();
        assert_eq!(store.meta("probe").unwrap().as_deref(), Some("Nguyễn Thị Hoa 022187001234"));
        assert_eq!(store.schema_version().unwrap(), LATEST_VERSION, "the schema version survives");
    }

    #[test]
    fn a_plain_database_can_be_encrypted_and_decrypted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        Store::open(&path).unwrap().set_meta("probe", "Trần Văn Nam").unwrap();
        assert!(contains(&files(&path), "Trần Văn Nam"), "the control: a plain file shows the name");
        let key = DbKey::derive("passphrase for the desk", &[7; 16]).unwrap();
        Store::rekey(&path, None, Some(&key)).unwrap();
        assert!(!contains(&files(&path), "Trần Văn Nam"));
        let opts = OpenOptions { key: Some(key.clone()), ..OpenOptions::default() };
        assert_eq!(Store::open_with(&path, &opts).unwrap().meta("probe").unwrap().as_deref(), Some("Trần Văn Nam"));
        Store::rekey(&path, Some(&key), None).unwrap();
        assert_eq!(Store::open(&path).unwrap().meta("probe").unwrap().as_deref(), Some("Trần Văn Nam"));
    }

    #[test]
    fn a_kept_key_opens_what_the_pin_encrypted_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        Store::open_with(&path, &keyed(&path, "2468")).unwrap().set_meta("probe", "Lê Văn Nam").unwrap();
        // The shell keeps the PIN's key (wrapped by the keystore) and opens with it later.
        let kept = DbKey::for_database(&path, "2468").unwrap().bytes().to_vec();
        let opts = OpenOptions { key: Some(DbKey::from_bytes(&kept).unwrap()), ..OpenOptions::default() };
        assert_eq!(Store::open_with(&path, &opts).unwrap().meta("probe").unwrap().as_deref(), Some("Lê Văn Nam"));
        let mut other = kept.clone();
        other[0] ^= 1;
        let opts = OpenOptions { key: Some(DbKey::from_bytes(&other).unwrap()), ..OpenOptions::default() };
        assert!(matches!(Store::open_with(&path, &opts), Err(StoreError::WrongKey { .. })));
        let short = DbKey::from_bytes(&kept[..31]).unwrap_err().to_string();
        assert!(short.contains("32 bytes"), "{short}");
    }
}
