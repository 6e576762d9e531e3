//! `vaxdesk bench registrations`: a site's registration list of N rows
//! through the hub's own import (the code behind the API and the page),
//! then the same list again (nothing added). Time, rows per second and the
//! process's peak resident memory: the import must stay within bounded
//! memory (rows are filed in chunks) whatever the list's length.

use std::time::Instant;

use serde::Serialize;
use vaxdesk_core::model::Site;
use vaxdesk_core::synth;
use vaxdesk_hub::db::Coordinator;
use vaxdesk_hub::registrations::import;
use vaxdesk_hub::HubDb;

use crate::args::BenchRegistrationsArgs;
use crate::output::Out;
use crate::{CliResult, Failure};

const SITE: &str = "BENCH-REG";

#[derive(Debug, Serialize)]
struct Run {
    database: &'static str,
    rows: u64,
    list_megabytes: f64,
    first_seconds: f64,
    first_rows_per_second: f64,
    added: u64,
    again_seconds: f64,
    unchanged: u64,
    peak_rss_megabytes: f64,
    target_seconds: f64,
    met: bool,
}


/// The process's peak resident set (Linux `VmHWM`), in MB; 0 elsewhere.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn measure(db: &HubDb, database: &'static str, list: &[u8], rows: u64) -> CliResult<Run> {
    db.upsert_site(&Site { code: SITE.into(), name: "Bench site".into(), province_code: Some("22".into()) }).map_err(Failure::storage)?;
    let who = Coordinator { id: 0, username: "bench".into(), all_sites: true, sites: Vec::new() };
    let today = chrono::Utc::now().date_naive();
    let t = Instant::now();
    let first = import(db, &who, SITE, Some("bench.csv"), list, today).map_err(|e| Failure::storage(e.message))?.map_err(Failure::storage)?;
    let first_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = import(db, &who, SITE, Some("bench.csv"), list, today).map_err(|e| Failure::storage(e.message))?.map_err(Failure::storage)?;
    let again_seconds = t.elapsed().as_secs_f64();
    if first.tally.added != rows || again.tally.unchanged != rows {
        return Err(Failure::storage(format!("bench: {} added then {} unchanged of {rows} rows", first.tally.added, again.tally.unchanged)));
    }
    Ok(Run {
        database,
        rows,
        list_megabytes: list.len() as f64 / 1e6,
        first_seconds,
        first_rows_per_second: rows as f64 / first_seconds.max(1e-9),
        added: first.tally.added,
        again_seconds,
        unchanged: again.tally.unchanged,
        peak_rss_megabytes: peak_rss_mb(),
        target_seconds: 30.0,
        met: first_seconds <= 30.0 && again_seconds <= 30.0,
    })
}

pub fn run(out: Out, a: &BenchRegistrationsArgs) -> CliResult {
    let dir = tempfile::tempdir().map_err(Failure::storage)?;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
    let list = synth::registration_csv(a.first..a.first + a.rows, day);
    let mut runs = Vec::new();
    let sqlite = HubDb::open(&dir.path().join("hub.db")).map_err(Failure::storage)?;
    runs.push(measure(&sqlite, "SQLite", &list, a.rows)?);
    drop(sqlite);
    if let Some(server) = &a.postgres {
        let name = format!("vaxdesk_bench_{}", uuid::Uuid::now_v7().simple());
        let mut admin = crate::bench_sync::postgres_admin(server)?;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).map_err(Failure::storage)?;
        let pg = HubDb::open_target(&format!("{}/{name}", server.trim_end_matches('/'))).map_err(Failure::storage)?;
        let run = measure(&pg, "PostgreSQL", &list, a.rows);
        drop(pg);
        let _ = admin.batch_execute(&format!("DROP DATABASE {name}"));
        runs.push(run?);
    }
    out.show(&runs, || {
        let mut s = format!("registration list of {} rows ({:.1} MB of CSV), the hub's import, then the same list again\n", a.rows, runs[0].list_megabytes);
        s.push_str(&format!("{:<12} {:>10} {:>10} {:>12} {:>14} {:>10}  {}\n", "database", "first s", "rows/s", "again s", "peak RSS MB", "target", ""));
        for r in &runs {
            s.push_str(&format!(
                "{:<12} {:>10.1} {:>10.0} {:>12.1} {:>14.0} {:>10}  {}\n",
                r.database,
                r.first_seconds,
                r.first_rows_per_second,
                r.again_seconds,
                r.peak_rss_megabytes,
                "≤ 30 s",
                if r.met { "met" } else { "NOT MET" }
            ));
        }
        s.trim_end().to_string()
    });
    Ok(())
}
