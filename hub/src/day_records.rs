//! The day table: one narrow row per dose record, kept as the record stands
//! (amends applied, voids marked), filed under the site and the Vietnam day
//! the dose was given. The dashboard, the daily report and its workbook read
//! a site's day from it by `(site, day)` instead of folding every event the
//! site received over four days (ADR 0022): at a province's busiest site that
//! fold parsed ~40,000 JSON bodies per page view.
//!
//! A row is written from the event the hub is accepting, never from a read:
//! a record inserts its row, an amend rewrites the row's dose, a void marks
//! it. That is `derive_history` applied one event at a time, which is exact
//! because the hub accepts a correction only once its record is there, and
//! a correction always names the record (the root). Merges are not written
//! here: the person is the record's own id, followed through
//! `persons.merged_into` when read.

use chrono::{DateTime, Timelike, Utc};
use vaxdesk_core::model::{Dose, DoseEvent, DoseKind, Outcome};

use crate::db::Result;
use crate::ingest::IngestTx;

/// What the table says of a dose: where it falls and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayDose {
    /// The Vietnam date it was given (`YYYY-MM-DD`).
    pub day: String,
    /// The Vietnam hour it was given.
    pub hour: u8,
    pub vaccine: String,
    /// 0 when none (deferred, refused).
    pub dose_number: u8,
    pub outcome: Outcome,
    /// Given elsewhere: history typed in, not the day's work.
    pub elsewhere: bool,
}

impl DayDose {
    pub fn of(d: &Dose) -> DayDose {
        let at = d.administered_at.with_timezone(&crate::report::vn());
        DayDose {
            day: at.date_naive().to_string(),
            hour: at.hour() as u8,
            vaccine: d.vaccine.clone(),
            dose_number: d.dose_number.unwrap_or(0),
            outcome: d.outcome,
            elsewhere: d.given_elsewhere.is_some(),
        }
    }
}

/// One record's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub site: String,
    /// The record's event id.
    pub record: String,
    pub desk: String,
    /// The record's person (as written; read through merges).
    pub person: String,
    pub dose: DayDose,
    pub voided: bool,
    /// When the phone saved it, in Vietnam: date and hour (the lag chart's hours).
    pub saved_day: String,
    pub saved_hour: u8,
    /// Seconds from saving on the phone to arriving at the hub; `None` when
    /// the hub's clock text does not parse (never from the hub itself).
    pub lag_s: Option<i64>,
}

/// What one accepted dose event does to the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayChange {
    Record(DayRow),
    /// The record's dose is now this (unless it was voided).
    Amend { record: String, dose: DayDose },
    Void { record: String },
}

impl DayChange {
    /// The change an event brings, received by the hub at `received_at`
    /// (its clock text) for `site` (the sending device's site, as the hub
    /// files the event). `None` for an event without content, which
    /// `derive_history` ignores too.
    pub fn of(e: &DoseEvent, site: &str, received_at: &str) -> Option<DayChange> {
        match (&e.kind, &e.dose) {
            (DoseKind::Record, Some(d)) => {
                let saved = e.recorded_at.with_timezone(&crate::report::vn());
                let lag_s = DateTime::parse_from_rfc3339(received_at).ok().map(|r| (r.with_timezone(&Utc) - e.recorded_at).num_seconds().max(0));
                Some(DayChange::Record(DayRow {
                    site: site.to_string(),
                    record: e.id.to_string(),
                    desk: e.desk.clone(),
                    person: e.person_id.to_string(),
                    dose: DayDose::of(d),
                    voided: false,
                    saved_day: saved.date_naive().to_string(),
                    saved_hour: saved.hour() as u8,
                    lag_s,
                }))
            }
            (DoseKind::Amend { corrects, .. }, Some(d)) => Some(DayChange::Amend { record: corrects.to_string(), dose: DayDose::of(d) }),
            (DoseKind::Void { corrects, .. }, _) => Some(DayChange::Void { record: corrects.to_string() }),
            (_, None) => None,
        }
    }
}

/// The outcome from the table's text (`Outcome::as_str`).
pub fn outcome_of(text: &str) -> Outcome {
    match text {
        "deferred" => Outcome::Deferred,
        "refused" => Outcome::Refused,
        _ => Outcome::Vaccinated,
    }
}

/// The events a migration fills the table from, a page at a time.
const BACKFILL_PAGE: u32 = 5_000;

/// Fill the table from every dose event on the hub, in arrival order (the
/// migration that adds it: a hub upgraded in place shows its past days).
/// Returns how many events were read.
pub fn backfill(tx: &mut dyn IngestTx) -> Result<u64> {
    let (mut after, mut read) = (0i64, 0u64);
    loop {
        let page = tx.dose_events_after(after, BACKFILL_PAGE)?;
        let Some(last) = page.last() else { return Ok(read) };
        after = last.seq;
        read += page.len() as u64;
        let changes: Vec<DayChange> = page
            .iter()
            // A body that does not parse was never accepted by this hub's
            // rules; it is left out of the figures, as the fold left it out.
            .filter_map(|e| serde_json::from_str::<DoseEvent>(&e.body).ok().and_then(|d| DayChange::of(&d, &e.site, &e.received_at)))
            .collect();
        tx.apply_day_changes(&changes)?;
    }
}

/// A dose event as the backfill reads it.
#[derive(Debug, Clone)]
pub struct StoredDoseEvent {
    pub seq: i64,
    pub site: String,
    pub body: String,
    pub received_at: String,
}

/// What the database counts of a site's day for a list of sites: records
/// as they stand (not voided, not given elsewhere) by outcome, the day's
/// list, and persons who came (merges followed), of them on the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub given: u32,
    pub deferred: u32,
    pub refused: u32,
    pub registered: u32,
    pub came: u32,
    pub served: u32,
}
