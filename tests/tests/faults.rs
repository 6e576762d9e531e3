//! 100,000 events from 4 desks through a proxy that drops, delays, cuts,
//! resets and replays about 30 % of connections (one request each), with
//! some events the hub must refuse. Afterwards the hub holds every valid event exactly once,
//! every outbox is empty, and each to-fix list holds exactly the invalid ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use vaxdesk_core::desk::Desk;
use vaxdesk_core::store::OutboxState;
use vaxdesk_core::sync::engine::META_HUB;
use vaxdesk_core::sync::{sync_once, SyncOptions};
use vaxdesk_hub::fault_proxy::{self, Faults};
use vaxdesk_tests::{enroll, seed_desk, Coordinator, LocalHub};

const DESKS: usize = 4;
/// Per desk: 2,500 persons with 9 doses each = 25,000 valid events.
const PERSONS: usize = 2_500;
const DOSES_EACH: usize = 9;
const INVALID: usize = 25;

#[test]
fn every_valid_event_arrives_exactly_once_through_a_faulty_network() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start(&dir.path().join("hub.db")).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("QN-01", &["D1", "D2", "D3", "D4"]).unwrap();

    // The proxy, in front of the hub.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = hub.url.trim_start_matches("http://").parse().unwrap();
    let counts = runtime.block_on(async { fault_proxy::spawn(listener, upstream, Faults::rough(), 2021) });

    let mut desks = Vec::new();
    let mut invalid = Vec::new();
    for d in 0..DESKS {
        let desk = Desk::open(dir.path().join(format!("desk{d}.db"))).unwrap();
        enroll(&desk, &coordinator.enrollment_text("QN-01", &format!("D{}", d + 1)).unwrap(), None).unwrap();
        desk.store().set_meta(META_HUB, &proxy_url).unwrap();
        invalid.push(seed_desk(&desk, PERSONS, DOSES_EACH, INVALID, &format!("0220{d}1")).unwrap());
        desks.push(desk);
    }

    let opts = SyncOptions { batch: 500, attempts: 12, base_backoff: Duration::from_millis(20), max_backoff: Duration::from_millis(500), timeout: Duration::from_secs(20), reuse_connections: false, ..Default::default() };
    std::thread::scope(|s| {
        for desk in &desks {
            let opts = opts.clone();
            s.spawn(move || {
                // A round can give up after its retries; the next one resumes.
                for _ in 0..50 {
                    if sync_once(desk, &opts).is_ok() && desk.queue().unwrap().pending + desk.queue().unwrap().sent == 0 {
                        return;
                    }
                }
                panic!("desk did not drain its outbox");
            });
        }
    });

    let valid = DESKS * PERSONS * (1 + DOSES_EACH);
    let ids = hub.db.event_ids().unwrap();
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "an event was stored twice");
    assert_eq!(ids.len(), valid, "events lost or extra");
    for (desk, bad) in desks.iter().zip(&invalid) {
        let q = desk.queue().unwrap();
        assert_eq!((q.pending, q.sent), (0, 0));
        let to_fix: HashSet<String> = desk.store().outbox_entries(OutboxState::ToFix, 10_000).unwrap().into_iter().map(|e| e.event_id).collect();
        let expected: HashSet<String> = bad.iter().map(|i| i.to_string()).collect();
        assert_eq!(to_fix, expected);
        assert!(bad.iter().all(|id| !distinct.contains(&id.to_string())));
    }
    let (conns, faulted) = (counts.connections.load(Ordering::Relaxed), counts.faulted());
    eprintln!(
        "{valid} events, {conns} connections, {faulted} faulted (dropped {}, delayed {}, cut {}, reset {}, replayed {})",
        counts.dropped.load(Ordering::Relaxed),
        counts.delayed.load(Ordering::Relaxed),
        counts.cut.load(Ordering::Relaxed),
        counts.reset.load(Ordering::Relaxed),
        counts.replayed.load(Ordering::Relaxed)
    );
    assert!(faulted * 100 >= conns * 20, "too few faults to prove anything: {faulted} of {conns}");
}
