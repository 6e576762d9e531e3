//! One visit at the desk, decided here for every front end: who the scanned
//! or typed person is, what of the scan completes the record on file, which
//! dose is due, and the save — the person when changed, then the dose —
//! which a retry (a second tap, a screen rebuilt after the app was killed)
//! does not do twice.

use serde::{Deserialize, Serialize};

use super::{Desk, DoseDraft};
use crate::error::Result;
use crate::model::{Address, DoseEvent, EventId, Outcome, Person, PersonId, VisitId};
use crate::validate::{self, Findings, NextDose, PersonDraft};

/// What the desk knows before the volunteer taps anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitPlan {
    /// The person on record the draft is about, if any.
    pub matched: Option<Person>,
    /// The draft to show: the record on file completed by the scan, or the
    /// scan itself for someone new.
    pub draft: PersonDraft,
    /// The dose due, for a person on record.
    pub next: Option<NextDose>,
    /// What the person's checks find on `draft`.
    pub findings: Findings,
    /// The matched person is on the site's registration list for this day.
    pub appointment: Option<chrono::NaiveDate>,
}

/// Today's dose in a visit. Vaccine (and, with one lot, the lot) default
/// to today's session; a lot is kept only for a dose given (`Desk`'s rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitDose {
    #[serde(default)]
    pub vaccine: Option<String>,
    #[serde(default)]
    pub lot: Option<String>,
    pub outcome: Outcome,
    #[serde(default)]
    pub note: Option<String>,
}

/// The visit corrects what the hub refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitFix {
    /// The refused dose record (`None`: the person was refused).
    pub record: Option<EventId>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitSave {
    pub visit: VisitId,
    pub person: PersonDraft,
    /// `None`: only the person (a person fix, or no dose today).
    pub dose: Option<VisitDose>,
    #[serde(default)]
    pub fix: Option<VisitFix>,
    #[serde(default)]
    pub confirmed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitSaved {
    pub person: Person,
    /// A person event was written (new, or changed since the record).
    pub person_saved: bool,
    pub dose: Option<DoseEvent>,
    /// This visit had been saved already; nothing was written now.
    pub repeated: bool,
}

impl VisitId {
    /// The id of a person first saved in this visit: the same on every retry.
    pub fn new_person(self) -> PersonId {
        PersonId(self.derived(b"person-id"))
    }

    /// The id of the visit's first person event, derived so it differs from
    /// the dose event's (the visit's own) and is the same on every retry.
    pub fn person_event(self) -> EventId {
        EventId(self.derived(b"person"))
    }

    /// An id made from the visit's for `what`: the visit's time in front
    /// (UUIDv7), the rest from a UUIDv5 of the visit's id. Time-ordered, as
    /// every other id a desk makes: a purely hashed id lands at a random
    /// place in every index keyed by it (the hub's persons and its events by
    /// person and by id), which at ten million events costs the hub's ingest
    /// page writes all over its indexes (ADR 0037). A visit id without a
    /// time (not made by a desk) gets the plain UUIDv5, as before.
    fn derived(self, what: &[u8]) -> uuid::Uuid {
        let hashed = self.hashed(what);
        let Some(at) = self.0.get_timestamp().filter(|_| self.0.get_version() == Some(uuid::Version::SortRand)) else {
            return hashed;
        };
        let (seconds, nanos) = at.to_unix();
        let mut rest = [0u8; 10];
        rest.copy_from_slice(&hashed.as_bytes()[6..]);
        uuid::Builder::from_unix_timestamp_millis(seconds * 1000 + u64::from(nanos / 1_000_000), &rest).into_uuid()
    }

    /// The id made from the visit's for `what` before ADR 0037: a UUIDv5 alone.
    fn hashed(self, what: &[u8]) -> uuid::Uuid {
        uuid::Uuid::new_v5(&self.0, what)
    }
}

impl Desk {
    /// Match the scanned or typed draft to a person on record, complete the
    /// record with what the scan adds, and check it.
    pub fn prepare_visit(&self, scanned: &PersonDraft) -> Result<VisitPlan> {
        let matched = match scanned.id {
            Some(id) => self.store.person(id)?,
            None => self.match_draft(scanned)?,
        };
        let draft = match &matched {
            Some(m) => complete(PersonDraft::from(m), scanned),
            None => scanned.clone(),
        };
        let next = matched.as_ref().map(|m| self.next_dose(m.id)).transpose()?;
        let (findings, _) = self.check_person(&draft)?;
        let appointment = matched.as_ref().map(|m| self.store.appointment(m.id)).transpose()?.flatten();
        Ok(VisitPlan { matched, draft, next, findings, appointment })
    }

    /// Save a visit: the person when new or changed, then the dose (or the
    /// correction of the refused record). Saving the same visit again
    /// returns what the first save wrote; after a refusal, a retry saves
    /// only what is still missing.
    pub fn save_visit(&self, v: &VisitSave) -> Result<VisitSaved> {
        let _visit = self.visit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let dose_id = EventId(v.visit.0);
        if let Some(done) = self.store.dose_event(dose_id)? {
            return Ok(VisitSaved { person: self.person(done.person_id)?, person_saved: false, dose: Some(done), repeated: true });
        }
        // A visit begun before the update to ADR 0037's ids and saved again
        // after it (the screen keeps the visit's id across the restart)
        // goes on with the hashed ids that version made, if it saved under them.
        let (hashed_person, hashed_event) = (PersonId(v.visit.hashed(b"person-id")), EventId(v.visit.hashed(b"person")));
        let new_person = v.visit.new_person();
        let id = match v.person.id {
            Some(id) => id,
            None if hashed_person != new_person && self.store.person(hashed_person)?.is_some() => hashed_person,
            None => new_person,
        };
        let draft = PersonDraft { id: Some(id), ..v.person.clone() };
        let on_file = self.store.person(id)?;
        // The visit's first person event has an id made from the visit's
        // (the dose event has the visit's own): how a visit that saves only
        // the person knows it was saved.
        let events = if on_file.is_some() { self.store.person_events(id)? } else { Vec::new() };
        let visit_event = if events.iter().any(|e| e.id == hashed_event) { hashed_event } else { v.visit.person_event() };
        let saved_before = events.iter().any(|e| e.id == visit_event);
        let unchanged = on_file.as_ref().is_some_and(|p| validate::check_person(&draft, self.today()).1.as_ref() == Some(p));
        // A refused person is sent again even unchanged (the fix may have
        // been the hub's), once per visit.
        let resend = v.fix.as_ref().is_some_and(|f| f.record.is_none()) && !saved_before;
        let (person, person_saved) = match on_file {
            Some(p) if unchanged && !resend => (p, false),
            _ => {
                let event = if saved_before { EventId::new() } else { visit_event };
                (self.save_person_with(&draft, &v.confirmed, true, event)?, true)
            }
        };
        let Some(d) = &v.dose else {
            let repeated = saved_before && !person_saved;
            return Ok(VisitSaved { person, person_saved, dose: None, repeated });
        };
        let event = match v.fix.as_ref().and_then(|f| f.record.map(|r| (r, f))) {
            Some((record, fix)) => {
                // A correction starts from the record as it stands: its
                // vaccine, time and lot stay unless the visit changes them.
                let mut draft = self.dose_draft_of(record)?;
                if d.vaccine.is_some() {
                    draft.vaccine.clone_from(&d.vaccine);
                }
                if d.lot.is_some() {
                    draft.lot.clone_from(&d.lot);
                }
                draft.outcome = d.outcome;
                if d.note.is_some() {
                    draft.note.clone_from(&d.note);
                }
                self.correct_dose_as(dose_id, record, &draft, &fix.reason, &v.confirmed)?
            }
            None => {
                let draft = DoseDraft { vaccine: d.vaccine.clone(), lot: d.lot.clone(), note: d.note.clone(), outcome: d.outcome, ..DoseDraft::vaccinated(person.id) };
                self.record_dose_as(dose_id, &draft, &v.confirmed)?
            }
        };
        Ok(VisitSaved { person, person_saved, dose: Some(event), repeated: false })
    }
}

/// The record on file, with what the scan adds where the record is empty.
/// A masked id (`0221*****234` on a PC-Covid code) adds nothing.
fn complete(on_file: PersonDraft, scanned: &PersonDraft) -> PersonDraft {
    let or = |a: Option<String>, b: &Option<String>| a.or_else(|| b.clone().filter(|s| !s.trim().is_empty()));
    let scanned_id = scanned.national_id.clone().filter(|n| !n.contains('*'));
    let id_kind = if on_file.national_id.is_none() && scanned_id.is_some() { scanned.id_kind } else { on_file.id_kind };
    let a = &scanned.address;
    let address = Address {
        line: or(on_file.address.line.clone(), &a.line),
        province_code: or(on_file.address.province_code.clone(), &a.province_code),
        district_code: or(on_file.address.district_code.clone(), &a.district_code),
        ward_code: or(on_file.address.ward_code.clone(), &a.ward_code),
    };
    PersonDraft {
        national_id: or(on_file.national_id.clone(), &scanned_id),
        id_kind,
        sex: on_file.sex.or(scanned.sex),
        phone: or(on_file.phone.clone(), &scanned.phone),
        health_insurance: or(on_file.health_insurance.clone(), &scanned.health_insurance),
        priority_group: or(on_file.priority_group.clone(), &scanned.priority_group),
        address,
        ..on_file
    }
}
