//! A visit as every front end makes it: prepare (match, complete, check),
//! then save (person when changed, then the dose), safe to repeat.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use vaxdesk_core::desk::{VisitDose, VisitFix, VisitSave};
use vaxdesk_core::model::{Outcome, VisitId};
use vaxdesk_core::sync::protocol::{EventResult, PushStatus};
use vaxdesk_core::Error;

fn given() -> Option<VisitDose> {
    Some(VisitDose { vaccine: None, lot: None, outcome: Outcome::Vaccinated, note: None })
}

#[test]
fn a_masked_scan_is_completed_from_the_record_and_the_dose_due_shown() {
    let t = desk();
    let mut on_file = hoa();
    on_file.phone = None;
    let p = add(&t.desk, &on_file);
    // A PC-Covid code: id masked, a phone the record lacks.
    let mut scan = hoa();
    scan.national_id = Some("0221*****234".into());
    scan.full_name = "NGUYEN THI HOA".into();
    scan.birth_date = "1987".into();
    scan.phone = Some("0912345678".into());
    let plan = t.desk.prepare_visit(&scan).unwrap();
    assert_eq!(plan.matched.as_ref().map(|m| m.id), Some(p.id));
    let d = &plan.draft;
    assert_eq!(d.national_id.as_deref(), Some("022187001234"), "the record's id, not the masked one");
    assert_eq!((d.full_name.as_str(), d.birth_date.as_str()), ("Nguyễn Thị Hoa", "1987-05-02"), "the record's name and day");
    assert_eq!(d.phone.as_deref(), Some("0912345678"), "the scan adds what the record lacks");
    assert_eq!(plan.next.as_ref().map(|n| n.dose_number), Some(1));
    assert!(plan.findings.is_empty(), "{}", plan.findings);

    // Someone new: the scan as it is, checked; no dose due shown.
    let mut stranger = draft("Phạm Văn Đức", "022090001111", "1990-01-01", vaxdesk_core::model::Sex::Male);
    stranger.national_id = Some("0220*****111".into());
    let plan = t.desk.prepare_visit(&stranger).unwrap();
    assert!(plan.matched.is_none() && plan.next.is_none());
    assert!(plan.findings.iter().any(|f| f.field == "national_id"), "a masked id must be typed: {}", plan.findings);
}

#[test]
fn the_same_visit_saved_twice_saves_once() {
    let t = desk();
    t.desk.start_session("AZ", &["AZ2107".into()]).unwrap();
    let visit = VisitSave { visit: VisitId::new(), person: hoa(), dose: given(), fix: None, confirmed: vec![] };
    let first = t.desk.save_visit(&visit).unwrap();
    assert!(first.person_saved && !first.repeated);
    let dose = first.dose.clone().unwrap();
    assert_eq!(dose.dose.as_ref().unwrap().lot.as_deref(), Some("AZ2107"), "the session's only lot");
    // A second tap, or the screen rebuilt after the app was killed.
    let again = t.desk.save_visit(&visit).unwrap();
    assert!(again.repeated && !again.person_saved);
    assert_eq!(again.dose.unwrap().id, dose.id);
    assert_eq!(t.desk.store().person_count().unwrap(), 1);
    assert_eq!(t.desk.history(first.person.id).unwrap().len(), 1);
    assert_eq!(t.desk.queue().unwrap().pending, 2, "one person event, one dose event");

    // The person back the next month: matched, unchanged, not saved again.
    let plan = t.desk.prepare_visit(&hoa()).unwrap();
    let next = VisitSave { visit: VisitId::new(), person: plan.draft, dose: None, fix: None, confirmed: vec![] };
    let saved = t.desk.save_visit(&next).unwrap();
    assert!(!saved.person_saved && saved.dose.is_none());
    assert_eq!(t.desk.store().person_events(first.person.id).unwrap().len(), 1);
}

#[test]
fn a_new_persons_ids_carry_the_visits_time_and_stay_the_same_on_every_retry() {
    let t = desk();
    t.desk.start_session("AZ", &["AZ2107".into()]).unwrap();
    let visits: Vec<VisitId> = (0..3)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            VisitId::new()
        })
        .collect();
    let mut people = vec![hoa(), draft("Phạm Văn Đức", "022090001111", "1990-01-01", vaxdesk_core::model::Sex::Male)];
    people.push(draft("Lê Thị Lan", "022195002222", "1995-03-04", vaxdesk_core::model::Sex::Female));
    let mut ids = Vec::new();
    for (visit, person) in visits.iter().zip(people) {
        // The person only (the dose is for later in the visit): the retry
        // below derives the ids again from the visit's.
        let saved = t.desk.save_visit(&VisitSave { visit: *visit, person: person.clone(), dose: None, fix: None, confirmed: vec![] }).unwrap();
        let events = t.desk.store().person_events(saved.person.id).unwrap();
        assert_eq!(events.len(), 1);
        let (person_id, event_id) = (saved.person.id.0, events[0].id.0);
        assert_eq!((saved.person.id, events[0].id), (visit.new_person(), visit.person_event()), "derived from the visit, as a retry derives them");
        for id in [person_id, event_id] {
            assert_eq!(id.get_version(), Some(uuid::Version::SortRand), "{id}: time-ordered");
            assert_eq!(id.get_timestamp(), visit.0.get_timestamp(), "{id}: the visit's time");
            assert_ne!(id, visit.0);
        }
        assert_ne!(person_id, event_id);
        // Saved again from the screen's saved state (no person id in it):
        // the same ids, nothing written twice.
        let again = t.desk.save_visit(&VisitSave { visit: *visit, person, dose: None, fix: None, confirmed: vec![] }).unwrap();
        assert!(again.repeated && !again.person_saved);
        assert_eq!(again.person.id, saved.person.id);
        assert_eq!(t.desk.store().person_events(saved.person.id).unwrap().len(), 1);
        ids.push((person_id, event_id));
    }
    // Visits later in the day make ids further along every index.
    assert!(ids.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "{ids:?}");
    // A visit id a desk did not make (no time in it): the plain hashed id.
    let old = VisitId(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, b"an old visit"));
    assert_eq!(old.new_person().0, uuid::Uuid::new_v5(&old.0, b"person-id"));
    assert_eq!(old.person_event().0, uuid::Uuid::new_v5(&old.0, b"person"));
}

/// A desk on which an older version saved `visit`'s new person under the
/// ids it hashed from the visit's (UUIDv5), before the app was updated; the
/// person's id.
fn saved_under_hashed_ids(visit: VisitId) -> (common::TestDesk, uuid::Uuid) {
    let (old_person, old_event) = (uuid::Uuid::new_v5(&visit.0, b"person-id"), uuid::Uuid::new_v5(&visit.0, b"person"));
    let elsewhere = desk();
    let made = elsewhere.desk.save_visit(&VisitSave { visit: VisitId::new(), person: hoa(), dose: None, fix: None, confirmed: vec![] }).unwrap();
    let mut event = elsewhere.desk.store().person_events(made.person.id).unwrap().remove(0);
    event.id.0 = old_event;
    event.person.id.0 = old_person;
    let t = desk();
    t.desk.store().append_person_event(&event).unwrap();
    t.desk.start_session("AZ", &["AZ2107".into()]).unwrap();
    (t, old_person)
}

#[test]
fn a_visit_begun_before_the_update_to_time_ordered_ids_goes_on_with_the_ids_it_saved_under() {
    // The app updated mid-visit; the screen came back with the same visit
    // id (and, rebuilt from its saved state, without the person's id).
    let visit = VisitId::new();
    let (t, old_person) = saved_under_hashed_ids(visit);
    let saved = t.desk.save_visit(&VisitSave { visit, person: hoa(), dose: given(), fix: None, confirmed: vec![] }).unwrap();
    assert_eq!(saved.person.id.0, old_person, "the person the visit saved, not a second one");
    assert!(!saved.person_saved);
    assert_eq!(saved.dose.as_ref().unwrap().person_id.0, old_person);
    assert_eq!(t.desk.store().person_count().unwrap(), 1);
    assert_eq!(t.desk.store().person_events(saved.person.id).unwrap().len(), 1);

    // The person-only visit saved again: known as this visit's save.
    let (t, old_person) = saved_under_hashed_ids(visit);
    let again = t.desk.save_visit(&VisitSave { visit, person: hoa(), dose: None, fix: None, confirmed: vec![] }).unwrap();
    assert_eq!(again.person.id.0, old_person);
    assert!(again.repeated && !again.person_saved, "the visit's own person event is found under its hashed id");

    // A refused person fixed and sent again: sent once a visit, and it was.
    let (t, old_person) = saved_under_hashed_ids(visit);
    let mut person = hoa();
    person.id = Some(vaxdesk_core::model::PersonId(old_person));
    let fix = Some(VisitFix { record: None, reason: "the hub refused the person".into() });
    let resent = t.desk.save_visit(&VisitSave { visit, person, dose: None, fix, confirmed: vec![] }).unwrap();
    assert!(!resent.person_saved);
    assert_eq!(t.desk.store().person_events(resent.person.id).unwrap().len(), 1, "not a second person event");
}

#[test]
fn a_refused_dose_leaves_the_person_saved_and_a_retry_saves_only_the_dose() {
    let t = desk();
    let mut visit = VisitSave {
        visit: VisitId::new(),
        person: hoa(),
        dose: Some(VisitDose { vaccine: Some("AZ".into()), lot: Some("AZ-SOON".into()), outcome: Outcome::Vaccinated, note: None }),
        fix: None,
        confirmed: vec![],
    };
    let Err(Error::Refused(f)) = t.desk.save_visit(&visit) else { panic!("a near-expiry lot warns") };
    assert_eq!(f.0[0].code.as_str(), "lot.near_expiry");
    assert_eq!(t.desk.store().person_count().unwrap(), 1, "the person was saved before the dose was refused");
    visit.confirmed = vec!["lot.near_expiry".into()];
    let saved = t.desk.save_visit(&visit).unwrap();
    assert!(!saved.person_saved, "the person is not saved a second time");
    assert_eq!(saved.dose.unwrap().confirmed, vec!["lot.near_expiry".to_string()]);
    assert_eq!(t.desk.store().person_count().unwrap(), 1);
    // Changed after the first save: the same person, saved again.
    let mut changed = visit.clone();
    changed.visit = VisitId::new();
    changed.person.id = Some(saved.person.id);
    changed.person.phone = Some("0987654321".into());
    changed.dose = None;
    assert!(t.desk.save_visit(&changed).unwrap().person_saved);
    assert_eq!(t.desk.store().person_count().unwrap(), 1);
}

#[test]
fn a_deferral_keeps_no_lot_and_a_fix_starts_from_the_record() {
    let t = desk();
    t.desk.start_session("AZ", &["AZ2107".into()]).unwrap();
    let deferred = VisitSave {
        visit: VisitId::new(),
        person: hoa(),
        dose: Some(VisitDose { vaccine: None, lot: Some("AZ2107".into()), outcome: Outcome::Deferred, note: Some("sốt".into()) }),
        fix: None,
        confirmed: vec![],
    };
    let d = t.desk.save_visit(&deferred).unwrap().dose.unwrap().dose.unwrap();
    assert_eq!((d.outcome, d.lot), (Outcome::Deferred, None), "a lot only for a dose given");

    // Yesterday's record, refused by the hub; today's session is another
    // vaccine. The fix keeps the record's vaccine and time, changes the lot.
    let p = add(&t.desk, &draft("Lê Văn Tám", "022085000017", "1985-01-01", vaxdesk_core::model::Sex::Male));
    let yesterday = chrono::DateTime::parse_from_rfc3339("2021-10-04T15:30:00+07:00").unwrap();
    let rec = t.desk.record_dose(&vaxdesk_core::desk::DoseDraft { vaccine: Some("AZ".into()), lot: Some("AZ2107".into()), administered_at: Some(yesterday), ..vaxdesk_core::desk::DoseDraft::vaccinated(p.id) }, &[]).unwrap();
    t.desk.store().record_results(&[EventResult { id: rec.id, status: PushStatus::Rejected, code: Some("lot.unknown".into()), message: None }]).unwrap();
    t.desk.start_session("PF", &["PF2109".into()]).unwrap();
    let start = t.desk.dose_draft_of(rec.id).unwrap();
    assert_eq!((start.vaccine.as_deref(), start.administered_at), (Some("AZ"), Some(yesterday)));
    let fix = VisitSave {
        visit: VisitId::new(),
        person: vaxdesk_core::validate::PersonDraft::from(&p),
        dose: Some(VisitDose { vaccine: None, lot: Some("AZ2108".into()), outcome: Outcome::Vaccinated, note: None }),
        fix: Some(VisitFix { record: Some(rec.id), reason: "lô ghi sai".into() }),
        confirmed: vec!["lot.unknown".into()],
    };
    let fixed = t.desk.save_visit(&fix).unwrap();
    let d = fixed.dose.unwrap().dose.unwrap();
    assert_eq!((d.vaccine.as_str(), d.lot.as_deref(), d.administered_at), ("AZ", Some("AZ2108"), yesterday), "not moved to today's session");
    assert!(!fixed.person_saved);
    assert!(t.desk.save_visit(&fix).unwrap().repeated, "the fix saved twice is one fix");
    assert_eq!(t.desk.history(p.id).unwrap().len(), 1);
}

#[test]
fn a_refused_person_is_sent_again_once_per_visit() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let fix = VisitSave {
        visit: VisitId::new(),
        person: vaxdesk_core::validate::PersonDraft::from(&p),
        dose: None,
        fix: Some(VisitFix { record: None, reason: "hub refused".into() }),
        confirmed: vec![],
    };
    assert!(t.desk.save_visit(&fix).unwrap().person_saved, "unchanged, yet sent again: the fix may be the hub's");
    let again = t.desk.save_visit(&fix).unwrap();
    assert!(again.repeated && !again.person_saved);
    assert_eq!(t.desk.store().person_events(p.id).unwrap().len(), 2);
}
