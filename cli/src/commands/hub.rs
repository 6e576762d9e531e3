//! `vaxdesk hub`: serve, or add the first coordinator.

use std::io::IsTerminal;
use std::path::PathBuf;


use vaxdesk_hub::{auth, HubDb};

use crate::args::{AdminCmd, HubArgs, HubCmd};
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(db: Option<PathBuf>, out: Out, a: HubArgs) -> CliResult {
    let path = match db {
        Some(p) => p,
        None => super::data_file("hub.db")?,
    };
    // A `postgres://` URL passed as --db arrives as a path; it is a string.
    let target = path.to_string_lossy().to_string();
    match a.admin {
        Some(HubCmd::Admin(AdminCmd::Create { username, password_env })) => {
            let password = match password_env {
                Some(var) => std::env::var(&var).map_err(|_| Failure::Input(format!("password_env: ${var} is not set")))?,
                None => ask_password()?,
            };
            if password.chars().count() < 10 {
                return Err(Failure::Input("password: at least 10 characters".into()));
            }
            let hub = HubDb::open_target(&target).map_err(|e| Failure::Storage(e.to_string()))?;
            if hub.password_hash(&username).map_err(|e| Failure::Storage(e.to_string()))?.is_some() {
                return Err(Failure::Input(format!("username: {username} already exists")));
            }
            let hash = auth::hash_password(&password).map_err(Failure::Storage)?;
            let id = hub.create_coordinator(&username, &hash, true, &[]).map_err(|e| Failure::Storage(e.to_string()))?;
            out.show(&serde_json::json!({ "id": id, "username": username }), || format!("coordinator {username} created (all sites) in {}", path.display()));
            Ok(())
        }
        Some(HubCmd::Backup { to }) => {
            let from = sqlite_only(&target, &path, "pg_dump -Fc")?;
            let c = vaxdesk_hub::backup::backup(&from, &to).map_err(|e| Failure::Storage(e.to_string()))?;
            out.show(&c, || format!("backup {}: {} events, {:.1} MB in {:.1} s", to.display(), c.events, c.bytes as f64 / 1e6, c.seconds));
            Ok(())
        }
        Some(HubCmd::Restore { from }) => {
            let to = sqlite_only(&target, &path, "pg_restore")?;
            let c = vaxdesk_hub::backup::restore(&from, &to).map_err(|e| Failure::Storage(e.to_string()))?;
            out.show(&c, || format!("restored {} into {}: {} events, {:.1} MB in {:.1} s", from.display(), to.display(), c.events, c.bytes as f64 / 1e6, c.seconds));
            Ok(())
        }
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Failure::Storage(e.to_string()))?;
            let data_dir = a.data_dir.unwrap_or_else(|| {
                if target.starts_with("postgres://") || target.starts_with("postgresql://") {
                    PathBuf::from("hub-data")
                } else {
                    path.parent().filter(|p| !p.as_os_str().is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
                }
            });
            let scheme = if a.plain_http { "http" } else { "https" };
            eprintln!("vaxdesk hub: database {}, listening on {scheme}://{}", redact(&target), a.listen);
            runtime.block_on(async {
                tokio::select! {
                    r = vaxdesk_hub::serve_with(
                        &target,
                        a.listen,
                        a.public_url,
                        &data_dir,
                        !a.plain_http,
                        vaxdesk_hub::limits::Limits::per_minute(a.login_per_minute, a.enroll_per_minute),
                        a.apk,
                    ) => r.map_err(Failure::Storage),
                    _ = tokio::signal::ctrl_c() => Ok(()),
                }
            })
        }
    }
}

/// The SQLite file behind --db; a PostgreSQL hub has its own tools.
fn sqlite_only(target: &str, path: &std::path::Path, tool: &str) -> CliResult<PathBuf> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        return Err(Failure::Input(format!("db: a PostgreSQL hub is backed up and restored with the server's tools ({tool}); see the README, \"Backups\"")));
    }
    Ok(path.to_path_buf())
}

fn ask_password() -> CliResult<String> {
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| Failure::Input(e.to_string()))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    eprint!("Password (shown as you type; at least 10 characters): ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Failure::Input(e.to_string()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// A database URL without its password, for printing.
fn redact(target: &str) -> String {
    match (target.find("://"), target.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &target[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &target[..scheme + 3], &target[at..])
        }
        _ => target.to_string(),
    }
}
