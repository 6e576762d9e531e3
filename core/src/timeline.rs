//! A person's dose records as they happened: every record with each
//! correction in order — what an amendment changed (field, before, after),
//! the reason, where and when — and a voided record kept with its void, for
//! the pages that must show history rather than only the doses as they stand
//! (`model::derive_history`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Dose, DoseEvent, DoseKind, EventId, Outcome};

/// One dose record and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordTimeline {
    /// The original record's id (what corrections point at).
    pub record: EventId,
    /// The dose as it stands (after the last amendment), or as it was when voided.
    pub dose: Dose,
    pub steps: Vec<Step>,
    /// The void, when the record was voided.
    pub voided: Option<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub event: EventId,
    /// `record`, `amend` or `void`.
    pub kind: &'static str,
    pub reason: Option<String>,
    /// The desk that wrote it, and the device (`hub` for a coordinator's correction).
    pub desk: String,
    pub device: String,
    pub at: DateTime<Utc>,
    /// What an amendment changed; empty for a record or a void.
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// `vaccine`, `lot`, `dose_number`, `administered_at`, `outcome`, `note`, `given_elsewhere`.
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// Every record of `events` (one person's, in the order recorded) with its
/// corrections, in the order the records were made. A correction of a record
/// not among the events is left out (the hub holds the truth of that record).
pub fn record_timelines(events: &[DoseEvent]) -> Vec<RecordTimeline> {
    let mut out: Vec<RecordTimeline> = Vec::new();
    for e in events {
        let step = |changes: Vec<FieldChange>, reason: Option<&String>| Step {
            event: e.id,
            kind: e.kind.as_str(),
            reason: reason.cloned(),
            desk: e.desk.clone(),
            device: e.device.clone(),
            at: e.recorded_at,
            changes,
        };
        match (&e.kind, &e.dose) {
            (DoseKind::Record, Some(d)) => out.push(RecordTimeline { record: e.id, dose: d.clone(), steps: vec![step(Vec::new(), None)], voided: None }),
            (DoseKind::Amend { corrects, reason }, Some(d)) => {
                if let Some(t) = out.iter_mut().find(|t| t.record == *corrects && t.voided.is_none()) {
                    t.steps.push(step(changes(&t.dose, d), Some(reason)));
                    t.dose = d.clone();
                }
            }
            (DoseKind::Void { corrects, reason }, _) => {
                if let Some(t) = out.iter_mut().find(|t| t.record == *corrects && t.voided.is_none()) {
                    t.voided = Some(step(Vec::new(), Some(reason)));
                }
            }
            (_, None) => {}
        }
    }
    out
}

fn outcome(o: Outcome) -> String {
    o.as_str().to_string()
}

/// The fields an amendment changed, as text a page can show.
pub fn changes(before: &Dose, after: &Dose) -> Vec<FieldChange> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut check = |field: &'static str, b: String, a: String| {
        if b != a {
            out.push(FieldChange { field, before: b, after: a });
        }
    };
    check("vaccine", before.vaccine.clone(), after.vaccine.clone());
    check("lot", opt(&before.lot), opt(&after.lot));
    check("dose_number", before.dose_number.map(|n| n.to_string()).unwrap_or_default(), after.dose_number.map(|n| n.to_string()).unwrap_or_default());
    check("administered_at", before.administered_at.to_rfc3339(), after.administered_at.to_rfc3339());
    check("outcome", outcome(before.outcome), outcome(after.outcome));
    check("note", opt(&before.note), opt(&after.note));
    let place = |d: &Dose| d.given_elsewhere.as_ref().map(|g| g.place.clone());
    check("given_elsewhere", place(before).unwrap_or_default(), place(after).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PersonId;

    fn event(kind: DoseKind, dose: Option<Dose>, device: &str) -> DoseEvent {
        DoseEvent { id: EventId::new(), person_id: PersonId(uuid::Uuid::nil()), site: "S".into(), desk: "D1".into(), device: device.into(), kind, dose, confirmed: vec![], recorded_at: Utc::now() }
    }

    fn dose(lot: &str, outcome: Outcome) -> Dose {
        Dose {
            vaccine: "AZ".into(),
            lot: Some(lot.into()),
            lot_expiry: None,
            dose_number: Some(1),
            administered_at: "2021-10-05T09:00:00+07:00".parse().unwrap_or_else(|_| Utc::now().fixed_offset()),
            outcome,
            note: None,
            given_elsewhere: None,
        }
    }

    #[test]
    fn an_amendment_says_what_it_changed_and_a_void_keeps_the_record() {
        let a = event(DoseKind::Record, Some(dose("AZ2101", Outcome::Vaccinated)), "phone");
        let b = event(DoseKind::Record, Some(dose("AZ2102", Outcome::Vaccinated)), "phone");
        let fix = event(DoseKind::Amend { corrects: a.id, reason: "wrong lot".into() }, Some(dose("AZ2109", Outcome::Vaccinated)), "hub");
        let void = event(DoseKind::Void { corrects: b.id, reason: "entered twice".into() }, None, "phone");
        // A correction of a record not here changes nothing.
        let stray = event(DoseKind::Void { corrects: EventId::new(), reason: "?".into() }, None, "phone");
        let t = record_timelines(&[a.clone(), b.clone(), fix.clone(), void.clone(), stray]);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].record, a.id);
        assert_eq!(t[0].dose.lot.as_deref(), Some("AZ2109"));
        assert_eq!(t[0].steps.len(), 2);
        assert_eq!((t[0].steps[1].kind, t[0].steps[1].device.as_str(), t[0].steps[1].reason.as_deref()), ("amend", "hub", Some("wrong lot")));
        assert_eq!(t[0].steps[1].changes, vec![FieldChange { field: "lot", before: "AZ2101".into(), after: "AZ2109".into() }]);
        assert!(t[0].voided.is_none());
        let v = t[1].voided.as_ref().map(|s| (s.kind, s.reason.as_deref()));
        assert_eq!(v, Some(("void", Some("entered twice"))));
        assert_eq!(t[1].dose.lot.as_deref(), Some("AZ2102"), "a voided record is shown as it was");
    }

    #[test]
    fn every_field_that_differs_is_listed_once() {
        let before = dose("L1", Outcome::Vaccinated);
        let mut after = dose("L1", Outcome::Deferred);
        after.dose_number = Some(2);
        after.note = Some("sốt".into());
        let c: Vec<&str> = changes(&before, &after).iter().map(|c| c.field).collect();
        assert_eq!(c, vec!["dose_number", "outcome", "note"]);
        assert!(changes(&before, &before).is_empty());
    }
}
