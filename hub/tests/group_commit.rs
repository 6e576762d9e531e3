//! Pushes filed together on the SQLite hub (ADR 0036). A write lock taken
//! from outside holds the hub's writer while desks of two sites push, so
//! their pushes queue and are filed as one group; each must be answered,
//! and the hub left, as if they had come one by one in the same order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use serde_json::Value;
use vaxdesk_core::sync::protocol::{EventResult, PushStatus, WireEvent};
use vaxdesk_hub::db::Device;
use vaxdesk_hub::{HubDb, Incoming};

const DESKS: [(&str, &str); 4] = [("S1", "D1"), ("S1", "D2"), ("S1", "D3"), ("S2", "D1")];

fn events(values: &[Value]) -> Vec<Incoming> {
    values.iter().map(|v| Incoming::new(serde_json::from_value::<WireEvent>(v.clone()).unwrap())).collect()
}

/// The pushes, in the order they reach the hub: (desk, events).
fn pushes(ids: &[String]) -> Vec<(usize, Vec<Incoming>)> {
    let (a, b, c, d) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let person = |dev: &str, id: &str, cccd: Option<&str>, name: &str| common::person_event(dev, id, cccd, name, "1990-05-02");
    let new_id = || uuid::Uuid::now_v7().to_string();
    let (first, older, newer, lone, other) = (new_id(), new_id(), new_id(), new_id(), new_id());
    // One citizen under two ids at two desks of S1 (the older kept).
    let at_b = vec![person(b, &older, Some("022190012345"), "Trần Văn Nam"), common::dose_event(b, "S1", &older, "AZ")];
    let at_c = vec![person(c, &newer, Some("022190012345"), "Trần Văn Nam"), common::dose_event(c, "S1", &newer, "AZ")];
    // The same event id with other content: refused as a conflict.
    let mut forged = at_b[1].clone();
    forged["event"]["dose"]["vaccine"] = "PF".into();
    forged["event"]["dose"]["lot"] = "PF2107".into();
    forged["event"]["device"] = c.as_str().into();
    vec![
        (0, events(&[person(a, &first, Some("022190099999"), "Lê Thị Hoa"), common::dose_event(a, "S1", &first, "AZ")])),
        (1, events(&at_b)),
        (2, events(&at_c)),
        // Desk B's push again (its reply was lost): every event a duplicate.
        (1, events(&at_b)),
        // A dose of a vaccine the catalog does not have, beside a good one.
        (3, events(&[person(d, &lone, None, "Phạm Văn Đồng"), common::dose_event(d, "S2", &lone, "XX"), common::dose_event(d, "S2", &lone, "VC")])),
        (2, events(&[forged, person(c, &other, None, "Ngô Thị Lan")])),
    ]
}

/// Waits for `done`, up to `deadline`: all the pushes must queue well within
/// the writer's 10 s busy timeout, which the first push is waiting out.
fn until(deadline: Instant, done: impl Fn() -> bool) {
    while !done() {
        assert!(Instant::now() < deadline, "the pushes did not queue in time");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn hub(dir: &tempfile::TempDir, ids: &[String]) -> (HubDb, Vec<Device>, std::path::PathBuf) {
    let path = dir.path().join("hub.db");
    let db = HubDb::open_target(&path.display().to_string()).unwrap();
    db.publish_catalog(&common::catalog_with_test_lots()).unwrap();
    let devices = common::enrolled_devices(&db, &DESKS, ids);
    (db, devices, path)
}

/// What the k-th push's desk says it still holds.
fn pending(k: usize) -> Option<i64> {
    (k % 2 == 0).then_some(10 * k as i64 + 3)
}

fn outcome(results: &[EventResult]) -> Vec<(PushStatus, Option<String>)> {
    results.iter().map(|r| (r.status, r.code.clone())).collect()
}

/// Persons and whom each was merged into.
type Persons = Vec<(String, Option<String>)>;
/// What a site's desks pull: (site, kind, event id or merge), in order.
type Feed = Vec<(String, String, String)>;

/// What the pushes left on the hub.
fn left(path: &std::path::Path) -> (Persons, Feed) {
    let c = rusqlite::Connection::open(path).unwrap();
    let persons = c
        .prepare("SELECT id, merged_into FROM persons ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let feed = c
        .prepare("SELECT f.site, f.kind, coalesce(e.id, f.body) FROM feed f LEFT JOIN events e ON e.seq = f.event_seq WHERE f.kind IN ('event', 'merge') ORDER BY f.seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (persons, feed)
}

#[test]
fn pushes_filed_together_are_answered_and_kept_as_one_by_one() {
    if common::on_postgres() {
        return; // SQLite's writer groups pushes; PostgreSQL takes them at once (ADR 0030)
    }
    let ids: Vec<String> = DESKS.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let pushes = pushes(&ids);
    let now = "2021-10-05T03:00:00.000Z";

    // One by one, in order.
    let alone_dir = tempfile::tempdir().unwrap();
    let (alone, devices, alone_path) = hub(&alone_dir, &ids);
    let one_by_one: Vec<_> = pushes.iter().enumerate().map(|(k, (desk, events))| outcome(&alone.push_at(&devices[*desk], events, pending(k), now).unwrap())).collect();

    // Together: the first push takes the writer and waits on the lock held
    // from outside; the others queue behind it, in order, and go as a group
    // once the lock is let go.
    let dir = tempfile::tempdir().unwrap();
    let (db, devices, path) = hub(&dir, &ids);
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (db, devices) = (&db, &devices);
    let deadline = Instant::now() + Duration::from_secs(6);
    let together: Vec<_> = std::thread::scope(|s| {
        let threads: Vec<_> = pushes
            .iter()
            .enumerate()
            .map(|(k, (desk, events))| {
                let t = s.spawn(move || outcome(&db.push_at(&devices[*desk], events, pending(k), now).unwrap()));
                // The next push arrives only once this one is in place: the
                // first filing (alone, waiting on the lock), the others queued.
                until(deadline, || db.pushes_queued() == (k, true));
                t
            })
            .collect();
        lock.execute_batch("COMMIT").unwrap();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(db.pushes_queued(), (0, false));

    assert_eq!(together, one_by_one);
    // The cases meant: all accepted, the same citizen merged, the retry all
    // duplicates, a refused dose beside accepted events, a conflict.
    use PushStatus::*;
    assert!(one_by_one[0..3].iter().flatten().all(|(s, _)| *s == Accepted), "{one_by_one:?}");
    assert!(one_by_one[3].iter().all(|(s, _)| *s == Duplicate), "{:?}", one_by_one[3]);
    assert_eq!(one_by_one[4].iter().map(|(s, _)| *s).collect::<Vec<_>>(), [Accepted, Rejected, Accepted]);
    assert_eq!(one_by_one[5], [(Rejected, Some("event.conflict".to_string())), (Accepted, None)]);
    // Each desk marked heard from inside its push, with what it last said.
    let heard = |db: &HubDb| db.devices().unwrap().into_iter().map(|d| (d.id, d.last_seen_at, d.pending)).collect::<Vec<_>>();
    assert_eq!(heard(db), heard(&alone));
    assert!(heard(db).iter().all(|(_, seen, _)| seen.as_deref() == Some(now)), "{:?}", heard(db));
    // D3's last push said nothing: it keeps what its push before said.
    assert_eq!(heard(db).into_iter().map(|(_, _, pending)| pending).collect::<Vec<_>>(), [Some(3), None, Some(23), Some(43)]);
    let (persons, feed) = left(&path);
    assert_eq!((persons.clone(), feed.clone()), left(&alone_path));
    assert_eq!(persons.iter().filter(|(_, into)| into.is_some()).count(), 1, "the citizen at two desks merged: {persons:?}");
    assert!(feed.iter().any(|(site, kind, _)| site == "S1" && kind == "merge"));
}
