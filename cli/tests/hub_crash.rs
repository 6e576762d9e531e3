//! kill -9 the hub process at random moments while a desk pushes, restart it
//! each time: nothing the hub acknowledged is lost and nothing is doubled.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use vaxdesk_core::desk::Desk;
use vaxdesk_core::store::OutboxState;
use vaxdesk_core::sync::{enroll, sync_once, SyncOptions};
use vaxdesk_tests::{seed_desk, Coordinator, ADMIN};

const KILLS: usize = 25;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_hub(db: &std::path::Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_vaxdesk"))
        .arg("--db")
        .arg(db)
        .args(["hub", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "hub did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn hub_killed_at_random_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let made = Command::new(env!("CARGO_BIN_EXE_vaxdesk"))
        .arg("--db")
        .arg(&db)
        .args(["hub", "admin", "create", "--username", ADMIN.0, "--password-env", "HUB_PW"])
        .env("HUB_PW", ADMIN.1)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    vaxdesk_tests::publish_synth_lots(&vaxdesk_hub::HubDb::open(&db).unwrap()).unwrap();
    let port = free_port();
    let mut hub = start_hub(&db, port);
    // `vaxdesk hub` serves TLS; the desk pins its certificate from the code.
    let url = format!("https://127.0.0.1:{port}");
    let coordinator = Coordinator::login(&url).unwrap();
    coordinator.site("QN-01", &["D1"]).unwrap();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    enroll(&desk, &coordinator.enrollment_text("QN-01", "D1").unwrap(), None).unwrap();
    seed_desk(&desk, 4_000, 9, 0, "022071").unwrap();
    let total = 4_000 * 10;

    let done = AtomicBool::new(false);
    let mut kills_during_push = 0;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    std::thread::scope(|s| {
        s.spawn(|| {
            let opts = SyncOptions { batch: 50, attempts: 40, base_backoff: Duration::from_millis(20), max_backoff: Duration::from_millis(200), timeout: Duration::from_secs(5), reuse_connections: false, ..Default::default() };
            for _ in 0..500 {
                let _ = sync_once(&desk, &opts);
                let q = desk.queue().unwrap();
                if q.pending + q.sent == 0 {
                    break;
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        while kills_during_push < KILLS && !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(rng.random_range(30..200)));
            if !done.load(Ordering::SeqCst) {
                kills_during_push += 1;
            }
            hub.kill().unwrap(); // SIGKILL
            hub.wait().unwrap();
            hub = start_hub(&db, port);
        }
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    hub.kill().unwrap();
    hub.wait().unwrap();
    assert!(kills_during_push >= KILLS, "only {kills_during_push} kills landed while the desk was pushing");

    let q = desk.queue().unwrap();
    assert_eq!((q.pending, q.sent, q.to_fix), (0, 0, 0), "desk still has work: {q:?}");
    let accepted: Vec<String> = desk.store().outbox_entries(OutboxState::Accepted, 100_000).unwrap().into_iter().map(|e| e.event_id).collect();
    assert_eq!(accepted.len(), total);
    let hub_db = vaxdesk_hub::HubDb::open(&db).unwrap();
    let ids = hub_db.event_ids().unwrap();
    let set: std::collections::HashSet<_> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "an event was stored twice");
    for id in &accepted {
        assert!(set.contains(id), "acknowledged event {id} lost");
    }
    assert_eq!(ids.len(), total);
}
