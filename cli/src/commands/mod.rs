//! One function per verb; each opens the desk, calls the core, prints.

mod catalog;
mod cert;
mod dose;
mod export;
mod hub;
mod person;
pub mod qr;
mod report;
mod sync;

use std::io::IsTerminal;
use std::path::PathBuf;


use vaxdesk_core::desk::Desk;
use vaxdesk_core::validate::Findings;

use crate::args::{Cli, Command, Confirm, SessionCmd};
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(cli: Cli) -> CliResult {
    let out = Out { json: cli.json };
    let db = cli.db.clone();
    match cli.command {
        Command::Init(a) => init(db, out, &a),
        Command::Session(c) => session(&open(db)?, out, c),
        Command::Person(c) => person::run(&open(db)?, out, c),
        Command::Dose(c) => dose::run(&open(db)?, out, c),
        Command::Catalog(c) => catalog::run(&open(db)?, out, c),
        Command::Qr(c) => qr::run(out, c),
        Command::Queue => {
            let q = open(db)?.queue()?;
            out.show(&q, || format!("pending {}  sent {}  accepted {}  to fix {}  withdrawn {}", q.pending, q.sent, q.accepted, q.to_fix, q.withdrawn));
            Ok(())
        }
        Command::Export(c) => export::run(db, out, c),
        Command::Report(c) => report::run(out, c),
        Command::Passphrase(c) => passphrase(db, out, c),
        Command::Hub(a) => hub::run(db, out, a),
        Command::Enroll { code, name, allow_plain_http } => sync::enroll(&open(db)?, out, &code, name.as_deref(), allow_plain_http),
        Command::Sync { once, every } => sync::sync(&open(db)?, out, once, every),
        Command::Status => sync::status(&open(db)?, out),
        Command::Cert(c) => cert::run(&open(db)?, out, c),
        Command::Bench(b) => crate::bench::run(out, b),
        Command::Demo(a) => crate::demo::run(out, &a),
    }
}

/// `name` in the user's data directory (created if needed).
pub fn data_file(name: &str) -> CliResult<PathBuf> {
    let dirs = directories::ProjectDirs::from("org", "vaxdesk", "vaxdesk")
        .ok_or_else(|| Failure::Input("no home directory: pass --db PATH".into()))?;
    let dir = dirs.data_dir();
    std::fs::create_dir_all(dir).map_err(|e| Failure::Storage(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir.join(name))
}

/// The passphrase of an encrypted desk database, from the environment.
pub const PASSPHRASE_ENV: &str = "VAXDESK_PASSPHRASE";

pub fn open(db: Option<PathBuf>) -> CliResult<Desk> {
    let path = match db {
        Some(p) => p,
        None => data_file("desk.db")?,
    };
    if let Some(secret) = std::env::var(PASSPHRASE_ENV).ok().filter(|s| !s.is_empty()) {
        return Ok(Desk::open_encrypted(&path, &secret)?);
    }
    match Desk::open(&path) {
        // Encrypted, and someone at a terminal to ask.
        Err(vaxdesk_core::Error::Store(vaxdesk_core::store::StoreError::NeedsKey { .. })) if std::io::stdin().is_terminal() => {
            let secret = ask_secret("Passphrase of the desk database: ")?;
            Ok(Desk::open_encrypted(&path, &secret)?)
        }
        other => Ok(other?),
    }
}

/// Read a secret at the terminal without showing it (or a line from a pipe).
pub fn ask_secret(prompt: &str) -> CliResult<String> {
    let s = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|e| Failure::Input(e.to_string()))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| Failure::Input(e.to_string()))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if s.is_empty() {
        return Err(Failure::Input("passphrase: must not be empty".into()));
    }
    Ok(s)
}

/// `vaxdesk passphrase set|change`: encrypt a plain desk database, or change
/// the passphrase of an encrypted one (the database must not be in use).
fn passphrase(db: Option<PathBuf>, out: Out, c: crate::args::PassphraseCmd) -> CliResult {
    let path = match db {
        Some(p) => p,
        None => data_file("desk.db")?,
    };
    let current = || std::env::var(PASSPHRASE_ENV).ok().filter(|s| !s.is_empty()).map_or_else(|| ask_secret("Current passphrase: "), Ok);
    let new = || {
        std::env::var("VAXDESK_NEW_PASSPHRASE").ok().filter(|s| !s.is_empty()).map_or_else(
            || {
                let a = ask_secret("New passphrase: ")?;
                if std::io::stdin().is_terminal() && ask_secret("Again: ")? != a {
                    return Err(Failure::Input("passphrase: the two entries differ".into()));
                }
                Ok(a)
            },
            Ok,
        )
    };
    match c {
        crate::args::PassphraseCmd::Set => Desk::encrypt(&path, &new()?)?,
        crate::args::PassphraseCmd::Change => Desk::change_secret(&path, &current()?, &new()?)?,
    }
    out.show(&serde_json::json!({ "db": path.display().to_string(), "encrypted": true }), || format!("{} is encrypted under the new passphrase", path.display()));
    Ok(())
}

fn init(db: Option<PathBuf>, out: Out, a: &crate::args::InitArgs) -> CliResult {
    // An empty file is refused by every other command (it may be a desk
    // whose data was lost); `init` is asked to make a desk there.
    if let Some(p) = db.as_deref().filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() == 0)) {
        std::fs::remove_file(p).map_err(|e| Failure::Storage(format!("{}: {e}", p.display())))?;
    }
    let desk = open(db)?;
    let offset = a.utc_offset.as_deref().map(parse_offset).transpose()?;
    let c = desk.set_up(&a.site, &a.desk, offset)?;
    let sample = if a.sample_catalog {
        let catalog = vaxdesk_core::synth::sample_catalog(&desk.catalog(), desk.today());
        desk.load_catalog(catalog)?;
        "; sample lots loaded (AZ-MAU-1, PF-MAU-1, ... good for a year; AZ-MAU-HET, ... expired): not real lots"
    } else {
        ""
    };
    out.show(&c, || {
        format!(
            "desk {} at site {} ready ({}), device {}{sample}",
            c.desk.clone().unwrap_or_default(),
            c.site.clone().unwrap_or_default(),
            desk.store().path().display(),
            c.device_id
        )
    });
    Ok(())
}

fn parse_offset(s: &str) -> CliResult<i32> {
    let fixed: chrono::FixedOffset = s
        .parse()
        .map_err(|_| Failure::Input(format!("utc_offset: +HH:MM expected, got {s:?}")))?;
    Ok(fixed.local_minus_utc())
}

fn session(desk: &Desk, out: Out, c: SessionCmd) -> CliResult {
    let s = match c {
        SessionCmd::Start { vaccine, lots } => Some(desk.start_session(&vaccine, &lots)?),
        SessionCmd::Show => desk.session()?,
    };
    out.show(&s, || match &s {
        Some(s) => format!("{} site {} desk {}: {} lots {}", s.date, s.site, s.desk, s.vaccine, s.lots.join(", ")),
        None => "no session today: vaxdesk session start --vaccine CODE --lot LOT".into(),
    });
    Ok(())
}

/// Run a save; when only warnings stand in the way and a person is at the
/// terminal, show them and ask, then save with them confirmed.
pub fn with_confirmation<T>(out: Out, confirm: &Confirm, mut save: impl FnMut(&[String]) -> vaxdesk_core::Result<T>) -> CliResult<T> {
    let mut codes = confirm.codes.clone();
    match save(&codes) {
        Err(vaxdesk_core::Error::Refused(f)) if only_warnings(&f) && (confirm.yes || ask(out, &f)) => {
            codes.extend(f.warnings().map(|w| w.code.as_str().to_string()));
            Ok(save(&codes)?)
        }
        other => Ok(other?),
    }
}

fn only_warnings(f: &Findings) -> bool {
    f.errors().next().is_none() && f.warnings().next().is_some()
}

fn ask(out: Out, f: &Findings) -> bool {
    if out.json || !std::io::stdin().is_terminal() {
        return false;
    }
    eprintln!("Check before saving:");
    for w in f.warnings() {
        eprintln!("  {w}");
    }
    eprint!("Save anyway? [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok() && matches!(line.trim().to_lowercase().as_str(), "y" | "yes" | "c" | "co" | "có")
}

/// A day as `YYYY-MM-DD` or `DD/MM/YYYY` (the core's one rule).
/// The hub's database named by `--hub-db` for reading: a SQLite file that is
/// not there is a typo, not a new hub to create.
pub fn open_hub(target: &str) -> CliResult<vaxdesk_hub::HubDb> {
    let url = target.starts_with("postgres://") || target.starts_with("postgresql://");
    if !url && !std::path::Path::new(target).is_file() {
        return Err(Failure::Input(format!("hub-db: no hub database at {target}")));
    }
    vaxdesk_hub::HubDb::open_target(target).map_err(|e| Failure::Storage(format!("hub-db: {e}")))
}

pub fn parse_date(field: &str, s: &str) -> CliResult<chrono::NaiveDate> {
    Ok(vaxdesk_core::dates::parse_day(field, s)?)
}


