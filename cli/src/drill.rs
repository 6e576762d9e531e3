//! `vaxdesk bench drill`: a congested site network at its worst, in one run.
//! A hub *process* over TLS, behind the fault proxy (about 30 % of
//! connections dropped, delayed, cut either way, reset, or answered with
//! the answer lost). The desks enroll through it (their first replies are
//! lost on purpose), record their doses, and push and pull until they are
//! done while the hub is killed with SIGKILL and started again; one desk's
//! token is rotated mid-way; each desk fetches a certificate. Then the
//! network heals and every flow must complete: every event on the hub once,
//! every desk's outbox empty, every desk holding the site's events.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde::Serialize;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::qr::payload::EnrollCode;
use vaxdesk_core::sync::engine::META_TOKEN_AT;
use vaxdesk_core::sync::{enroll_with, fetch_certificate, sync_once, SyncOptions};
use vaxdesk_core::synth;
use vaxdesk_hub::fault_proxy::{Fault, Faults};
use vaxdesk_hub::{auth, HubDb};

use crate::args::BenchDrillArgs;
use crate::bench_load::HubProcess;
use crate::output::Out;
use crate::{CliResult, Failure};

const SITE: &str = "DRILL-01";


#[derive(Debug, Serialize)]
struct DrillReport {
    backend: &'static str,
    desks: u32,
    enrolled: u32,
    /// Enrollment replies lost on purpose (the hub had enrolled the desk).
    enroll_replies_lost: u32,
    events: u64,
    hub_kills: u32,
    token_rotations: u32,
    certificates: u32,
    /// Why a certificate could not be fetched, the first time it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_error: Option<String>,
    connections: u64,
    faulted_connections: u64,
    lost_replies: u64,
    seconds: f64,
    /// Events a desk saved that the hub does not hold.
    lost: u64,
    /// Events the hub holds more than once.
    doubled: u64,
    /// Events still waiting on a desk, refused, or a desk missing the site's
    /// events after the network healed.
    stuck: u64,
}

pub fn run(out: Out, a: &BenchDrillArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(Failure::storage)?;
    let dir = tmp.path();
    let (target, backend, pg) = match &a.postgres {
        Some(server) => {
            let name = format!("vaxdesk_drill_{}", uuid::Uuid::now_v7().simple());
            let mut admin = postgres::Client::connect(&format!("{}/postgres", server.trim_end_matches('/')), postgres::NoTls).map_err(Failure::storage)?;
            admin.batch_execute(&format!("CREATE DATABASE {name}")).map_err(Failure::storage)?;
            (format!("{}/{name}", server.trim_end_matches('/')), "postgresql", Some((admin, name)))
        }
        None => (dir.join("hub.db").display().to_string(), "sqlite", None),
    };

    // The coordinator's part: the lots the doses name, a site, its desks, a code each.
    let db = HubDb::open_target(&target).map_err(Failure::storage)?;
    let coordinator = db.create_coordinator("drill", &auth::hash_password(&auth::random_token()).map_err(Failure::storage)?, true, &[]).map_err(Failure::storage)?;
    db.publish_catalog(&synth::catalog_with_lots(&vaxdesk_core::catalog::Catalog::builtin())).map_err(Failure::storage)?;
    db.upsert_site(&vaxdesk_core::model::Site { code: SITE.into(), name: "Điểm tiêm diễn tập".into(), province_code: None }).map_err(Failure::storage)?;
    let expires = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut codes = Vec::new();
    for i in 0..a.desks {
        let desk = format!("D{}", i + 1);
        db.upsert_desk(&vaxdesk_core::model::SiteDesk { site: SITE.into(), code: desk.clone(), name: format!("Bàn {}", i + 1) }).map_err(Failure::storage)?;
        let secret = auth::enrollment_code();
        db.create_enrollment_code(&auth::hash_token(&secret), SITE, &desk, coordinator, &expires).map_err(Failure::storage)?;
        codes.push(secret);
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(Failure::storage)?.port();
    let hub = Mutex::new(HubProcess::start(&target, dir, port)?);
    let fp = vaxdesk_hub::tls::fingerprint(&std::fs::read(dir.join("hub-tls.cert.der")).map_err(Failure::storage)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(Failure::storage)?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(Failure::storage)?;
    let via = format!("https://{}", listener.local_addr().map_err(Failure::storage)?);
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().map_err(Failure::storage)?;
    let (counts, control) = runtime.block_on(async { vaxdesk_hub::fault_proxy::spawn_controlled(listener, upstream, Faults::rough(), a.seed) });
    let started = Instant::now();

    // 1. Enrollment: each desk's first reply is lost after the hub enrolled
    //    it; the desk retries the same code and gets the same enrollment.
    let opts = SyncOptions {
        batch: 100,
        attempts: 12,
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(800),
        timeout: Duration::from_secs(10),
        reuse_connections: false,
        ..SyncOptions::default()
    };
    let mut desks = Vec::new();
    let mut enrolled = 0;
    for (i, code) in codes.into_iter().enumerate() {
        let desk = Desk::open(dir.join(format!("desk-{i}.db")))?;
        control.script([Fault::LoseReply(0)]);
        let text = EnrollCode { hub: via.clone(), code, fp: Some(fp.clone()) }.to_text();
        let mut done = false;
        for _ in 0..5 {
            if enroll_with(&desk, &text, Some(&format!("drill phone {i}")), &opts).is_ok() {
                done = true;
                break;
            }
        }
        enrolled += u32::from(done);
        desks.push(desk);
    }
    let enroll_replies_lost = counts.lost.load(Ordering::Relaxed) as u32;

    // 2. Each desk records its doses (persons first), as a clinic morning would.
    let persons = u64::from(a.doses).div_ceil(9);
    let mut expected = 0u64;
    for (i, desk) in desks.iter().enumerate() {
        let c = desk.config();
        let (Some(site), Some(code)) = (c.site.clone(), c.desk.clone()) else { continue };
        let start = i as u64 * 100_000;
        let (pe, de) = synth::desk_events(&c.device_id, &site, &code, &format!("7{i:02}"), start..start + persons, 9);
        expected += (pe.len() + de.len()) as u64;
        desk.store().append_batch(&pe, &de)?;
    }

    // 3. Sync through the faults while the hub is killed and restarted.
    //    Mid-way, desk 0's token is made 40 days old: its next sync rotates it.
    let kills = AtomicU32::new(0);
    let rotated = AtomicBool::new(false);
    let certificates = AtomicU32::new(0);
    let syncing = AtomicBool::new(true);
    std::thread::scope(|s| -> CliResult {
        let killer = s.spawn(|| -> CliResult {
            let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed ^ 0x6b69_6c6c);
            for k in 0..a.kills {
                std::thread::sleep(Duration::from_millis(rng.random_range(200..1200)));
                let mut h = hub.lock().unwrap_or_else(|e| e.into_inner());
                let _ = h.0.kill(); // SIGKILL
                let _ = h.0.wait();
                kills.fetch_add(1, Ordering::Relaxed);
                if k == a.kills / 2 {
                    if let Some(d) = desks.first() {
                        let old = (chrono::Utc::now() - chrono::Duration::days(40)).to_rfc3339();
                        d.store().set_meta(META_TOKEN_AT, &old)?;
                        rotated.store(true, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
                *h = HubProcess::start(&target, dir, port)?;
            }
            Ok(())
        });
        for desk in &desks {
            let (syncing, opts) = (&syncing, &opts);
            s.spawn(move || {
                while syncing.load(Ordering::Relaxed) {
                    let _ = sync_once(desk, opts);
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        }
        let r = killer.join().unwrap_or_else(|_| Err(Failure::storage("drill: the killer thread panicked")));
        // 4. The network heals: faults off, a last round for every flow.
        control.set_odds(Faults::none());
        std::thread::sleep(Duration::from_millis(500));
        syncing.store(false, Ordering::Relaxed);
        r
    })?;
    let healed = SyncOptions { reuse_connections: true, ..opts.clone() };
    let mut certificate_error = None;
    for desk in &desks {
        for _ in 0..5 {
            let done = sync_once(desk, &healed).is_ok() && desk.queue().is_ok_and(|q| q.pending + q.sent == 0);
            if done {
                break;
            }
        }
        // A certificate for the desk's first person (a completed series by now).
        if let Some(p) = desk.store().persons_page(0, 1)?.first() {
            match fetch_certificate(desk, p.id, &healed) {
                Ok(_) => {
                    certificates.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    certificate_error.get_or_insert(e.to_string());
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(hub);

    // 5. Count: lost, doubled, stuck.
    let ids = db.event_ids().map_err(Failure::storage)?;
    let unique: HashSet<&String> = ids.iter().collect();
    let doubled = (ids.len() - unique.len()) as u64;
    let lost = expected.saturating_sub(unique.len() as u64);
    let mut stuck = 0u64;
    for desk in &desks {
        let q = desk.queue()?;
        stuck += q.pending + q.sent + q.to_fix;
        // Every event of the site reached every desk (theirs and the others').
        stuck += (unique.len() as u64).saturating_sub(desk.store().event_count()?);
    }
    drop(db);
    if let Some((mut admin, name)) = pg {
        let _ = admin.batch_execute(&format!("DROP DATABASE {name}"));
    }
    let report = DrillReport {
        backend,
        desks: a.desks,
        enrolled,
        enroll_replies_lost,
        events: expected,
        hub_kills: kills.load(Ordering::Relaxed),
        token_rotations: u32::from(rotated.load(Ordering::Relaxed) && desks.first().is_some_and(|d| d.store().meta(META_TOKEN_AT).ok().flatten().is_some_and(|t| t > (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339()))),
        certificates: certificates.load(Ordering::Relaxed),
        certificate_error,
        connections: counts.connections.load(Ordering::Relaxed),
        faulted_connections: counts.faulted(),
        lost_replies: counts.lost.load(Ordering::Relaxed),
        seconds: (seconds * 10.0).round() / 10.0,
        lost,
        doubled,
        stuck,
    };
    out.show(&report, || {
        format!(
            "{backend}: enrolled {}/{} (after {} lost enrollment replies); {} events; hub killed {} times; {} token rotation; {} certificates\n{} connections, {} faulted ({} replies lost after the request went through); {:.1} s\nlost {}, doubled {}, stuck {}",
            report.enrolled, report.desks, report.enroll_replies_lost, report.events, report.hub_kills, report.token_rotations, report.certificates,
            report.connections, report.faulted_connections, report.lost_replies, report.seconds, report.lost, report.doubled, report.stuck
        )
    });
    if report.enrolled < a.desks || report.lost > 0 || report.doubled > 0 || report.stuck > 0 || report.token_rotations == 0 || report.certificates < report.enrolled {
        return Err(Failure::storage(format!(
            "drill: enrolled {}/{}, lost {}, doubled {}, stuck {}, token rotations {}, certificates {}",
            report.enrolled, report.desks, report.lost, report.doubled, report.stuck, report.token_rotations, report.certificates
        )));
    }
    Ok(())
}
