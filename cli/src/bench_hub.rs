//! `vaxdesk bench hub`: the hub at a province's size and beyond, through its
//! real paths. A campaign of N events is ingested day by day (each day's
//! batches arrive on that day, through the hub's own ingest), across many
//! sites, the first and busiest holding a tenth of it. Then, with the hub
//! running as its own process over TLS: the dashboard of the busiest site on
//! the campaign's last day as a coordinator loads it, a new desk's first
//! sync of that site, an export of every dose, a registration list, and a
//! backup and restore of the whole database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone as _};
use indicatif::{ProgressBar, ProgressStyle};
use vaxdesk_core::desk::Desk;
use vaxdesk_core::model::{DoseEvent, EventId, PersonEvent, PersonId, Site, SiteDesk, VisitId};
use vaxdesk_core::qr::payload::EnrollCode;
use vaxdesk_core::sync::protocol::WireEvent;
use vaxdesk_core::sync::{sync_once, SyncOptions};
use vaxdesk_core::synth;
use vaxdesk_hub::db::{Coordinator, Device};
use vaxdesk_hub::export::HubDoses;
use vaxdesk_hub::{auth, HubDb, Incoming};

use crate::args::BenchHubArgs;
use crate::bench_load::HubProcess;
use crate::bench_sync::{postgres_admin, row, table, Row};
use crate::output::Out;
use crate::{CliResult, Failure};

const DESKS: [&str; 4] = ["A", "B", "C", "D"];
/// Events a push carries (the desks' default batch).
const BATCH: usize = 500;
const SECOND_DOSE_AFTER: u32 = 28;
const THIRD_DOSE_AFTER: u32 = 84;

fn campaign_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 7, 15).unwrap_or_default()
}

fn site_code(i: u32) -> String {
    format!("P22-{i:03}")
}

/// A push: the desk (index into [`DESKS`]), its events, when it arrives.
type Push = (usize, Vec<Incoming>, String);

/// One site of the campaign: its devices and how many new persons come a day.
struct CampaignSite {
    index: u32,
    code: String,
    devices: Vec<Device>,
    new_a_day: u64,
    /// Each person's id by number at the site, as the desk that first saw
    /// them made it (nil until then): ~56 MB at 10M events.
    persons: Vec<uuid::Uuid>,
}

/// Events a site has over `days` for one new person a day: the person and
/// a first dose every day, a second dose from day 28, a third from day 84.
fn events_per_daily_person(days: u32) -> u64 {
    u64::from(2 * days + days.saturating_sub(SECOND_DOSE_AFTER) + days.saturating_sub(THIRD_DOSE_AFTER))
}

/// The events of `site` on campaign day `t`, in the order its desks saved
/// them, in batches as they are pushed: each batch from one desk, arriving
/// two minutes after its last record (RFC 3339, the hub's clock).
fn site_day(site: &mut CampaignSite, t: u32) -> CliResult<Vec<Push>> {
    let day = campaign_start() + chrono::Duration::days(i64::from(t));
    // (person, dose number) in the order they come to the desk.
    let mut visits: Vec<(u64, u8)> = Vec::new();
    let c = site.new_a_day;
    for (after, n) in [(0, 1u8), (SECOND_DOSE_AFTER, 2), (THIRD_DOSE_AFTER, 3)] {
        if let Some(first) = t.checked_sub(after) {
            visits.extend((u64::from(first) * c..u64::from(first + 1) * c).map(|k| (k, n)));
        }
    }
    // Interleave the kinds of visit through the day, as a queue mixes them.
    visits.sort_by_key(|(k, n)| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(*n)).rotate_left(17));
    let open = synth::vietnam().from_local_datetime(&day.and_hms_opt(7, 0, 0).unwrap_or_default()).single().unwrap_or_default();
    let step = 36_000.0 / visits.len().max(1) as f64;
    let mut events: Vec<(WireEvent, chrono::DateTime<chrono::Utc>)> = Vec::with_capacity(visits.len() * 2);
    for (i, (k, n)) in visits.into_iter().enumerate() {
        let global = u64::from(site.index) * 1_000_000 + k;
        let at = open + chrono::Duration::seconds((i as f64 * step) as i64);
        // Ids as a desk makes them: the visit's (the dose's) at the time
        // it is saved, a new person's and their first event's from it.
        let visit = visit_id(global, n, at.timestamp_millis());
        let slot = usize::try_from(k).map_err(|_| Failure::storage("bench: too many persons"))?;
        if n == 1 {
            *site.persons.get_mut(slot).ok_or_else(|| Failure::storage("bench: a person beyond the campaign"))? = visit.new_person().0;
        }
        let mut p = synth::person(global);
        p.id = PersonId(site.persons.get(slot).copied().filter(|id| !id.is_nil()).ok_or_else(|| Failure::storage("bench: a returning person never came"))?);
        let mut dose: DoseEvent = synth::first_dose(global, &p);
        dose.id = EventId(visit.0);
        dose.site = site.code.clone();
        if let Some(d) = dose.dose.as_mut() {
            d.dose_number = Some(n);
            d.administered_at = at;
        }
        dose.recorded_at = at.with_timezone(&chrono::Utc);
        if n == 1 {
            let mut pe: PersonEvent = synth::person_event(&p);
            pe.id = visit.person_event();
            pe.recorded_at = dose.recorded_at - chrono::Duration::seconds(30);
            events.push((WireEvent::Person(pe), dose.recorded_at));
        }
        let when = dose.recorded_at;
        events.push((WireEvent::Dose(dose), when));
    }
    let mut batches = Vec::new();
    for (b, chunk) in events.chunks(BATCH).enumerate() {
        let desk = b % DESKS.len();
        let device = &site.devices[desk];
        let last = chunk.last().map_or(open.with_timezone(&chrono::Utc), |(_, at)| *at);
        let received = (last + chrono::Duration::seconds(120)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let incoming = chunk
            .iter()
            .map(|(e, _)| {
                let mut e = e.clone();
                match &mut e {
                    WireEvent::Person(p) => p.device = device.id.clone(),
                    WireEvent::Dose(d) => {
                        d.device = device.id.clone();
                        d.desk = DESKS[desk].to_string();
                    }
                }
                Incoming::new(e)
            })
            .collect();
        batches.push((desk, incoming, received));
    }
    Ok(batches)
}

/// The visit of person `global` for dose `n`, saved at `millis`: a UUIDv7
/// as a desk's clock makes it, its random part fixed by the visit so every
/// run makes the same ids.
fn visit_id(global: u64, n: u8, millis: i64) -> VisitId {
    let hashed = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("vaxdesk bench visit {global} {n}").as_bytes());
    let mut rest = [0u8; 10];
    rest.copy_from_slice(&hashed.as_bytes()[6..]);
    VisitId(uuid::Builder::from_unix_timestamp_millis(u64::try_from(millis).unwrap_or_default(), &rest).into_uuid())
}

/// Sites, desks and an enrolled device for each desk, straight into the
/// hub's database (the coordinator's set-up is not what is measured).
fn set_up(db: &HubDb, a: &BenchHubArgs, coordinator: i64) -> CliResult<Vec<CampaignSite>> {
    db.publish_catalog(&synth::catalog_with_lots(&vaxdesk_core::catalog::Catalog::builtin())).map_err(Failure::storage)?;
    let per_person = events_per_daily_person(a.days).max(1);
    let busy = a.events / 10;
    let rest = (a.events - busy) / u64::from(a.sites.saturating_sub(1).max(1));
    let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut sites = Vec::new();
    for i in 0..a.sites {
        let code = site_code(i);
        db.upsert_site(&Site { code: code.clone(), name: format!("Điểm tiêm {i:03}"), province_code: Some("22".into()) }).map_err(Failure::storage)?;
        let mut devices = Vec::new();
        for d in DESKS {
            db.upsert_desk(&SiteDesk { site: code.clone(), code: d.into(), name: format!("Bàn {d}") }).map_err(Failure::storage)?;
            let secret = auth::enrollment_code();
            db.create_enrollment_code(&auth::hash_token(&secret), &code, d, coordinator, &expires).map_err(Failure::storage)?;
            let id = uuid::Uuid::now_v7().to_string();
            db.enroll(&auth::hash_token(&secret), &id, None, &auth::hash_token(&auth::random_token()), None)
                .map_err(Failure::storage)?
                .map_err(|r| Failure::storage(format!("bench: enrollment refused: {r:?}")))?;
            devices.push(db.devices().map_err(Failure::storage)?.into_iter().find(|x| x.id == id).ok_or_else(|| Failure::storage("bench: no device"))?);
        }
        let events = if i == 0 { busy } else { rest };
        let new_a_day = (events / per_person).max(1);
        let persons = vec![uuid::Uuid::nil(); usize::try_from(new_a_day * u64::from(a.days)).map_err(|_| Failure::storage("bench: too many persons"))?];
        sites.push(CampaignSite { index: i, code, devices, new_a_day, persons });
    }
    Ok(sites)
}

struct Ingested {
    events: u64,
    seconds: f64,
    /// Events a second in each tenth of the run.
    tenths: Vec<f64>,
    busy_events: u64,
    /// Each push's time in the hub's ingest, ms, waiting for another push's
    /// turn included (the one that crosses the log's checkpoint mark also
    /// copies the log into the file).
    pushes_ms: Vec<f64>,
    /// Pushes in flight at once.
    at_once: usize,
}

/// A day's pushes waiting, site by site, for the pushers. A site's batches
/// go in their order, one at a time (its desks' events build on each
/// other; the hub makes a site's batches take turns too); the next push is
/// from the next site in turn that no pusher is sending for.
struct DayQueue {
    left: Vec<std::collections::VecDeque<Push>>,
    sending: Vec<bool>,
    next: usize,
}

impl DayQueue {
    /// The next push (its site), `None` when the day is through; waits
    /// while every site with pushes left is being sent for.
    fn take(queue: &(Mutex<DayQueue>, Condvar)) -> Option<(usize, Push)> {
        let mut q = queue.0.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let n = q.left.len();
            if q.left.iter().all(|l| l.is_empty()) {
                return None;
            }
            let found = (0..n).map(|k| (q.next + k) % n).find(|&s| !q.sending[s] && !q.left[s].is_empty());
            if let Some(s) = found {
                q.sending[s] = true;
                q.next = (s + 1) % n;
                return q.left[s].pop_front().map(|p| (s, p));
            }
            q = queue.1.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn done(queue: &(Mutex<DayQueue>, Condvar), site: usize) {
        queue.0.lock().unwrap_or_else(|e| e.into_inner()).sending[site] = false;
        queue.1.notify_all();
    }
}

/// A push out for a site: the site is free again when it ends, however it
/// ends (a pusher that panicked must not leave the others waiting).
struct Sending<'a> {
    queue: &'a (Mutex<DayQueue>, Condvar),
    site: usize,
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        DayQueue::done(self.queue, self.site);
    }
}

/// What the pushers share: events through so far, and each push as it ends.
#[derive(Default)]
struct Tally {
    done: u64,
    busy_events: u64,
    /// (events through after the push, the ingest's clock then, s).
    marks: Vec<(u64, f64)>,
    pushes_ms: Vec<f64>,
}

/// The campaign, day by day: each day's batches are made first (not
/// timed), then `at_once` pushers send them through the hub's ingest, each
/// a batch of another site, as desks of many sites push through the same
/// hours. The rate is events over the days' wall time in the ingest; with
/// one pusher the sites take turns.
fn ingest(db: &HubDb, sites: &mut [CampaignSite], days: u32, planned: u64, at_once: usize) -> CliResult<Ingested> {
    let bar = ProgressBar::new(planned);
    bar.set_style(ProgressStyle::with_template("ingest {bar:40} {pos}/{len} events  {per_sec}  eta {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let started = Instant::now();
    let tally = Mutex::new(Tally::default());
    let mut ingest_time = 0.0f64;
    for t in 0..days {
        let left = sites.iter_mut().map(|site| site_day(site, t).map(Into::into)).collect::<CliResult<_>>()?;
        let sites = &*sites;
        let queue = (Mutex::new(DayQueue { left, sending: vec![false; sites.len()], next: 0 }), Condvar::new());
        let (day_start, before) = (Instant::now(), ingest_time);
        let pusher = || -> CliResult<()> {
            while let Some((s, (desk, batch, received))) = DayQueue::take(&queue) {
                let sending = Sending { queue: &queue, site: s };
                let t0 = Instant::now();
                // As the hub's push route takes it: the batch and the device heard from.
                let results = db.push_at(&sites[s].devices[desk], &batch, None, &received);
                let took = t0.elapsed().as_secs_f64();
                drop(sending);
                let results = results.map_err(Failure::storage)?;
                if let Some(r) = results.iter().find(|r| r.status != vaxdesk_core::sync::protocol::PushStatus::Accepted) {
                    return Err(Failure::storage(format!("bench: an event was not accepted: {:?} {:?}", r.code, r.message)));
                }
                let mut tl = tally.lock().unwrap_or_else(|e| e.into_inner());
                tl.done += batch.len() as u64;
                if s == 0 {
                    tl.busy_events += batch.len() as u64;
                }
                let mark = (tl.done, before + day_start.elapsed().as_secs_f64());
                tl.marks.push(mark);
                tl.pushes_ms.push(took * 1e3);
                bar.set_position(mark.0);
            }
            Ok(())
        };
        std::thread::scope(|scope| {
            let pushers: Vec<_> = (0..at_once).map(|_| scope.spawn(pusher)).collect();
            pushers.into_iter().try_for_each(|p| p.join().unwrap_or_else(|_| Err(Failure::storage("bench: a pusher stopped"))))
        })?;
        ingest_time += day_start.elapsed().as_secs_f64();
    }
    bar.finish_and_clear();
    let Tally { done, busy_events, marks, mut pushes_ms } = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!("ingest: {done} events in {:.0} s ({:.0} s in the hub's ingest, {at_once} at once)", started.elapsed().as_secs_f64(), ingest_time);
    pushes_ms.sort_by(f64::total_cmp);
    let tenths = tenths(&marks, planned);
    eprintln!("ingest, each tenth of the run (events/s): {}", tenths.iter().map(|t| format!("{t:.0}")).collect::<Vec<_>>().join(" "));
    Ok(Ingested { events: done, seconds: ingest_time, tenths, busy_events, pushes_ms, at_once })
}

/// Events a second in each tenth of the run, from the pushes' marks (events
/// through, clock). A remainder of a few events is the end of the last
/// tenth, not a tenth of its own (one small batch, timed by its commit alone).
fn tenths(marks: &[(u64, f64)], planned: u64) -> Vec<f64> {
    let tenth = (planned / 10).max(1);
    let mut out = Vec::new();
    let (mut from, mut before_last) = ((0u64, 0.0f64), (0u64, 0.0f64));
    for &(n, at) in marks {
        if n - from.0 >= tenth {
            out.push((n - from.0) as f64 / (at - from.1).max(1e-9));
            before_last = from;
            from = (n, at);
        }
    }
    if let Some(&(n, at)) = marks.last() {
        if n > from.0 {
            if out.len() >= 10 && n - from.0 < planned / 20 {
                out.pop();
                from = before_last;
            }
            out.push((n - from.0) as f64 / (at - from.1).max(1e-9));
        }
    }
    out
}

/// The nearest-rank percentile: the smallest value with at least `q` of
/// the samples at or below it (p99 of 60 loads is the slowest).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * q).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// The process's memory (Linux `/proc/self/status`), in MB.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Where a PostgreSQL tool is: `--pg-bin`, else PATH, else the newest
/// Debian server package.
fn pg_tool(bin: Option<&Path>, name: &str) -> PathBuf {
    if let Some(b) = bin {
        return b.join(name);
    }
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join(name)).find(|p| p.is_file());
    on_path.unwrap_or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten().map(|e| e.path().join("bin")).collect();
        dirs.sort_by_key(|d| d.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).and_then(|n| n.parse::<u32>().ok()).unwrap_or(0));
        dirs.pop().map_or_else(|| PathBuf::from(name), |d| d.join(name))
    })
}

fn run_tool(cmd: &mut Command) -> CliResult<f64> {
    let t = Instant::now();
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| Failure::storage(format!("bench: {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(Failure::storage(format!("bench: {:?} failed: {}", cmd.get_program(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(t.elapsed().as_secs_f64())
}

/// The size of a file, 0 when there is none.
fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

pub fn run(out: Out, a: &BenchHubArgs) -> CliResult {
    if a.sites < 2 || a.days == 0 || a.events < 10_000 || a.samples == 0 || !(1..=8).contains(&a.at_once) {
        return Err(Failure::Input("bench hub: --sites at least 2, --days at least 1, --events at least 10000, --samples at least 1, --at-once 1 to 8".into()));
    }
    let parent = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent).map_err(|e| Failure::Input(format!("--dir {}: {e}", parent.display())))?;
    let tmp = tempfile::tempdir_in(&parent).map_err(Failure::storage)?;
    let dir = tmp.path().to_path_buf();
    // (server, database) of a PostgreSQL hub, and whether this run made it.
    let (pg, made) = match (&a.reuse, &a.postgres) {
        (Some(r), _) if r.starts_with("postgres://") || r.starts_with("postgresql://") => {
            let (server, name) = r.rsplit_once('/').ok_or_else(|| Failure::Input("reuse: postgres://user@host:port/database expected".into()))?;
            (Some((server.to_string(), name.to_string())), false)
        }
        (Some(_), _) => (None, false),
        (None, Some(server)) => {
            let name = format!("vaxdesk_hub_{}", uuid::Uuid::now_v7().simple());
            postgres_admin(server)?.batch_execute(&format!("CREATE DATABASE {name}")).map_err(Failure::storage)?;
            (Some((server.trim_end_matches('/').to_string(), name)), true)
        }
        (None, None) => (None, false),
    };
    let target = match (&pg, &a.reuse) {
        (Some((server, name)), _) => format!("{server}/{name}"),
        (None, Some(file)) => file.clone(),
        (None, None) => dir.join("hub.db").display().to_string(),
    };
    // Rows measured before a failure are still shown: a run of half an hour
    // that fails at its last step (a full disk at the backup) keeps the rest.
    let mut rows = Vec::new();
    let result = measure(a, &dir, &target, pg.as_ref(), &mut rows);
    if let (Some((server, name)), true) = (&pg, made) {
        if !a.keep {
            if let Ok(mut admin) = postgres_admin(server) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
    if a.keep && a.reuse.is_none() {
        let kept = tmp.keep();
        eprintln!("bench hub: kept {} ({target}); measure it again with --reuse {target}", kept.display());
    }
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    if let Err(e) = &result {
        if rows.is_empty() {
            return result;
        }
        eprintln!("bench hub: stopped early ({e:?}); what was measured before:");
    }
    out.show(&rows, || {
        let what = match &a.reuse {
            Some(r) => format!("the campaign kept in {r}"),
            None => format!("{} events, {} sites, {} days", a.events, a.sites, a.days),
        };
        table(&format!("hub bench: {what}, {backend} hub (its own process, https)"), &rows)
    });
    result
}

fn ingest_rows(rows: &mut Vec<Row>, ing: &Ingested, dir: &Path, pg: Option<&(String, String)>) -> CliResult {
    let slowest = ing.tenths.iter().copied().fold(f64::INFINITY, f64::min);
    let last = ing.tenths.last().copied().unwrap_or(0.0);
    rows.push(row("ingest, whole campaign", ing.events as f64 / ing.seconds.max(1e-9), "events/s", "", None));
    rows.push(row("  pushes in flight at once (desks of different sites)", ing.at_once as f64, "pushes", "", None));
    rows.push(row("ingest, slowest tenth of the run", slowest, "events/s", "≥ 20,000", Some(slowest >= 20_000.0)));
    rows.push(row("ingest, last tenth (the fullest database)", last, "events/s", "≥ 20,000", Some(last >= 20_000.0)));
    rows.push(row("  a push (up to 500 events) in the hub's ingest: p50", percentile(&ing.pushes_ms, 0.5), "ms", "", None));
    rows.push(row("  a push (up to 500 events) in the hub's ingest: p99", percentile(&ing.pushes_ms, 0.99), "ms", "", None));
    rows.push(row("  a push (up to 500 events) in the hub's ingest: slowest", ing.pushes_ms.last().copied().unwrap_or(f64::NAN), "ms", "", None));
    rows.push(row("  events on the hub", ing.events as f64, "events", "", None));
    let (bytes, log) = match pg {
        Some((server, name)) => {
            let mut admin = postgres_admin(server)?;
            let size: i64 = admin.query_one("SELECT pg_database_size($1)", &[name]).map_err(Failure::storage)?.get(0);
            (size as u64, None)
        }
        None => {
            // The write-ahead log may hold ~270 MB of pages not yet in the
            // file (ADR 0026), and its file keeps the largest size it
            // reached: its pages are copied in first, so the file alone is
            // the data, and the log file's size is shown apart.
            let db = dir.join("hub.db");
            let log = file_bytes(&dir.join("hub.db-wal"));
            // (busy, frames in the log, frames copied): a busy or partial
            // checkpoint would undercount the database.
            let (busy, frames, copied): (i64, i64, i64) = rusqlite::Connection::open(&db)
                .and_then(|c| c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
                .map_err(Failure::storage)?;
            if busy != 0 || frames != copied {
                return Err(Failure::storage(format!("bench: the log could not be copied into the database before measuring it ({copied} of {frames} pages)")));
            }
            (file_bytes(&db), Some(log))
        }
    };
    rows.push(row("  database size", bytes as f64 / 1e6, "MB", "", None));
    if let Some(log) = log {
        rows.push(row("  its write-ahead log file at the end of the ingest", log as f64 / 1e6, "MB", "", None));
    }
    rows.push(row("  bytes an event", bytes as f64 / ing.events.max(1) as f64, "B", "", None));
    Ok(())
}

fn measure(a: &BenchHubArgs, dir: &Path, target: &str, pg: Option<&(String, String)>, rows: &mut Vec<Row>) -> CliResult {
    let db = HubDb::open_target(target).map_err(Failure::storage)?;
    let token = auth::random_token();
    let coordinator = db.create_coordinator(&format!("bench-{}", uuid::Uuid::now_v7().simple()), &auth::hash_password(&token).map_err(Failure::storage)?, true, &[]).map_err(Failure::storage)?;
    let (sites, ing) = if a.reuse.is_some() {
        // A campaign an earlier run kept: its sites, nothing ingested now.
        let mut sites: Vec<String> = db.sites().map_err(Failure::storage)?.into_iter().map(|s| s.code).filter(|c| c.starts_with("P22-")).collect();
        sites.sort();
        if sites.is_empty() {
            return Err(Failure::Input(format!("reuse: {target} holds no campaign of `bench hub --keep`")));
        }
        let events = db.event_count().map_err(Failure::storage)?;
        rows.push(row("  events on the hub (reused)", events as f64, "events", "", None));
        (sites, None)
    } else {
        let mut sites = set_up(&db, a, coordinator)?;
        let planned: u64 = sites.iter().map(|s| s.new_a_day * events_per_daily_person(a.days)).sum();
        // 1. The campaign, through the hub's ingest.
        let ing = ingest(&db, &mut sites, a.days, planned, a.at_once)?;
        db.after_bulk_load().map_err(Failure::storage)?;
        ingest_rows(rows, &ing, dir, pg)?;
        (sites.into_iter().map(|s| s.code).collect(), Some(ing))
    };
    let busy_events = ing.as_ref().map_or(1, |i| i.busy_events);
    // 2. The hub as it runs: its own process, TLS.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(Failure::storage)?.port();
    let hub = HubProcess::start(target, dir, port)?;
    let cert = std::fs::read(dir.join("hub-tls.cert.der")).map_err(Failure::storage)?;
    let url = format!("https://127.0.0.1:{port}");
    let busy = &sites[0];
    let last_day = campaign_start() + chrono::Duration::days(i64::from(a.days) - 1);

    let expires = (chrono::Utc::now() + chrono::Duration::hours(4)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);

    // 3. The dashboard of the busiest site on the last day, as a browser
    //    loads it: the site's own coordinator's, and the province
    //    coordinator's, whose page lists every site's day beside it.
    if a.wants("dashboard") {
        let browser = reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_der(&cert).map_err(Failure::storage)?)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(Failure::storage)?;
        let site_only = db
            .create_coordinator(&format!("bench-site-{}", uuid::Uuid::now_v7().simple()), "-", false, std::slice::from_ref(busy))
            .map_err(Failure::storage)?;
        for (who, view) in [(site_only, "the site's coordinator"), (coordinator, "the province's coordinator (all sites listed)")] {
            let session = auth::random_token();
            db.create_session(&auth::hash_token(&session), who, &expires).map_err(Failure::storage)?;
            let page = format!("{url}/dashboard?site={busy}&date={last_day}");
            let mut times = Vec::new();
            let mut given = String::new();
            for i in 0..a.samples + 3 {
                let t = Instant::now();
                let r = browser.get(&page).header("Cookie", format!("vxd_session={session}")).send().map_err(Failure::storage)?;
                let status = r.status();
                let body = r.text().map_err(Failure::storage)?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if !status.is_success() {
                    return Err(Failure::storage(format!("bench: the dashboard answered {status}")));
                }
                // The first loads warm the hub's caches; a dashboard open all
                // day is warm.
                if i >= 3 {
                    times.push(ms);
                }
                given = body.split("id=\"total-given\">").nth(1).and_then(|s| s.split('<').next()).unwrap_or_default().to_string();
            }
            times.sort_by(f64::total_cmp);
            let p99 = percentile(&times, 0.99);
            rows.push(row(leak(format!("dashboard, busiest site and day, {view}: p50")), percentile(&times, 0.5), "ms", "", None));
            rows.push(row(leak(format!("dashboard, busiest site and day, {view}: p99")), p99, "ms", "≤ 200", Some(p99 <= 200.0)));
            rows.push(row("  doses that day at that site", given.trim().parse::<f64>().unwrap_or(0.0), "doses", "", None));
        }
        // The same site's day read in this process from the day table and
        // by the fold it replaced (every event of four days), so the gain
        // is a ratio from one run; both must give the same figures.
        let mut took = [Vec::new(), Vec::new()];
        let mut seen: [Option<vaxdesk_hub::report::SiteDay>; 2] = [None, None];
        for _ in 0..a.samples.clamp(5, 20) {
            for (k, read) in [vaxdesk_hub::report::site_day, vaxdesk_hub::report::site_day_from_events].into_iter().enumerate() {
                let t = Instant::now();
                let mut d = read(&db, busy, last_day).map_err(Failure::storage)?;
                took[k].push(t.elapsed().as_secs_f64() * 1000.0);
                for x in d.desks.values_mut().map(|x| &mut x.lags).chain([&mut d.total.lags]).chain(d.lags_by_hour.iter_mut()) {
                    x.sort_unstable();
                }
                seen[k] = Some(d);
            }
        }
        if seen[0] != seen[1] {
            return Err(Failure::storage(format!("bench: the day table and the events fold disagree on {busy} {last_day}")));
        }
        for t in &mut took {
            t.sort_by(f64::total_cmp);
        }
        let (table, fold) = (percentile(&took[0], 0.5), percentile(&took[1], 0.5));
        rows.push(row("  the site's day in-process, from the day table: p50", table, "ms", "", None));
        rows.push(row("  the same by folding its events (before the table): p50", fold, "ms", "", None));
        rows.push(row("  gain (same figures)", fold / table.max(0.001), "×", "", None));
        // The province page's list of the other sites on that day: counted
        // together, and by the same code a site at a time (as the page did,
        // two reads a site), alternated; both must give the same figures.
        let others: Vec<String> = sites.iter().filter(|c| *c != busy).take(29).cloned().collect();
        let mut took = [Vec::new(), Vec::new()];
        for _ in 0..a.samples.clamp(5, 20) {
            let t = Instant::now();
            let together = vaxdesk_hub::report::sites_totals(&db, &others, last_day).map_err(Failure::storage)?;
            took[0].push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let one_by_one = others.iter().map(|c| vaxdesk_hub::report::site_totals(&db, c, last_day)).collect::<Result<Vec<_>, _>>().map_err(Failure::storage)?;
            took[1].push(t.elapsed().as_secs_f64() * 1000.0);
            if together != one_by_one {
                return Err(Failure::storage(format!("bench: the sites counted together and one by one disagree on {last_day}")));
            }
        }
        for t in &mut took {
            t.sort_by(f64::total_cmp);
        }
        let (together, one_by_one) = (percentile(&took[0], 0.5), percentile(&took[1], 0.5));
        rows.push(row(leak(format!("  the other {} sites' day in-process, counted together: p50", others.len())), together, "ms", "", None));
        rows.push(row("  the same a site at a time: p50", one_by_one, "ms", "", None));
        rows.push(row("  gain (same figures)", one_by_one / together.max(0.001), "×", "", None));
    }

    // 4. A new desk of the busiest site: its first sync, the whole site.
    if a.wants("pull") {
    db.upsert_desk(&SiteDesk { site: busy.clone(), code: "NEW".into(), name: "Bàn mới".into() }).map_err(Failure::storage)?;
    let secret = auth::enrollment_code();
    db.create_enrollment_code(&auth::hash_token(&secret), busy, "NEW", coordinator, &expires).map_err(Failure::storage)?;
    // Encrypted under a PIN, as on a phone (the key is derived before the clock starts).
    let desk = if a.plain_desk { Desk::open(dir.join("new-desk.db"))? } else { Desk::open_encrypted(dir.join("new-desk.db"), "bench-pin-2468")? };
    let text = EnrollCode { hub: url.clone(), code: secret, fp: Some(vaxdesk_hub::tls::fingerprint(&cert)) }.to_text();
    vaxdesk_core::sync::enroll_with(&desk, &text, None, &SyncOptions::default()).map_err(Failure::storage)?;
    let opts = SyncOptions { timeout: Duration::from_secs(120), ..Default::default() };
    eprintln!("first sync of {busy} by a new desk…");
    let t = Instant::now();
    let report = sync_once(&desk, &opts).map_err(Failure::storage)?;
    let pull = t.elapsed().as_secs_f64();
    if (ing.is_some() && report.pulled != busy_events) || report.pulled == 0 {
        return Err(Failure::storage(format!("bench: the new desk pulled {} of the site's {} events", report.pulled, busy_events)));
    }
    let what = if a.plain_desk { "first sync of the busiest site by a new desk (plain store)" } else { "first sync of the busiest site by a new desk (encrypted)" };
    rows.push(row(what, pull, "s", "≤ 60 s", Some(pull <= 60.0)));
    rows.push(row("  events pulled", report.pulled as f64, "events", "", None));
    rows.push(row("  events a second", report.pulled as f64 / pull.max(1e-9), "events/s", "", None));
    drop(desk);
    for f in ["new-desk.db", "new-desk.db-wal", "new-desk.db-shm", "new-desk.db-salt"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    }

    // 5. An export of every dose of the province (the national platform's
    //    CSV), memory measured from before it starts.
    if a.wants("export") {
    // Resetting the peak (Linux) makes VmHWM the export's own peak.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = status_mb("VmRSS:");
    let source = HubDoses { db: &db, sites: sites.clone() };
    let catalog = db.current_catalog().map_err(Failure::storage)?.unwrap_or_else(vaxdesk_core::catalog::Catalog::builtin);
    let mut sink = Counted(0);
    eprintln!("export of every dose…");
    let t = Instant::now();
    let exported = vaxdesk_core::export::doses_csv(&source, &catalog, campaign_start(), last_day, None, &mut sink).map_err(Failure::storage)?;
    let export_s = t.elapsed().as_secs_f64();
    let peak = status_mb("VmHWM:");
    rows.push(row("export of every dose (CSV)", export_s, "s", "", None));
    rows.push(row("  doses exported", exported as f64, "doses", "", None));
    rows.push(row("  CSV written", sink.0 as f64 / 1e6, "MB", "", None));
    if reset {
        rows.push(row("  memory: resident before → peak during", peak - rss_before, "MB more", "bounded", None));
    } else {
        rows.push(row("  memory: not measured (peak could not be reset here)", f64::NAN, "", "bounded", None));
    }
    }

    // 6. A registration list at the busiest site, on the full database.
    if a.wants("registrations") {
    let who = Coordinator { id: coordinator, username: "bench".into(), all_sites: true, sites: Vec::new() };
    let list = synth::registration_csv(500_000_000..500_000_000 + a.registrations, last_day + chrono::Duration::days(1));
    let t = Instant::now();
    let imported = vaxdesk_hub::registrations::import(&db, &who, busy, Some("bench.csv"), &list, last_day).map_err(|e| Failure::storage(e.message))?.map_err(Failure::storage)?;
    let import_s = t.elapsed().as_secs_f64();
    if imported.tally.added != a.registrations {
        return Err(Failure::storage(format!("bench: {} of {} registrations added", imported.tally.added, a.registrations)));
    }
    rows.push(row("registration list import", import_s, "s", "≤ 30 s", Some(import_s <= 30.0)));
    rows.push(row("  rows", a.registrations as f64, "rows", "", None));
    }

    // 7. Backup while the hub serves, and restore into a new database.
    if !a.wants("backup") {
        drop(hub);
        return Ok(());
    }
    match pg {
        None => {
            let from = PathBuf::from(target);
            let copy = dir.join("backup.db");
            eprintln!("backup (online) and restore…");
            let b = vaxdesk_hub::backup::backup(&from, &copy).map_err(Failure::storage)?;
            rows.push(row("backup, SQLite online backup API (hub serving)", b.seconds, "s", "", None));
            rows.push(row("  backup file", b.bytes as f64 / 1e6, "MB", "", None));
            // A restore is done with the hub stopped, over its database.
            drop(hub);
            drop(db);
            let r = vaxdesk_hub::backup::restore(&copy, &from).map_err(Failure::storage)?;
            // What the hub's file holds now, read from it, not from the backup.
            let live = rusqlite::Connection::open_with_flags(&from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(Failure::storage)?;
            let (events, feed_max): (i64, i64) =
                live.query_row("SELECT (SELECT count(*) FROM events), (SELECT max(seq) FROM feed)", [], |r| Ok((r.get(0)?, r.get(1)?))).map_err(Failure::storage)?;
            if events != b.events || feed_max < vaxdesk_hub::backup::FEED_JUMP {
                return Err(Failure::storage(format!("bench: the restored hub holds {events} events of {} (feed at {feed_max})", b.events)));
            }
            rows.push(row("restore over the stopped hub's database (checked, then loaded)", r.seconds, "s", "", None));
            let _ = std::fs::remove_file(&copy);
            return Ok(());
        }
        Some((server, name)) => {
            let dump = dir.join("hub.dump");
            eprintln!("pg_dump and pg_restore…");
            let source = format!("{server}/{name}");
            let b = run_tool(Command::new(pg_tool(a.pg_bin.as_deref(), "pg_dump")).args(["-Fc", "-Z", "1", "-f"]).arg(&dump).args(["-d", &source]))?;
            let dump_bytes = std::fs::metadata(&dump).map(|m| m.len()).unwrap_or(0);
            rows.push(row("backup, pg_dump -Fc (hub serving)", b, "s", "", None));
            rows.push(row("  dump file", dump_bytes as f64 / 1e6, "MB", "", None));
            let restored = format!("{name}_restored");
            postgres_admin(server)?.batch_execute(&format!("CREATE DATABASE {restored}")).map_err(Failure::storage)?;
            let r = run_tool(Command::new(pg_tool(a.pg_bin.as_deref(), "pg_restore")).args(["--no-owner", "-j", "2", "-d", &format!("{server}/{restored}")]).arg(&dump));
            let check = r.and_then(|r| {
                let mut c = postgres::Client::connect(&format!("{server}/{restored}"), postgres::NoTls).map_err(Failure::storage)?;
                let n: i64 = c.query_one("SELECT count(*) FROM events", &[]).map_err(Failure::storage)?.get(0);
                Ok((r, n))
            });
            let _ = postgres_admin(server)?.batch_execute(&format!("DROP DATABASE IF EXISTS {restored} WITH (FORCE)"));
            let _ = std::fs::remove_file(&dump);
            let (r, n) = check?;
            let events = db.event_count().map_err(Failure::storage)?;
            if n as u64 != events {
                return Err(Failure::storage(format!("bench: restored {n} events of {events}")));
            }
            rows.push(row("restore, pg_restore -j 2", r, "s", "", None));
        }
    }
    drop(hub);
    Ok(())
}

/// A row's label made at run time (a handful a run).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A writer that only counts: the export's own work, not a disk's.
struct Counted(u64);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn push(desk: usize) -> Push {
        (desk, Vec::new(), String::new())
    }

    /// One pusher: the sites take turns, as the bench always ran. Several:
    /// never two pushes of one site at once, and a site's in its order.
    #[test]
    fn a_day_queue_gives_each_site_in_turn_and_one_push_of_a_site_at_a_time() {
        let day = || (0..3).map(|s| (0..[3, 1, 2][s]).map(|k| push(s * 10 + k)).collect()).collect();
        let queue = (Mutex::new(DayQueue { left: day(), sending: vec![false; 3], next: 0 }), Condvar::new());
        let mut order = Vec::new();
        while let Some((s, p)) = DayQueue::take(&queue) {
            order.push(p.0);
            DayQueue::done(&queue, s);
        }
        assert_eq!(order, [0, 10, 20, 1, 21, 2]);

        let queue = (Mutex::new(DayQueue { left: day(), sending: vec![false; 3], next: 0 }), Condvar::new());
        let (a, _) = DayQueue::take(&queue).unwrap();
        let (b, _) = DayQueue::take(&queue).unwrap();
        let (c, _) = DayQueue::take(&queue).unwrap();
        assert_eq!((a, b, c), (0, 1, 2));
        // Site 1 is through and 0 and 2 are being sent: the next waits for one.
        let waiting = std::thread::scope(|s| {
            let next = s.spawn(|| DayQueue::take(&queue).map(|(s, p)| (s, p.0)));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!next.is_finished(), "a site's second push went out beside its first");
            DayQueue::done(&queue, 2);
            next.join().unwrap()
        });
        assert_eq!(waiting, Some((2, 21)));
    }

    #[test]
    fn tenths_are_rates_between_marks_and_a_small_remainder_joins_the_last() {
        // 100 events a second for 1,000 events, then 50 a second.
        let mut marks: Vec<(u64, f64)> = (1..=10).map(|i| (i * 100, i as f64)).collect();
        marks.extend((1..=4).map(|i| (1_000 + i * 100, 10.0 + 2.0 * i as f64)));
        let t = tenths(&marks, 1_000);
        assert_eq!(t.len(), 14);
        assert!(t[..10].iter().all(|r| (r - 100.0).abs() < 1e-9) && t[10..].iter().all(|r| (r - 50.0).abs() < 1e-9), "{t:?}");
        // 1,010 events: the last ten are the end of the tenth before.
        let mut marks: Vec<(u64, f64)> = (1..=10).map(|i| (i * 100, i as f64)).collect();
        marks.push((1_010, 11.0));
        let t = tenths(&marks, 1_000);
        assert_eq!(t.len(), 10);
        assert!((t[9] - 110.0 / 2.0).abs() < 1e-9, "{t:?}");
    }
}
