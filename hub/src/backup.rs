//! Backup and restore of a SQLite hub, with SQLite's online backup API.
//!
//! A backup is a consistent copy of the database as it stood at one instant,
//! taken while the hub keeps serving: the copy runs in a single step inside
//! one read transaction, which in WAL mode does not block the hub's writer.
//! (A copy in small steps would restart whenever the hub commits, and under
//! a steady stream of pushes might never finish.) The data lost at worst when
//! the hub's disk dies is what arrived since the start of the last backup
//! that finished: the interval between backups plus one backup's duration.
//!
//! A PostgreSQL hub is backed up with the server's own tools (`pg_dump -Fc`,
//! `pg_restore`, or base backups with WAL archiving); see the README, "Backups".

use std::path::Path;
use std::time::Instant;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::db::{DbError, Result};

/// What a backup or a restore did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Copied {
    pub pages: i64,
    pub bytes: u64,
    pub seconds: f64,
    /// Events in the copy.
    pub events: i64,
}

fn io(path: &Path, e: impl std::fmt::Display) -> DbError {
    DbError::Io { path: path.display().to_string(), detail: e.to_string() }
}

/// Copy every page of `src` into `dst` in one step; anything short of a
/// whole copy is an error (SQLite answers a held lock as a result, not an
/// error: taken for success, nothing would have been copied).
fn copy_all(src: &Connection, dst: &mut Connection, what: &Path) -> Result<i64> {
    let b = Backup::new(src, dst)?;
    match b.step(-1)? {
        StepResult::Done => Ok(b.progress().pagecount as i64),
        StepResult::Busy | StepResult::Locked => Err(io(what, "the database is locked by another process (is the hub still running?)")),
        other => Err(io(what, format!("copy not finished ({other:?})"))),
    }
}

/// Copy the hub database at `from` (in use or not) to `to`, a new file.
/// The copy is written under a temporary name and renamed when whole, so a
/// file at `to` is always a finished backup.
pub fn backup(from: &Path, to: &Path) -> Result<Copied> {
    vaxdesk_core::store::link_crypto();
    if !from.is_file() {
        return Err(io(from, "no such hub database"));
    }
    if to.exists() {
        return Err(io(to, "already exists; a backup never overwrites a file"));
    }
    let t = Instant::now();
    let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    src.busy_timeout(std::time::Duration::from_secs(30))?;
    let partial = std::path::PathBuf::from(format!("{}.partial", to.display()));
    let _ = std::fs::remove_file(&partial);
    crate::files::private_database(&partial).map_err(|e| io(to, e))?;
    let copied = (|| -> Result<Copied> {
        let mut dst = Connection::open(&partial)?;
        let pages = copy_all(&src, &mut dst, from)?;
        // The copy keeps the source's journal mode (WAL); fold it into the
        // one file so the backup is a single file to move.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        let events = count_events(&dst)?;
        drop(dst);
        std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(|e| io(to, e))?;
        std::fs::rename(&partial, to).map_err(|e| io(to, e))?;
        if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename itself survives a power cut only once the directory is synced.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        let bytes = std::fs::metadata(to).map_err(|e| io(to, e))?.len();
        Ok(Copied { pages, bytes, seconds: t.elapsed().as_secs_f64(), events })
    })();
    if copied.is_err() {
        // Half a backup is worse than none: it looks like one.
        for companion in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{companion}", partial.display()));
        }
    }
    copied
}

/// Check that `from` is a whole hub database this hub can open (its schema
/// not newer, every page readable), then load it into the hub database at
/// `to` in one transaction: the hub at `to` holds either what it held or
/// the backup, never a mixture; the feed then goes on from far past any
/// cursor a desk may hold ([`skip_feed_ahead`]). Stop the hub first.
pub fn restore(from: &Path, to: &Path) -> Result<Copied> {
    vaxdesk_core::store::link_crypto();
    if !from.is_file() {
        return Err(io(from, "no such backup"));
    }
    let t = Instant::now();
    let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let version: i64 = src.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| io(from, format!("not a SQLite database: {e}")))?;
    let latest = crate::db::sqlite_schema_version();
    if version == 0 {
        return Err(io(from, "not a hub database (schema version 0)"));
    }
    if version > latest {
        return Err(DbError::NewerSchema { path: from.display().to_string(), found: version, supported: latest });
    }
    // Every page read and every b-tree walked; a damaged copy is refused
    // before the hub's database is touched.
    let check: String = src.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| io(from, format!("damaged: {e}")))?;
    if check != "ok" {
        return Err(io(from, format!("damaged: {check}")));
    }
    let events = count_events(&src).map_err(|e| io(from, format!("not a hub database: {e}")))?;
    let backup_max = max_feed(&src).map_err(|e| io(from, format!("not a hub database: {e}")))?;
    // What the hub numbered before (a restore after a restore must still
    // jump past what desks saw since the first).
    let live_max = if to.is_file() {
        Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).ok().and_then(|c| max_feed(&c).ok()).unwrap_or(0)
    } else {
        0
    };
    crate::files::private_database(to).map_err(|e| io(to, e))?;
    let mut dst = Connection::open(to)?;
    dst.busy_timeout(std::time::Duration::from_secs(30))?;
    let pages = copy_all(&src, &mut dst, to)?;
    skip_feed_ahead(&dst, backup_max.max(live_max) + FEED_JUMP).map_err(|e| io(to, format!("restored, but the feed could not be moved ahead ({e}); run the restore again")))?;
    drop(dst);
    let bytes = std::fs::metadata(to).map_err(|e| io(to, e))?.len();
    Ok(Copied { pages, bytes, seconds: t.elapsed().as_secs_f64(), events })
}

/// How far the feed's numbers jump after a restore: more than a hub could
/// have numbered between a backup and the loss it is restored after.
pub const FEED_JUMP: i64 = 1_000_000_000;

/// A desk that synced after the backup was taken holds a cursor past the
/// backup's last feed row; new rows numbered from there would be skipped by
/// it for good. The restored feed goes on from far ahead instead: the
/// current catalog is published again at `at` (past both the backup's and
/// the replaced database's rows; a change every desk applies harmlessly),
/// and SQLite numbers the next rows after it. An interrupted restore is run
/// again: the load and this step are two transactions.
fn skip_feed_ahead(c: &Connection, at: i64) -> Result<()> {
    let n = c.execute(
        "INSERT INTO feed (seq, site, device, kind, event_seq, body)
         SELECT ?1, NULL, NULL, 'catalog', NULL, body FROM catalogs ORDER BY version DESC LIMIT 1",
        [at],
    )?;
    if n != 1 {
        return Err(DbError::Corrupt { what: "catalogs", detail: "no catalog to publish at the feed's new start".into() });
    }
    Ok(())
}

fn max_feed(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT coalesce(max(seq), 0) FROM feed", [], |r| r.get(0))
}

fn count_events(c: &Connection) -> Result<i64> {
    Ok(c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?)
}
