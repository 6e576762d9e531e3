//! `vaxdesk`: the tester's and coordinator's front end over vaxdesk-core.
//! Errors are printed once, here, with an exit code scripts can trust:
//! 0 ok, 1 validation refused, 2 usage or input error, 3 storage error.

mod args;
mod bench;
mod bench_hub;
mod bench_load;
mod bench_registrations;
mod bench_sync;
mod commands;
mod demo;
mod drill;
mod embedded;
mod output;
mod qrframes;
mod qrimage;


use std::process::ExitCode;

use clap::Parser;
use vaxdesk_core::validate::Findings;

use crate::args::Cli;

/// What a command can fail with, sorted by what the caller should do.
#[derive(Debug)]
pub enum Failure {
    Refused(Findings),
    /// A check came out negative (a certificate that does not verify): exit 1.
    NotValid(String),
    Input(String),
    Storage(String),
    /// The hub is busy, down or out of reach: try again later (exit 4).
    Unavailable(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(_) | Failure::NotValid(_) => 1,
            Failure::Input(_) => 2,
            Failure::Storage(_) => 3,
            Failure::Unavailable(_) => 4,
        }
    }
}

impl Failure {
    /// A storage failure from any error (the hub's database, a file, a pool).
    pub fn storage(e: impl std::fmt::Display) -> Failure {
        Failure::Storage(e.to_string())
    }
}

impl From<vaxdesk_core::Error> for Failure {
    fn from(e: vaxdesk_core::Error) -> Self {
        use vaxdesk_core::Error as E;
        match e {
            E::Refused(f) => Failure::Refused(f),
            E::Store(s) => Failure::Storage(s.to_string()),
            other => Failure::Input(other.to_string()),
        }
    }
}

impl From<vaxdesk_core::store::StoreError> for Failure {
    fn from(e: vaxdesk_core::store::StoreError) -> Self {
        Failure::Storage(e.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

fn main() -> ExitCode {
    quiet_caught_decoder_panics();
    let cli = Cli::parse();
    tracing_init();
    let json = cli.json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            output::failure(&f, json);
            ExitCode::from(f.exit_code())
        }
    }
}

/// Logs go to stderr, quiet unless VAXDESK_LOG asks (e.g. `VAXDESK_LOG=debug`).
/// Nothing logged carries names or id numbers.
fn tracing_init() {
    let level = std::env::var("VAXDESK_LOG").ok().and_then(|l| l.parse::<tracing::Level>().ok());
    if let Some(level) = level {
        let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).try_init();
    }
}

/// rqrr (its decoder, and its detector when vaxdesk still ran it) has
/// panicked on odd input; the decoder catches those panics and
/// treats them as "no code", so their message would only alarm. Every other
/// panic is reported as usual.
fn quiet_caught_decoder_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.location().is_some_and(|l| l.file().contains("rqrr")) {
            return;
        }
        // `vaxdesk qr bench --each DIR | head`: the reader went away, which
        // is how a pipe ends, not a fault. Leave quietly as other tools do.
        if is_closed_stdout(info) {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// println! panics when stdout's reader has closed the pipe; its message is
/// the only sign of it that reaches a panic hook.
fn is_closed_stdout(info: &std::panic::PanicHookInfo<'_>) -> bool {
    let message = info.payload().downcast_ref::<String>().map(String::as_str).or_else(|| info.payload().downcast_ref::<&str>().copied());
    message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains("Broken pipe"))
}
