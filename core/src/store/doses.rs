//! Dose events and the `doses` projection (each record as it stands after
//! its amends and voids).

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::persons::insert_person_event;
use super::sync::Origin;
use super::{from_json, json, outbox, Result, Store, StoreError};
use crate::model::{derive_history, DoseEvent, DoseKind, DoseRecord, EventId, PersonEvent, PersonId};

/// Where a dose record stands, for checking a correction against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoseState {
    pub person: PersonId,
    pub voided: bool,
}

/// A record's columns and its head event's body: the row keeps the event's
/// `seq`, not a copy of the dose (schema 8, ADR 0039). A left join, so a
/// row whose event is missing is reported, not skipped.
const RECORD_COLUMNS: &str = "d.id, d.person_id, d.site, d.desk, d.amended, e.body";
const RECORDS: &str = "doses d LEFT JOIN dose_events e ON e.seq = d.head_seq";

type RecordRow = (String, String, String, String, bool, Option<String>);

fn record_from_row(r: &Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_record(row: RecordRow) -> Result<DoseRecord> {
    let (id, person, site, desk, amended, head) = row;
    let bad = |detail: String| StoreError::BadRow { table: "doses", detail };
    let head = head.ok_or_else(|| bad(format!("the latest event of record {id} is missing")))?;
    let head: DoseEvent = from_json("dose_events", &head)?;
    // A live record's latest event is its record or an amend: both carry
    // the dose as it stands.
    let dose = head.dose.ok_or_else(|| bad(format!("the latest event of record {id} carries no dose")))?;
    Ok(DoseRecord {
        id: id.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
        person_id: person.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
        site,
        desk,
        dose,
        head: head.id,
        amended,
    })
}

impl Store {
    /// Append a dose event, update the record it belongs to and queue the
    /// event for the hub, in one transaction.
    pub fn append_dose_event(&self, e: &DoseEvent) -> Result<()> {
        self.write(|tx| insert_dose_event(tx, e))
    }

    /// Replace a dose record the hub refused: `void` (of the refused record)
    /// and `record` (its corrected content) in one transaction. The refused
    /// record's events not yet accepted, the void among them, are withdrawn:
    /// the hub never had the record, so it gets only the new one.
    pub fn append_replacement(&self, void: &DoseEvent, record: &DoseEvent) -> Result<()> {
        self.write(|tx| {
            insert_dose_event(tx, void)?;
            insert_dose_event(tx, record)?;
            tx.prepare_cached(
                "UPDATE outbox SET state = 'withdrawn', updated_at = ?2
                 WHERE state IN ('pending', 'sent', 'to_fix')
                   AND event_id IN (SELECT id FROM dose_events WHERE root_id = ?1)",
            )?
            .execute(params![void.root().to_string(), super::now_text()])?;
            Ok(())
        })
    }

    /// Write many events in one transaction (bulk load, pulled changes).
    pub fn append_batch(&self, persons: &[PersonEvent], doses: &[DoseEvent]) -> Result<()> {
        self.write(|tx| {
            for p in persons {
                insert_person_event(tx, p)?;
            }
            for d in doses {
                insert_dose_event(tx, d)?;
            }
            Ok(())
        })
    }

    /// A person's doses as they stand (voided ones left out), by date.
    pub fn doses_of(&self, person: PersonId) -> Result<Vec<DoseRecord>> {
        let rows = self.read(|c| {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM {RECORDS} WHERE d.person_id = ?1 AND d.voided = 0");
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map([person.to_string()], record_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        let mut out = rows.into_iter().map(to_record).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|r| (r.dose.administered_at, r.id));
        Ok(out)
    }

    /// Every dose event about a person, in the order they were written.
    pub fn dose_events_of(&self, person: PersonId) -> Result<Vec<DoseEvent>> {
        self.read_with(|c| {
            let mut st = c.prepare_cached("SELECT body FROM dose_events WHERE person_id = ?1 ORDER BY seq")?;
            let bodies = st.query_map([person.to_string()], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            bodies.iter().map(|b| from_json("dose_events", b)).collect()
        })
    }

    pub fn dose_event(&self, id: EventId) -> Result<Option<DoseEvent>> {
        self.read_with(|c| {
            let body: Option<String> =
                c.prepare_cached("SELECT body FROM dose_events WHERE id = ?1")?.query_row([id.to_string()], |r| r.get(0)).optional()?;
            body.map(|b| from_json("dose_events", &b)).transpose()
        })
    }

    /// The record an event id belongs to (an amend's id leads to its record).
    pub fn dose_state(&self, id: EventId) -> Result<Option<(EventId, DoseState)>> {
        self.read_with(|c| {
            let row: Option<(String, String, bool)> = c
                .prepare_cached(
                    "SELECT d.id, d.person_id, d.voided FROM doses d
                     WHERE d.id = (SELECT root_id FROM dose_events WHERE id = ?1)",
                )?
                .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((root, person, voided)) = row else { return Ok(None) };
            let bad = |e: uuid::Error| StoreError::BadRow { table: "doses", detail: e.to_string() };
            Ok(Some((root.parse().map_err(bad)?, DoseState { person: person.parse().map_err(bad)?, voided })))
        })
    }

    /// Doses given on a day (local date of the dose), optionally at one desk,
    /// in the order they were given.
    pub fn doses_on(&self, day: NaiveDate, desk: Option<&str>) -> Result<Vec<DoseRecord>> {
        let rows = self.read(|c| {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM {RECORDS} WHERE d.day = ?1 AND d.voided = 0 AND (?2 IS NULL OR d.desk = ?2)"
            );
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params![day.to_string(), desk], record_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        let mut out = rows.into_iter().map(to_record).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|r| (r.dose.administered_at, r.id));
        Ok(out)
    }

    /// Stream the doses of a date range (inclusive), optionally of one site,
    /// ordered by day, without holding them all in memory.
    pub fn for_each_dose(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        site: Option<&str>,
        mut f: impl FnMut(DoseRecord) -> Result<()>,
    ) -> Result<()> {
        self.read_with(|c| {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM {RECORDS} WHERE d.day BETWEEN ?1 AND ?2 AND d.voided = 0
                 AND (?3 IS NULL OR d.site = ?3) ORDER BY d.day, d.id"
            );
            let mut st = c.prepare(&sql)?;
            let mut rows = st.query(params![from.to_string(), to.to_string(), site])?;
            while let Some(r) = rows.next()? {
                f(to_record(record_from_row(r)?)?)?;
            }
            Ok(())
        })
    }

    pub fn dose_event_count(&self) -> Result<u64> {
        self.read(|c| super::count(c, "SELECT count(*) FROM dose_events"))
    }

    /// Rebuild a person's doses from their events and compare with the
    /// projection: the projection is derived state and must agree.
    pub fn verify_dose_projection(&self, person: PersonId) -> Result<bool> {
        let derived = derive_history(&self.dose_events_of(person)?);
        Ok(derived == self.doses_of(person)?)
    }
}

pub(super) fn insert_dose_event(tx: &Transaction<'_>, e: &DoseEvent) -> Result<()> {
    insert_dose_event_from(tx, e, Origin::Local)
}

/// Write a dose event and update its record; queue it for the hub only when
/// it was made here.
pub(super) fn insert_dose_event_from(tx: &Transaction<'_>, e: &DoseEvent, origin: Origin) -> Result<()> {
    let id = e.id.to_string();
    let root = e.root().to_string();
    let seq: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO dose_events (id, root_id, person_id, kind, body, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO NOTHING RETURNING seq",
        )?
        .query_row(params![id, root, e.person_id.to_string(), e.kind.as_str(), json(e), e.recorded_at.to_rfc3339()], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else {
        return Err(StoreError::Duplicate { what: "event", value: id });
    };
    let changed = match (&e.kind, &e.dose) {
        (DoseKind::Record, Some(d)) => tx
            .prepare_cached(
                "INSERT INTO doses (id, person_id, head_seq, day, site, desk, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![id, e.person_id.to_string(), seq, d.administered_at.date_naive().to_string(), e.site, e.desk, d.outcome.as_str()])?,
        (DoseKind::Amend { .. }, Some(d)) => tx
            .prepare_cached(
                "UPDATE doses SET head_seq = ?2, day = ?3, outcome = ?4, amended = 1
                 WHERE id = ?1 AND voided = 0 AND person_id = ?5",
            )?
            .execute(params![root, seq, d.administered_at.date_naive().to_string(), d.outcome.as_str(), e.person_id.to_string()])?,
        (DoseKind::Void { .. }, _) => tx
            .prepare_cached("UPDATE doses SET head_seq = ?2, voided = 1 WHERE id = ?1 AND voided = 0 AND person_id = ?3")?
            .execute(params![root, seq, e.person_id.to_string()])?,
        (_, None) => return Err(StoreError::BadRow { table: "dose_events", detail: format!("{} event {id} has no dose", e.kind.as_str()) }),
    };
    if changed == 0 {
        return Err(StoreError::NotFound { what: "live dose record", id: root });
    }
    match origin {
        Origin::Local => outbox::enqueue(tx, &id, outbox::Stream::Dose),
        Origin::Hub => Ok(()),
    }
}
