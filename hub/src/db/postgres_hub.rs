//! The hub's database on PostgreSQL, for a province or the nation: several
//! hub processes may share it. Migrations run under an advisory lock; every
//! transaction that appends to `feed` first takes the feed lock, so feed
//! sequence numbers are handed out in commit order and a desk's cursor can
//! never pass a row that commits later. Calls are blocking (the `postgres`
//! client); handlers run them on tokio's blocking pool.

use std::collections::HashMap;
use postgres::{NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{SiteDesk, Site};
use vaxdesk_core::sync::protocol::{ChangesPage, EventResult, WireEvent};

use super::{enroll_step, json, now_text, AuditEntry, Coordinator, CodeRow, DbError, Device, EnrolledDevice, EnrollRefusal, EnrollStep, HubStore, PersonRef, PossibleDuplicate, ReceivedEvent, Rejection, Result, UploadSummary};
use crate::registrations::{RegistrationRow, Tally};
use crate::day_records::{outcome_of, DayChange, DayCounts, DayDose, DayRow, StoredDoseEvent};
use crate::ingest::{self, FeedEntry, Incoming, IngestTx, NewEvent, PersonMatches, PersonRow};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_hub.sql")),
    (2, include_str!("../../migrations/postgres/0002_coordinator_web.sql")),
    (3, include_str!("../../migrations/postgres/0003_token_rotation.sql")),
    (4, include_str!("../../migrations/postgres/0004_enrollment_key.sql")),
    (5, include_str!("../../migrations/postgres/0005_registrations.sql")),
    (6, include_str!("../../migrations/postgres/0006_daily_report.sql")),
    (DAY_RECORDS, include_str!("../../migrations/postgres/0007_day_records.sql")),
    (TEXT_IN_BYTE_ORDER, include_str!("../../migrations/postgres/0008_text_in_byte_order.sql")),
];

/// The migration that adds the day table, filled from the events it runs over.
const DAY_RECORDS: i64 = 7;
/// The migration that makes text compare as bytes (rebuilds indexes, locks each table).
const TEXT_IN_BYTE_ORDER: i64 = 8;
const MIGRATION_LOCK: i64 = 7_201;
const FEED_LOCK: i64 = 7_202;
/// Pushed batches share it; a coordinator's change (a merge, a fix, a
/// registration list) takes it alone: the change reads persons and events
/// across sites and must not interleave with a batch filing persons.
const HUB_WRITE_LOCK: i64 = 7_203;
/// The first key of a site's lock (the second is the site code's hash):
/// batches of one site take turns, so a person filed by one is matched by
/// the next (same national id, alike) and a correction finds its record.
const SITE_LOCK: i32 = 7_204;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

#[derive(Debug)]
pub struct PgHub {
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool>,
}

impl Drop for PgHub {
    /// The blocking `postgres` client runs a small runtime of its own to
    /// close a connection, which panics inside a tokio worker: the hub is
    /// often dropped there (at shutdown), so the pool is dropped on a plain
    /// thread instead.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// No JIT compiling on the hub's connections: it pays on hour-long
/// analytics, and the hub's statements take milliseconds — the province
/// page's list of sites waited 20–40 ms a load for it (ADR 0029). Set on
/// each new connection rather than as a startup option, which a connection
/// pooler such as PgBouncer refuses by default; a server without JIT
/// (before PostgreSQL 11) has no such setting and is left alone.
#[derive(Debug)]
struct NoJit(bool);

impl r2d2::CustomizeConnection<postgres::Client, postgres::Error> for NoJit {
    fn on_acquire(&self, c: &mut postgres::Client) -> std::result::Result<(), postgres::Error> {
        if self.0 {
            c.batch_execute("SELECT set_config('jit', 'off', false) WHERE current_setting('jit', true) IS NOT NULL")?;
        }
        Ok(())
    }
}

impl PgHub {
    pub fn connect(url: &str) -> Result<PgHub> {
        let config: postgres::Config = url.parse()?;
        // The URL's own `options` (e.g. `-c jit=on`) decide, where they name it.
        let jit_off = !config.get_options().unwrap_or_default().contains("jit");
        let pool = r2d2::Pool::builder().max_size(8).connection_customizer(Box::new(NoJit(jit_off))).build(PostgresConnectionManager::new(config, NoTls))?;
        let hub = PgHub { pool: Some(pool) };
        hub.migrate()?;
        Ok(hub)
    }

    fn pool(&self) -> Result<&Pool> {
        self.pool.as_ref().ok_or_else(|| DbError::Corrupt { what: "pool", detail: "closed".into() })
    }

    fn migrate(&self) -> Result<()> {
        let mut c = self.pool()?.get()?;
        c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let result = (|| {
            c.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
            let found: i64 = c.query_opt("SELECT max(version) FROM schema_version", &[])?.and_then(|r| r.get::<_, Option<i64>>(0)).unwrap_or(0);
            let latest = MIGRATIONS.last().map_or(0, |m| m.0);
            if found > latest {
                return Err(DbError::NewerSchema { path: "postgres".into(), found, supported: latest });
            }
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
                let mut tx = c.transaction()?;
                if *version == TEXT_IN_BYTE_ORDER {
                    // It locks table after table: a hub process of the old
                    // build ingesting meanwhile would lock them in another
                    // order (a deadlock); its batches wait here instead.
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&HUB_WRITE_LOCK])?;
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
                }
                tx.batch_execute(sql)?;
                if *version == DAY_RECORDS {
                    // Another hub process still on the old build may be
                    // ingesting: its batches wait here (they take the feed
                    // lock too), so none lands between the backfill's pages.
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&HUB_WRITE_LOCK])?;
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
                    crate::day_records::backfill(&mut PgTx { tx: &mut tx, statements: Default::default() })?;
                }
                tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[version])?;
                tx.commit()?;
            }
            Ok(())
        })();
        c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        result
    }

    fn write<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut c = self.pool()?.get()?;
        let mut tx = c.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&mut postgres::Client) -> Result<T>) -> Result<T> {
        let mut c = self.pool()?.get()?;
        f(&mut c)
    }
}

fn feed(tx: &mut Transaction<'_>, site: Option<&str>, device: Option<&str>, kind: &str, event_seq: Option<i64>, body: Option<&str>) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
    tx.execute("INSERT INTO feed (site, device, kind, event_seq, body) VALUES ($1, $2, $3, $4, $5)", &[&site, &device, &kind, &event_seq, &body])?;
    Ok(())
}

fn device_row(r: &postgres::Row) -> Device {
    Device { id: r.get(0), site: r.get(1), desk: r.get(2), name: r.get(3), enrolled_at: r.get(4), revoked_at: r.get(5), last_seen_at: r.get(6), pending: r.get(7) }
}

impl HubStore for PgHub {
    fn create_coordinator(&self, username: &str, password_hash: &str, all_sites: bool, sites: &[String]) -> Result<i64> {
        self.write(|tx| {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO coordinators (username, password_hash, all_sites, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&username, &password_hash, &all_sites, &now_text()],
                )?
                .get(0);
            for s in sites {
                tx.execute("INSERT INTO coordinator_sites (coordinator_id, site) VALUES ($1, $2)", &[&id, s])?;
            }
            Ok(id)
        })
    }

    fn password_hash(&self, username: &str) -> Result<Option<(i64, String)>> {
        self.read(|c| Ok(c.query_opt("SELECT id, password_hash FROM coordinators WHERE username = $1", &[&username])?.map(|r| (r.get(0), r.get(1)))))
    }

    fn create_session(&self, token_hash: &str, coordinator: i64, expires_at: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM sessions WHERE expires_at < $1", &[&now_text()])?;
            tx.execute("INSERT INTO sessions (token_hash, coordinator_id, expires_at) VALUES ($1, $2, $3)", &[&token_hash, &coordinator, &expires_at])?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str) -> Result<Option<Coordinator>> {
        self.read(|c| {
            let Some(r) = c.query_opt(
                "SELECT k.id, k.username, k.all_sites FROM sessions s JOIN coordinators k ON k.id = s.coordinator_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
                &[&token_hash, &now_text()],
            )?
            else {
                return Ok(None);
            };
            let id: i64 = r.get(0);
            let sites = c.query("SELECT site FROM coordinator_sites WHERE coordinator_id = $1 ORDER BY site", &[&id])?.iter().map(|r| r.get(0)).collect();
            Ok(Some(Coordinator { id, username: r.get(1), all_sites: r.get(2), sites }))
        })
    }

    fn end_session(&self, token_hash: &str) -> Result<()> {
        self.read(|c| {
            c.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
            Ok(())
        })
    }

    fn upsert_site(&self, s: &Site) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sites (code, name, province_code) VALUES ($1, $2, $3)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, province_code = excluded.province_code",
                &[&s.code, &s.name, &s.province_code],
            )?;
            feed(tx, Some(&s.code), None, "site", None, Some(&json(s)))
        })
    }

    fn sites(&self) -> Result<Vec<Site>> {
        self.read(|c| Ok(c.query("SELECT code, name, province_code FROM sites ORDER BY code", &[])?.iter().map(|r| Site { code: r.get(0), name: r.get(1), province_code: r.get(2) }).collect()))
    }

    fn upsert_desk(&self, d: &SiteDesk) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO desks (site, code, name) VALUES ($1, $2, $3) ON CONFLICT (site, code) DO UPDATE SET name = excluded.name",
                &[&d.site, &d.code, &d.name],
            )?;
            feed(tx, Some(&d.site), None, "desk", None, Some(&json(d)))
        })
    }

    fn desks(&self, site: &str) -> Result<Vec<SiteDesk>> {
        self.read(|c| Ok(c.query("SELECT site, code, name FROM desks WHERE site = $1 ORDER BY code", &[&site])?.iter().map(|r| SiteDesk { site: r.get(0), code: r.get(1), name: r.get(2) }).collect()))
    }

    fn current_catalog(&self) -> Result<Option<Catalog>> {
        let body: Option<String> = self.read(|c| Ok(c.query_opt("SELECT body FROM catalogs ORDER BY version DESC LIMIT 1", &[])?.map(|r| r.get(0))))?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| DbError::Corrupt { what: "catalog", detail: e.to_string() })).transpose()
    }

    fn publish_catalog(&self, c: &Catalog) -> Result<()> {
        self.write(|tx| {
            tx.execute("INSERT INTO catalogs (version, body, published_at) VALUES ($1, $2, $3)", &[&i64::from(c.version), &json(c), &now_text()])?;
            feed(tx, None, None, "catalog", None, Some(&json(c)))
        })
    }

    fn create_enrollment_code(&self, code_hash: &str, site: &str, desk: &str, by: i64, expires_at: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, site, desk, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)",
                &[&code_hash, &site, &desk, &by, &expires_at],
            )?;
            Ok(())
        })
    }

    fn enroll(&self, code_hash: &str, device_id: &str, name: Option<&str>, token_hash: &str, key_hash: Option<&str>) -> Result<std::result::Result<(String, String), EnrollRefusal>> {
        self.write(|tx| {
            // FOR UPDATE: two hub processes cannot both use one code.
            let Some(r) = tx.query_opt("SELECT site, desk, expires_at, used_at, device_id FROM enrollment_codes WHERE code_hash = $1 FOR UPDATE", &[&code_hash])? else {
                return Ok(Err(EnrollRefusal::Unknown));
            };
            let code = CodeRow { site: r.get(0), desk: r.get(1), expires_at: r.get(2), used_at: r.get(3), used_by: r.get(4) };
            let device = tx
                .query_opt("SELECT site, desk, revoked_at IS NOT NULL, last_seen_at IS NOT NULL, enroll_key_hash FROM devices WHERE id = $1 FOR UPDATE", &[&device_id])?
                .map(|r| EnrolledDevice { site: r.get(0), desk: r.get(1), revoked: r.get(2), seen: r.get(3), key_hash: r.get(4) });
            let now = now_text();
            match enroll_step(&code, device.as_ref(), device_id, key_hash, &now) {
                EnrollStep::Refuse(why) => return Ok(Err(why)),
                EnrollStep::OfferToken => {
                    tx.execute("UPDATE devices SET next_token_hash = $2 WHERE id = $1", &[&device_id, &token_hash])?;
                    return Ok(Ok((code.site, code.desk)));
                }
                EnrollStep::Insert => {
                    // ON CONFLICT: another hub process enrolling the same new device
                    // with another code at the same moment gets a refusal, not a 500.
                    let n = tx.execute(
                        "INSERT INTO devices (id, site, desk, name, token_hash, enrolled_at, enroll_key_hash) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                        &[&device_id, &code.site, &code.desk, &name, &token_hash, &now, &key_hash],
                    )?;
                    if n == 0 {
                        return Ok(Err(EnrollRefusal::DeviceTaken));
                    }
                }
                EnrollStep::Replace => {
                    tx.execute(
                        "UPDATE devices SET site = $2, desk = $3, name = $4, token_hash = $5, next_token_hash = NULL, enrolled_at = $6,
                                revoked_at = NULL, last_seen_at = NULL, pending = NULL, enroll_key_hash = $7 WHERE id = $1",
                        &[&device_id, &code.site, &code.desk, &name, &token_hash, &now, &key_hash],
                    )?;
                }
            }
            tx.execute("UPDATE enrollment_codes SET used_at = $2, device_id = $3 WHERE code_hash = $1", &[&code_hash, &now, &device_id])?;
            Ok(Ok((code.site, code.desk)))
        })
    }

    fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>> {
        let found = self.read(|c| {
            Ok(c.query_opt(
                "SELECT id, site, desk, name, enrolled_at, revoked_at, last_seen_at, pending, coalesce(next_token_hash = $1, false) FROM devices
                 WHERE (token_hash = $1 OR next_token_hash = $1) AND revoked_at IS NULL",
                &[&token_hash],
            )?
            .map(|r| (device_row(&r), r.get::<_, bool>(8))))
        })?;
        if let Some((d, true)) = &found {
            self.read(|c| {
                c.execute("UPDATE devices SET token_hash = next_token_hash, next_token_hash = NULL WHERE id = $1 AND next_token_hash = $2", &[&d.id, &token_hash])?;
                Ok(())
            })?;
        }
        Ok(found.map(|(d, _)| d))
    }

    fn offer_token(&self, device: &str, next_hash: &str) -> Result<()> {
        self.read(|c| {
            c.execute("UPDATE devices SET next_token_hash = $2 WHERE id = $1 AND revoked_at IS NULL", &[&device, &next_hash])?;
            Ok(())
        })
    }

    fn touch_device(&self, id: &str, pending: Option<i64>) -> Result<()> {
        self.read(|c| {
            c.execute("UPDATE devices SET last_seen_at = $2, pending = coalesce($3, pending) WHERE id = $1", &[&id, &now_text(), &pending])?;
            Ok(())
        })
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.read(|c| Ok(c.query("SELECT id, site, desk, name, enrolled_at, revoked_at, last_seen_at, pending FROM devices ORDER BY site, desk, enrolled_at", &[])?.iter().map(device_row).collect()))
    }

    fn revoke_device(&self, id: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1", &[&id, &now_text()])? > 0))
    }

    fn ingest_at(&self, device: &Device, events: &[Incoming], now: &str) -> Result<Vec<EventResult>> {
        let catalog = self.current_catalog()?.unwrap_or_else(Catalog::builtin);
        let persons: Vec<String> = events
            .iter()
            .filter_map(|inc| match &inc.event {
                WireEvent::Person(p) => Some(p.person.id.to_string()),
                WireEvent::Dose(_) => None,
            })
            .collect();
        self.write(|tx| {
            // Batches of different sites go through at once (each on a
            // server process of its own; one process took them all in turn
            // behind the feed lock, ADR 0030); a site's batches take turns.
            // Every writer locks in one order — hub, sites, feed — so none
            // waits in a circle. A site hashed like another only shares turns.
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&HUB_WRITE_LOCK])?;
            // A person filed at another site (a desk correcting someone
            // registered elsewhere) is matched and merged there: that site's
            // batches must wait too. A person's site never changes once filed.
            let elsewhere: Vec<String> = if persons.is_empty() {
                Vec::new()
            } else {
                tx.query("SELECT DISTINCT site FROM persons WHERE id = ANY($1) AND site <> $2", &[&persons, &device.site])?.iter().map(|r| r.get(0)).collect()
            };
            if elsewhere.is_empty() {
                tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&SITE_LOCK, &device.site])?;
            } else {
                // Several sites: in the order of their keys, as every batch.
                let sites: Vec<&str> = std::iter::once(device.site.as_str()).chain(elsewhere.iter().map(String::as_str)).collect();
                let keys: Vec<i32> = tx.query("SELECT DISTINCT hashtext(s) FROM unnest($1::text[]) AS s ORDER BY 1", &[&sites])?.iter().map(|r| r.get(0)).collect();
                for k in keys {
                    tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&SITE_LOCK, &k])?;
                }
            }
            ingest::ingest(&mut PgTx { tx, statements: Default::default() }, device, &catalog, events, now)
        })
    }

    fn changes(&self, site: &str, device: &str, since: i64, limit: u32) -> Result<ChangesPage> {
        self.read(|c| {
            let rows = c.query(super::CHANGES_POSTGRES, &[&since, &site, &device, &i64::from(limit)])?;
            let rows = rows
                .iter()
                .map(|r| super::FeedRow { seq: r.get(0), kind: r.get(1), body: r.get(2), stream: r.get(3), event: r.get(4), device: r.get(5) })
                .collect();
            super::changes_page(rows, since, device, limit)
        })
    }

    fn event_count(&self) -> Result<u64> {
        self.read(|c| Ok(c.query_one("SELECT count(*) FROM events", &[])?.get::<_, i64>(0) as u64))
    }

    fn event_ids(&self) -> Result<Vec<String>> {
        self.read(|c| Ok(c.query("SELECT id FROM events ORDER BY seq", &[])?.iter().map(|r| r.get(0)).collect()))
    }

    fn possible_duplicates(&self) -> Result<Vec<PossibleDuplicate>> {
        self.read(|c| {
            Ok(c.query("SELECT d.a, d.b, d.reason, d.found_at, d.status, d.resolved_by, d.resolved_at, p.site FROM possible_duplicates d LEFT JOIN persons p ON p.id = d.a ORDER BY d.found_at", &[])?
                .iter()
                .map(|r| PossibleDuplicate { a: r.get(0), b: r.get(1), reason: r.get(2), found_at: r.get(3), status: r.get(4), resolved_by: r.get(5), resolved_at: r.get(6), site: r.get(7) })
                .collect())
        })
    }

    fn canonical_person(&self, id: &str) -> Result<Option<String>> {
        self.read(|c| Ok(c.query_opt("SELECT merged_into FROM persons WHERE id = $1", &[&id])?.map(|r| r.get::<_, Option<String>>(0).unwrap_or_else(|| id.to_string()))))
    }

    fn person_events(&self, id: &str) -> Result<Option<super::PersonEvents>> {
        self.read(|c| {
            let Some(site) = c.query_opt("SELECT site FROM persons WHERE id = $1", &[&id])?.map(|r| r.get::<_, String>(0)) else { return Ok(None) };
            let rows = c
                .query(
                    "SELECT stream, body FROM events
                     WHERE person_id = $1 OR person_id IN (SELECT id FROM persons WHERE merged_into = $1)
                     ORDER BY seq",
                    &[&id],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            Ok(Some((site, rows)))
        })
    }

    fn in_tx(&self, f: &mut dyn FnMut(&mut dyn IngestTx) -> Result<()>) -> Result<()> {
        self.write(|tx| {
            // Alone: no batch files persons meanwhile (see HUB_WRITE_LOCK),
            // and the change's feed rows follow every batch before it.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&HUB_WRITE_LOCK])?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
            f(&mut PgTx { tx, statements: Default::default() })
        })
    }

    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            Ok(c.query("SELECT at, coordinator, action, site, subject, detail FROM audit_log ORDER BY id DESC LIMIT $1", &[&i64::from(limit)])?
                .iter()
                .map(|r| AuditEntry { at: r.get(0), coordinator: r.get(1), action: r.get(2), site: r.get(3), subject: r.get(4), detail: r.get(5) })
                .collect())
        })
    }

    fn audit_about(&self, site: &str, subject: &str) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            Ok(c.query("SELECT at, coordinator, action, site, subject, detail FROM audit_log WHERE site = $1 AND subject = $2 ORDER BY id", &[&site, &subject])?
                .iter()
                .map(|r| AuditEntry { at: r.get(0), coordinator: r.get(1), action: r.get(2), site: r.get(3), subject: r.get(4), detail: r.get(5) })
                .collect())
        })
    }

    fn recent_dose_events(&self, site: &str, since: &str) -> Result<Vec<ReceivedEvent>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT e.device, e.body, e.received_at, coalesce(p.merged_into, e.person_id) FROM events e LEFT JOIN persons p ON p.id = e.person_id
                 WHERE e.site = $1 AND e.stream = 'dose' AND e.received_at >= $2 ORDER BY e.seq",
                &[&site, &since],
            )?
                .iter()
                .map(|r| ReceivedEvent { device: r.get(0), body: r.get(1), received_at: r.get(2), person: r.get(3) })
                .collect())
        })
    }

    fn rejections(&self, site: &str, since: &str) -> Result<Vec<Rejection>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT event_id, device, code, message, received_at FROM rejections WHERE site = $1 AND received_at >= $2 ORDER BY id DESC LIMIT 200",
                &[&site, &since],
            )?
            .iter()
            .map(|r| Rejection { event_id: r.get(0), device: r.get(1), code: r.get(2), message: r.get(3), received_at: r.get(4) })
            .collect())
        })
    }

    fn find_persons(&self, name_key: &str, national_id: &str, limit: u32) -> Result<Vec<PersonRef>> {
        self.read(|c| {
            let upper = format!("{name_key}\u{10ffff}");
            Ok(c.query(
                "SELECT id, site, merged_into FROM persons
                 WHERE ($1 <> '' AND name_key >= $1 AND name_key < $2) OR ($3 <> '' AND national_id = $3)
                 ORDER BY name_key, id LIMIT $4",
                &[&name_key, &upper, &national_id, &i64::from(limit)],
            )?
            .iter()
            .map(|r| PersonRef { id: r.get(0), site: r.get(1), merged_into: r.get(2) })
            .collect())
        })
    }

    fn person_ref(&self, id: &str) -> Result<Option<PersonRef>> {
        self.read(|c| Ok(c.query_opt("SELECT id, site, merged_into FROM persons WHERE id = $1", &[&id])?.map(|r| PersonRef { id: r.get(0), site: r.get(1), merged_into: r.get(2) })))
    }

    fn after_bulk_load(&self) -> Result<()> {
        let mut c = self.pool()?.get()?;
        c.batch_execute("ANALYZE persons, events, registrations, feed, day_records")?;
        Ok(())
    }

    fn registration_days(&self, site: &str, limit: u32) -> Result<Vec<(String, i64)>> {
        self.read(|c| {
            Ok(c.query("SELECT appointment, count(*) FROM registrations WHERE site = $1 GROUP BY appointment ORDER BY appointment DESC LIMIT $2", &[&site, &i64::from(limit)])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn day_records(&self, site: &str, day: &str) -> Result<Vec<DayRow>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT d.record, d.desk, coalesce(p.merged_into, d.person_id), d.hour, d.vaccine, d.dose_number, d.outcome, d.voided, d.saved_day, d.saved_hour, d.lag_s
                 FROM day_records d LEFT JOIN persons p ON p.id = d.person_id AND p.merged_into IS NOT NULL
                 WHERE d.site = $1 AND d.day = $2 AND NOT d.elsewhere",
                &[&site, &day],
            )?
            .iter()
            .map(|r| DayRow {
                site: site.to_string(),
                record: r.get(0),
                desk: r.get(1),
                person: r.get(2),
                dose: DayDose {
                    day: day.to_string(),
                    hour: r.get::<_, i16>(3).clamp(0, 23) as u8,
                    vaccine: r.get(4),
                    dose_number: r.get::<_, i16>(5).clamp(0, 255) as u8,
                    outcome: outcome_of(r.get(6)),
                    elsewhere: false,
                },
                voided: r.get(7),
                saved_day: r.get(8),
                saved_hour: r.get::<_, i16>(9).clamp(0, 23) as u8,
                lag_s: r.get(10),
            })
            .collect())
        })
    }

    fn day_totals(&self, sites: &[String], day: &str) -> Result<Vec<(String, DayCounts)>> {
        self.read(|c| {
            // One statement, planned once, that counts each site in turn from
            // its own index range: the sites' rows together are tens of
            // thousands on a busy day, and counting them all at once sorted
            // them on disk (1.6× slower than a statement a site at 10M
            // events; ADR 0029). Each person who came is counted once
            // (merges followed), grouped by hashing, which needs no sort.
            let rows = c.query(
                "SELECT s.site, t.given, t.deferred, t.refused, l.registered, t.came, t.served
                 FROM unnest($1::text[]) AS s (site)
                 CROSS JOIN LATERAL (
                     SELECT count(DISTINCT coalesce(p.merged_into, r.person_id)) AS registered
                     FROM registration_days r LEFT JOIN persons p ON p.id = r.person_id WHERE r.site = s.site AND r.appointment = $2) l
                 CROSS JOIN LATERAL (
                     SELECT coalesce(sum(x.given), 0)::bigint AS given, coalesce(sum(x.deferred), 0)::bigint AS deferred,
                            coalesce(sum(x.refused), 0)::bigint AS refused, count(*) AS came,
                            count(*) FILTER (WHERE l.registered > 0 AND x.who IN (
                                SELECT coalesce(p.merged_into, r.person_id) FROM registration_days r LEFT JOIN persons p ON p.id = r.person_id
                                WHERE r.site = s.site AND r.appointment = $2)) AS served
                     FROM (SELECT coalesce(p.merged_into, d.person_id) AS who, count(*) FILTER (WHERE d.outcome = 'vaccinated') AS given,
                                  count(*) FILTER (WHERE d.outcome = 'deferred') AS deferred, count(*) FILTER (WHERE d.outcome = 'refused') AS refused
                           FROM day_records d LEFT JOIN persons p ON p.id = d.person_id AND p.merged_into IS NOT NULL
                           WHERE d.site = s.site AND d.day = $2 AND NOT d.elsewhere AND NOT d.voided
                           GROUP BY 1) x
                 ) t",
                &[&sites, &day],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let n = |i: usize| u32::try_from(r.get::<_, i64>(i)).unwrap_or(u32::MAX);
                    (r.get(0), DayCounts { given: n(1), deferred: n(2), refused: n(3), registered: n(4), came: n(5), served: n(6) })
                })
                .collect())
        })
    }

    fn registered_persons(&self, site: &str, day: &str) -> Result<Vec<String>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT DISTINCT coalesce(p.merged_into, r.person_id) FROM registration_days r LEFT JOIN persons p ON p.id = r.person_id WHERE r.site = $1 AND r.appointment = $2",
                &[&site, &day],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn record_certificate(&self, site: &str, person: &str, dose_number: u32, device: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO certificates_issued (site, person_id, dose_number, device, issued_at) VALUES ($1, $2, $3, $4, $5)",
                &[&site, &person, &i32::try_from(dose_number).unwrap_or(i32::MAX), &device, &now_text()],
            )?;
            Ok(())
        })
    }

    fn certificates_issued(&self, sites: &[String], from: &str, to: &str) -> Result<Vec<(String, i64, i64)>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT c.site, count(DISTINCT coalesce(p.merged_into, c.person_id) || ':' || c.dose_number), count(DISTINCT coalesce(p.merged_into, c.person_id))
                 FROM certificates_issued c LEFT JOIN persons p ON p.id = c.person_id
                 WHERE c.site = ANY($1) AND c.issued_at >= $2 AND c.issued_at < $3
                 GROUP BY c.site",
                &[&sites, &from, &to],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
        })
    }

    fn registration_uploads(&self, site: &str, limit: u32) -> Result<Vec<UploadSummary>> {
        self.read(|c| Ok(c.query("SELECT id, site, file_name, uploaded_by, uploaded_at, row_count, added, updated, unchanged, refused FROM registration_uploads WHERE site = $1 ORDER BY id DESC LIMIT $2", &[&site, &i64::from(limit)])?.iter().map(upload_summary).collect()))
    }

    fn registration_upload(&self, id: i64) -> Result<Option<(UploadSummary, String)>> {
        self.read(|c| Ok(c.query_opt("SELECT id, site, file_name, uploaded_by, uploaded_at, row_count, added, updated, unchanged, refused, refusals FROM registration_uploads WHERE id = $1", &[&id])?.map(|r| (upload_summary(&r), r.get(10)))))
    }

    fn registered_on(&self, site: &str, day: &str, limit: u32) -> Result<Vec<(String, Option<String>)>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT r.person_id, (SELECT e.body FROM events e WHERE e.person_id = r.person_id AND e.stream = 'person' ORDER BY e.seq DESC LIMIT 1)
                 FROM registrations r WHERE r.site = $1 AND r.appointment = $2 ORDER BY r.person_id LIMIT $3",
                &[&site, &day, &i64::from(limit)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    fn for_each_site_event(&self, site: &str, f: &mut dyn FnMut(&str, &str, &str) -> Result<()>) -> Result<()> {
        self.read(|c| {
            // A portal inside a transaction fetches rows a page at a time, so
            // a million events never sit in memory at once.
            let mut tx = c.transaction()?;
            let st = tx.prepare(
                "SELECT coalesce(p.merged_into, e.person_id) AS who, e.stream, e.body FROM events e LEFT JOIN persons p ON p.id = e.person_id
                 WHERE e.site = $1 ORDER BY who, e.seq",
            )?;
            let portal = tx.bind(&st, &[&site])?;
            loop {
                let rows = tx.query_portal(&portal, 2000)?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    f(r.get(0), r.get(1), r.get(2))?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}

/// A batch's transaction, with each statement prepared once per batch (the
/// client has no statement cache; preparing per call doubles round trips).
/// The feed lock is already held (taken at the start of `ingest`).
struct PgTx<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    statements: std::collections::HashMap<&'static str, postgres::Statement>,
}

impl PgTx<'_, '_> {
    fn st(&mut self, sql: &'static str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn one(&mut self, sql: &'static str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<postgres::Row> {
        let st = self.st(sql)?;
        Ok(self.tx.query_one(&st, params)?)
    }

    fn opt(&mut self, sql: &'static str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Option<postgres::Row>> {
        let st = self.st(sql)?;
        Ok(self.tx.query_opt(&st, params)?)
    }

    fn all(&mut self, sql: &'static str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<postgres::Row>> {
        let st = self.st(sql)?;
        Ok(self.tx.query(&st, params)?)
    }

    fn exec(&mut self, sql: &'static str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<u64> {
        let st = self.st(sql)?;
        Ok(self.tx.execute(&st, params)?)
    }
}

impl PgTx<'_, '_> {
    fn insert_day_records(&mut self, rows: &[&DayRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        fn text<'r>(rows: &[&'r DayRow], f: impl Fn(&'r DayRow) -> &'r str) -> Vec<&'r str> {
            rows.iter().map(|r| f(r)).collect()
        }
        let (site, day, record) = (text(rows, |r| &r.site), text(rows, |r| &r.dose.day), text(rows, |r| &r.record));
        let (desk, person, vaccine) = (text(rows, |r| &r.desk), text(rows, |r| &r.person), text(rows, |r| &r.dose.vaccine));
        let (outcome, saved_day) = (text(rows, |r| r.dose.outcome.as_str()), text(rows, |r| &r.saved_day));
        let hour: Vec<i16> = rows.iter().map(|r| i16::from(r.dose.hour)).collect();
        let number: Vec<i16> = rows.iter().map(|r| i16::from(r.dose.dose_number)).collect();
        let saved_hour: Vec<i16> = rows.iter().map(|r| i16::from(r.saved_hour)).collect();
        let elsewhere: Vec<bool> = rows.iter().map(|r| r.dose.elsewhere).collect();
        let voided: Vec<bool> = rows.iter().map(|r| r.voided).collect();
        let lag: Vec<Option<i64>> = rows.iter().map(|r| r.lag_s).collect();
        self.exec(
            "INSERT INTO day_records (site, day, record, hour, desk, person_id, vaccine, dose_number, outcome, elsewhere, voided, saved_day, saved_hour, lag_s)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::text[], $8::smallint[], $9::text[],
                                  $10::bool[], $11::bool[], $12::text[], $13::smallint[], $14::bigint[])
             ON CONFLICT DO NOTHING",
            &[&site, &day, &record, &hour, &desk, &person, &vaccine, &number, &outcome, &elsewhere, &voided, &saved_day, &saved_hour, &lag],
        )?;
        Ok(())
    }
}

impl IngestTx for PgTx<'_, '_> {
    fn event_hash(&mut self, id: &str) -> Result<Option<String>> {
        Ok(self.opt("SELECT content_hash FROM events WHERE id = $1", &[&id])?.map(|r| r.get(0)))
    }

    fn person_at_site(&mut self, id: &str, site: &str) -> Result<bool> {
        Ok(self.one("SELECT count(*) > 0 FROM persons WHERE id = $1 AND site = $2", &[&id, &site])?.get(0))
    }

    fn dose_event_at_site(&mut self, id: &str, site: &str) -> Result<bool> {
        Ok(self.one("SELECT count(*) > 0 FROM events WHERE id = $1 AND stream = 'dose' AND site = $2", &[&id, &site])?.get(0))
    }

    // One round trip per batch, not per event: the database is across a
    // socket, and round trips were most of a push's time on PostgreSQL.
    fn event_hashes(&mut self, ids: &[String]) -> Result<std::collections::HashMap<String, String>> {
        Ok(self.all("SELECT id, content_hash FROM events WHERE id = ANY($1)", &[&ids])?.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn persons_at_site(&mut self, ids: &[String], site: &str) -> Result<std::collections::HashSet<String>> {
        Ok(self.all("SELECT id FROM persons WHERE site = $1 AND id = ANY($2)", &[&site, &ids])?.iter().map(|r| r.get(0)).collect())
    }

    // The batch's accepted events in one statement: arrays in, rows out
    // (`WITH ORDINALITY`), so sequence numbers follow arrival order as they
    // did one by one. Their feed rows come at the batch's end, under the
    // feed lock (`append_feed`).
    fn insert_events(&mut self, events: &[NewEvent<'_>]) -> Result<Vec<i64>> {
        fn column<'a>(events: &[NewEvent<'a>], f: impl Fn(&NewEvent<'a>) -> &'a str) -> Vec<&'a str> {
            events.iter().map(f).collect()
        }
        let (id, stream, site, device) = (column(events, |e| e.id), column(events, |e| e.stream), column(events, |e| e.site), column(events, |e| e.device));
        let (person, hash) = (column(events, |e| e.person_id), column(events, |e| e.content_hash));
        let (body, now) = (column(events, |e| e.body), column(events, |e| e.now));
        let rows = self.all(
            "INSERT INTO events (id, stream, site, device, person_id, content_hash, body, received_at)
             SELECT id, stream, site, device, person_id, content_hash, body, received_at
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                  WITH ORDINALITY AS u (id, stream, site, device, person_id, content_hash, body, received_at, n)
             ORDER BY n
             RETURNING id, seq",
            &[&id, &stream, &site, &device, &person, &hash, &body, &now],
        )?;
        // Matched back by id: RETURNING's order is not promised.
        let seqs: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        events
            .iter()
            .map(|e| seqs.get(e.id).copied().ok_or_else(|| DbError::Corrupt { what: "events", detail: format!("no sequence number returned for event {}", e.id) }))
            .collect()
    }

    // Concurrent batches (of other sites, or other hub processes) wrote
    // their events meanwhile; the feed lock, held to commit, puts their feed
    // rows in commit order, so a desk that pulled past a sequence number
    // never finds a row below it appear later.
    fn append_feed(&mut self, site: &str, device: &str, entries: &[FeedEntry]) -> Result<()> {
        self.exec("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
        let devices: Vec<Option<&str>> = entries.iter().map(|e| matches!(e, FeedEntry::Event(_)).then_some(device)).collect();
        let kinds: Vec<&str> = entries.iter().map(|e| if matches!(e, FeedEntry::Event(_)) { "event" } else { "merge" }).collect();
        let seqs: Vec<Option<i64>> = entries.iter().map(|e| if let FeedEntry::Event(s) = e { Some(*s) } else { None }).collect();
        let bodies: Vec<Option<&str>> = entries.iter().map(|e| if let FeedEntry::Merge(b) = e { Some(b.as_str()) } else { None }).collect();
        self.exec(
            "INSERT INTO feed (site, device, kind, event_seq, body)
             SELECT $1, device, kind, event_seq, body
             FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[]) WITH ORDINALITY AS u (device, kind, event_seq, body, n)
             ORDER BY n",
            &[&site, &devices, &kinds, &seqs, &bodies],
        )?;
        Ok(())
    }

    fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<i64> {
        Ok(self
            .one(
                "INSERT INTO events (id, stream, site, device, person_id, content_hash, body, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                &[&e.id, &e.stream, &e.site, &e.device, &e.person_id, &e.content_hash, &e.body, &e.now],
            )?
            .get(0))
    }

    fn feed(&mut self, site: Option<&str>, device: Option<&str>, kind: &str, event_seq: Option<i64>, body: Option<&str>) -> Result<()> {
        self.exec("INSERT INTO feed (site, device, kind, event_seq, body) VALUES ($1, $2, $3, $4, $5)", &[&site, &device, &kind, &event_seq, &body])?;
        Ok(())
    }

    fn reject(&mut self, event_id: &str, device: &str, site: &str, code: &str, message: &str, now: &str) -> Result<()> {
        self.exec(
            "INSERT INTO rejections (event_id, device, site, code, message, received_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&event_id, &device, &site, &code, &message, &now],
        )?;
        Ok(())
    }

    fn upsert_person(&mut self, id: &str, site: &str, national_id: Option<&str>, name_key: &str, birth: &str) -> Result<()> {
        self.exec(
            "INSERT INTO persons (id, site, national_id, name_key, birth_date) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET national_id = excluded.national_id, name_key = excluded.name_key, birth_date = excluded.birth_date",
            &[&id, &site, &national_id, &name_key, &birth],
        )?;
        Ok(())
    }

    fn same_national_id(&mut self, national_id: &str, site: &str, except: &str) -> Result<Vec<String>> {
        Ok(self
            .all("SELECT id FROM persons WHERE national_id = $1 AND site = $2 AND merged_into IS NULL AND id <> $3", &[&national_id, &site, &except])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn merge(&mut self, from: &str, into: &str) -> Result<()> {
        self.exec("UPDATE persons SET merged_into = $2 WHERE id = $1 OR merged_into = $1", &[&from, &into])?;
        Ok(())
    }

    fn alike(&mut self, name_key: &str, birth: &str, site: &str, except: &str) -> Result<Vec<(String, Option<String>)>> {
        Ok(self
            .all(
                "SELECT id, national_id FROM persons WHERE name_key = $1 AND birth_date = $2 AND site = $3 AND id <> $4 AND merged_into IS NULL LIMIT 5",
                &[&name_key, &birth, &site, &except],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn add_duplicate(&mut self, a: &str, b: &str, reason: &str, now: &str) -> Result<()> {
        self.exec("INSERT INTO possible_duplicates (a, b, reason, found_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", &[&a, &b, &reason, &now])?;
        Ok(())
    }

    fn resolve_duplicate(&mut self, a: &str, b: &str, status: &str, by: &str, now: &str) -> Result<bool> {
        let n = self.exec(
            "UPDATE possible_duplicates SET status = $3, resolved_by = $4, resolved_at = $5 WHERE a = $1 AND b = $2 AND status = 'open'",
            &[&a, &b, &status, &by, &now],
        )?;
        Ok(n > 0)
    }

    fn person(&mut self, id: &str) -> Result<Option<(String, Option<String>)>> {
        Ok(self.opt("SELECT site, merged_into FROM persons WHERE id = $1", &[&id])?.map(|r| (r.get(0), r.get(1))))
    }

    fn dose_event(&mut self, id: &str) -> Result<Option<(String, String)>> {
        Ok(self.opt("SELECT site, body FROM events WHERE id = $1 AND stream = 'dose'", &[&id])?.map(|r| (r.get(0), r.get(1))))
    }

    fn audit(&mut self, e: &AuditEntry) -> Result<()> {
        self.exec(
            "INSERT INTO audit_log (at, coordinator, action, site, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.at, &e.coordinator, &e.action, &e.site, &e.subject, &e.detail],
        )?;
        Ok(())
    }

    fn latest_person_body(&mut self, id: &str) -> Result<Option<String>> {
        Ok(self.opt("SELECT body FROM events WHERE person_id = $1 AND stream = 'person' ORDER BY seq DESC LIMIT 1", &[&id])?.map(|r| r.get(0)))
    }

    fn registration_key(&mut self, site: &str, person_id: &str) -> Result<Option<String>> {
        Ok(self.opt("SELECT match_key FROM registrations WHERE site = $1 AND person_id = $2", &[&site, &person_id])?.map(|r| r.get(0)))
    }

    fn registered(&mut self, site: &str, match_key: &str) -> Result<Option<(String, String)>> {
        Ok(self.opt("SELECT person_id, appointment FROM registrations WHERE site = $1 AND match_key = $2", &[&site, &match_key])?.map(|r| (r.get(0), r.get(1))))
    }

    fn put_registration(&mut self, r: &RegistrationRow<'_>) -> Result<()> {
        self.exec("DELETE FROM registrations WHERE site = $1 AND match_key = $2 AND person_id <> $3", &[&r.site, &r.match_key, &r.person_id])?;
        self.exec(
            "INSERT INTO registrations (site, person_id, match_key, appointment, upload_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (site, person_id) DO UPDATE SET match_key = excluded.match_key, appointment = excluded.appointment,
                 upload_id = excluded.upload_id, updated_at = excluded.updated_at",
            &[&r.site, &r.person_id, &r.match_key, &r.appointment, &r.upload, &r.now],
        )?;
        Ok(())
    }

    // Each look-up below is a LATERAL subquery with a LIMIT: one index probe
    // per key whatever the planner believes of a table just filled (a plain
    // `= ANY($1)` was planned as a scan of the whole table, ~40 ms a chunk
    // at 100,000 rows).
    fn registered_many(&mut self, site: &str, keys: &[String]) -> Result<HashMap<String, (String, String)>> {
        Ok(self
            .all("SELECT u.k, r.person_id, r.appointment FROM unnest($2::text[]) AS u (k)
                  CROSS JOIN LATERAL (SELECT person_id, appointment FROM registrations WHERE site = $1 AND match_key = u.k LIMIT 1) r", &[&site, &keys])?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect())
    }

    fn unmerged_by_national_id(&mut self, site: &str, national_ids: &[String]) -> Result<HashMap<String, String>> {
        Ok(self
            .all("SELECT u.n, p.id FROM unnest($2::text[]) AS u (n)
                  CROSS JOIN LATERAL (SELECT id FROM persons WHERE national_id = u.n AND site = $1 AND merged_into IS NULL ORDER BY id LIMIT 1) p", &[&site, &national_ids])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn merged_into_many(&mut self, ids: &[String]) -> Result<HashMap<String, String>> {
        Ok(self.all("SELECT u.id, p.merged_into FROM unnest($1::text[]) AS u (id)
                  CROSS JOIN LATERAL (SELECT merged_into FROM persons WHERE id = u.id AND merged_into IS NOT NULL LIMIT 1) p", &[&ids])?.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    // Across sites, as `latest_person_body`: a citizen on this site's list
    // may have been scanned at another since, and the latest event stands.
    fn latest_person_bodies(&mut self, ids: &[String]) -> Result<HashMap<String, String>> {
        Ok(self
            .all("SELECT u.id, e.body FROM unnest($1::text[]) AS u (id)
                  CROSS JOIN LATERAL (SELECT body FROM events WHERE person_id = u.id AND stream = 'person' ORDER BY seq DESC LIMIT 1) e", &[&ids])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    // Every row's look-ups in one round trip (the table as it was before
    // the batch; `persons::file_persons` follows the batch's own rows). Each
    // row looks its matches up by index (`LATERAL`; `OFFSET 0` keeps the
    // planner from making it a join): as a join, planned while the table
    // was small, it became a scan of every person, 5 ms a push.
    fn person_matches(&mut self, rows: &[PersonRow<'_>]) -> Result<Vec<PersonMatches>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id).collect();
        let sites: Vec<&str> = rows.iter().map(|r| r.site).collect();
        let nids: Vec<Option<&str>> = rows.iter().map(|r| r.national_id).collect();
        let keys: Vec<&str> = rows.iter().map(|r| r.name_key).collect();
        let births: Vec<&str> = rows.iter().map(|r| r.birth).collect();
        let found = self.all(
            "(SELECT u.n, true, p.id, p.national_id FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u (id, site, nid, n)
              CROSS JOIN LATERAL (SELECT id, national_id FROM persons WHERE national_id = u.nid AND site = u.site AND merged_into IS NULL AND id <> u.id OFFSET 0) p)
             UNION ALL
             (SELECT u.n, false, p.id, p.national_id FROM unnest($1::text[], $2::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u (id, site, nk, b, n)
              CROSS JOIN LATERAL (SELECT id, national_id FROM persons WHERE name_key = u.nk AND birth_date = u.b AND site = u.site AND id <> u.id AND merged_into IS NULL LIMIT 5) p)",
            &[&ids, &sites, &nids, &keys, &births],
        )?;
        let mut out: Vec<PersonMatches> = rows.iter().map(|_| PersonMatches::default()).collect();
        for r in found {
            let Some(m) = usize::try_from(r.get::<_, i64>(0)).ok().and_then(|n| out.get_mut(n.wrapping_sub(1))) else { continue };
            if r.get::<_, bool>(1) {
                m.same_national_id.push(r.get(2));
            } else {
                m.alike.push((r.get(2), r.get(3)));
            }
        }
        Ok(out)
    }

    // One statement; an id twice in it would be refused ("cannot affect row
    // a second time"), so each id's last row only, as one by one would leave it.
    fn upsert_persons(&mut self, rows: &[PersonRow<'_>]) -> Result<()> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            last.insert(r.id, i);
        }
        let rows: Vec<&PersonRow<'_>> = rows.iter().enumerate().filter(|(i, r)| last.get(r.id) == Some(i)).map(|(_, r)| r).collect();
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id).collect();
        let sites: Vec<&str> = rows.iter().map(|r| r.site).collect();
        let nids: Vec<Option<&str>> = rows.iter().map(|r| r.national_id).collect();
        let keys: Vec<&str> = rows.iter().map(|r| r.name_key).collect();
        let births: Vec<&str> = rows.iter().map(|r| r.birth).collect();
        self.exec(
            "INSERT INTO persons (id, site, national_id, name_key, birth_date)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             ON CONFLICT (id) DO UPDATE SET national_id = excluded.national_id, name_key = excluded.name_key, birth_date = excluded.birth_date",
            &[&ids, &sites, &nids, &keys, &births],
        )?;
        Ok(())
    }

    fn put_registrations(&mut self, rows: &[&RegistrationRow<'_>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let site: Vec<&str> = rows.iter().map(|r| r.site).collect();
        let person: Vec<&str> = rows.iter().map(|r| r.person_id).collect();
        let key: Vec<&str> = rows.iter().map(|r| r.match_key).collect();
        let day: Vec<&str> = rows.iter().map(|r| r.appointment).collect();
        let upload: Vec<i64> = rows.iter().map(|r| r.upload).collect();
        let now: Vec<&str> = rows.iter().map(|r| r.now).collect();
        self.exec(
            "INSERT INTO registrations (site, person_id, match_key, appointment, upload_id, updated_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
             ON CONFLICT (site, person_id) DO UPDATE SET match_key = excluded.match_key, appointment = excluded.appointment,
                 upload_id = excluded.upload_id, updated_at = excluded.updated_at",
            &[&site, &person, &key, &day, &upload, &now],
        )?;
        Ok(())
    }

    fn feed_many(&mut self, site: &str, kind: &str, bodies: &[String]) -> Result<()> {
        if bodies.is_empty() {
            return Ok(());
        }
        self.exec(
            "INSERT INTO feed (site, device, kind, body) SELECT $1, NULL, $2, b FROM unnest($3::text[]) WITH ORDINALITY AS u (b, n) ORDER BY n",
            &[&site, &kind, &bodies],
        )?;
        Ok(())
    }

    fn dose_events_after(&mut self, seq: i64, limit: u32) -> Result<Vec<StoredDoseEvent>> {
        Ok(self
            .all("SELECT seq, site, body, received_at FROM events WHERE seq > $1 AND stream = 'dose' ORDER BY seq LIMIT $2", &[&seq, &i64::from(limit)])?
            .iter()
            .map(|r| StoredDoseEvent { seq: r.get(0), site: r.get(1), body: r.get(2), received_at: r.get(3) })
            .collect())
    }

    // Records in one statement per run of them (arrays in); a correction,
    // rare, one by one after the records before it.
    fn apply_day_changes(&mut self, changes: &[DayChange]) -> Result<()> {
        let mut records: Vec<&DayRow> = Vec::new();
        for c in changes {
            match c {
                DayChange::Record(r) => records.push(r),
                DayChange::Amend { record, dose: d } => {
                    self.insert_day_records(&records)?;
                    records.clear();
                    self.exec(
                        "UPDATE day_records SET day = $2, hour = $3, vaccine = $4, dose_number = $5, outcome = $6, elsewhere = $7 WHERE record = $1 AND NOT voided",
                        &[record, &d.day, &i16::from(d.hour), &d.vaccine, &i16::from(d.dose_number), &d.outcome.as_str(), &d.elsewhere],
                    )?;
                }
                DayChange::Void { record } => {
                    self.insert_day_records(&records)?;
                    records.clear();
                    self.exec("UPDATE day_records SET voided = true WHERE record = $1", &[record])?;
                }
            }
        }
        self.insert_day_records(&records)
    }

    fn begin_upload(&mut self, site: &str, file_name: Option<&str>, by: &str, now: &str) -> Result<i64> {
        Ok(self
            .one(
                "INSERT INTO registration_uploads (site, file_name, uploaded_by, uploaded_at, row_count, added, updated, unchanged, refused, refusals)
                 VALUES ($1, $2, $3, $4, 0, 0, 0, 0, 0, '[]') RETURNING id",
                &[&site, &file_name, &by, &now],
            )?
            .get(0))
    }

    fn finish_upload(&mut self, id: i64, t: &Tally, refusals: &str) -> Result<()> {
        let n = |v: u64| v as i64;
        self.exec(
            "UPDATE registration_uploads SET row_count = $2, added = $3, updated = $4, unchanged = $5, refused = $6, refusals = $7 WHERE id = $1",
            &[&id, &n(t.rows), &n(t.added), &n(t.updated), &n(t.unchanged), &n(t.refused), &refusals],
        )?;
        Ok(())
    }
}

fn upload_summary(r: &postgres::Row) -> UploadSummary {
    UploadSummary {
        id: r.get(0),
        site: r.get(1),
        file_name: r.get(2),
        uploaded_by: r.get(3),
        uploaded_at: r.get(4),
        rows: r.get(5),
        added: r.get(6),
        updated: r.get(7),
        unchanged: r.get(8),
        refused: r.get(9),
    }
}
