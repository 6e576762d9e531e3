//! Two desks of one site and a hub: enroll from the coordinator's code, save
//! offline, sync, and see each other's doses; what the hub refuses lands in
//! the desk's to-fix list with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::Sex;
use vaxdesk_core::store::OutboxState;
use vaxdesk_core::sync::{sync_once, SyncOptions};
use vaxdesk_core::validate::PersonDraft;
use vaxdesk_tests::{enroll, Coordinator, LocalHub};

fn clinic() -> DateTime<Utc> {
    "2021-10-05T02:00:00Z".parse().unwrap()
}

fn nam() -> PersonDraft {
    PersonDraft {
        national_id: Some("022090004321".into()),
        full_name: "Trần Văn Nam".into(),
        birth_date: "1990-03-04".into(),
        sex: Some(Sex::Male),
        ..Default::default()
    }
}

#[test]
fn two_desks_sync_through_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start(&dir.path().join("hub.db")).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("QN-01", &["D1", "D2"]).unwrap();
    coordinator.lot("AZ2107", "AZ", "2022-01-31").unwrap();

    let a = Desk::open(dir.path().join("a.db")).unwrap().with_clock(clinic);
    let b = Desk::open(dir.path().join("b.db")).unwrap().with_clock(clinic);
    let reply = enroll(&a, &coordinator.enrollment_text("QN-01", "D1").unwrap(), Some("Phone A")).unwrap();
    assert_eq!((reply.site.code.as_str(), reply.desk.code.as_str()), ("QN-01", "D1"));
    assert_eq!(a.config().desk.as_deref(), Some("D1"));
    enroll(&b, &coordinator.enrollment_text("QN-01", "D2").unwrap(), None).unwrap();

    // First sync brings the hub's catalog (with its lot) to both desks.
    let opts = SyncOptions::default();
    sync_once(&a, &opts).unwrap();
    sync_once(&b, &opts).unwrap();
    assert!(a.catalog().lots.iter().any(|l| l.number == "AZ2107"));

    // Offline, both desks register the same citizen and give a dose.
    let pa = a.save_person(&nam(), &[]).unwrap();
    let pb = b.save_person(&nam(), &[]).unwrap();
    assert_ne!(pa.id, pb.id);
    let dose = |p| DoseDraft { vaccine: Some("AZ".into()), lot: Some("AZ2107".into()), ..DoseDraft::vaccinated(p) };
    a.record_dose(&dose(pa.id), &[]).unwrap();
    // Desk B also records a deferral for someone new.
    let hoa = b
        .save_person(&PersonDraft { national_id: Some("022187001234".into()), full_name: "Nguyễn Thị Hoa".into(), birth_date: "1987".into(), sex: Some(Sex::Female), ..Default::default() }, &[])
        .unwrap();
    b.record_dose(&DoseDraft { vaccine: Some("AZ".into()), outcome: vaxdesk_core::model::Outcome::Deferred, ..DoseDraft::vaccinated(hoa.id) }, &[]).unwrap();
    // Desk A uses a vaccine its own (newer, local) catalog has but the hub's
    // does not: valid here, refused there.
    let mut local = (*a.catalog()).clone();
    local.version += 100;
    let mut extra = local.vaccine("PF").unwrap().clone();
    extra.code = "XV".into();
    local.vaccines.push(extra);
    local.lots.push(vaxdesk_core::catalog::Lot { number: "XV1".into(), vaccine: "XV".into(), expiry: "2022-06-30".parse().unwrap() });
    a.load_catalog(local).unwrap();
    let stranger = a
        .save_person(&PersonDraft { full_name: "Lê Thị Thu".into(), birth_date: "1975".into(), ..Default::default() }, &[])
        .unwrap();
    let refused = a.record_dose(&DoseDraft { vaccine: Some("XV".into()), lot: Some("XV1".into()), ..DoseDraft::vaccinated(stranger.id) }, &[]).unwrap();

    let ra = sync_once(&a, &opts).unwrap();
    assert_eq!((ra.pushed, ra.accepted, ra.rejected), (4, 3, 1), "{ra:?}");
    assert!(ra.bytes_sent > 0);
    let rb = sync_once(&b, &opts).unwrap();
    assert_eq!((rb.pushed, rb.accepted, rb.rejected), (3, 3, 0), "{rb:?}");
    let ra2 = sync_once(&a, &opts).unwrap();
    assert_eq!(ra2.pushed, 0);

    // Outboxes: nothing pending; A's refused dose is in its to-fix list.
    assert_eq!(a.queue().unwrap().pending + a.queue().unwrap().sent, 0);
    assert_eq!(b.queue().unwrap().pending + b.queue().unwrap().sent, 0);
    let to_fix = a.store().outbox_entries(OutboxState::ToFix, 10).unwrap();
    assert_eq!(to_fix.len(), 1);
    assert_eq!(to_fix[0].event_id, refused.id.to_string());
    assert_eq!(to_fix[0].reject_code.as_deref(), Some("vaccine.unknown"));

    // The hub holds every accepted event once, and merged the citizen.
    assert_eq!(hub.db.event_count().unwrap(), 6);
    assert_eq!(hub.db.canonical_person(&pb.id.to_string()).unwrap(), Some(pa.id.to_string()));

    // Each desk sees the other's work: B finds A's dose under its own record
    // of the same citizen, and A knows B's deferred citizen.
    let hb = b.history(pb.id).unwrap();
    assert_eq!(hb.len(), 1, "{hb:?}");
    assert_eq!(hb[0].desk, "D1");
    assert_eq!(b.next_dose(pb.id).unwrap().dose_number, 2);
    assert!(a.store().person_by_national_id("022187001234").unwrap().is_some());
    assert_eq!(a.store().canonical_person(pb.id).unwrap(), pa.id);
}

/// What a name search finds on a desk, as person ids.
fn found(desk: &Desk, text: &str) -> std::collections::BTreeSet<String> {
    let q = vaxdesk_core::search::SearchQuery { per_page: 500, ..vaxdesk_core::search::SearchQuery::new(text) };
    desk.find(&q).unwrap().hits.iter().map(|h| h.person.id.to_string()).collect()
}

#[test]
fn a_new_desk_takes_in_a_busy_site_in_large_pages_and_finds_every_name_even_after_a_cut() {
    use vaxdesk_core::sync::engine::{client, pull_all};
    use vaxdesk_core::sync::SyncReport;
    use vaxdesk_hub::fault_proxy::{Fault, Faults};
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start_tls(dir.path()).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("QN-02", &["D1", "D2", "D3"]).unwrap();

    // A busy desk's day reaches the hub.
    let busy = Desk::open(dir.path().join("busy.db")).unwrap();
    vaxdesk_core::sync::enroll(&busy, &coordinator.enrollment_text("QN-02", "D1").unwrap(), None).unwrap();
    vaxdesk_tests::seed_desk(&busy, 400, 1, 0, "022091").unwrap();
    let pushed = sync_once(&busy, &SyncOptions::default()).unwrap();
    assert_eq!(pushed.accepted, 800, "{pushed:?}");
    let rowids: Vec<i64> = (1..=400).step_by(23).collect();
    let persons = busy.store().persons_at(&rowids).unwrap();
    let names: Vec<String> = persons.iter().map(|p| p.full_name.clone()).collect();

    // Small pages so that the pull is long: a full first page, then pages
    // of the catch-up size.
    let opts = SyncOptions { page: 40, catch_up_page: 150, ..SyncOptions::default() };
    let fresh = Desk::open(dir.path().join("fresh.db")).unwrap();
    vaxdesk_core::sync::enroll(&fresh, &coordinator.enrollment_text("QN-02", "D2").unwrap(), None).unwrap();
    assert!(fresh.find(&vaxdesk_core::search::SearchQuery::new("an")).unwrap().incomplete, "enrolled, the site not yet pulled");
    let report = sync_once(&fresh, &opts).unwrap();
    assert_eq!(report.pulled, 800);
    assert!(report.search_set_aside, "a first pull of more than a page sets the indexes aside");
    assert!(!fresh.store().search_index_deferred().unwrap());
    assert!(!fresh.find(&vaxdesk_core::search::SearchQuery::new("an")).unwrap().incomplete);
    for name in &names {
        let folded = vaxdesk_core::fold::fold_tokens(name);
        let beginnings: Vec<String> = folded.iter().map(|w| w[..w.len().min(2)].to_string()).collect();
        for text in [name.clone(), folded.iter().rev().cloned().collect::<Vec<_>>().join(" "), beginnings.join(" ")] {
            let want = found(&busy, &text);
            assert!(!want.is_empty(), "{text}");
            // The busy desk made these persons; the new desk got the same ids.
            assert_eq!(found(&fresh, &text), want, "{text}");
        }
    }

    // A third desk whose first pull is cut after three pages (a network gone
    // for good this round): the pages taken stay, search works on them, and
    // the next sync takes the rest.
    let net = vaxdesk_tests::FaultyNetwork::new(&hub.url, Faults::none(), 7).unwrap();
    let cut = Desk::open(dir.path().join("cut.db")).unwrap();
    vaxdesk_core::sync::enroll(&cut, &net.route(&coordinator.enrollment_text("QN-02", "D3").unwrap()).unwrap(), None).unwrap();
    let flaky = SyncOptions { attempts: 2, reuse_connections: false, base_backoff: std::time::Duration::from_millis(10), ..opts.clone() };
    net.control.script([Fault::None, Fault::None, Fault::None, Fault::Drop, Fault::Drop]);
    let mut partial = SyncReport::default();
    let c = client(&cut, &flaky).unwrap();
    assert!(pull_all(&cut, &c, &flaky, &mut partial).is_err(), "the fourth page never came");
    // Three pages of changes (the site's desks and catalog among them).
    assert!(partial.pulled > 40 + 150 && partial.pulled <= 40 + 150 + 150, "{partial:?}");
    assert!(partial.search_set_aside);
    assert!(!cut.store().search_index_deferred().unwrap(), "a cut first pull leaves search whole");
    assert!(cut.find(&vaxdesk_core::search::SearchQuery::new("an")).unwrap().incomplete, "but says the site is not all here");
    // The site's persons came first (in the order the busy desk made them):
    // those taken are each found by name, and nobody the hub lacks.
    for (rowid, p) in rowids.iter().zip(&persons) {
        let (here, there) = (found(&cut, &p.full_name), found(&busy, &p.full_name));
        assert!(here.is_subset(&there), "{}", p.full_name);
        assert_eq!(here.contains(&p.id.to_string()), *rowid as u64 <= partial.pulled, "{}", p.full_name);
    }
    let rest = sync_once(&cut, &flaky).unwrap();
    assert_eq!(partial.pulled + rest.pulled, 800);
    assert!(!rest.search_set_aside, "a pull that is not the first keeps the indexes");
    assert!(!cut.find(&vaxdesk_core::search::SearchQuery::new("an")).unwrap().incomplete);
    for name in &names {
        assert_eq!(found(&cut, name), found(&busy, name), "{name}");
    }
}
