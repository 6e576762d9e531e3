//! Backup and restore of a SQLite hub: a backup taken while desks push is
//! one consistent instant (the first events in arrival order, nothing torn),
//! a restore brings exactly that back, and a file that is not a whole hub
//! database is refused before anything is overwritten.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use vaxdesk_core::model::{Site, SiteDesk};
use vaxdesk_core::sync::protocol::WireEvent;
use vaxdesk_core::synth;
use vaxdesk_hub::backup::{backup, restore};
use vaxdesk_hub::db::{DbError, Device};
use vaxdesk_hub::{auth, HubDb, Incoming};

/// A hub with one enrolled device at site S1.
fn hub_with_device(path: &Path) -> (HubDb, Device) {
    let db = HubDb::open(path).unwrap();
    db.publish_catalog(&synth::catalog_with_lots(&vaxdesk_core::catalog::Catalog::builtin())).unwrap();
    db.upsert_site(&Site { code: "S1".into(), name: "Trạm 1".into(), province_code: Some("22".into()) }).unwrap();
    db.upsert_desk(&SiteDesk { site: "S1".into(), code: "D1".into(), name: "Bàn 1".into() }).unwrap();
    let who = db.create_coordinator("c", "-", true, &[]).unwrap();
    let code = auth::enrollment_code();
    let exp = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db.create_enrollment_code(&auth::hash_token(&code), "S1", "D1", who, &exp).unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    db.enroll(&auth::hash_token(&code), &id, None, &auth::hash_token(&auth::random_token()), None).unwrap().unwrap();
    let dev = db.devices().unwrap().into_iter().find(|d| d.id == id).unwrap();
    (db, dev)
}

/// Push persons `range` with their doses; every event accepted.
fn accept(db: &HubDb, dev: &Device, range: std::ops::Range<u64>) {
    let results = db.ingest(dev, &batch(dev, range)).unwrap();
    assert!(results.iter().all(|r| r.status == vaxdesk_core::sync::protocol::PushStatus::Accepted), "{results:?}");
}

/// Persons `range` with two doses each, as the device pushes them.
fn batch(dev: &Device, range: std::ops::Range<u64>) -> Vec<Incoming> {
    let (pe, de) = synth::desk_events(&dev.id, "S1", "D1", "100001", range, 2);
    pe.into_iter().map(WireEvent::Person).chain(de.into_iter().map(WireEvent::Dose)).map(Incoming::new).collect()
}

#[test]
fn a_backup_taken_while_desks_push_is_one_instant_and_restores_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("hub.db");
    let (db, dev) = hub_with_device(&live);
    accept(&db, &dev, 0..200);
    let stop = AtomicBool::new(false);
    let batches = AtomicUsize::new(0);
    let copy = dir.path().join("backup.db");
    let wait_for = |n: usize| {
        while batches.load(Ordering::SeqCst) < n {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    };
    let taken = std::thread::scope(|s| {
        s.spawn(|| {
            let mut k = 200;
            while !stop.load(Ordering::SeqCst) {
                accept(&db, &dev, k..k + 20);
                k += 20;
                batches.fetch_add(1, Ordering::SeqCst);
            }
        });
        // Back up between the writer's commits, then let it commit more.
        wait_for(2);
        let taken = backup(&live, &copy);
        let at = batches.load(Ordering::SeqCst);
        wait_for(at + 2);
        stop.store(true, Ordering::SeqCst);
        taken
    })
    .unwrap();
    let all = db.event_ids().unwrap();
    assert!(taken.events >= 600 + 2 * 60 && (taken.events as usize) < all.len(), "the backup fell while the writer ran: {} of {}", taken.events, all.len());

    // The backup is the hub as it stood at one instant: exactly the first
    // events in arrival order.
    let backed = HubDb::open(&copy).unwrap();
    let got = backed.event_ids().unwrap();
    assert_eq!(got.len() as i64, taken.events);
    assert_eq!(got[..], all[..got.len()]);
    drop(backed);

    // Restore over the live hub's file (the hub stopped): it holds what the
    // backup held, and serves pushes again.
    drop(db);
    // A desk that pulled everything before the loss holds a cursor past the
    // backup's end.
    let cursor: i64 = rusqlite::Connection::open(&live).unwrap().query_row("SELECT max(seq) FROM feed", [], |r| r.get(0)).unwrap();
    let r = restore(&copy, &live).unwrap();
    assert_eq!(r.events, taken.events);
    let back = HubDb::open(&live).unwrap();
    assert_eq!(back.event_ids().unwrap(), got);
    let dev2 = back.devices().unwrap().into_iter().find(|d| d.id == dev.id).expect("the device is in the backup");
    let results = back.ingest(&dev2, &batch(&dev2, 900_000..900_005)).unwrap();
    assert!(results.iter().all(|r| r.status == vaxdesk_core::sync::protocol::PushStatus::Accepted));
    // That desk still gets what arrives after the restore (and the catalog,
    // republished where the feed jumped ahead).
    let page = back.changes("S1", "another-desk", cursor, 100).unwrap();
    let events = page.changes.iter().filter(|c| matches!(c, vaxdesk_core::sync::protocol::Change::Event { .. })).count();
    assert_eq!(events, 15, "5 persons and their 10 doses pushed after the restore");
    assert!(matches!(page.changes.first(), Some(vaxdesk_core::sync::protocol::Change::Catalog { .. })));

    // Restored again after the hub ran on the first restore: the feed jumps
    // past what desks saw since then too.
    let max = |p: &Path| -> i64 { rusqlite::Connection::open(p).unwrap().query_row("SELECT max(seq) FROM feed", [], |r| r.get(0)).unwrap() };
    drop(back);
    let ran_to = max(&live);
    assert!(ran_to > vaxdesk_hub::backup::FEED_JUMP);
    restore(&copy, &live).unwrap();
    assert!(max(&live) >= ran_to + vaxdesk_hub::backup::FEED_JUMP, "{} after {ran_to}", max(&live));

    // A restore into a new place (a replacement machine) works the same.
    let fresh = dir.path().join("elsewhere").join("hub.db");
    std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    assert_eq!(restore(&copy, &fresh).unwrap().events, taken.events);
    assert_eq!(HubDb::open(&fresh).unwrap().event_ids().unwrap(), got);
}

#[test]
fn what_is_not_a_whole_hub_database_is_refused_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("hub.db");
    let (db, dev) = hub_with_device(&live);
    accept(&db, &dev, 0..300);
    let before = db.event_ids().unwrap();
    drop(db);
    // The file and its write-ahead log as they stand (the log may hold the
    // last commits until a checkpoint copies them in, ADR 0026): a refused
    // restore must not change a byte of either.
    let on_disk = || [std::fs::read(&live).unwrap(), std::fs::read(format!("{}-wal", live.display())).unwrap_or_default()];
    let bytes_before = on_disk();

    // A backup never overwrites a file.
    let copy = dir.path().join("backup.db");
    std::fs::write(&copy, b"keep me").unwrap();
    let e = backup(&live, &copy).unwrap_err();
    assert!(e.to_string().contains("backup.db") && e.to_string().contains("already exists"), "{e}");
    assert_eq!(std::fs::read(&copy).unwrap(), b"keep me");
    std::fs::remove_file(&copy).unwrap();
    assert!(backup(&dir.path().join("missing.db"), &copy).unwrap_err().to_string().contains("missing.db"));
    assert!(!copy.exists(), "no half backup left behind");
    backup(&live, &copy).unwrap();

    let unchanged = |what: &str| {
        assert!(on_disk() == bytes_before, "{what}: the hub's database was touched");
    };

    // Not a database at all.
    let junk = dir.path().join("photo.jpg");
    std::fs::write(&junk, vec![0xFFu8; 8192]).unwrap();
    let e = restore(&junk, &live).unwrap_err();
    assert!(e.to_string().contains("photo.jpg"), "{e}");
    unchanged("junk");

    // A SQLite file that is not a hub's.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
    let e = restore(&other, &live).unwrap_err();
    assert!(e.to_string().contains("not a hub database"), "{e}");
    unchanged("another database");

    // A backup from a newer hub.
    let newer = dir.path().join("newer.db");
    std::fs::copy(&copy, &newer).unwrap();
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 9999).unwrap();
    assert!(matches!(restore(&newer, &live).unwrap_err(), DbError::NewerSchema { found: 9999, .. }));
    unchanged("newer schema");

    // A backup damaged on its way (a page of the events' table overwritten).
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&copy).unwrap();
    let page = 4096;
    let pages = bytes.len() / page;
    for p in [pages / 2, pages / 2 + 1] {
        bytes[p * page..(p + 1) * page].fill(0x5A);
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let e = restore(&damaged, &live).unwrap_err();
    assert!(e.to_string().contains("damaged.db"), "{e}");
    unchanged("damaged");

    // And the good backup restores.
    assert_eq!(restore(&copy, &live).unwrap().events as usize, before.len());
    assert_eq!(HubDb::open(&live).unwrap().event_ids().unwrap(), before);
}
