//! `vaxdesk bench store`: build a store of N persons and M doses, then time
//! the desk's hot operations through the same API the app uses.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::search::SearchQuery;

use crate::args::{BenchCmd, BenchStoreArgs};
use crate::output::Out;
use vaxdesk_core::synth;
use crate::{CliResult, Failure};

/// The clinic day the timed saves happen on: every seeded first dose is at
/// least 35 days earlier, so a second dose is due.
const CLINIC_DAY: &str = "2021-10-05T02:00:00Z";
const SEED_BATCH: u64 = 10_000;

pub fn run(out: Out, cmd: BenchCmd) -> CliResult {
    match cmd {
        BenchCmd::Store(a) => store(out, &a),
        BenchCmd::Sync(a) => crate::bench_sync::run(out, &a),
        BenchCmd::Load(a) => crate::bench_load::run(out, &a),
        BenchCmd::Drill(a) => crate::drill::run(out, &a),
        BenchCmd::Registrations(a) => crate::bench_registrations::run(out, &a),
        BenchCmd::Hub(a) => crate::bench_hub::run(out, &a),
    }
}

#[derive(Debug, Serialize)]
pub struct Timing {
    pub operation: &'static str,
    pub samples: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub target_p99_ms: Option<f64>,
}

impl Timing {
    pub fn of(operation: &'static str, mut d: Vec<Duration>, target_p99_ms: Option<f64>) -> Timing {
        d.sort();
        let ms = |x: Duration| x.as_secs_f64() * 1000.0;
        let at = |q: f64| d.get(((d.len() as f64 * q).ceil() as usize).saturating_sub(1).min(d.len().saturating_sub(1))).copied().map_or(0.0, ms);
        Timing { operation, samples: d.len(), p50_ms: at(0.50), p95_ms: at(0.95), p99_ms: at(0.99), max_ms: d.last().copied().map_or(0.0, ms), target_p99_ms }
    }
}

#[derive(Debug, Serialize)]
struct StoreReport {
    persons: u64,
    doses: u64,
    build_seconds: f64,
    db_megabytes: f64,
    timings: Vec<Timing>,
    peak_rss_megabytes: f64,
}

fn clinic_now() -> chrono::DateTime<chrono::Utc> {
    CLINIC_DAY.parse().unwrap_or_default()
}

fn store(out: Out, a: &BenchStoreArgs) -> CliResult {
    if a.doses > a.persons {
        return Err(Failure::Input("doses: at most one seeded dose per person (--doses ≤ --persons)".into()));
    }
    let tmp;
    let dir: PathBuf = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| Failure::Storage(e.to_string()))?;
            tmp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| Failure::Storage(format!("{}: {e}", dir.display())))?;
    let path = dir.join("bench.db");
    let started = Instant::now();
    let reuse = a.reuse && path.exists();
    if !reuse {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    let desk = Desk::open(&path)?.with_clock(clinic_now);
    if !reuse {
        desk.set_up(synth::SITE, synth::DESK, None)?;
        desk.load_catalog(synth::catalog_with_lots(&Catalog::builtin()))?;
        seed(&desk, a.persons, a.doses)?;
    }
    let build_seconds = started.elapsed().as_secs_f64();

    let n = a.samples as usize;
    // A reused database already holds the last run's saves: pick other persons.
    let mut rng = StdRng::seed_from_u64(42 + desk.store().dose_event_count()?);
    let mut saves = Vec::with_capacity(n);
    // Distinct persons with a first dose (or none), each getting their next dose.
    let pool = a.persons.max(1);
    let mut used = std::collections::HashSet::new();
    while saves.len() < n.min(pool as usize) {
        let i = rng.random_range(0..pool);
        if !used.insert(i) {
            continue;
        }
        let p = synth::person(i);
        let mut d = DoseDraft::vaccinated(p.id);
        if desk.store().doses_of(p.id)?.len() as u64 != u64::from(i < a.doses) {
            continue;
        }
        let vaccine = if i < a.doses { synth::first_dose(i, &p).dose.map(|d| d.vaccine).unwrap_or_default() } else { "AZ".into() };
        d.lot = Some(format!("{vaccine}21092"));
        d.vaccine = Some(vaccine);
        let t = Instant::now();
        desk.record_dose(&d, &[])?;
        saves.push(t.elapsed());
    }

    // The searches' warm rows are of a desk in use: its file in the page
    // cache, even when the last run (`--cold`) dropped it and this one
    // `--reuse`s it. After the saves, which keep the state they were always
    // measured in (ADR 0035).
    warm(&path)?;

    // The baseline on its own read-only connection, warm like the store's,
    // over the indexes it used (desk schema 5), made here in the same file.
    vaxdesk_core::store::link_crypto();
    let db_megabytes = db_size(&path) as f64 / 1e6;
    baseline_indexes(&path).map_err(Failure::storage)?;
    let base_conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(Failure::storage)?;
    let mut searches = Vec::with_capacity(n);
    let mut baseline = Vec::with_capacity(n);
    let mut by_style: [Vec<Duration>; 3] = Default::default();
    let mut base_by_style: [Vec<Duration>; 3] = Default::default();
    for k in 0..n {
        let p = synth::person(rng.random_range(0..pool));
        let q = search_case(k, &p);
        let t = Instant::now();
        let r = desk.find(&q)?;
        searches.push(t.elapsed());
        by_style[k % 3].push(t.elapsed());
        if !r.hits.iter().any(|h| h.person.id == p.id) && !r.truncated && r.total < r.per_page {
            return Err(Failure::Storage(format!("search {:?} did not find the seeded person", q.text)));
        }
        let t = Instant::now();
        baseline_search(&base_conn, &q).map_err(Failure::storage)?;
        baseline.push(t.elapsed());
        base_by_style[k % 3].push(t.elapsed());
    }
    drop(base_conn);

    let mut lookups = Vec::with_capacity(n);
    let mut histories = Vec::with_capacity(n);
    for _ in 0..n {
        let p = synth::person(rng.random_range(0..pool));
        let number = p.national_id.as_ref().map(|x| x.number.clone()).unwrap_or_default();
        let t = Instant::now();
        let r = desk.find(&SearchQuery::new(number))?;
        lookups.push(t.elapsed());
        if r.hits.first().map(|h| h.person.id) != Some(p.id) {
            return Err(Failure::Storage("id lookup did not find the seeded person".into()));
        }
        let t = Instant::now();
        let _ = desk.history(p.id)?;
        histories.push(t.elapsed());
    }

    let mut timings = vec![
        Timing::of("dose save", saves, Some(5.0)),
        Timing::of("name search", searches, Some(20.0)),
        Timing::of("  full name", std::mem::take(&mut by_style[0]), None),
        Timing::of("  given family", std::mem::take(&mut by_style[1]), None),
        Timing::of("  prefixes+year", std::mem::take(&mut by_style[2]), None),
        Timing::of("  baseline", baseline, None),
        Timing::of("    full name", std::mem::take(&mut base_by_style[0]), None),
        Timing::of("    given family", std::mem::take(&mut base_by_style[1]), None),
        Timing::of("    prefixes+year", std::mem::take(&mut base_by_style[2]), None),
        Timing::of("id lookup", lookups, Some(1.0)),
        Timing::of("person history", histories, None),
    ];
    let peak_rss_megabytes = peak_rss_kb() as f64 / 1024.0;
    if a.cold > 0 {
        drop(desk);
        timings.extend(cold_searches(&path, a.cold as usize, pool, &mut rng)?);
    }
    let report = StoreReport {
        persons: a.persons,
        doses: a.doses,
        build_seconds,
        db_megabytes,
        timings,
        peak_rss_megabytes,
    };
    out.show(&report, || {
        let mut s = format!(
            "store bench: {} persons, {} doses ({:.0} MB database, ready in {:.1} s)\n{:<16} {:>7} {:>9} {:>9} {:>9} {:>10}\n",
            report.persons, report.doses, report.db_megabytes, report.build_seconds, "operation", "n", "p50 ms", "p99 ms", "max ms", "target p99"
        );
        for t in &report.timings {
            let target = t.target_p99_ms.map(|x| format!("≤ {x} ms")).unwrap_or_default();
            s.push_str(&format!("{:<16} {:>7} {:>9.3} {:>9.3} {:>9.3} {:>10}\n", t.operation, t.samples, t.p50_ms, t.p99_ms, t.max_ms, target));
        }
        s.push_str(&format!("peak RSS {:.0} MB", report.peak_rss_megabytes));
        s
    });
    Ok(())
}


/// What volunteers type, by turns: the full name, the given name first, or
/// the first letters of each word with the birth year.
fn search_case(k: usize, p: &vaxdesk_core::model::Person) -> SearchQuery {
    let words = vaxdesk_core::fold::fold_tokens(&p.full_name);
    let text = match k % 3 {
        0 => words.join(" "),
        1 => format!("{} {}", words[words.len() - 1], words[0]),
        _ => words.iter().map(|w| &w[..w.len().min(3)]).collect::<Vec<_>>().join(" "),
    };
    SearchQuery { birth_year: (k % 3 == 2).then(|| p.birth_date.year()), ..SearchQuery::new(text) }
}

/// The full-text index the replaced name search used (desk schema 5), under a
/// name of its own, built once in the bench's database and not counted in
/// its size.
fn baseline_indexes(path: &Path) -> rusqlite::Result<()> {
    let c = rusqlite::Connection::open(path)?;
    let have: bool = c.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'bench_person_search'", [], |r| r.get::<_, i64>(0).map(|n| n > 0))?;
    if !have {
        eprintln!("building the baseline's index (schema 5's full-text index)");
        c.execute_batch(
            "CREATE VIRTUAL TABLE bench_person_search USING fts5 (name_key, birth_year, content = 'persons', content_rowid = 'rowid', tokenize = 'ascii', prefix = '1 2 3 4 5 6');
             INSERT INTO bench_person_search (bench_person_search) VALUES ('rebuild');
             ",
        )?;
    }
    Ok(())
}

/// The name search this store replaced (desk schema 5), for the ratio: the
/// exact-name look-up on the name index, then full-text candidates ranked on
/// `persons` rows — a prefix query first, a whole-word one too when the
/// prefix query fills the candidate limit — then the page's persons. Same
/// candidate limit (2,000), same page (20).
fn baseline_search(c: &rusqlite::Connection, q: &SearchQuery) -> rusqlite::Result<usize> {
    use rusqlite::params;
    const LIMIT: usize = 2000;
    let tokens = vaxdesk_core::fold::fold_tokens(&q.text);
    let key = tokens.join(" ");
    let row = |r: &rusqlite::Row<'_>| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(0)?));
    let mut found: Vec<(String, i64, i64)> = c
        .prepare_cached("SELECT rowid, name_key, birth_year FROM persons WHERE name_key = ?1 AND (?2 IS NULL OR birth_year = ?2) LIMIT 2000")?
        .query_map(params![key, q.birth_year], row)?
        .collect::<rusqlite::Result<_>>()?;
    if found.len() < 20 {
        for star in ["*", ""] {
            let words: Vec<String> = tokens.iter().map(|t| format!("\"{t}\"{star}")).collect();
            let mut m = format!("name_key : ({})", words.join(" AND "));
            if let Some(y) = q.birth_year {
                m.push_str(&format!(" AND birth_year : \"{y}\""));
            }
            let got: Vec<(String, i64, i64)> = c
                .prepare_cached("SELECT p.rowid, p.name_key, p.birth_year FROM bench_person_search s JOIN persons p ON p.rowid = s.rowid WHERE bench_person_search MATCH ?1 LIMIT 2000")?
                .query_map(params![m], row)?
                .collect::<rusqlite::Result<_>>()?;
            let full = got.len() >= LIMIT;
            found.extend(got);
            if !full {
                break;
            }
        }
    }
    found.sort();
    found.dedup();
    // The page's persons read as the store reads them today (from their
    // latest event, desk schema 8), so the ratio is the search's alone.
    let mut st = c.prepare_cached("SELECT e.body FROM persons p JOIN person_events e ON e.seq = p.head_seq WHERE p.rowid = ?1")?;
    for (_, _, rowid) in found.iter().take(20) {
        let _: String = st.query_row([rowid], |r| r.get(0))?;
    }
    Ok(found.len())
}

/// Read the database's files through once, into the page cache.
fn warm(path: &Path) -> CliResult {
    for suffix in ["", "-wal"] {
        let Ok(mut f) = std::fs::File::open(format!("{}{suffix}", path.display())) else { continue };
        std::io::copy(&mut f, &mut std::io::sink()).map_err(Failure::storage)?;
    }
    Ok(())
}

/// Drop the database's files from the page cache (written out first: the
/// kernel keeps dirty pages).
fn evict(path: &Path) -> CliResult {
    for suffix in ["", "-wal", "-shm"] {
        let Ok(f) = std::fs::File::open(format!("{}{suffix}", path.display())) else { continue };
        f.sync_all().map_err(Failure::storage)?;
        rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).map_err(Failure::storage)?;
    }
    Ok(())
}

/// Name searches on a store opened after its file left the page cache, each
/// style `per_style` times, the new search and the baseline in turns.
fn cold_searches(path: &Path, per_style: usize, pool: u64, rng: &mut StdRng) -> CliResult<Vec<Timing>> {
    // Everything into the main file, so the WAL holds nothing to read.
    rusqlite::Connection::open(path).and_then(|c| c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))).map_err(Failure::storage)?;
    let mut new: [Vec<Duration>; 3] = Default::default();
    let mut base: [Vec<Duration>; 3] = Default::default();
    let bar = ProgressBar::new(3 * per_style as u64);
    for k in 0..3 * per_style {
        let p = synth::person(rng.random_range(0..pool));
        let q = search_case(k, &p);
        evict(path)?;
        let desk = Desk::open(path)?;
        let t = Instant::now();
        desk.find(&q)?;
        new[k % 3].push(t.elapsed());
        drop(desk);
        evict(path)?;
        let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(Failure::storage)?;
        // The schema read before the clock starts, as opening the store does.
        c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())).map_err(Failure::storage)?;
        let t = Instant::now();
        baseline_search(&c, &q).map_err(Failure::storage)?;
        base[k % 3].push(t.elapsed());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let all = |v: &[Vec<Duration>; 3]| v.iter().flatten().copied().collect::<Vec<_>>();
    Ok(vec![
        Timing::of("cold name search", all(&new), Some(100.0)),
        Timing::of("  full name", std::mem::take(&mut new[0]), None),
        Timing::of("  given family", std::mem::take(&mut new[1]), None),
        Timing::of("  prefixes+year", std::mem::take(&mut new[2]), None),
        Timing::of("  baseline", all(&base), None),
        Timing::of("    full name", std::mem::take(&mut base[0]), None),
        Timing::of("    given family", std::mem::take(&mut base[1]), None),
        Timing::of("    prefixes+year", std::mem::take(&mut base[2]), None),
    ])
}

fn seed(desk: &Desk, persons: u64, doses: u64) -> CliResult {
    let bar = ProgressBar::new(persons);
    bar.set_style(ProgressStyle::with_template("seeding {bar:40} {pos}/{len} persons  {per_sec}  eta {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut start = 0;
    while start < persons {
        let end = (start + SEED_BATCH).min(persons);
        let people: Vec<_> = (start..end).map(synth::person).collect();
        let pe: Vec<_> = people.iter().map(synth::person_event).collect();
        let de: Vec<_> = (start..end.min(doses)).map(|i| synth::first_dose(i, &people[(i - start) as usize])).collect();
        desk.store().append_batch(&pe, &de)?;
        bar.set_position(end);
        start = end;
    }
    bar.finish_and_clear();
    Ok(())
}

/// Bytes the database holds (pages in use: a migration that dropped a
/// table leaves its pages free in the file until a VACUUM).
fn db_size(path: &Path) -> u64 {
    let used = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).and_then(|c| {
        c.query_row("SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())", [], |r| {
            Ok(r.get::<_, i64>(0)? * r.get::<_, i64>(1)?)
        })
    });
    used.map_or(0, |b| b.max(0) as u64)
}

/// Peak resident set (VmHWM) of this process, in kB; 0 where /proc is absent.
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
