//! The hub's database on SQLite: one write connection (every change is one
//! transaction), a pool of readers, numbered migrations by `user_version`.
//! Calls are blocking; handlers run them on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{Desk, Site};
use vaxdesk_core::sync::protocol::{Change, ChangesPage, EventResult, WireEvent};

use crate::ingest::{self, Incoming};

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/sqlite/0001_hub.sql"))];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("hub database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("hub database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("hub database {path} has schema {found}, newer than this hub ({supported})")]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("stored {what} cannot be read: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coordinator {
    pub id: i64,
    pub username: String,
    pub all_sites: bool,
    pub sites: Vec<String>,
}

impl Coordinator {
    pub fn may_see(&self, site: &str) -> bool {
        self.all_sites || self.sites.iter().any(|s| s == site)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub site: String,
    pub desk: String,
    pub name: Option<String>,
    pub enrolled_at: String,
    pub revoked_at: Option<String>,
    pub last_seen_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PossibleDuplicate {
    pub a: String,
    pub b: String,
    pub reason: String,
    pub found_at: String,
    pub status: String,
}

/// Why an enrollment code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollRefusal {
    Unknown,
    Expired,
    Used,
    DeviceTaken,
}

#[derive(Debug)]
pub struct HubDb {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl HubDb {
    pub fn open(path: &Path) -> Result<HubDb> {
        let mut writer = Connection::open(path)?;
        writer.busy_timeout(std::time::Duration::from_secs(10))?;
        let found: i64 = writer.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        if found > latest {
            return Err(DbError::NewerSchema { path: path.to_path_buf(), found, supported: latest });
        }
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "foreign_keys", "ON")?;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
            let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
        }
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c.pragma_update(None, "query_only", "ON")
            });
        let readers = r2d2::Pool::builder().max_size(8).build(manager)?;
        let db = HubDb { path: path.to_path_buf(), writer: Mutex::new(writer), readers };
        if db.current_catalog()?.is_none() {
            db.publish_catalog(&Catalog::builtin())?;
        }
        Ok(db)
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

    // ---- coordinators ------------------------------------------------------

    pub fn create_coordinator(&self, username: &str, password_hash: &str, all_sites: bool, sites: &[String]) -> Result<i64> {
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

    pub fn password_hash(&self, username: &str) -> Result<Option<(i64, String)>> {
        self.read(|c| {
            Ok(c.query_row("SELECT id, password_hash FROM coordinators WHERE username = ?1", [username], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    pub fn create_session(&self, token_hash: &str, coordinator: i64, expires_at: &str) -> Result<()> {
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
    pub fn session(&self, token_hash: &str) -> Result<Option<Coordinator>> {
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

    // ---- sites, desks, catalog ----------------------------------------------

    pub fn upsert_site(&self, s: &Site) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sites (code, name, province_code) VALUES (?1, ?2, ?3)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, province_code = excluded.province_code",
                params![s.code, s.name, s.province_code],
            )?;
            feed(tx, Some(&s.code), None, "site", None, Some(&json(s)))
        })
    }

    pub fn sites(&self) -> Result<Vec<Site>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT code, name, province_code FROM sites ORDER BY code")?;
            let rows = st.query_map([], |r| Ok(Site { code: r.get(0)?, name: r.get(1)?, province_code: r.get(2)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn site(&self, code: &str) -> Result<Option<Site>> {
        Ok(self.sites()?.into_iter().find(|s| s.code == code))
    }

    pub fn upsert_desk(&self, d: &Desk) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO desks (site, code, name) VALUES (?1, ?2, ?3)
                 ON CONFLICT (site, code) DO UPDATE SET name = excluded.name",
                params![d.site, d.code, d.name],
            )?;
            feed(tx, Some(&d.site), None, "desk", None, Some(&json(d)))
        })
    }

    pub fn desks(&self, site: &str) -> Result<Vec<Desk>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT site, code, name FROM desks WHERE site = ?1 ORDER BY code")?;
            let rows = st.query_map([site], |r| Ok(Desk { site: r.get(0)?, code: r.get(1)?, name: r.get(2)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn current_catalog(&self) -> Result<Option<Catalog>> {
        let body: Option<String> = {
            let c = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            c.query_row("SELECT body FROM catalogs ORDER BY version DESC LIMIT 1", [], |r| r.get(0)).optional()?
        };
        body.map(|b| serde_json::from_str(&b).map_err(|e| DbError::Corrupt { what: "catalog", detail: e.to_string() })).transpose()
    }

    /// Publish a catalog (the caller checked it is newer and consistent).
    pub fn publish_catalog(&self, c: &Catalog) -> Result<()> {
        self.write(|tx| {
            tx.execute("INSERT INTO catalogs (version, body, published_at) VALUES (?1, ?2, ?3)", params![c.version, json(c), now_text()])?;
            feed(tx, None, None, "catalog", None, Some(&json(c)))
        })
    }

    // ---- enrollment and devices ----------------------------------------------

    pub fn create_enrollment_code(&self, code_hash: &str, site: &str, desk: &str, by: i64, expires_at: &str) -> Result<()> {
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
    pub fn enroll(&self, code_hash: &str, device_id: &str, name: Option<&str>, token_hash: &str) -> Result<std::result::Result<(String, String), EnrollRefusal>> {
        self.write(|tx| {
            let row: Option<(String, String, String, Option<String>)> = tx
                .query_row(
                    "SELECT site, desk, expires_at, used_at FROM enrollment_codes WHERE code_hash = ?1",
                    [code_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((site, desk, expires_at, used_at)) = row else { return Ok(Err(EnrollRefusal::Unknown)) };
            if used_at.is_some() {
                return Ok(Err(EnrollRefusal::Used));
            }
            let now = now_text();
            if expires_at < now {
                return Ok(Err(EnrollRefusal::Expired));
            }
            let taken: bool = tx.query_row("SELECT count(*) > 0 FROM devices WHERE id = ?1", [device_id], |r| r.get(0))?;
            if taken {
                return Ok(Err(EnrollRefusal::DeviceTaken));
            }
            tx.execute(
                "INSERT INTO devices (id, site, desk, name, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![device_id, site, desk, name, token_hash, now],
            )?;
            tx.execute("UPDATE enrollment_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1", params![code_hash, now, device_id])?;
            Ok(Ok((site, desk)))
        })
    }

    /// The live (not revoked) device a token belongs to.
    pub fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT id, site, desk, name, enrolled_at, revoked_at, last_seen_at FROM devices
                 WHERE token_hash = ?1 AND revoked_at IS NULL",
            )?
            .query_row([token_hash], device_row)
            .optional()?)
        })
    }

    pub fn touch_device(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1", params![id, now_text()])?;
            Ok(())
        })
    }

    pub fn devices(&self) -> Result<Vec<Device>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT id, site, desk, name, enrolled_at, revoked_at, last_seen_at FROM devices ORDER BY site, desk, enrolled_at")?;
            let rows = st.query_map([], device_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Revoke a device; `false` if there is no such device.
    pub fn revoke_device(&self, id: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1", params![id, now_text()])? > 0))
    }

    // ---- events ----------------------------------------------------------------

    /// Take a batch from a device: one result per event, all written in one
    /// transaction.
    pub fn ingest(&self, device: &Device, events: &[Incoming]) -> Result<Vec<EventResult>> {
        let catalog = self.current_catalog()?.unwrap_or_else(Catalog::builtin);
        self.write(|tx| ingest::ingest(tx, device, &catalog, events))
    }

    /// A page of changes for a device of `site`, after `since`.
    pub fn changes(&self, site: &str, device: &str, since: i64, limit: u32) -> Result<ChangesPage> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT f.seq, f.kind, f.body, e.stream, e.body FROM feed f LEFT JOIN events e ON e.seq = f.event_seq
                 WHERE f.seq > ?1 AND (f.site IS NULL OR f.site = ?2) AND (f.device IS NULL OR f.device <> ?3)
                 ORDER BY f.seq LIMIT ?4",
            )?;
            let rows = st
                .query_map(params![since, site, device, limit], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, Option<String>>(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = rows.len() as u32 >= limit;
            let mut cursor = since;
            let mut changes = Vec::with_capacity(rows.len());
            for (seq, kind, body, stream, event) in rows {
                cursor = seq;
                changes.push(change_of(&kind, body.as_deref(), stream.as_deref(), event.as_deref())?);
            }
            // An empty page keeps the cursor; a desk with nothing new asks again later.
            Ok(ChangesPage { changes, cursor: cursor.to_string(), more })
        })
    }

    pub fn event_count(&self) -> Result<u64> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))? as u64))
    }

    /// How many events the hub holds per id (tests check exactly-once).
    pub fn event_ids(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT id FROM events ORDER BY seq")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    pub fn possible_duplicates(&self) -> Result<Vec<PossibleDuplicate>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT a, b, reason, found_at, status FROM possible_duplicates ORDER BY found_at")?;
            let rows = st.query_map([], |r| Ok(PossibleDuplicate { a: r.get(0)?, b: r.get(1)?, reason: r.get(2)?, found_at: r.get(3)?, status: r.get(4)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The person id a (possibly merged) person id now stands for.
    pub fn canonical_person(&self, id: &str) -> Result<Option<String>> {
        self.read(|c| Ok(ingest::canonical(c, id)?))
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
    })
}

pub(crate) fn feed(tx: &Transaction<'_>, site: Option<&str>, device: Option<&str>, kind: &str, event_seq: Option<i64>, body: Option<&str>) -> Result<()> {
    tx.prepare_cached("INSERT INTO feed (site, device, kind, event_seq, body) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![site, device, kind, event_seq, body])?;
    Ok(())
}

fn change_of(kind: &str, body: Option<&str>, stream: Option<&str>, event: Option<&str>) -> Result<Change> {
    let bad = |e: serde_json::Error| DbError::Corrupt { what: "feed", detail: e.to_string() };
    let body = body.unwrap_or("null");
    Ok(match kind {
        "catalog" => Change::Catalog { catalog: serde_json::from_str(body).map_err(bad)? },
        "site" => Change::Site { site: serde_json::from_str(body).map_err(bad)? },
        "desk" => Change::Desk { desk: serde_json::from_str(body).map_err(bad)? },
        "merge" => {
            let m: ingest::Merge = serde_json::from_str(body).map_err(bad)?;
            Change::PersonMerge { from: m.from, into: m.into }
        }
        "event" => {
            let event = event.unwrap_or("null");
            match stream {
                Some("person") => Change::Event { event: WireEvent::Person(serde_json::from_str(event).map_err(bad)?) },
                _ => Change::Event { event: WireEvent::Dose(serde_json::from_str(event).map_err(bad)?) },
            }
        }
        other => return Err(DbError::Corrupt { what: "feed", detail: format!("unknown kind {other}") }),
    })
}
