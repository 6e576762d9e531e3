//! `vaxdesk export`: doses for the national platform, from this desk's
//! store or (with --hub-db) from the hub's database.

use std::path::{Path, PathBuf};

use serde::Serialize;
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::export::{self, DoseSource};
use vaxdesk_hub::export::HubDoses;
use vaxdesk_hub::HubDb;

use super::{open, parse_date};
use crate::args::{ExportCmd, ExportRange};
use crate::output::Out;
use crate::{CliResult, Failure};

#[derive(Serialize)]
struct ExportSummary {
    rows: u64,
    file: Option<String>,
}

/// XLSX to a file, or FHIR NDJSON into a directory, or one FHIR Bundle.
enum Format {
    Xlsx,
    FhirNdjson,
    FhirBundle,
}

/// Where the doses come from, held open for the export.
enum Source {
    Desk(Box<vaxdesk_core::desk::Desk>),
    Hub(HubDb, Vec<String>),
}

impl Source {
    fn open(db: Option<PathBuf>, hub_db: Option<&str>) -> CliResult<Source> {
        match hub_db {
            None => Ok(Source::Desk(Box::new(open(db)?))),
            Some(target) => {
                let hub = super::open_hub(target)?;
                let sites = hub.sites().map_err(|e| Failure::Storage(e.to_string()))?.into_iter().map(|s| s.code).collect();
                Ok(Source::Hub(hub, sites))
            }
        }
    }

    fn catalog(&self) -> CliResult<Catalog> {
        match self {
            Source::Desk(d) => Ok((*d.catalog()).clone()),
            Source::Hub(h, _) => Ok(h.current_catalog().map_err(|e| Failure::Storage(e.to_string()))?.unwrap_or_else(Catalog::builtin)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&dyn DoseSource) -> T) -> T {
        match self {
            Source::Desk(d) => f(d.store()),
            Source::Hub(h, sites) => f(&HubDoses { db: h, sites: sites.clone() }),
        }
    }
}

pub fn run(db: Option<PathBuf>, out: Out, c: ExportCmd) -> CliResult {
    match c {
        ExportCmd::Csv { range, out: file } => export_csv(db, out, &range, file),
        ExportCmd::Xlsx { range, out: file } => export_file(db, out, &range, &file, Format::Xlsx),
        ExportCmd::Fhir { range, out: path, bundle } => export_file(db, out, &range, &path, if bundle { Format::FhirBundle } else { Format::FhirNdjson }),
    }
}

fn dates(r: &ExportRange) -> CliResult<(chrono::NaiveDate, chrono::NaiveDate)> {
    let (from, to) = (parse_date("from", &r.from)?, parse_date("to", &r.to)?);
    if to < from {
        return Err(Failure::Input(format!("to: {to} is before from: {from}")));
    }
    Ok((from, to))
}

fn create(path: &Path) -> CliResult<std::fs::File> {
    std::fs::File::create(path).map_err(|e| Failure::Input(format!("out: cannot create {}: {e}", path.display())))
}

/// With a progress bar on a terminal (indicatif hides it when piped).
fn export_file(db: Option<PathBuf>, out: Out, r: &ExportRange, path: &Path, format: Format) -> CliResult {
    let (from, to) = dates(r)?;
    let source = Source::open(db, r.hub_db.as_deref())?;
    let catalog = source.catalog()?;
    let site = r.site.as_deref();
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {pos} doses exported ({per_sec})").unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()));
    let progress = |n: u64| bar.set_position(n);
    let shown = path.display().to_string();
    let (s, said) = match format {
        Format::FhirNdjson => {
            std::fs::create_dir_all(path).map_err(|e| Failure::Input(format!("out: cannot create {}: {e}", path.display())))?;
            let (patients, immunizations) = source.with(|src| export::doses_fhir(src, &catalog, from, to, site, path, progress))?;
            let said = format!("{immunizations} doses of {patients} persons written to {shown}/Immunization.ndjson and Patient.ndjson");
            (serde_json::json!({ "dir": shown, "patients": patients, "immunizations": immunizations }), said)
        }
        Format::FhirBundle => {
            let f = create(path)?;
            let (patients, immunizations) = source.with(|src| export::doses_fhir_bundle(src, &catalog, from, to, site, f, progress))?;
            let said = format!("{immunizations} doses of {patients} persons written to {shown} (one FHIR Bundle)");
            (serde_json::json!({ "file": shown, "patients": patients, "immunizations": immunizations }), said)
        }
        Format::Xlsx => {
            let rows = source.with(|src| export::doses_xlsx(src, &catalog, from, to, site, path, progress))?;
            (serde_json::json!({ "file": shown, "rows": rows }), format!("{rows} doses written to {shown}"))
        }
    };
    bar.finish_and_clear();
    out.show(&s, || said);
    Ok(())
}

fn export_csv(db: Option<PathBuf>, out: Out, r: &ExportRange, file: Option<PathBuf>) -> CliResult {
    let (from, to) = dates(r)?;
    let source = Source::open(db, r.hub_db.as_deref())?;
    let catalog = source.catalog()?;
    let site = r.site.as_deref();
    let rows = match &file {
        Some(path) => {
            let f = create(path)?;
            source.with(|src| export::doses_csv(src, &catalog, from, to, site, std::io::BufWriter::new(f)))?
        }
        None => source.with(|src| export::doses_csv(src, &catalog, from, to, site, std::io::stdout().lock()))?,
    };
    if let Some(path) = &file {
        let s = ExportSummary { rows, file: Some(path.display().to_string()) };
        out.show(&s, || format!("{rows} doses written to {}", path.display()));
    }
    Ok(())
}
