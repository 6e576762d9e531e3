//! `vaxdesk bench load`: a province's morning on one machine. Many desks
//! (200 by default, 10 a site) each holding 500 doses sync at once, 50 at a
//! time, to a hub *process* (`vaxdesk hub`, TLS, pinned) through the fault
//! proxy. Reports push latency (what a desk waits, retries included),
//! throughput, the hub's memory, and checks that every event reached the
//! hub exactly once. Loopback only. `--soak-seconds N` keeps desks
//! recording and syncing for N seconds.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::qr::payload::EnrollCode;
use vaxdesk_core::sync::{sync_once, SyncOptions};
use vaxdesk_core::synth;
use vaxdesk_hub::{auth, HubDb};

use crate::args::BenchLoadArgs;
use crate::output::Out;
use crate::{CliResult, Failure};

const DESKS_PER_SITE: u32 = 10;


#[derive(Debug, Serialize)]
struct LoadReport {
    backend: &'static str,
    desks: u32,
    events: u64,
    passes: u32,
    seconds: f64,
    events_per_second: f64,
    pushes: usize,
    push_p50_ms: f64,
    push_p99_ms: f64,
    push_max_ms: f64,
    retries: u64,
    faulted_connections: u64,
    hub_peak_rss_mb: f64,
    /// Resident memory after the first pass and at the end: in a soak, a
    /// hub that leaks grows from one to the other.
    hub_rss_first_pass_mb: f64,
    hub_rss_end_mb: f64,
    hub_events: u64,
    lost: u64,
    doubled: u64,
}

/// The hub process; killed when dropped.
pub(crate) struct HubProcess(pub(crate) Child);

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl HubProcess {
    /// Start `vaxdesk hub` for `target` on `port` over TLS, its certificate
    /// and log (`hub.log`, appended: a restarted hub adds to it) in `dir`;
    /// back once it accepts connections.
    pub(crate) fn start(target: &str, dir: &std::path::Path, port: u16) -> CliResult<HubProcess> {
        let exe = std::env::current_exe().map_err(Failure::storage)?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("hub.log")).map_err(Failure::storage)?;
        let child = Command::new(exe)
            .args(["--db", target, "hub", "--listen", &format!("127.0.0.1:{port}"), "--enroll-per-minute", "100000"])
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(Failure::storage)?;
        let hub = HubProcess(child);
        // A hub opening a large database (or reaching PostgreSQL) may take a while.
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !dir.join("hub-tls.cert.der").exists() {
            if Instant::now() > deadline {
                return Err(Failure::storage(format!("the hub process did not start (see {})", dir.join("hub.log").display())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(hub)
    }

    /// Peak resident memory of the process so far (Linux), in MB.
    pub(crate) fn peak_rss_mb(&self) -> f64 {
        self.status_mb("VmHWM:")
    }

    /// Resident memory now (Linux), in MB.
    fn rss_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }

    fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).map_or(0.0, |kb| kb / 1024.0)
    }
}

fn site_of(i: u32) -> (String, String) {
    (format!("LOAD-{:02}", i / DESKS_PER_SITE), format!("D{}", i % DESKS_PER_SITE))
}

/// Percentile of sorted values.
fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

pub fn run(out: Out, a: &BenchLoadArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(Failure::storage)?;
    let dir = tmp.path();
    let (target, backend, pg_name) = match &a.postgres {
        Some(server) => {
            let name = format!("vaxdesk_load_{}", uuid::Uuid::now_v7().simple());
            let mut admin = postgres::Client::connect(&format!("{}/postgres", server.trim_end_matches('/')), postgres::NoTls).map_err(Failure::storage)?;
            admin.batch_execute(&format!("CREATE DATABASE {name}")).map_err(Failure::storage)?;
            (format!("{}/{name}", server.trim_end_matches('/')), "postgresql", Some((admin, name)))
        }
        None => (dir.join("hub.db").display().to_string(), "sqlite", None),
    };

    // 1. The coordinator's part, straight into the hub's database: the lots
    //    the desks' doses name, sites, desks and one enrollment code per desk.
    let db = HubDb::open_target(&target).map_err(Failure::storage)?;
    let coordinator = db.create_coordinator("bench", &auth::hash_password(&auth::random_token()).map_err(Failure::storage)?, true, &[]).map_err(Failure::storage)?;
    db.publish_catalog(&synth::catalog_with_lots(&vaxdesk_core::catalog::Catalog::builtin())).map_err(Failure::storage)?;
    let mut codes = Vec::new();
    let expires = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for i in 0..a.desks {
        let (site, desk) = site_of(i);
        if i % DESKS_PER_SITE == 0 {
            db.upsert_site(&vaxdesk_core::model::Site { code: site.clone(), name: format!("Điểm tiêm {site}"), province_code: None }).map_err(Failure::storage)?;
        }
        db.upsert_desk(&vaxdesk_core::model::SiteDesk { site: site.clone(), code: desk.clone(), name: format!("Bàn {desk}") }).map_err(Failure::storage)?;
        let secret = auth::enrollment_code();
        db.create_enrollment_code(&auth::hash_token(&secret), &site, &desk, coordinator, &expires).map_err(Failure::storage)?;
        codes.push(secret);
    }

    // 2. The hub as it runs at a site: its own process, over TLS.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(Failure::storage)?.port();
    let hub = HubProcess::start(&target, dir, port)?;
    let fp = vaxdesk_hub::tls::fingerprint(&std::fs::read(dir.join("hub-tls.cert.der")).map_err(Failure::storage)?);
    let direct = format!("https://127.0.0.1:{port}");

    // 3. The fault proxy in front of it (30 % of connections misbehave).
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(Failure::storage)?;
    let (via, faults) = if a.no_faults {
        (direct, None)
    } else {
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(Failure::storage)?;
        let addr = listener.local_addr().map_err(Failure::storage)?;
        let upstream: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().map_err(Failure::storage)?;
        let counts = runtime.block_on(async { vaxdesk_hub::fault_proxy::spawn(listener, upstream, vaxdesk_hub::fault_proxy::Faults::rough(), 11) });
        (format!("https://{addr}"), Some(counts))
    };

    // 4. The desks: enrolled through the proxy like everything else (a lost
    //    reply is retried with the same code and gets the same enrollment).
    let enroll_opts = SyncOptions { attempts: 30, base_backoff: Duration::from_millis(50), max_backoff: Duration::from_secs(2), ..Default::default() };
    let mut desks = Vec::with_capacity(codes.len());
    for (i, code) in codes.into_iter().enumerate() {
        let desk = Desk::open(dir.join(format!("desk-{i}.db")))?;
        let text = EnrollCode { hub: via.clone(), code, fp: Some(fp.clone()) }.to_text();
        vaxdesk_core::sync::enroll_with(&desk, &text, None, &enroll_opts).map_err(Failure::storage)?;
        desks.push(desk);
    }
    let persons_per_pass = u64::from(a.doses).div_ceil(9);
    let record = |desks: &[Desk], pass: u32| -> CliResult<u64> {
        let mut n = 0;
        for (i, desk) in desks.iter().enumerate() {
            let (site, code) = site_of(i as u32);
            let prefix = format!("9{:02}{:03}", pass % 100, i % 1000);
            let start = (i as u64) * 10_000 + u64::from(pass) * persons_per_pass;
            let (pe, de) = synth::desk_events(&desk.config().device_id, &site, &code, &prefix, start..start + persons_per_pass, 9);
            n += (pe.len() + de.len()) as u64;
            desk.store().append_batch(&pe, &de)?;
        }
        Ok(n)
    };

    // 5. Sync: `concurrent` desks at a time, each until its queue is empty.
    let opts = SyncOptions { batch: a.batch, attempts: 30, base_backoff: Duration::from_millis(50), max_backoff: Duration::from_secs(2), timeout: Duration::from_secs(20), ..Default::default() };
    let latencies = Mutex::new(Vec::<u64>::new());
    let retries = std::sync::atomic::AtomicU64::new(0);
    let failures = Mutex::new(Vec::<String>::new());
    let mut expected = 0u64;
    let mut passes = 0u32;
    let mut rss_first_pass = 0.0;
    let started = Instant::now();
    loop {
        expected += record(&desks, passes)?;
        passes += 1;
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..a.concurrent.max(1) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(desk) = desks.get(i) else { break };
                    for _ in 0..20 {
                        match sync_once(desk, &opts) {
                            Ok(r) => {
                                retries.fetch_add(r.retries, Ordering::Relaxed);
                                latencies.lock().unwrap_or_else(|e| e.into_inner()).extend(r.push_micros);
                            }
                            Err(e) => failures.lock().unwrap_or_else(|e| e.into_inner()).push(e.to_string()),
                        }
                        let q = desk.queue().unwrap_or_default();
                        if q.pending + q.sent == 0 {
                            break;
                        }
                    }
                });
            }
        });
        if passes == 1 {
            rss_first_pass = hub.rss_mb();
        }
        if started.elapsed().as_secs() >= a.soak_seconds {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak = hub.peak_rss_mb();
    let rss_end = hub.rss_mb();
    drop(hub);

    // 6. Nothing lost, nothing doubled: the hub holds each event once, and
    //    every desk's events were accepted.
    let ids = db.event_ids().map_err(Failure::storage)?;
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    let doubled = (ids.len() - unique.len()) as u64;
    let mut accepted = 0u64;
    for d in &desks {
        accepted += d.queue()?.accepted;
    }
    let lost = expected.saturating_sub(unique.len() as u64) + expected.saturating_sub(accepted);
    let mut lat = latencies.into_inner().unwrap_or_else(|e| e.into_inner());
    lat.sort_unstable();
    let report = LoadReport {
        backend,
        desks: a.desks,
        events: expected,
        passes,
        seconds: (seconds * 10.0).round() / 10.0,
        events_per_second: (expected as f64 / seconds).round(),
        pushes: lat.len(),
        push_p50_ms: pct(&lat, 0.5),
        push_p99_ms: pct(&lat, 0.99),
        push_max_ms: pct(&lat, 1.0),
        retries: retries.load(Ordering::Relaxed),
        faulted_connections: faults.as_ref().map_or(0, |f| f.faulted()),
        hub_peak_rss_mb: (peak * 10.0).round() / 10.0,
        hub_rss_first_pass_mb: (rss_first_pass * 10.0).round() / 10.0,
        hub_rss_end_mb: (rss_end * 10.0).round() / 10.0,
        hub_events: ids.len() as u64,
        lost,
        doubled,
    };
    drop(db);
    if let Some((mut admin, name)) = pg_name {
        let _ = admin.batch_execute(&format!("DROP DATABASE {name}"));
    }
    out.show(&report, || {
        format!(
            "{backend}: {} desks, {} events in {:.1} s ({:.0} events/s), {} passes\npush latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} retries, {} connections faulted\nhub RSS peak {:.1} MB, after the first pass {:.1} MB, at the end {:.1} MB; hub holds {} events; lost {}, doubled {}",
            report.desks, report.events, report.seconds, report.events_per_second, report.passes, report.push_p50_ms, report.push_p99_ms, report.push_max_ms,
            report.retries, report.faulted_connections, report.hub_peak_rss_mb, report.hub_rss_first_pass_mb, report.hub_rss_end_mb, report.hub_events, report.lost, report.doubled
        )
    });
    let errors = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    if report.lost > 0 || report.doubled > 0 {
        return Err(Failure::storage(format!("bench load: {} lost, {} doubled; first sync errors: {:?}", report.lost, report.doubled, errors.iter().take(3).collect::<Vec<_>>())));
    }
    Ok(())
}
