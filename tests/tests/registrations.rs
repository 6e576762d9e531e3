//! A site's registration list reaches its desk the way a volunteer meets
//! it: a coordinator uploads the platform's CSV to the hub over HTTPS, the
//! phone syncs (pinned certificate), and a search by a name typed without
//! accents, or by CCCD, or a scanned card, finds the registered citizen
//! with their appointment before anything is typed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::fold::fold;
use vaxdesk_core::search::SearchQuery;
use vaxdesk_core::synth::{registration_csv, registration_row};
use vaxdesk_core::sync::{enroll, sync_once, SyncOptions};
use vaxdesk_core::validate::PersonDraft;
use vaxdesk_tests::{Coordinator, LocalHub};

#[test]
fn a_desk_finds_a_registered_citizen_by_name_without_accents_and_by_cccd() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start_tls(dir.path()).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("QN-07", &["D1"]).unwrap();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    enroll(&desk, &coordinator.enrollment_text("QN-07", "D1").unwrap(), Some("phone")).unwrap();

    let day: NaiveDate = "2026-12-09".parse().unwrap();
    // Persons from a range of the generator no other test uses.
    let (first, count) = (52_000u64, 300u64);
    let report = coordinator.upload("/sites/QN-07/registrations", "text/csv", registration_csv(first..first + count, day)).unwrap();
    assert_eq!(report["added"], count, "{}", report["results"][0]);
    sync_once(&desk, &SyncOptions::default()).unwrap();

    let row = registration_row(first + 123, day);
    // The name as a volunteer types it on a phone without a Vietnamese keyboard.
    let typed = fold(&row[0]);
    assert!(typed.is_ascii(), "{typed}");
    let birth_year: i32 = row[1][6..].parse().unwrap();
    let found = desk.find(&SearchQuery { birth_year: Some(birth_year), ..SearchQuery::new(typed.clone()) }).unwrap();
    let hit = found.hits.iter().find(|h| h.person.national_id.as_ref().map(|n| n.number.as_str()) == Some(row[3].as_str())).unwrap_or_else(|| panic!("{typed} {birth_year}: {found:?}"));
    assert_eq!(hit.person.full_name, row[0]);
    assert_eq!(hit.appointment, Some(day));

    let by_id = desk.find(&SearchQuery::new(row[3].clone())).unwrap();
    assert_eq!(by_id.hits.len(), 1);
    assert_eq!((by_id.hits[0].person.phone.as_deref(), by_id.hits[0].appointment), (Some(row[4].as_str()), Some(day)));

    // A scanned CCCD of the same citizen: matched, and the visit says registered.
    let scanned = PersonDraft { national_id: Some(row[3].clone()), full_name: row[0].clone(), birth_date: hit.person.birth_date.to_string(), ..Default::default() };
    let plan = desk.prepare_visit(&scanned).unwrap();
    assert_eq!(plan.matched.map(|m| m.id), Some(hit.person.id));
    assert_eq!(plan.appointment, Some(day));

    // Someone not on the list is not marked.
    let stranger = PersonDraft { full_name: "Đinh Thị Mơ".into(), birth_date: "1970-01-01".into(), ..Default::default() };
    assert_eq!(desk.prepare_visit(&stranger).unwrap().appointment, None);
}
