//! `vaxdesk bench sync`: the sync numbers side by side in one run, hub and
//! desks on loopback. Every figure goes through the real code: desks push
//! and pull over HTTP with the sync engine; the ingest rate is the hub's own
//! batch path without HTTP.

use std::time::Instant;

use serde::Serialize;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::sync::engine::{pull_all, push_all};
use vaxdesk_core::sync::{HubClient, SyncOptions, SyncReport};
use vaxdesk_core::synth;
use vaxdesk_hub::Incoming;

use crate::args::BenchSyncArgs;
use crate::embedded::EmbeddedHub;
use crate::output::Out;
use crate::{CliResult, Failure};

const SITE: &str = "BENCH-01";

#[derive(Debug, Serialize)]
pub(crate) struct Row {
    measure: &'static str,
    value: f64,
    unit: &'static str,
    target: &'static str,
    met: Option<bool>,
}

pub(crate) fn row(measure: &'static str, value: f64, unit: &'static str, target: &'static str, met: Option<bool>) -> Row {
    Row { measure, value: (value * 100.0).round() / 100.0, unit, target, met }
}


fn client(desk: &Desk, opts: &SyncOptions) -> CliResult<HubClient> {
    let s = desk.store();
    let hub = s.meta(vaxdesk_core::sync::engine::META_HUB)?.ok_or_else(|| Failure::storage("not enrolled"))?;
    HubClient::with_pool(&hub, s.meta(vaxdesk_core::sync::engine::META_TOKEN)?, opts.timeout, opts.reuse_connections, None).map_err(Failure::storage)
}

/// A desk at `desk_code` holding `events` new events (persons with 9 doses
/// each, plus the rest as persons).
fn seeded(hub: &EmbeddedHub, dir: &std::path::Path, desk_code: &str, prefix: &str, events: u64) -> CliResult<Desk> {
    let desk = Desk::open(dir.join(format!("{desk_code}.db")))?;
    hub.enroll(&desk, SITE, desk_code)?;
    let persons = events / 10;
    let device = desk.config().device_id;
    let (pe, de) = synth::desk_events(&device, SITE, desk_code, prefix, 0..persons, 9);
    desk.store().append_batch(&pe, &de)?;
    Ok(desk)
}

fn push(desk: &Desk, batch: usize) -> CliResult<(SyncReport, f64)> {
    let opts = SyncOptions { batch, ..Default::default() };
    let c = client(desk, &opts)?;
    let mut r = SyncReport::default();
    let t = Instant::now();
    push_all(desk, &c, &opts, &mut r).map_err(Failure::storage)?;
    Ok((r, t.elapsed().as_secs_f64()))
}

pub fn run(out: Out, a: &BenchSyncArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(Failure::storage)?;
    let dir = tmp.path();
    let hub = EmbeddedHub::start(&dir.join("hub.db"))?;
    // The hub checks every dose's lot against its catalog since it re-checks
    // doses: without the lots the desks' doses use, it refused them all.
    let current = hub.db.current_catalog().map_err(Failure::storage)?.unwrap_or_else(vaxdesk_core::catalog::Catalog::builtin);
    hub.db.publish_catalog(&synth::catalog_with_lots(&current)).map_err(Failure::storage)?;
    hub.site(SITE, "Bench site", &["A", "B", "C", "I", "N"])?;
    let mut rows = Vec::new();

    // 1. Batched push vs one POST per event, the same number of events.
    let batched = seeded(&hub, dir, "A", "100001", a.events)?;
    let (ra, ta) = push(&batched, 500)?;
    let single = seeded(&hub, dir, "B", "100002", a.events)?;
    let (rb, tb) = push(&single, 1)?;
    if ra.accepted != ra.pushed || rb.accepted != rb.pushed {
        return Err(Failure::storage(format!("bench: events refused ({ra:?}, {rb:?})")));
    }
    rows.push(row("push, batches of 500", ta, "s", "≤ 2 s", Some(ta <= 2.0)));
    rows.push(row("push, one request per event", tb, "s", "", None));
    rows.push(row("batched speed-up", tb / ta, "×", "≥ 10×", Some(tb / ta >= 10.0)));

    // 2. Steady sync: doses only, for persons the hub already has.
    let device = batched.config().device_id;
    let (_, mut doses) = synth::desk_events(&device, SITE, "A", "100001", 0..500, 1);
    // Re-point the doses at persons already synced.
    let known: Vec<_> = (0..500u64).filter_map(|k| batched.store().person_by_national_id(&format!("100001{k:06}")).ok().flatten()).collect();
    for (d, p) in doses.iter_mut().zip(&known) {
        d.person_id = p.id;
    }
    doses.truncate(known.len());
    batched.store().append_batch(&[], &doses)?;
    let (rs, _) = push(&batched, 500)?;
    let per_dose = rs.bytes_sent as f64 / rs.pushed.max(1) as f64;
    rows.push(row("bytes on the wire per dose (gzip, steady sync)", per_dose, "B", "≤ 150", Some(per_dose <= 150.0)));

    // 3. Hub ingest on its own: batches of 500 straight into the database,
    //    on SQLite and, when given a server, on PostgreSQL.
    let sqlite = vaxdesk_hub::HubDb::open(&dir.join("ingest.db")).map_err(Failure::storage)?;
    let rate = ingest_rate(&sqlite, a.ingest)?;
    rows.push(row("hub ingest, SQLite", rate, "events/s", "≥ 20,000", Some(rate >= 20_000.0)));
    if let Some(server) = &a.postgres {
        let name = format!("vaxdesk_bench_{}", uuid::Uuid::now_v7().simple());
        let mut admin = postgres_admin(server)?;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).map_err(Failure::storage)?;
        let pg = vaxdesk_hub::HubDb::open_target(&format!("{}/{name}", server.trim_end_matches('/'))).map_err(Failure::storage)?;
        let rate = ingest_rate(&pg, a.ingest)?;
        rows.push(row("hub ingest, PostgreSQL", rate, "events/s", "", None));
        drop(pg);
        let _ = admin.batch_execute(&format!("DROP DATABASE {name}"));
    }
    let ingest_desk = Desk::open(dir.join("I.db"))?;
    hub.enroll(&ingest_desk, SITE, "I")?;
    let dev = hub.db.devices().map_err(Failure::storage)?.into_iter().find(|d| d.desk == "I").ok_or_else(|| Failure::storage("no device"))?;

    // 4. First pull of the whole site by a new desk.
    let have = hub.db.event_count().map_err(Failure::storage)?;
    if have < a.pull {
        let extra = a.pull - have;
        let more = incoming(&dev.id, SITE, "I", "100004", extra.div_ceil(10));
        for chunk in more.chunks(500) {
            hub.db.ingest(&dev, chunk).map_err(Failure::storage)?;
        }
    }
    let site_events = hub.db.event_count().map_err(Failure::storage)?;
    let fresh = Desk::open(dir.join("N.db"))?;
    hub.enroll(&fresh, SITE, "N")?;
    let opts = SyncOptions::default();
    let c = client(&fresh, &opts)?;
    let mut rp = SyncReport::default();
    let t = Instant::now();
    pull_all(&fresh, &c, &opts, &mut rp).map_err(Failure::storage)?;
    let tp = t.elapsed().as_secs_f64();
    if rp.pulled != site_events {
        return Err(Failure::storage(format!("bench: pulled {} of {site_events} events", rp.pulled)));
    }
    rows.push(row("first pull of the site", tp, "s", "≤ 60 s", Some(tp <= 60.0)));
    rows.push(row("  events pulled", rp.pulled as f64, "events", "", None));

    out.show(&rows, || table(&format!("sync bench: {} events per desk, hub and desks on loopback, SQLite hub", a.events), &rows));
    drop(hub);
    Ok(())
}

/// The rows as a text table under `title`.
pub(crate) fn table(title: &str, rows: &[Row]) -> String {
    let mut s = format!("{title}\n{:<52} {:>12} {:<9} {:<10}\n", "measure", "value", "unit", "target");
    for r in rows {
        let met = match r.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "",
        };
        s.push_str(&format!("{:<52} {:>12.2} {:<9} {:<10} {}\n", r.measure, r.value, r.unit, r.target, met));
    }
    s.trim_end().to_string()
}

pub(crate) fn postgres_admin(server: &str) -> CliResult<postgres::Client> {
    // The blocking client must not run on a tokio worker; this is the main thread.
    postgres::Client::connect(&format!("{}/postgres", server.trim_end_matches('/')), postgres::NoTls).map_err(Failure::storage)
}

/// Events per second the hub's own ingest takes, in batches of 500, for a
/// device of a fresh site in `db`.
fn ingest_rate(db: &vaxdesk_hub::HubDb, events: u64) -> CliResult<f64> {
    use vaxdesk_hub::auth;
    db.upsert_site(&vaxdesk_core::model::Site { code: "INGEST".into(), name: "Ingest".into(), province_code: None }).map_err(Failure::storage)?;
    db.upsert_desk(&vaxdesk_core::model::SiteDesk { site: "INGEST".into(), code: "I".into(), name: "I".into() }).map_err(Failure::storage)?;
    let who = db.create_coordinator(&format!("bench-{}", uuid::Uuid::now_v7().simple()), "-", true, &[]).map_err(Failure::storage)?;
    let code = auth::enrollment_code();
    let exp = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db.create_enrollment_code(&auth::hash_token(&code), "INGEST", "I", who, &exp).map_err(Failure::storage)?;
    let id = uuid::Uuid::now_v7().to_string();
    let _ = db.enroll(&auth::hash_token(&code), &id, None, &auth::hash_token(&auth::random_token()), None).map_err(Failure::storage)?;
    let dev = db.devices().map_err(Failure::storage)?.into_iter().find(|d| d.id == id).ok_or_else(|| Failure::storage("no device"))?;
    let incoming = incoming(&dev.id, "INGEST", "I", "100003", events / 10);
    let t = Instant::now();
    for chunk in incoming.chunks(500) {
        db.ingest(&dev, chunk).map_err(Failure::storage)?;
    }
    Ok(incoming.len() as f64 / t.elapsed().as_secs_f64())
}

/// `persons` generated persons with 9 doses each, as the hub receives them.
fn incoming(device: &str, site: &str, desk: &str, prefix: &str, persons: u64) -> Vec<Incoming> {
    use vaxdesk_core::sync::protocol::WireEvent;
    let (pe, de) = synth::desk_events(device, site, desk, prefix, 0..persons, 9);
    pe.into_iter().map(WireEvent::Person).chain(de.into_iter().map(WireEvent::Dose)).map(Incoming::new).collect()
}
