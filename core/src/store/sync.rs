//! The store's side of sync: read the outbox in batches, record what the hub
//! said about each event, and apply pulled changes with the pull cursor in
//! the same transaction (so a pull interrupted anywhere resumes exactly).

use rusqlite::{params, OptionalExtension, Transaction};

use super::doses::insert_dose_event_from;
use super::persons::insert_person_event_from;
use super::{from_json, now_text, Result, Store, StoreError};
use crate::model::{DoseEvent, PersonEvent};
use crate::sync::protocol::{Change, EventResult, PushStatus, WireEvent};

const META_CURSOR: &str = "pull_cursor";

/// Where an applied event came from decides whether it is queued for the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Local,
    Hub,
}

impl Store {
    /// The oldest events not yet accepted by the hub (pending, or sent with
    /// no answer yet), at most `limit`.
    pub fn outbox_batch(&self, limit: u32) -> Result<Vec<WireEvent>> {
        self.read_with(|c| {
            let mut st = c.prepare_cached(
                "SELECT o.stream, coalesce(p.body, d.body) FROM outbox o
                 LEFT JOIN person_events p ON o.stream = 'person' AND p.id = o.event_id
                 LEFT JOIN dose_events d ON o.stream = 'dose' AND d.id = o.event_id
                 WHERE o.state IN ('pending', 'sent') ORDER BY o.seq LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(stream, body)| {
                    let body = body.ok_or(StoreError::BadRow { table: "outbox", detail: "event missing".into() })?;
                    Ok(if stream == "person" {
                        WireEvent::Person(from_json::<PersonEvent>("person_events", &body)?)
                    } else {
                        WireEvent::Dose(from_json::<DoseEvent>("dose_events", &body)?)
                    })
                })
                .collect()
        })
    }

    /// Mark events as sent (a reply may still be lost; they stay eligible).
    pub fn mark_sent(&self, events: &[WireEvent]) -> Result<()> {
        self.write(|tx| {
            let mut st = tx.prepare_cached("UPDATE outbox SET state = 'sent', attempts = attempts + 1, updated_at = ?2 WHERE event_id = ?1 AND state IN ('pending', 'sent')")?;
            let now = now_text();
            for e in events {
                st.execute(params![e.id().to_string(), now])?;
            }
            Ok(())
        })
    }

    /// Record the hub's answer for each event.
    pub fn record_results(&self, results: &[EventResult]) -> Result<()> {
        self.write(|tx| {
            let now = now_text();
            let mut ok = tx.prepare_cached("UPDATE outbox SET state = 'accepted', reject_code = NULL, reject_message = NULL, updated_at = ?2 WHERE event_id = ?1")?;
            let mut bad = tx.prepare_cached("UPDATE outbox SET state = 'to_fix', reject_code = ?2, reject_message = ?3, updated_at = ?4 WHERE event_id = ?1")?;
            for r in results {
                match r.status {
                    PushStatus::Accepted | PushStatus::Duplicate => ok.execute(params![r.id.to_string(), now])?,
                    PushStatus::Rejected => bad.execute(params![r.id.to_string(), r.code, r.message, now])?,
                };
            }
            Ok(())
        })
    }

    pub fn pull_cursor(&self) -> Result<Option<String>> {
        self.meta(META_CURSOR)
    }

    /// Apply one page of pulled changes and move the cursor, atomically.
    /// Returns how many events were new here. The catalog is returned for
    /// the desk to adopt (it checks the version).
    pub fn apply_changes(&self, changes: &[Change], cursor: &str) -> Result<(u64, Option<crate::catalog::Catalog>)> {
        self.write(|tx| {
            let mut added = 0;
            let mut catalog = None;
            for ch in changes {
                match ch {
                    Change::Event { event } => added += u64::from(apply_event(tx, event)?),
                    Change::PersonMerge { from, into } => alias(tx, &from.to_string(), &into.to_string())?,
                    Change::Catalog { catalog: c } => {
                        tx.prepare_cached("INSERT OR REPLACE INTO catalog (version, body, loaded_at) VALUES (?1, ?2, ?3)")?
                            .execute(params![c.version, super::json(c), now_text()])?;
                        catalog = Some(c.clone());
                    }
                    Change::Registration { registration: r } => {
                        // The person may be known here under another id (made
                        // at this desk before the list came): file it under that.
                        let canonical: Option<String> = tx
                            .prepare_cached("SELECT canonical FROM person_aliases WHERE alias = ?1")?
                            .query_row([r.person_id.to_string()], |row| row.get(0))
                            .optional()?;
                        tx.prepare_cached(
                            "INSERT INTO registrations (person_id, site, appointment, pulled_at) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (person_id) DO UPDATE SET site = excluded.site, appointment = excluded.appointment, pulled_at = excluded.pulled_at",
                        )?
                        .execute(params![canonical.unwrap_or_else(|| r.person_id.to_string()), r.site, r.appointment.to_string(), now_text()])?;
                    }
                    Change::Site { .. } | Change::Desk { .. } | Change::Unknown => {}
                }
            }
            tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
                .execute(params![META_CURSOR, cursor])?;
            Ok((added, catalog))
        })
    }

    /// The day a person is expected (the site's registration list), under
    /// their id or any id merged into it.
    pub fn appointment(&self, id: crate::model::PersonId) -> Result<Option<chrono::NaiveDate>> {
        let found: Option<String> = self.read(|c| {
            c.prepare_cached(
                "SELECT appointment FROM registrations WHERE person_id = ?1
                    OR person_id IN (SELECT alias FROM person_aliases WHERE canonical = ?1)
                 ORDER BY appointment DESC LIMIT 1",
            )?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()
        })?;
        found.map(|d| d.parse().map_err(|_| StoreError::BadRow { table: "registrations", detail: format!("appointment {d:?} is not a date") })).transpose()
    }

    /// The person an id stands for here (itself, unless it is an alias).
    pub fn canonical_person(&self, id: crate::model::PersonId) -> Result<crate::model::PersonId> {
        let found: Option<String> = self.read(|c| {
            c.prepare_cached("SELECT canonical FROM person_aliases WHERE alias = ?1")?.query_row([id.to_string()], |r| r.get(0)).optional()
        })?;
        Ok(found.and_then(|s| s.parse().ok()).unwrap_or(id))
    }
}

/// Store a pulled event unless it is already here. `true` when new.
fn apply_event(tx: &Transaction<'_>, e: &WireEvent) -> Result<bool> {
    let table = match e {
        WireEvent::Person(_) => "person_events",
        WireEvent::Dose(_) => "dose_events",
    };
    let exists: bool = tx.prepare_cached(&format!("SELECT count(*) > 0 FROM {table} WHERE id = ?1"))?.query_row([e.id().to_string()], |r| r.get(0))?;
    if exists {
        return Ok(false);
    }
    match e {
        WireEvent::Person(p) => {
            // The same person created at another desk: keep the one on record
            // here and make the pulled id an alias of it.
            if let Some(n) = p.person.national_id.as_ref() {
                let holder: Option<String> =
                    tx.prepare_cached("SELECT id FROM persons WHERE national_id = ?1")?.query_row([&n.number], |r| r.get(0)).optional()?;
                if let Some(h) = holder.filter(|h| *h != p.person.id.to_string()) {
                    tx.prepare_cached("INSERT INTO person_events (id, person_id, body, recorded_at) VALUES (?1, ?2, ?3, ?4)")?
                        .execute(params![p.id.to_string(), p.person.id.to_string(), super::json(p), p.recorded_at.to_rfc3339()])?;
                    alias(tx, &p.person.id.to_string(), &h)?;
                    return Ok(true);
                }
            }
            insert_person_event_from(tx, p, Origin::Hub)?;
        }
        WireEvent::Dose(d) => {
            let mut d = d.clone();
            let canonical: Option<String> =
                tx.prepare_cached("SELECT canonical FROM person_aliases WHERE alias = ?1")?.query_row([d.person_id.to_string()], |r| r.get(0)).optional()?;
            if let Some(c) = canonical.and_then(|c| c.parse().ok()) {
                d.person_id = c;
            }
            match insert_dose_event_from(tx, &d, Origin::Hub) {
                // A correction of a record this desk never saw (or already
                // voided) changes nothing here; the hub holds the truth.
                Err(StoreError::NotFound { .. }) => return Ok(false),
                other => other?,
            }
        }
    }
    Ok(true)
}

fn alias(tx: &Transaction<'_>, from: &str, into: &str) -> Result<()> {
    let into_known: bool = tx.prepare_cached("SELECT count(*) > 0 FROM persons WHERE id = ?1")?.query_row([into], |r| r.get(0))?;
    if into_known && from != into {
        tx.prepare_cached("INSERT OR REPLACE INTO person_aliases (alias, canonical) VALUES (?1, ?2)")?.execute(params![from, into])?;
    }
    Ok(())
}
