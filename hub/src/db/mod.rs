//! The hub's database: the same operations on SQLite (one file, nothing to
//! set up) or PostgreSQL (a province or the nation; several hub processes
//! may share one database). The event-acceptance rules live once, in
//! `crate::ingest`, over a small per-backend transaction interface.

mod group_commit;
mod postgres_hub;
mod sqlite;

use std::path::Path;

use serde::{Deserialize, Serialize};
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{Site, SiteDesk};
use vaxdesk_core::sync::protocol::{Change, ChangesPage, EventResult, WireEvent};

use crate::ingest::{self, Incoming, IngestTx};

pub use postgres_hub::PgHub;
pub use sqlite::SqliteHub;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("hub database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("hub database: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("hub database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("hub database {path} has schema {found}, newer than this hub ({supported})")]
    NewerSchema { path: String, found: i64, supported: i64 },
    #[error("stored {what} cannot be read: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// A change was refused part-way and rolled back (the reason travels
    /// separately, see `crate::actions`).
    #[error("change abandoned")]
    Abandoned,
    #[error("hub database {path}: {detail}")]
    Io { path: String, detail: String },
    /// Filing this push stopped on an internal error (a panic, caught so
    /// that the pushes filed with it are not lost): nothing of it was kept.
    #[error("hub database: filing this push stopped on an internal error; nothing of it was kept")]
    Interrupted,
    /// The commit this push shared with others (SQLite, ADR 0036) could not
    /// begin or finish: nothing of it was kept.
    #[error("{0} (a commit shared with other pushes; nothing of this push was kept)")]
    SharedCommit(String),
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
    /// Events the desk still held after its last push, as it reported.
    #[serde(default)]
    pub pending: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PossibleDuplicate {
    pub a: String,
    pub b: String,
    pub reason: String,
    pub found_at: String,
    pub status: String,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<String>,
    /// The site of the persons (a pair is raised within one site).
    #[serde(default)]
    pub site: Option<String>,
}

/// One change a coordinator made. `subject` is an id, never a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub coordinator: String,
    pub action: String,
    pub site: Option<String>,
    pub subject: String,
    pub detail: String,
}

/// A dose event as the hub received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    pub device: String,
    pub body: String,
    pub received_at: String,
    /// The person the event is about now (merges followed).
    pub person: String,
}

/// An event the hub refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub event_id: String,
    pub device: String,
    pub code: String,
    pub message: String,
    pub received_at: String,
}

/// A person the hub knows: id, site, and the id they were merged into.
/// One upload of a registration list, as the coordinator's page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadSummary {
    pub id: i64,
    pub site: String,
    pub file_name: Option<String>,
    pub uploaded_by: String,
    pub uploaded_at: String,
    pub rows: i64,
    pub added: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub refused: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRef {
    pub id: String,
    pub site: String,
    pub merged_into: Option<String>,
}

/// Why an enrollment code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollRefusal {
    Unknown,
    Expired,
    Used,
    DeviceTaken,
}

/// An enrollment code as stored, for [`enroll_step`].
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub site: String,
    pub desk: String,
    pub expires_at: String,
    pub used_at: Option<String>,
    /// The device that used it.
    pub used_by: Option<String>,
}

/// The device a request names, if the hub has it, for [`enroll_step`].
#[derive(Debug, Clone)]
pub struct EnrolledDevice {
    pub site: String,
    pub desk: String,
    pub revoked: bool,
    /// The device has used its token (pushed or pulled) at least once.
    pub seen: bool,
    /// The enrollment key its desk sent when it enrolled (hash), if any.
    pub key_hash: Option<String>,
}

/// What an enrollment request does to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollStep {
    /// A new device.
    Insert,
    /// A device whose enrollment never completed (it never used its token;
    /// the same desk, proven by its enrollment key) or that a coordinator
    /// revoked, enrolled again with a new code: its row takes the new
    /// code's site, desk, token and key.
    Replace,
    /// The same desk sending the same code again (its reply was lost; it
    /// never used its token; the same enrollment key): the same
    /// enrollment, with a fresh token offered as a rotation is, so the older
    /// token dies when the new one is first used and a request replayed by
    /// the network cannot take the working token away.
    OfferToken,
    Refuse(EnrollRefusal),
}

/// The one enrollment rule both dialects apply inside their transaction.
/// `key_hash`: the hash of the enrollment key the request carries. A
/// device id is no secret (it is in every event the site's desks pull), so
/// only the desk holding the key its device was enrolled with may have a
/// code answered again or an unfinished enrollment replaced.
pub fn enroll_step(code: &CodeRow, device: Option<&EnrolledDevice>, device_id: &str, key_hash: Option<&str>, now: &str) -> EnrollStep {
    let expired = code.expires_at.as_str() < now;
    let same_desk = |d: &EnrolledDevice| key_hash.is_some() && d.key_hash.as_deref() == key_hash;
    if code.used_at.is_some() {
        let again = code.used_by.as_deref() == Some(device_id)
            && device.is_some_and(|d| !d.revoked && !d.seen && d.site == code.site && d.desk == code.desk && same_desk(d));
        return if again && !expired { EnrollStep::OfferToken } else { EnrollStep::Refuse(EnrollRefusal::Used) };
    }
    if expired {
        return EnrollStep::Refuse(EnrollRefusal::Expired);
    }
    match device {
        None => EnrollStep::Insert,
        // A coordinator revoked it: whoever holds a new code may enroll it.
        Some(d) if d.revoked => EnrollStep::Replace,
        Some(d) if !d.seen && same_desk(d) => EnrollStep::Replace,
        Some(_) => EnrollStep::Refuse(EnrollRefusal::DeviceTaken),
    }
}


/// A person's site, and their events as `(stream, body)` in the order received.
pub type PersonEvents = (String, Vec<(String, String)>);

pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The newest SQLite hub schema this build knows (a backup from a newer hub
/// is refused).
pub fn sqlite_schema_version() -> i64 {
    sqlite::latest_schema()
}

pub(crate) fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}


pub(crate) fn change_of(kind: &str, body: Option<&str>, stream: Option<&str>, event: Option<&str>) -> Result<Change> {
    let bad = |e: serde_json::Error| DbError::Corrupt { what: "feed", detail: e.to_string() };
    let body = body.unwrap_or("null");
    Ok(match kind {
        "catalog" => Change::Catalog { catalog: serde_json::from_str(body).map_err(bad)? },
        "site" => Change::Site { site: serde_json::from_str(body).map_err(bad)? },
        "registration" => Change::Registration { registration: serde_json::from_str(body).map_err(bad)? },
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


/// A page of the feed for a device: the next `limit` rows of its site and
/// of every site (catalog, sites), each side read in order from the
/// `(site, seq)` index and merged. One query with `site IS NULL OR site = ?`
/// is planned as the union of both index ranges *to their ends*, joined to
/// every event body and sorted before the limit: each page of a new desk's
/// first pull then read the whole rest of its site (measured: a 1M-event
/// site, hours). The device's own events are read as rows without a body
/// and skipped, the cursor still moving past them.
pub(crate) const CHANGES_SQLITE: &str = "WITH page AS (
        SELECT seq FROM (SELECT seq FROM feed WHERE site = ?2 AND seq > ?1 ORDER BY seq LIMIT ?4)
        UNION ALL
        SELECT seq FROM (SELECT seq FROM feed WHERE site IS NULL AND seq > ?1 ORDER BY seq LIMIT ?4)
        ORDER BY seq LIMIT ?4)
    SELECT f.seq, f.kind, f.body, e.stream, e.body, f.device FROM page p JOIN feed f ON f.seq = p.seq
    LEFT JOIN events e ON e.seq = f.event_seq AND (f.device IS NULL OR f.device <> ?3)
    ORDER BY f.seq";

/// [`CHANGES_SQLITE`] for PostgreSQL.
pub(crate) const CHANGES_POSTGRES: &str = "WITH page AS (
        (SELECT seq FROM feed WHERE site = $2 AND seq > $1 ORDER BY seq LIMIT $4)
        UNION ALL
        (SELECT seq FROM feed WHERE site IS NULL AND seq > $1 ORDER BY seq LIMIT $4)
        ORDER BY seq LIMIT $4)
    SELECT f.seq, f.kind, f.body, e.stream, e.body, f.device FROM page p JOIN feed f ON f.seq = p.seq
    LEFT JOIN events e ON e.seq = f.event_seq AND (f.device IS NULL OR f.device <> $3)
    ORDER BY f.seq";

/// A feed row as [`CHANGES_SQLITE`] reads it.
pub(crate) struct FeedRow {
    pub seq: i64,
    pub kind: String,
    pub body: Option<String>,
    pub stream: Option<String>,
    pub event: Option<String>,
    pub device: Option<String>,
}

/// The page from the rows read: the cursor is the last row read, the
/// device's own included, and there may be more when the read was full.
pub(crate) fn changes_page(rows: Vec<FeedRow>, since: i64, device: &str, limit: u32) -> Result<ChangesPage> {
    let more = rows.len() as u32 >= limit;
    let cursor = rows.last().map_or(since, |r| r.seq);
    let mut changes = Vec::with_capacity(rows.len());
    for r in rows.iter().filter(|r| r.device.as_deref() != Some(device)) {
        changes.push(change_of(&r.kind, r.body.as_deref(), r.stream.as_deref(), r.event.as_deref())?);
    }
    // An empty page keeps the cursor; a desk with nothing new asks again later.
    Ok(ChangesPage { changes, cursor: cursor.to_string(), more })
}

/// Everything the hub asks of its database.
pub trait HubStore: Send + Sync + std::fmt::Debug {
    fn create_coordinator(&self, username: &str, password_hash: &str, all_sites: bool, sites: &[String]) -> Result<i64>;
    fn password_hash(&self, username: &str) -> Result<Option<(i64, String)>>;
    fn create_session(&self, token_hash: &str, coordinator: i64, expires_at: &str) -> Result<()>;
    /// The coordinator a live session token belongs to.
    fn session(&self, token_hash: &str) -> Result<Option<Coordinator>>;
    /// Log out: the token stops working at once.
    fn end_session(&self, token_hash: &str) -> Result<()>;
    fn upsert_site(&self, s: &Site) -> Result<()>;
    fn sites(&self) -> Result<Vec<Site>>;
    fn site(&self, code: &str) -> Result<Option<Site>> {
        Ok(self.sites()?.into_iter().find(|s| s.code == code))
    }
    fn upsert_desk(&self, d: &SiteDesk) -> Result<()>;
    fn desks(&self, site: &str) -> Result<Vec<SiteDesk>>;
    fn current_catalog(&self) -> Result<Option<Catalog>>;
    /// Publish a catalog (the caller checked it is newer and consistent).
    fn publish_catalog(&self, c: &Catalog) -> Result<()>;
    fn create_enrollment_code(&self, code_hash: &str, site: &str, desk: &str, by: i64, expires_at: &str) -> Result<()>;
    /// Use a one-time code: register the device with its token hash, or say
    /// why not, by [`enroll_step`]. Single use is enforced inside one
    /// transaction; the same device may send the same code again while it
    /// is valid (a lost reply) and gets the same enrollment back.
    fn enroll(&self, code_hash: &str, device_id: &str, name: Option<&str>, token_hash: &str, key_hash: Option<&str>) -> Result<std::result::Result<(String, String), EnrollRefusal>>;
    /// The live (not revoked) device a token belongs to (its current one,
    /// or the one offered by a rotation, whose first use retires the old).
    fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>>;
    /// Offer a device a new token (hash); the old one works until the new
    /// one is first used.
    fn offer_token(&self, device: &str, next_hash: &str) -> Result<()>;
    /// The device was heard from; `pending` is what it says it still holds.
    fn touch_device(&self, id: &str, pending: Option<i64>) -> Result<()>;
    fn devices(&self) -> Result<Vec<Device>>;
    /// Revoke a device; `false` if there is no such device.
    fn revoke_device(&self, id: &str) -> Result<bool>;
    /// Take a batch from a device: one result per event, one transaction.
    fn ingest(&self, device: &Device, events: &[Incoming]) -> Result<Vec<EventResult>> {
        self.ingest_at(device, events, &now_text())
    }
    /// The same, received at `now` (UTC text, as [`now_text`] writes it):
    /// `bench hub` replays a campaign's days through the real ingest, each
    /// day's events arriving on that day.
    fn ingest_at(&self, device: &Device, events: &[Incoming], now: &str) -> Result<Vec<EventResult>>;
    /// A desk's push as the hub takes it: the batch filed and the device
    /// marked heard from (with the records it says it still holds). SQLite
    /// does both in the push's one write, which it may share (ADR 0036).
    fn push_at(&self, device: &Device, events: &[Incoming], pending: Option<i64>, now: &str) -> Result<Vec<EventResult>> {
        let results = self.ingest_at(device, events, now);
        // Heard from even when the batch failed.
        let _ = self.touch_device(&device.id, pending);
        results
    }
    /// Pushes waiting for the writer and whether a group is being filed
    /// (SQLite's group commit; tests use it to make pushes queue).
    #[doc(hidden)]
    fn pushes_queued(&self) -> (usize, bool) {
        (0, false)
    }
    /// A page of changes for a device of `site`, after `since`.
    fn changes(&self, site: &str, device: &str, since: i64, limit: u32) -> Result<ChangesPage>;
    fn event_count(&self) -> Result<u64>;
    /// Every stored event id, in arrival order (tests check exactly-once).
    fn event_ids(&self) -> Result<Vec<String>>;
    fn possible_duplicates(&self) -> Result<Vec<PossibleDuplicate>>;
    /// The person id a (possibly merged) person id now stands for.
    fn canonical_person(&self, id: &str) -> Result<Option<String>>;
    /// A person's site and every event about them (and persons merged into
    /// them) as `(stream, body)`, in the order received; `None` if unknown.
    fn person_events(&self, id: &str) -> Result<Option<PersonEvents>>;
    /// Run `f` in one write transaction, over the same primitives ingest
    /// uses: a coordinator's merge or correction is one atomic change.
    fn in_tx(&self, f: &mut dyn FnMut(&mut dyn IngestTx) -> Result<()>) -> Result<()>;
    /// The latest coordinator actions, newest first.
    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>>;
    /// Dose events of `site` received at or after `since` (RFC 3339), in order.
    fn recent_dose_events(&self, site: &str, since: &str) -> Result<Vec<ReceivedEvent>>;
    /// Events of `site` refused at or after `since`, newest first.
    fn rejections(&self, site: &str, since: &str) -> Result<Vec<Rejection>>;
    /// Persons whose folded name starts with `name_key`, or whose national
    /// id is `national_id`; at most `limit`.
    fn find_persons(&self, name_key: &str, national_id: &str, limit: u32) -> Result<Vec<PersonRef>>;
    fn person_ref(&self, id: &str) -> Result<Option<PersonRef>>;
    /// Every event of `site` as `(person, stream, body)`, grouped by the
    /// person it now belongs to (merges followed), in arrival order within
    /// a person. Streams: memory does not grow with the site.
    fn for_each_site_event(&self, site: &str, f: &mut dyn FnMut(&str, &str, &str) -> Result<()>) -> Result<()>;
    /// Refresh the planner's statistics after a bulk load (PostgreSQL plans
    /// look-ups on a table just grown from nothing as scans of the whole
    /// table until it is analysed; its manual says to ANALYZE after a bulk
    /// load). Nothing to do on SQLite.
    fn after_bulk_load(&self) -> Result<()> {
        Ok(())
    }
    /// A site's audit entries about one subject (a dose record's id, say), oldest first.
    fn audit_about(&self, site: &str, subject: &str) -> Result<Vec<AuditEntry>>;
    /// A site's appointment days with how many are registered for each, latest first.
    fn registration_days(&self, site: &str, limit: u32) -> Result<Vec<(String, i64)>>;
    /// A site's uploads, latest first.
    fn registration_uploads(&self, site: &str, limit: u32) -> Result<Vec<UploadSummary>>;
    /// The persons on a site's list for a day (`YYYY-MM-DD`) as it stood when
    /// the day was over (a later list's appointment does not take them off a
    /// past day), as the ids they now stand for (merges followed).
    fn registered_persons(&self, site: &str, day: &str) -> Result<Vec<String>>;
    /// The day table's rows of a site's day (not those given elsewhere),
    /// each record's person followed through merges; voided ones included
    /// (their lag still counts).
    fn day_records(&self, site: &str, day: &str) -> Result<Vec<crate::day_records::DayRow>>;
    /// Sites' day counted in the database (`report::sites_totals`), on one
    /// connection; a site with nothing that day may have no entry.
    fn day_totals(&self, sites: &[String], day: &str) -> Result<Vec<(String, crate::day_records::DayCounts)>>;
    /// Note a certificate the hub signed for a desk (for the daily report).
    fn record_certificate(&self, site: &str, person: &str, dose_number: u32, device: &str) -> Result<()>;
    /// Certificates signed for sites' desks in `[from, to)` (UTC text), by
    /// site: how many (a person and dose once, however often the phone
    /// fetched it), and for how many persons (merges followed); a site with
    /// none has no entry.
    fn certificates_issued(&self, sites: &[String], from: &str, to: &str) -> Result<Vec<(String, i64, i64)>>;
    /// One upload and its refused rows (JSON).
    fn registration_upload(&self, id: i64) -> Result<Option<(UploadSummary, String)>>;
    /// Those registered at a site for a day: person id and their latest person event's body.
    fn registered_on(&self, site: &str, day: &str, limit: u32) -> Result<Vec<(String, Option<String>)>>;
}

/// The hub's database, whichever backend.
#[derive(Debug)]
pub struct HubDb(Box<dyn HubStore>);

impl std::ops::Deref for HubDb {
    type Target = dyn HubStore;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl HubDb {
    /// A SQLite file.
    pub fn open(path: &Path) -> Result<HubDb> {
        Self::seeded(Box::new(SqliteHub::open(path)?))
    }

    /// `postgres://…` (or `postgresql://…`), else a SQLite file path.
    pub fn open_target(target: &str) -> Result<HubDb> {
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            Self::seeded(Box::new(PgHub::connect(target)?))
        } else {
            Self::open(Path::new(target))
        }
    }

    /// A new database starts with the built-in catalog, so desks can pull one.
    fn seeded(store: Box<dyn HubStore>) -> Result<HubDb> {
        let db = HubDb(store);
        if db.current_catalog()?.is_none() {
            db.publish_catalog(&Catalog::builtin())?;
        }
        Ok(db)
    }
}
