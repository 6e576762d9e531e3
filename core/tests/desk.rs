//! The volunteer's flow through `Desk`: find, add, record, confirm warnings,
//! correct, and search by what a volunteer would type.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use chrono::DateTime;
use common::*;
use vaxdesk_core::desk::DoseDraft;
use vaxdesk_core::model::{Outcome, Sex};
use vaxdesk_core::search::{MatchedBy, SearchQuery};
use vaxdesk_core::validate::NextDoseKind;
use vaxdesk_core::Error;

#[test]
fn session_fills_vaccine_and_lot_and_the_next_dose_is_shown() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let s = t.desk.start_session("az", &["AZ2107".into()]).unwrap();
    assert_eq!((s.vaccine.as_str(), s.date.to_string().as_str()), ("AZ", "2021-10-05"));
    assert_eq!(t.desk.next_dose(p.id).unwrap().dose_number, 1);
    let e = t.desk.record_dose(&DoseDraft::vaccinated(p.id), &[]).unwrap();
    let dose = e.dose.unwrap();
    assert_eq!((dose.vaccine.as_str(), dose.lot.as_deref(), dose.dose_number), ("AZ", Some("AZ2107"), Some(1)));
    assert_eq!(dose.administered_at.offset().local_minus_utc(), 7 * 3600);
    let next = t.desk.next_dose(p.id).unwrap();
    assert_eq!((next.kind, next.dose_number), (NextDoseKind::Primary, 2));
    assert_eq!(next.earliest.unwrap().to_string(), "2021-11-02");
    assert_eq!(next.recommended.unwrap().to_string(), "2021-11-30");
    assert!(next.vaccines.contains(&"PF".to_string()));
    assert_eq!(t.desk.todays_doses(true).unwrap().len(), 1);
}

#[test]
fn session_refuses_unknown_vaccine_and_foreign_lot() {
    let t = desk();
    assert!(matches!(t.desk.start_session("XX", &[]), Err(Error::Input { field, .. }) if field == "vaccine"));
    assert!(matches!(t.desk.start_session("AZ", &["FK1234".into()]), Err(Error::Input { field, .. }) if field == "lot"));
}

#[test]
fn warnings_need_confirmation_which_is_stored_with_the_event() {
    let t = desk();
    let mut d = hoa();
    d.sex = Some(Sex::Male); // the CCCD's digit 4 says female
    let err = t.desk.save_person(&d, &[]).unwrap_err();
    let Error::Refused(f) = err else { panic!() };
    assert_eq!(f.0[0].code.as_str(), "national_id.sex_mismatch");
    let p = t.desk.save_person(&d, &["national_id.sex_mismatch".into()]).unwrap();
    let events = t.desk.store().person_events(p.id).unwrap();
    assert_eq!(events[0].confirmed, vec!["national_id.sex_mismatch".to_string()]);

    let mut dose = DoseDraft::vaccinated(p.id);
    dose.vaccine = Some("AZ".into());
    dose.lot = Some("AZ-SOON".into());
    assert!(matches!(t.desk.record_dose(&dose, &[]), Err(Error::Refused(_))));
    let e = t.desk.record_dose(&dose, &["lot.near_expiry".into(), "phone.prefix_unknown".into()]).unwrap();
    assert_eq!(e.confirmed, vec!["lot.near_expiry".to_string()], "only warnings that occurred are recorded");
}

#[test]
fn amend_and_void_keep_every_event_and_derive_the_history() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap());
    let mut d = DoseDraft::vaccinated(p.id);
    d.vaccine = Some("AZ".into());
    d.lot = Some("AZ2107".into());
    d.administered_at = at("2021-08-01T09:00:00+07:00");
    let first = t.desk.record_dose(&d, &[]).unwrap();
    // Wrong vaccine entered: it was Pfizer.
    let mut fixed = d.clone();
    fixed.vaccine = Some("PF".into());
    fixed.lot = Some("FK1234".into());
    let amend = t.desk.amend_dose(first.id, &fixed, "wrong vaccine selected", &[]).unwrap();
    let h = t.desk.history(p.id).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].id, h[0].head, h[0].dose.vaccine.as_str(), h[0].amended), (first.id, amend.id, "PF", true));
    // An amend of the amend corrects the same record.
    let mut again = fixed.clone();
    again.lot = Some("FK1234".into());
    again.note = Some("lot checked on the vial".into());
    let second = t.desk.amend_dose(amend.id, &again, "note added", &[]).unwrap();
    assert_eq!(second.root(), first.id);
    // Dose 2 the same morning as the clinic day, then void it.
    let today = t.desk.record_dose(&DoseDraft { vaccine: Some("PF".into()), lot: Some("FK1234".into()), ..DoseDraft::vaccinated(p.id) }, &[]).unwrap();
    assert_eq!(today.dose.as_ref().unwrap().dose_number, Some(2));
    t.desk.void_dose(today.id, "entered twice").unwrap();
    assert_eq!(t.desk.history(p.id).unwrap().len(), 1);
    assert_eq!(t.desk.store().dose_events_of(p.id).unwrap().len(), 5, "nothing is deleted");
    assert!(t.desk.store().verify_dose_projection(p.id).unwrap());
    assert_eq!(t.desk.queue().unwrap().pending, 6);
}

#[test]
fn deferral_is_recorded_without_lot_or_number() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    // The screen still had a lot chosen: a deferral keeps none.
    let d = DoseDraft { vaccine: Some("AZ".into()), lot: Some("AZ2107".into()), outcome: Outcome::Deferred, note: Some("sốt 38.5".into()), ..DoseDraft::vaccinated(p.id) };
    let e = t.desk.record_dose(&d, &[]).unwrap();
    assert_eq!(e.dose.as_ref().unwrap().lot, None);
    assert_eq!(e.dose.unwrap().dose_number, None);
    assert_eq!(t.desk.next_dose(p.id).unwrap().dose_number, 1);
}

#[test]
fn catalog_only_moves_forward() {
    let t = desk();
    let v = t.desk.catalog().version;
    let mut same = (*t.desk.catalog()).clone();
    assert!(matches!(t.desk.load_catalog(same.clone()), Err(Error::Input { field, .. }) if field == "catalog.version"));
    same.version = v + 1;
    same.vaccines.iter_mut().find(|x| x.code == "AZ").unwrap().intervals[0].min_days = 84;
    t.desk.load_catalog(same).unwrap();
    let reopened = open_at(&t.path());
    assert_eq!(reopened.catalog().version, v + 1);
    assert_eq!(reopened.catalog().vaccine("AZ").unwrap().intervals[0].min_days, 84);
}

fn seed_names(t: &TestDesk) {
    let people = [
        ("Nguyễn Văn An", "022090000011", "1990", Sex::Male),
        ("Nguyễn Văn Anh", "022091000012", "1991", Sex::Male),
        ("Nguyễn Thị Ánh", "022187000013", "1987", Sex::Female),
        ("Trần An Nguyên", "022085000014", "1985", Sex::Male),
        ("Đặng Văn Đức", "022070000015", "1970", Sex::Male),
        ("Lê Thị An", "022192000016", "1992", Sex::Female),
    ];
    for (name, id, year, sex) in people {
        let mut d = draft(name, id, year, sex);
        d.phone = Some(format!("09{}", &id[4..12]));
        add(&t.desk, &d);
    }
}

fn names(q: SearchQuery, t: &TestDesk) -> Vec<String> {
    t.desk.find(&q).unwrap().hits.into_iter().map(|h| h.person.full_name).collect()
}

#[test]
fn name_search_folds_diacritics_and_tolerates_order_and_prefixes() {
    let t = desk();
    seed_names(&t);
    assert_eq!(names(SearchQuery::new("nguyen van an"), &t)[0], "Nguyễn Văn An");
    assert_eq!(names(SearchQuery::new("NGUYỄN VĂN AN"), &t)[0], "Nguyễn Văn An");
    // Whole words in the typed order first, then whole words in any order,
    // then prefixes.
    assert_eq!(names(SearchQuery::new("an nguyen"), &t), vec!["Trần An Nguyên", "Nguyễn Văn An", "Nguyễn Thị Ánh", "Nguyễn Văn Anh"]);
    assert_eq!(names(SearchQuery::new("dang duc"), &t), vec!["Đặng Văn Đức"]);
    assert_eq!(names(SearchQuery::new("đặng đức"), &t), vec!["Đặng Văn Đức"]);
    assert_eq!(names(SearchQuery::new("ng v a"), &t), vec!["Nguyễn Văn An", "Nguyễn Văn Anh"]);
    assert_eq!(names(SearchQuery { birth_year: Some(1991), ..SearchQuery::new("nguyen an") }, &t), vec!["Nguyễn Văn Anh"]);
    assert_eq!(names(SearchQuery::new("nguyen an 1987"), &t), vec!["Nguyễn Thị Ánh"]);
    assert!(names(SearchQuery::new("pham"), &t).is_empty());
    assert!(names(SearchQuery::new("  --- "), &t).is_empty());
}

#[test]
fn search_by_id_and_phone_and_paging() {
    let t = desk();
    seed_names(&t);
    let page = t.desk.find(&SearchQuery::new("022070000015")).unwrap();
    assert_eq!((page.hits[0].person.full_name.as_str(), page.hits[0].matched_by), ("Đặng Văn Đức", MatchedBy::NationalId));
    let page = t.desk.find(&SearchQuery::new("+84 970 000 015")).unwrap();
    assert_eq!((page.hits[0].person.full_name.as_str(), page.hits[0].matched_by), ("Đặng Văn Đức", MatchedBy::Phone));
    let all = names(SearchQuery::new("n"), &t);
    let p0 = names(SearchQuery { per_page: 2, ..SearchQuery::new("n") }, &t);
    let p1 = names(SearchQuery { per_page: 2, page: 1, ..SearchQuery::new("n") }, &t);
    assert_eq!([p0, p1].concat(), all[..4].to_vec());
    assert_eq!(t.desk.find(&SearchQuery::new("n")).unwrap().total as usize, all.len());
}

#[test]
fn eight_threads_saving_at_once_each_save_lands_exactly_once() {
    let t = desk();
    let desk = Arc::new(t.desk);
    let handles: Vec<_> = (0..8)
        .map(|th| {
            let desk = desk.clone();
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..25 {
                    let d = draft(&format!("Người Thử {}", ["An", "Bình", "Chi", "Dũng", "Hà"][i % 5]), &format!("0220{:02}{:06}", 90 + th, i), &format!("19{:02}", 90 + th), Sex::Male);
                    let p = desk.save_person(&d, &[]).unwrap();
                    let e = desk.record_dose(&DoseDraft { vaccine: Some("VC".into()), lot: Some("VC0921".into()), ..DoseDraft::vaccinated(p.id) }, &[]).unwrap();
                    ids.push(e.id);
                }
                ids
            })
        })
        .collect();
    let mut ids: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(ids.len(), 200);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    assert_eq!(desk.store().dose_event_count().unwrap(), 200);
    assert_eq!(desk.store().person_count().unwrap(), 200);
    assert_eq!(desk.queue().unwrap().pending, 400);
}

#[test]
fn a_scan_matches_the_id_holder_or_else_the_only_same_name_and_year() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    assert_eq!(t.desk.match_draft(&hoa()).unwrap().map(|m| m.id), Some(p.id));
    // A PC-Covid code: id masked, name without diacritics, birth year only.
    let mut masked = hoa();
    masked.national_id = Some("0221*****234".into());
    masked.full_name = "NGUYEN THI HOA".into();
    masked.birth_date = "1987".into();
    assert_eq!(t.desk.match_draft(&masked).unwrap().map(|m| m.id), Some(p.id));
    masked.birth_date = "1990".into();
    assert_eq!(t.desk.match_draft(&masked).unwrap(), None, "another birth year is another person");
    // Two people with that name and year: no guess.
    let mut twin = draft("Nguyễn Thị Hoa", "001187009999", "1987-11-20", Sex::Female);
    twin.phone = None;
    add(&t.desk, &twin);
    masked.birth_date = "1987".into();
    assert_eq!(t.desk.match_draft(&masked).unwrap(), None);
    let mut other = hoa();
    other.national_id = Some("001090000001".into());
    assert_eq!(t.desk.match_draft(&other).unwrap(), None, "an unknown id does not fall back to the name");
}

#[test]
fn a_refused_record_is_corrected_by_voiding_it_and_recording_afresh() {
    use vaxdesk_core::sync::protocol::{EventResult, PushStatus};
    let t = desk();
    let p = add(&t.desk, &hoa());
    let mut d = DoseDraft::vaccinated(p.id);
    d.vaccine = Some("AZ".into());
    d.lot = Some("AZ2107".into());
    let rec = t.desk.record_dose(&d, &[]).unwrap();
    // The hub refuses the record (say, a lot it does not know).
    t.desk.store().record_results(&[EventResult { id: rec.id, status: PushStatus::Rejected, code: Some("lot.unknown".into()), message: Some("lot: AZ2107 unknown".into()) }]).unwrap();
    let open = t.desk.store().to_fix_open(10).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(t.desk.status().unwrap().to_fix, open, "status lists the same open refusals");
    assert_eq!(open[0].record_id.as_deref(), Some(rec.id.to_string().as_str()));
    assert_eq!(open[0].person_id.as_deref(), Some(p.id.to_string().as_str()));

    d.lot = Some("AZ2108".into());
    let fixed = t.desk.correct_dose(rec.id, &d, "wrong lot typed", &["lot.unknown".into()]).unwrap();
    assert_ne!(fixed.id, rec.id, "a fresh record, not an amend the hub would refuse");
    let history = t.desk.history(p.id).unwrap();
    assert_eq!(history.len(), 1, "the refused record is voided: {history:?}");
    assert_eq!(history[0].dose.lot.as_deref(), Some("AZ2108"));
    assert!(t.desk.store().to_fix_open(10).unwrap().is_empty(), "the correction settles the refusal");
    // The desk's status: nothing open to fix, though the refusal is still counted.
    let status = t.desk.status().unwrap();
    assert!(status.to_fix.is_empty(), "{:?}", status.to_fix);
    assert_eq!(status.queue.to_fix, 0, "the refused record is withdrawn, not waiting: {:?}", status.queue);
    // Only the fresh record goes to the hub: the refused record and its void are withdrawn.
    let q = t.desk.queue().unwrap();
    assert_eq!((q.to_fix, q.withdrawn), (0, 2), "{q:?}");
    let batch: Vec<String> = t.desk.store().outbox_batch(10).unwrap().iter().map(|e| e.id().to_string()).collect();
    assert!(batch.contains(&fixed.id.to_string()));
    assert!(!batch.contains(&rec.id.to_string()));
    assert_eq!(batch.len(), 2, "the person and the fresh record: {batch:?}");

    // A record the hub accepted is amended as usual.
    t.desk.store().record_results(&[EventResult { id: fixed.id, status: PushStatus::Accepted, code: None, message: None }]).unwrap();
    d.lot = Some("AZ2107".into());
    let amend = t.desk.correct_dose(fixed.id, &d, "lot again", &[]).unwrap();
    assert_eq!(amend.kind.as_str(), "amend");
}

#[test]
fn a_certificate_is_due_once_the_primary_series_is_complete() {
    use vaxdesk_core::cert::{dcc_for, NotEligible};
    let t = desk();
    let p = add(&t.desk, &hoa());
    let mut d = DoseDraft::vaccinated(p.id);
    d.vaccine = Some("AZ".into());
    d.lot = Some("AZ2107".into());
    d.administered_at = Some(DateTime::parse_from_rfc3339("2021-08-01T09:00:00+07:00").unwrap());
    t.desk.record_dose(&d, &[]).unwrap();
    let catalog = t.desk.catalog();
    assert_eq!(dcc_for(&p, &t.desk.history(p.id).unwrap(), &catalog), Err(NotEligible::SeriesIncomplete { given: 1, needed: 2 }));
    d.administered_at = Some(DateTime::parse_from_rfc3339("2021-10-05T09:00:00+07:00").unwrap());
    t.desk.record_dose(&d, &[]).unwrap();
    let dcc = dcc_for(&p, &t.desk.history(p.id).unwrap(), &catalog).unwrap();
    assert_eq!((dcc.nam.family.as_deref(), dcc.nam.given.as_deref()), (Some("Nguyễn"), Some("Thị Hoa")));
    assert_eq!((dcc.nam.family_std.as_str(), dcc.nam.given_std.as_deref()), ("NGUYEN", Some("THI<HOA")));
    assert_eq!(dcc.dob, "1987-05-02");
    let v = &dcc.v[0];
    assert_eq!((v.mp.as_str(), v.ma.as_str(), v.vp.as_str()), ("EU/1/21/1529", "ORG-100001699", "29061000087103"));
    assert_eq!((v.dn, v.sd, v.dt.as_str(), v.co.as_str(), v.tg.as_str()), (2, 2, "2021-10-05", "VN", "840539006"));
    assert!(v.ci.starts_with("URN:UVCI:01:VN:"));
}
