//! The hub's database on SQLite: one write connection (every change is one
//! transaction), a pool of readers, numbered migrations by `user_version`.
//! Calls are blocking; handlers run them on tokio's blocking pool.

use std::path::{Path, PathBuf};

use std::sync::Mutex;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{SiteDesk, Site};
use vaxdesk_core::sync::protocol::{ChangesPage, EventResult};

use super::group_commit::{GroupCommit, Job};
use super::{enroll_step, json, now_text, AuditEntry, Coordinator, CodeRow, DbError, Device, EnrolledDevice, EnrollRefusal, EnrollStep, HubStore, PersonRef, PossibleDuplicate, ReceivedEvent, Rejection, Result, UploadSummary};
use crate::day_records::{outcome_of, DayChange, DayCounts, DayDose, DayRow, StoredDoseEvent};
use crate::ingest::{self, Incoming, IngestTx};
use crate::registrations::{RegistrationRow, Tally};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_hub.sql")),
    (2, include_str!("../../migrations/sqlite/0002_coordinator_web.sql")),
    (3, include_str!("../../migrations/sqlite/0003_token_rotation.sql")),
    (4, include_str!("../../migrations/sqlite/0004_enrollment_key.sql")),
    (5, include_str!("../../migrations/sqlite/0005_registrations.sql")),
    (6, include_str!("../../migrations/sqlite/0006_daily_report.sql")),
    (DAY_RECORDS, include_str!("../../migrations/sqlite/0007_day_records.sql")),
];

/// The migration that adds the day table, filled from the events it runs over.
const DAY_RECORDS: i64 = 7;

#[derive(Debug)]
pub struct SqliteHub {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// Pushes arriving together share one commit (ADR 0036).
    pushes: GroupCommit<Vec<EventResult>>,
}

/// Log frames (4 kB pages) at which a commit checkpoints the log: 256 MB.
const WAL_CHECKPOINT_FRAMES: i64 = 65_536;

/// The size the log's file is cut back to when the log starts over.
const WAL_FILE_LIMIT_BYTES: i64 = 320 * 1024 * 1024;

/// The newest schema this hub writes.
pub(crate) fn latest_schema() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

impl SqliteHub {
    pub fn open(path: &Path) -> Result<SqliteHub> {
        vaxdesk_core::store::link_crypto();
        crate::files::private_database(path).map_err(|e| DbError::Io { path: path.display().to_string(), detail: e.to_string() })?;
        let mut writer = Connection::open(path)?;
        writer.busy_timeout(std::time::Duration::from_secs(10))?;
        let found: i64 = writer.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        if found > latest {
            return Err(DbError::NewerSchema { path: path.display().to_string(), found, supported: latest });
        }
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "foreign_keys", "ON")?;
        // Ingest looks persons up by id, national id and name in indexes
        // that outgrow SQLite's default 2 MB cache long before a province's
        // size; 64 MB keeps their upper levels in memory. Measured by bench
        // hub at 10M events: 2 % faster ingest, a small gain, kept for its
        // small cost (the OS page cache serves the rest either way).
        writer.pragma_update(None, "cache_size", -65_536)?;
        // A push of 500 events dirties ~600 pages (most at random spots of
        // the indexes by person, id and name), so SQLite's 1,000-frame
        // automatic checkpoint came every push or two: pages were written
        // twice and the file synced after almost every push. With 256 MB of
        // log, a checkpoint comes every ~100 pushes and copies once the
        // pages they rewrote (bench hub: 1M events 15–16k → 21.7–26.1k events/s;
        // 10M 15.1–15.2k → 17.4–17.8k, 64 MB of log gaining nothing there; a
        // checkpoint on a thread of its own gained nothing more at 1M).
        // The cost: the push that crosses the mark waits for the copy, and
        // recovery after a crash reads up to that much log.
        writer.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_FRAMES)?;
        // The log's file keeps the largest size it reached: ~270 MB in the
        // usual cycle (the mark plus the push that crossed it), more while a
        // long read (a backup, an export) kept the log from starting over.
        // Past 320 MB it is cut back when the log next starts over.
        writer.pragma_update(None, "journal_size_limit", WAL_FILE_LIMIT_BYTES)?;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
            let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            if *version == DAY_RECORDS {
                crate::day_records::backfill(&mut SqliteTx(&tx))?;
            }
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
        }
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                // SQLCipher's build sorts in memory by default: an export's
                // ORDER BY over a site of a million events then held the
                // whole site (bench hub: 446 MB). On files, the sort spills
                // past its few MB and memory stays flat whatever the site.
                c.pragma_update(None, "temp_store", "FILE")?;
                c.pragma_update(None, "query_only", "ON")
            });
        let readers = r2d2::Pool::builder().max_size(8).build(manager)?;
        // The log as SQLite names it (the database's path resolved, links
        // followed), flushed after each group of pushes (ADR 0038).
        let wal = PathBuf::from(format!("{}-wal", writer.path().map_or_else(|| path.display().to_string(), str::to_string)));
        let pushes = GroupCommit::new(wal, |c| c.query_row("SELECT coalesce(max(seq), 0) FROM feed", [], |r| r.get(0)));
        Ok(SqliteHub { path: path.to_path_buf(), writer: Mutex::new(writer), readers, pushes })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut c = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let c = self.readers.get()?;
        f(&c)
    }

    /// A push through the group commit (ADR 0036); with `touch`, the device
    /// is marked heard from in the same write, so the push costs one commit.
    fn file_push(&self, device: &Device, events: &[Incoming], touch: Option<Option<i64>>, now: &str) -> Result<Vec<EventResult>> {
        // The group's leader may be another request's thread: the job owns
        // its push (a copy of up to 500 events, small beside filing them).
        let (device, owned, now) = (device.clone(), events.to_vec(), now.to_string());
        let job: Job<Vec<EventResult>> = Box::new(move |tx| {
            // Read in the push's own transaction, so a catalog published
            // while the push waited in the queue is the one it is checked by.
            let catalog = catalog_in(tx)?.unwrap_or_else(Catalog::builtin);
            let results = ingest::ingest(&mut SqliteTx(tx), &device, &catalog, &owned, &now)?;
            if let Some(pending) = touch {
                heard_from(tx, &device.id, &now, pending)?;
            }
            Ok(results)
        });
        self.pushes.run(&self.writer, events.len(), job)
    }

}

/// The newest catalog published, as `c` sees the database.
fn catalog_in(c: &Connection) -> Result<Option<Catalog>> {
    let body: Option<String> = c.query_row("SELECT body FROM catalogs ORDER BY version DESC LIMIT 1", [], |r| r.get(0)).optional()?;
    body.map(|b| serde_json::from_str(&b).map_err(|e| DbError::Corrupt { what: "catalog", detail: e.to_string() })).transpose()
}

/// The device was heard from at `now`, saying it holds `pending` records
/// not yet pushed (kept as it was when it does not say).
fn heard_from(c: &Connection, id: &str, now: &str, pending: Option<i64>) -> Result<()> {
    c.execute("UPDATE devices SET last_seen_at = ?2, pending = coalesce(?3, pending) WHERE id = ?1", params![id, now, pending])?;
    Ok(())
}

impl HubStore for SqliteHub {
    // ---- coordinators ------------------------------------------------------

    fn create_coordinator(&self, username: &str, password_hash: &str, all_sites: bool, sites: &[String]) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO coordinators (username, password_hash, all_sites, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![username, password_hash, all_sites, now_text()],
            )?;
            let id = tx.last_insert_rowid();
            for s in sites {
                tx.execute("INSERT INTO coordinator_sites (coordinator_id, site) VALUES (?1, ?2)", params![id, s])?;
            }
            Ok(id)
        })
    }

    fn password_hash(&self, username: &str) -> Result<Option<(i64, String)>> {
        self.read(|c| {
            Ok(c.query_row("SELECT id, password_hash FROM coordinators WHERE username = ?1", [username], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    fn create_session(&self, token_hash: &str, coordinator: i64, expires_at: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM sessions WHERE expires_at < ?1", [now_text()])?;
            tx.execute(
                "INSERT INTO sessions (token_hash, coordinator_id, expires_at) VALUES (?1, ?2, ?3)",
                params![token_hash, coordinator, expires_at],
            )?;
            Ok(())
        })
    }

    /// The coordinator a live session token belongs to.
    fn session(&self, token_hash: &str) -> Result<Option<Coordinator>> {
        self.read(|c| {
            let row: Option<(i64, String, bool)> = c
                .query_row(
                    "SELECT k.id, k.username, k.all_sites FROM sessions s JOIN coordinators k ON k.id = s.coordinator_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                    params![token_hash, now_text()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((id, username, all_sites)) = row else { return Ok(None) };
            let mut st = c.prepare_cached("SELECT site FROM coordinator_sites WHERE coordinator_id = ?1 ORDER BY site")?;
            let sites = st.query_map([id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(Some(Coordinator { id, username, all_sites, sites }))
        })
    }

    fn end_session(&self, token_hash: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
    }

    // ---- sites, desks, catalog ----------------------------------------------

    fn upsert_site(&self, s: &Site) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sites (code, name, province_code) VALUES (?1, ?2, ?3)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, province_code = excluded.province_code",
                params![s.code, s.name, s.province_code],
            )?;
            feed(tx, Some(&s.code), None, "site", None, Some(&json(s)))
        })
    }

    fn sites(&self) -> Result<Vec<Site>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT code, name, province_code FROM sites ORDER BY code")?;
            let rows = st.query_map([], |r| Ok(Site { code: r.get(0)?, name: r.get(1)?, province_code: r.get(2)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn upsert_desk(&self, d: &SiteDesk) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO desks (site, code, name) VALUES (?1, ?2, ?3)
                 ON CONFLICT (site, code) DO UPDATE SET name = excluded.name",
                params![d.site, d.code, d.name],
            )?;
            feed(tx, Some(&d.site), None, "desk", None, Some(&json(d)))
        })
    }

    fn desks(&self, site: &str) -> Result<Vec<SiteDesk>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT site, code, name FROM desks WHERE site = ?1 ORDER BY code")?;
            let rows = st.query_map([site], |r| Ok(SiteDesk { site: r.get(0)?, code: r.get(1)?, name: r.get(2)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn current_catalog(&self) -> Result<Option<Catalog>> {
        // On a reader: the writer may be busy filing a group of pushes.
        self.read(catalog_in)
    }

    /// Publish a catalog (the caller checked it is newer and consistent).
    fn publish_catalog(&self, c: &Catalog) -> Result<()> {
        self.write(|tx| {
            tx.execute("INSERT INTO catalogs (version, body, published_at) VALUES (?1, ?2, ?3)", params![c.version, json(c), now_text()])?;
            feed(tx, None, None, "catalog", None, Some(&json(c)))
        })
    }

    // ---- enrollment and devices ----------------------------------------------

    fn create_enrollment_code(&self, code_hash: &str, site: &str, desk: &str, by: i64, expires_at: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, site, desk, created_by, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![code_hash, site, desk, by, expires_at],
            )?;
            Ok(())
        })
    }

    /// Use a one-time code: register the device with its token hash, or say
    /// why not. Single use is enforced inside the transaction.
    fn enroll(&self, code_hash: &str, device_id: &str, name: Option<&str>, token_hash: &str, key_hash: Option<&str>) -> Result<std::result::Result<(String, String), EnrollRefusal>> {
        self.write(|tx| {
            let code: Option<CodeRow> = tx
                .query_row(
                    "SELECT site, desk, expires_at, used_at, device_id FROM enrollment_codes WHERE code_hash = ?1",
                    [code_hash],
                    |r| Ok(CodeRow { site: r.get(0)?, desk: r.get(1)?, expires_at: r.get(2)?, used_at: r.get(3)?, used_by: r.get(4)? }),
                )
                .optional()?;
            let Some(code) = code else { return Ok(Err(EnrollRefusal::Unknown)) };
            let device: Option<EnrolledDevice> = tx
                .query_row(
                    "SELECT site, desk, revoked_at IS NOT NULL, last_seen_at IS NOT NULL, enroll_key_hash FROM devices WHERE id = ?1",
                    [device_id],
                    |r| Ok(EnrolledDevice { site: r.get(0)?, desk: r.get(1)?, revoked: r.get(2)?, seen: r.get(3)?, key_hash: r.get(4)? }),
                )
                .optional()?;
            let now = now_text();
            match enroll_step(&code, device.as_ref(), device_id, key_hash, &now) {
                EnrollStep::Refuse(why) => return Ok(Err(why)),
                EnrollStep::OfferToken => {
                    tx.execute("UPDATE devices SET next_token_hash = ?2 WHERE id = ?1", params![device_id, token_hash])?;
                    return Ok(Ok((code.site, code.desk)));
                }
                EnrollStep::Insert => {
                    // ON CONFLICT: a row another writer made since the read above refuses, not fails.
                    let n = tx.execute(
                        "INSERT INTO devices (id, site, desk, name, token_hash, enrolled_at, enroll_key_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                        params![device_id, code.site, code.desk, name, token_hash, now, key_hash],
                    )?;
                    if n == 0 {
                        return Ok(Err(EnrollRefusal::DeviceTaken));
                    }
                }
                EnrollStep::Replace => {
                    tx.execute(
                        "UPDATE devices SET site = ?2, desk = ?3, name = ?4, token_hash = ?5, next_token_hash = NULL, enrolled_at = ?6,
                                revoked_at = NULL, last_seen_at = NULL, pending = NULL, enroll_key_hash = ?7 WHERE id = ?1",
                        params![device_id, code.site, code.desk, name, token_hash, now, key_hash],
                    )?;
                }
            }
            tx.execute("UPDATE enrollment_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1", params![code_hash, now, device_id])?;
            Ok(Ok((code.site, code.desk)))
        })
    }

    /// The live (not revoked) device a token belongs to. The first use of
    /// a rotated token retires the one before it.
    fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>> {
        let found = self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT id, site, desk, name, enrolled_at, revoked_at, last_seen_at, pending, next_token_hash = ?1 FROM devices
                 WHERE (token_hash = ?1 OR next_token_hash = ?1) AND revoked_at IS NULL",
            )?
            .query_row([token_hash], |r| Ok((device_row(r)?, r.get::<_, Option<bool>>(8)?.unwrap_or(false))))
            .optional()?)
        })?;
        if let Some((d, true)) = &found {
            self.write(|tx| {
                tx.execute("UPDATE devices SET token_hash = next_token_hash, next_token_hash = NULL WHERE id = ?1 AND next_token_hash = ?2", params![d.id, token_hash])?;
                Ok(())
            })?;
        }
        Ok(found.map(|(d, _)| d))
    }

    fn offer_token(&self, device: &str, next_hash: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE devices SET next_token_hash = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![device, next_hash])?;
            Ok(())
        })
    }

    fn touch_device(&self, id: &str, pending: Option<i64>) -> Result<()> {
        self.write(|tx| heard_from(tx, id, &now_text(), pending))
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT id, site, desk, name, enrolled_at, revoked_at, last_seen_at, pending FROM devices ORDER BY site, desk, enrolled_at")?;
            let rows = st.query_map([], device_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Revoke a device; `false` if there is no such device.
    fn revoke_device(&self, id: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1", params![id, now_text()])? > 0))
    }

    // ---- events ----------------------------------------------------------------

    /// Take a batch from a device: one result per event, all written in one
    /// transaction, which other desks' pushes arriving meanwhile may share.
    fn ingest_at(&self, device: &Device, events: &[Incoming], now: &str) -> Result<Vec<EventResult>> {
        self.file_push(device, events, None, now)
    }

    fn push_at(&self, device: &Device, events: &[Incoming], pending: Option<i64>, now: &str) -> Result<Vec<EventResult>> {
        let results = self.file_push(device, events, Some(pending), now);
        if results.is_err() {
            // Heard from even when the batch failed.
            let _ = self.touch_device(&device.id, pending);
        }
        results
    }

    fn pushes_queued(&self) -> (usize, bool) {
        self.pushes.queue()
    }

    /// A page of changes for a device of `site`, after `since`.
    fn changes(&self, site: &str, device: &str, since: i64, limit: u32) -> Result<ChangesPage> {
        self.read(|c| {
            let mut st = c.prepare_cached(super::CHANGES_SQLITE)?;
            let mut rows = st
                .query_map(params![since, site, device, limit], |r| {
                    Ok(super::FeedRow { seq: r.get(0)?, kind: r.get(1)?, body: r.get(2)?, stream: r.get(3)?, event: r.get(4)?, device: r.get(5)? })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // Rows of a group committed and not yet flushed are not handed
            // out (ADR 0038): a desk must never hold a feed position that a
            // power cut could make the hub give to other rows. Read after
            // the rows: a group's mark is taken before its commit and
            // dropped only after its flush, so every such row read is
            // still marked now.
            if let Some(from) = self.pushes.unflushed_from() {
                rows.truncate(rows.partition_point(|r| r.seq < from));
            }
            super::changes_page(rows, since, device, limit)
        })
    }

    fn event_count(&self) -> Result<u64> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))? as u64))
    }

    /// How many events the hub holds per id (tests check exactly-once).
    fn event_ids(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT id FROM events ORDER BY seq")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    fn possible_duplicates(&self) -> Result<Vec<PossibleDuplicate>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT d.a, d.b, d.reason, d.found_at, d.status, d.resolved_by, d.resolved_at, p.site FROM possible_duplicates d LEFT JOIN persons p ON p.id = d.a ORDER BY d.found_at")?;
            let rows = st.query_map([], |r| {
                Ok(PossibleDuplicate { a: r.get(0)?, b: r.get(1)?, reason: r.get(2)?, found_at: r.get(3)?, status: r.get(4)?, resolved_by: r.get(5)?, resolved_at: r.get(6)?, site: r.get(7)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The person id a (possibly merged) person id now stands for.
    fn canonical_person(&self, id: &str) -> Result<Option<String>> {
        self.read(|c| Ok(canonical(c, id)?))
    }

    fn person_events(&self, id: &str) -> Result<Option<super::PersonEvents>> {
        self.read(|c| {
            let site: Option<String> = c.query_row("SELECT site FROM persons WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            let Some(site) = site else { return Ok(None) };
            let mut st = c.prepare_cached(
                "SELECT stream, body FROM events
                 WHERE person_id = ?1 OR person_id IN (SELECT id FROM persons WHERE merged_into = ?1)
                 ORDER BY seq",
            )?;
            let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some((site, rows)))
        })
    }

    fn in_tx(&self, f: &mut dyn FnMut(&mut dyn IngestTx) -> Result<()>) -> Result<()> {
        self.write(|tx| f(&mut SqliteTx(tx)))
    }

    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT at, coordinator, action, site, subject, detail FROM audit_log ORDER BY id DESC LIMIT ?1")?;
            let rows = st.query_map([limit], |r| {
                Ok(AuditEntry { at: r.get(0)?, coordinator: r.get(1)?, action: r.get(2)?, site: r.get(3)?, subject: r.get(4)?, detail: r.get(5)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn audit_about(&self, site: &str, subject: &str) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT at, coordinator, action, site, subject, detail FROM audit_log WHERE site = ?1 AND subject = ?2 ORDER BY id")?;
            let rows = st.query_map(params![site, subject], |r| {
                Ok(AuditEntry { at: r.get(0)?, coordinator: r.get(1)?, action: r.get(2)?, site: r.get(3)?, subject: r.get(4)?, detail: r.get(5)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn recent_dose_events(&self, site: &str, since: &str) -> Result<Vec<ReceivedEvent>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT e.device, e.body, e.received_at, coalesce(p.merged_into, e.person_id) FROM events e LEFT JOIN persons p ON p.id = e.person_id
                 WHERE e.site = ?1 AND e.stream = 'dose' AND e.received_at >= ?2 ORDER BY e.seq",
            )?;
            let rows = st.query_map(params![site, since], |r| Ok(ReceivedEvent { device: r.get(0)?, body: r.get(1)?, received_at: r.get(2)?, person: r.get(3)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn rejections(&self, site: &str, since: &str) -> Result<Vec<Rejection>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT event_id, device, code, message, received_at FROM rejections WHERE site = ?1 AND received_at >= ?2 ORDER BY id DESC LIMIT 200",
            )?;
            let rows = st.query_map(params![site, since], |r| {
                Ok(Rejection { event_id: r.get(0)?, device: r.get(1)?, code: r.get(2)?, message: r.get(3)?, received_at: r.get(4)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn find_persons(&self, name_key: &str, national_id: &str, limit: u32) -> Result<Vec<PersonRef>> {
        self.read(|c| {
            // `name_key` is folded (lower-case ASCII, spaces): a prefix range
            // uses the index where LIKE would not.
            let upper = format!("{name_key}\u{10ffff}");
            let mut st = c.prepare_cached(
                "SELECT id, site, merged_into FROM persons
                 WHERE (?1 <> '' AND name_key >= ?1 AND name_key < ?2) OR (?3 <> '' AND national_id = ?3)
                 ORDER BY name_key, id LIMIT ?4",
            )?;
            let rows = st.query_map(params![name_key, upper, national_id, limit], |r| Ok(PersonRef { id: r.get(0)?, site: r.get(1)?, merged_into: r.get(2)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn person_ref(&self, id: &str) -> Result<Option<PersonRef>> {
        self.read(|c| {
            Ok(c.query_row("SELECT id, site, merged_into FROM persons WHERE id = ?1", [id], |r| Ok(PersonRef { id: r.get(0)?, site: r.get(1)?, merged_into: r.get(2)? }))
                .optional()?)
        })
    }

    fn registration_days(&self, site: &str, limit: u32) -> Result<Vec<(String, i64)>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT appointment, count(*) FROM registrations WHERE site = ?1 GROUP BY appointment ORDER BY appointment DESC LIMIT ?2")?;
            let rows = st.query_map(params![site, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn day_records(&self, site: &str, day: &str) -> Result<Vec<DayRow>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT d.record, d.desk, coalesce(p.merged_into, d.person_id), d.hour, d.vaccine, d.dose_number, d.outcome, d.voided, d.saved_day, d.saved_hour, d.lag_s
                 FROM day_records d LEFT JOIN persons p INDEXED BY persons_merged ON p.id = d.person_id AND p.merged_into IS NOT NULL
                 WHERE d.site = ?1 AND d.day = ?2 AND d.elsewhere = 0",
            )?;
            let rows = st.query_map(params![site, day], |r| {
                Ok(DayRow {
                    site: site.to_string(),
                    record: r.get(0)?,
                    desk: r.get(1)?,
                    person: r.get(2)?,
                    dose: DayDose {
                        day: day.to_string(),
                        hour: r.get(3)?,
                        vaccine: r.get(4)?,
                        dose_number: r.get(5)?,
                        outcome: outcome_of(&r.get::<_, String>(6)?),
                        elsewhere: false,
                    },
                    voided: r.get(7)?,
                    saved_day: r.get(8)?,
                    saved_hour: r.get(9)?,
                    lag_s: r.get(10)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn day_totals(&self, sites: &[String], day: &str) -> Result<Vec<(String, DayCounts)>> {
        self.read(|c| {
            // A site at a time from its own key range, on one connection
            // with one prepared statement: counting all the sites in one
            // grouped statement sorted their ~70,000 rows of a busy day
            // together and was slower (136 against 108 ms for 29 sites at
            // 10M events; ADR 0029). One pass over a site's rows (a CTE read
            // by several subqueries is computed again for each).
            let mut st = c.prepare_cached(
                "WITH listed AS (
                     SELECT DISTINCT coalesce(p.merged_into, r.person_id) AS who
                     FROM registration_days r LEFT JOIN persons p ON p.id = r.person_id WHERE r.site = ?1 AND r.appointment = ?2)
                 SELECT count(*) FILTER (WHERE d.outcome = 'vaccinated'), count(*) FILTER (WHERE d.outcome = 'deferred'),
                        count(*) FILTER (WHERE d.outcome = 'refused'), (SELECT count(*) FROM listed),
                        count(DISTINCT coalesce(p.merged_into, d.person_id)),
                        count(DISTINCT coalesce(p.merged_into, d.person_id)) FILTER (WHERE coalesce(p.merged_into, d.person_id) IN (SELECT who FROM listed))
                 FROM day_records d LEFT JOIN persons p INDEXED BY persons_merged ON p.id = d.person_id AND p.merged_into IS NOT NULL
                 WHERE d.site = ?1 AND d.day = ?2 AND d.elsewhere = 0 AND d.voided = 0",
            )?;
            let mut out = Vec::with_capacity(sites.len());
            for site in sites {
                let counts = st.query_row(params![site, day], |r| {
                    Ok(DayCounts { given: r.get(0)?, deferred: r.get(1)?, refused: r.get(2)?, registered: r.get(3)?, came: r.get(4)?, served: r.get(5)? })
                })?;
                out.push((site.clone(), counts));
            }
            Ok(out)
        })
    }

    fn registered_persons(&self, site: &str, day: &str) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT DISTINCT coalesce(p.merged_into, r.person_id) FROM registration_days r LEFT JOIN persons p ON p.id = r.person_id WHERE r.site = ?1 AND r.appointment = ?2",
            )?;
            let rows = st.query_map(params![site, day], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn record_certificate(&self, site: &str, person: &str, dose_number: u32, device: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO certificates_issued (site, person_id, dose_number, device, issued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![site, person, dose_number, device, now_text()],
            )?;
            Ok(())
        })
    }

    fn certificates_issued(&self, sites: &[String], from: &str, to: &str) -> Result<Vec<(String, i64, i64)>> {
        let sites = json_list(sites);
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT c.site, count(DISTINCT coalesce(p.merged_into, c.person_id) || ':' || c.dose_number), count(DISTINCT coalesce(p.merged_into, c.person_id))
                 FROM certificates_issued c LEFT JOIN persons p ON p.id = c.person_id
                 WHERE c.site IN (SELECT value FROM json_each(?1)) AND c.issued_at >= ?2 AND c.issued_at < ?3
                 GROUP BY c.site",
            )?;
            let rows = st.query_map(params![sites, from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn registration_uploads(&self, site: &str, limit: u32) -> Result<Vec<UploadSummary>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT id, site, file_name, uploaded_by, uploaded_at, row_count, added, updated, unchanged, refused FROM registration_uploads WHERE site = ?1 ORDER BY id DESC LIMIT ?2")?;
            let rows = st.query_map(params![site, limit], upload_summary)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn registration_upload(&self, id: i64) -> Result<Option<(UploadSummary, String)>> {
        self.read(|c| {
            Ok(c.query_row("SELECT id, site, file_name, uploaded_by, uploaded_at, row_count, added, updated, unchanged, refused, refusals FROM registration_uploads WHERE id = ?1", [id], |r| Ok((upload_summary(r)?, r.get(10)?))).optional()?)
        })
    }

    fn registered_on(&self, site: &str, day: &str, limit: u32) -> Result<Vec<(String, Option<String>)>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT r.person_id, (SELECT e.body FROM events e WHERE e.person_id = r.person_id AND e.stream = 'person' ORDER BY e.seq DESC LIMIT 1)
                 FROM registrations r WHERE r.site = ?1 AND r.appointment = ?2 ORDER BY r.person_id LIMIT ?3",
            )?;
            let rows = st.query_map(params![site, day, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn for_each_site_event(&self, site: &str, f: &mut dyn FnMut(&str, &str, &str) -> Result<()>) -> Result<()> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT coalesce(p.merged_into, e.person_id) AS who, e.stream, e.body FROM events e LEFT JOIN persons p ON p.id = e.person_id
                 WHERE e.site = ?1 ORDER BY who, e.seq",
            )?;
            let mut rows = st.query([site])?;
            while let Some(r) = rows.next()? {
                f(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?, &r.get::<_, String>(2)?)?;
            }
            Ok(())
        })
    }
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: r.get(0)?,
        site: r.get(1)?,
        desk: r.get(2)?,
        name: r.get(3)?,
        enrolled_at: r.get(4)?,
        revoked_at: r.get(5)?,
        last_seen_at: r.get(6)?,
        pending: r.get(7)?,
    })
}

fn feed(tx: &Transaction<'_>, site: Option<&str>, device: Option<&str>, kind: &str, event_seq: Option<i64>, body: Option<&str>) -> Result<()> {
    tx.prepare_cached("INSERT INTO feed (site, device, kind, event_seq, body) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![site, device, kind, event_seq, body])?;
    Ok(())
}


/// The primitives `crate::ingest` needs, on a SQLite transaction.
pub(crate) struct SqliteTx<'a>(pub &'a Transaction<'a>);

impl IngestTx for SqliteTx<'_> {
    fn event_hash(&mut self, id: &str) -> Result<Option<String>> {
        Ok(self.0.prepare_cached("SELECT content_hash FROM events WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?)
    }

    fn person_at_site(&mut self, id: &str, site: &str) -> Result<bool> {
        Ok(self.0.prepare_cached("SELECT count(*) > 0 FROM persons WHERE id = ?1 AND site = ?2")?.query_row(params![id, site], |r| r.get(0))?)
    }

    fn dose_event_at_site(&mut self, id: &str, site: &str) -> Result<bool> {
        Ok(self.0.prepare_cached("SELECT count(*) > 0 FROM events WHERE id = ?1 AND stream = 'dose' AND site = ?2")?.query_row(params![id, site], |r| r.get(0))?)
    }

    fn insert_event(&mut self, e: &ingest::NewEvent<'_>) -> Result<i64> {
        self.0
            .prepare_cached("INSERT INTO events (id, stream, site, device, person_id, content_hash, body, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
            .execute(params![e.id, e.stream, e.site, e.device, e.person_id, e.content_hash, e.body, e.now])?;
        Ok(self.0.last_insert_rowid())
    }

    fn feed(&mut self, site: Option<&str>, device: Option<&str>, kind: &str, event_seq: Option<i64>, body: Option<&str>) -> Result<()> {
        feed(self.0, site, device, kind, event_seq, body)
    }

    fn reject(&mut self, event_id: &str, device: &str, site: &str, code: &str, message: &str, now: &str) -> Result<()> {
        self.0
            .prepare_cached("INSERT INTO rejections (event_id, device, site, code, message, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![event_id, device, site, code, message, now])?;
        Ok(())
    }

    fn upsert_person(&mut self, id: &str, site: &str, national_id: Option<&str>, name_key: &str, birth: &str) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO persons (id, site, national_id, name_key, birth_date) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET national_id = excluded.national_id, name_key = excluded.name_key, birth_date = excluded.birth_date",
            )?
            .execute(params![id, site, national_id, name_key, birth])?;
        Ok(())
    }

    fn same_national_id(&mut self, national_id: &str, site: &str, except: &str) -> Result<Vec<String>> {
        let mut st = self.0.prepare_cached("SELECT id FROM persons WHERE national_id = ?1 AND site = ?2 AND merged_into IS NULL AND id <> ?3")?;
        let rows = st.query_map(params![national_id, site, except], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn merge(&mut self, from: &str, into: &str) -> Result<()> {
        self.0.execute("UPDATE persons SET merged_into = ?2 WHERE id = ?1 OR merged_into = ?1", params![from, into])?;
        Ok(())
    }

    fn alike(&mut self, name_key: &str, birth: &str, site: &str, except: &str) -> Result<Vec<(String, Option<String>)>> {
        let mut st = self.0.prepare_cached(
            "SELECT id, national_id FROM persons WHERE name_key = ?1 AND birth_date = ?2 AND site = ?3 AND id <> ?4 AND merged_into IS NULL LIMIT 5",
        )?;
        let rows = st.query_map(params![name_key, birth, site, except], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn add_duplicate(&mut self, a: &str, b: &str, reason: &str, now: &str) -> Result<()> {
        self.0.prepare_cached("INSERT OR IGNORE INTO possible_duplicates (a, b, reason, found_at) VALUES (?1, ?2, ?3, ?4)")?.execute(params![a, b, reason, now])?;
        Ok(())
    }

    fn resolve_duplicate(&mut self, a: &str, b: &str, status: &str, by: &str, now: &str) -> Result<bool> {
        let n = self.0.execute(
            "UPDATE possible_duplicates SET status = ?3, resolved_by = ?4, resolved_at = ?5 WHERE a = ?1 AND b = ?2 AND status = 'open'",
            params![a, b, status, by, now],
        )?;
        Ok(n > 0)
    }

    fn person(&mut self, id: &str) -> Result<Option<(String, Option<String>)>> {
        Ok(self.0.query_row("SELECT site, merged_into FROM persons WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    fn dose_event(&mut self, id: &str) -> Result<Option<(String, String)>> {
        Ok(self.0.query_row("SELECT site, body FROM events WHERE id = ?1 AND stream = 'dose'", [id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    fn audit(&mut self, e: &AuditEntry) -> Result<()> {
        self.0.execute(
            "INSERT INTO audit_log (at, coordinator, action, site, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.at, e.coordinator, e.action, e.site, e.subject, e.detail],
        )?;
        Ok(())
    }

    fn latest_person_body(&mut self, id: &str) -> Result<Option<String>> {
        Ok(self.0.prepare_cached("SELECT body FROM events WHERE person_id = ?1 AND stream = 'person' ORDER BY seq DESC LIMIT 1")?.query_row([id], |r| r.get(0)).optional()?)
    }

    fn registration_key(&mut self, site: &str, person_id: &str) -> Result<Option<String>> {
        Ok(self.0.prepare_cached("SELECT match_key FROM registrations WHERE site = ?1 AND person_id = ?2")?.query_row(params![site, person_id], |r| r.get(0)).optional()?)
    }

    fn registered(&mut self, site: &str, match_key: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .0
            .prepare_cached("SELECT person_id, appointment FROM registrations WHERE site = ?1 AND match_key = ?2")?
            .query_row(params![site, match_key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn put_registration(&mut self, r: &RegistrationRow<'_>) -> Result<()> {
        self.0.prepare_cached("DELETE FROM registrations WHERE site = ?1 AND match_key = ?2 AND person_id <> ?3")?.execute(params![r.site, r.match_key, r.person_id])?;
        self.0
            .prepare_cached(
                "INSERT INTO registrations (site, person_id, match_key, appointment, upload_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (site, person_id) DO UPDATE SET match_key = excluded.match_key, appointment = excluded.appointment,
                     upload_id = excluded.upload_id, updated_at = excluded.updated_at",
            )?
            .execute(params![r.site, r.person_id, r.match_key, r.appointment, r.upload, r.now])?;
        Ok(())
    }

    fn dose_events_after(&mut self, seq: i64, limit: u32) -> Result<Vec<StoredDoseEvent>> {
        let mut st = self.0.prepare_cached("SELECT seq, site, body, received_at FROM events WHERE seq > ?1 AND stream = 'dose' ORDER BY seq LIMIT ?2")?;
        let rows = st.query_map(params![seq, limit], |r| Ok(StoredDoseEvent { seq: r.get(0)?, site: r.get(1)?, body: r.get(2)?, received_at: r.get(3)? }))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn apply_day_changes(&mut self, changes: &[DayChange]) -> Result<()> {
        for c in changes {
            match c {
                DayChange::Record(r) => {
                    let d = &r.dose;
                    self.0
                        .prepare_cached(
                            "INSERT OR IGNORE INTO day_records (site, day, record, hour, desk, person_id, vaccine, dose_number, outcome, elsewhere, voided, saved_day, saved_hour, lag_s)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                        )?
                        .execute(params![
                            r.site, d.day, r.record, d.hour, r.desk, r.person, d.vaccine, d.dose_number, d.outcome.as_str(), d.elsewhere, r.voided, r.saved_day, r.saved_hour, r.lag_s
                        ])?;
                }
                // A voided record stays voided: derive_history drops an amend
                // that comes after the void.
                DayChange::Amend { record, dose: d } => {
                    self.0
                        .prepare_cached(
                            "UPDATE day_records SET day = ?2, hour = ?3, vaccine = ?4, dose_number = ?5, outcome = ?6, elsewhere = ?7 WHERE record = ?1 AND voided = 0",
                        )?
                        .execute(params![record, d.day, d.hour, d.vaccine, d.dose_number, d.outcome.as_str(), d.elsewhere])?;
                }
                DayChange::Void { record } => {
                    self.0.prepare_cached("UPDATE day_records SET voided = 1 WHERE record = ?1")?.execute([record])?;
                }
            }
        }
        Ok(())
    }

    fn begin_upload(&mut self, site: &str, file_name: Option<&str>, by: &str, now: &str) -> Result<i64> {
        self.0.execute(
            "INSERT INTO registration_uploads (site, file_name, uploaded_by, uploaded_at, row_count, added, updated, unchanged, refused, refusals)
             VALUES (?1, ?2, ?3, ?4, 0, 0, 0, 0, 0, '[]')",
            params![site, file_name, by, now],
        )?;
        Ok(self.0.last_insert_rowid())
    }

    fn finish_upload(&mut self, id: i64, t: &Tally, refusals: &str) -> Result<()> {
        self.0.execute(
            "UPDATE registration_uploads SET row_count = ?2, added = ?3, updated = ?4, unchanged = ?5, refused = ?6, refusals = ?7 WHERE id = ?1",
            params![id, t.rows as i64, t.added as i64, t.updated as i64, t.unchanged as i64, t.refused as i64, refusals],
        )?;
        Ok(())
    }
}

fn upload_summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadSummary> {
    Ok(UploadSummary {
        id: r.get(0)?,
        site: r.get(1)?,
        file_name: r.get(2)?,
        uploaded_by: r.get(3)?,
        uploaded_at: r.get(4)?,
        rows: r.get(5)?,
        added: r.get(6)?,
        updated: r.get(7)?,
        unchanged: r.get(8)?,
        refused: r.get(9)?,
    })
}

/// Follow merges to the person an id now stands for.
fn canonical(c: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    let row: Option<Option<String>> = c.query_row("SELECT merged_into FROM persons WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    Ok(row.map(|m| m.unwrap_or_else(|| id.to_string())))
}

/// A list of texts as a JSON array, for `json_each` (a statement reads any
/// number of sites with one cached plan).
fn json_list(items: &[String]) -> String {
    serde_json::Value::Array(items.iter().cloned().map(serde_json::Value::String).collect()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_stops_below_the_rows_of_a_group_not_yet_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let hub = SqliteHub::open(&dir.path().join("hub.db")).unwrap();
        let base = vaxdesk_core::catalog::Catalog::builtin();
        for version in 1..=3 {
            hub.publish_catalog(&vaxdesk_core::catalog::Catalog { version: base.version + version, ..base.clone() }).unwrap();
        }
        let page = |since| hub.changes("S1", "phone-1", since, 100).unwrap();
        let all = page(0);
        assert_eq!(all.changes.len(), 3);
        let last: i64 = all.cursor.parse().unwrap();
        // The third row is a group's that is still being flushed.
        hub.pushes.hold_from(last);
        let held = page(0);
        assert_eq!(held.changes.len(), 2, "a desk is not handed a row the power could still take back");
        assert_eq!(held.cursor, (last - 1).to_string());
        assert!(page(last - 1).changes.is_empty());
        hub.pushes.release_from(last);
        assert_eq!(page(last - 1).changes.len(), 1, "handed out once flushed");
    }
}
