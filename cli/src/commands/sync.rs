//! `vaxdesk enroll`, `sync`, `status`.

use serde::Serialize;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::sync::{sync_once, SyncError, SyncOptions};

use crate::output::Out;
use crate::{CliResult, Failure};

pub(super) fn failure(e: SyncError) -> Failure {
    match e {
        SyncError::Store(s) => Failure::Storage(s.to_string()),
        SyncError::Core(c) => (*c).into(),
        // A hub that is busy, restarting or out of reach: try later, not bad input.
        other if other.is_transient() => Failure::Unavailable(format!("{other} (try again later)")),
        other => Failure::Input(other.to_string()),
    }
}

pub fn enroll(desk: &Desk, out: Out, code: &str, name: Option<&str>, allow_plain_http: bool) -> CliResult {
    let opts = SyncOptions { allow_plain_http, ..SyncOptions::default() };
    let r = vaxdesk_core::sync::enroll_with(desk, code, name, &opts).map_err(failure)?;
    out.show(&r.site, || format!("enrolled as desk {} at {} ({}), device {}", r.desk.code, r.site.code, r.site.name, r.device_id));
    Ok(())
}

pub fn sync(desk: &Desk, out: Out, once: bool, every: u64) -> CliResult {
    let opts = SyncOptions::default();
    loop {
        match sync_once(desk, &opts) {
            Ok(r) => out.show(&r, || {
                format!(
                    "pushed {} (accepted {}, already there {}, refused {}), pulled {}, {} retries, {} bytes sent",
                    r.pushed, r.accepted, r.duplicates, r.rejected, r.pulled, r.retries, r.bytes_sent
                )
            }),
            Err(e) if !once && e.is_transient() => eprintln!("vaxdesk: sync failed for now ({e}); trying again in {every} s"),
            Err(e) => return Err(failure(e)),
        }
        if once {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(every.max(1)));
    }
}

#[derive(Serialize)]
struct Status {
    hub: Option<String>,
    pending: u64,
    sent: u64,
    accepted: u64,
    /// Refusals still open.
    to_fix: u64,
    /// Refusals corrected since.
    fixed: u64,
    last_sync: Option<String>,
    /// `ok`, or what `PRAGMA quick_check` found.
    integrity: Vec<String>,
    to_fix_list: Vec<vaxdesk_core::store::ToFixItem>,
}

/// The desk's state, after checking every page of its database: a damaged
/// file is reported (exit 3), not found later by the save that hits it.
pub fn status(desk: &Desk, out: Out) -> CliResult {
    let integrity = match desk.store().quick_check()? {
        Ok(()) => vec!["ok".to_string()],
        Err(problems) => problems,
    };
    if integrity != ["ok"] {
        return Err(Failure::Storage(format!(
            "{}: the database is damaged ({}); copy the file aside before anything else, saved records may still be recovered from it",
            desk.store().path().display(),
            integrity.join("; ")
        )));
    }
    let d = desk.status()?;
    let s = Status {
        hub: d.hub,
        pending: d.queue.pending,
        sent: d.queue.sent,
        accepted: d.queue.accepted,
        to_fix: d.to_fix.len() as u64,
        fixed: d.queue.to_fix.saturating_sub(d.to_fix.len() as u64),
        last_sync: d.last_sync,
        integrity,
        to_fix_list: d.to_fix,
    };
    out.show(&s, || {
        let mut t = format!(
            "hub {}\npending {}  sent {}  accepted {}  to fix {} (refused, then corrected: {})\nlast sync {}\ndatabase checked: ok",
            s.hub.as_deref().unwrap_or("(not enrolled)"),
            s.pending,
            s.sent,
            s.accepted,
            s.to_fix,
            s.fixed,
            s.last_sync.as_deref().unwrap_or("never")
        );
        for item in &s.to_fix_list {
            let e = &item.entry;
            let about = item.record_id.as_deref().map(|r| format!("dose record {r}")).or_else(|| item.person_id.as_deref().map(|p| format!("person {p}"))).unwrap_or_default();
            t.push_str(&format!("\n  to fix: {} {} ({about}) — {}", e.stream, e.event_id, e.reject_message.as_deref().or(e.reject_code.as_deref()).unwrap_or("")));
        }
        t
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hub that is busy, restarting or out of reach is "try later" (exit 4),
    /// not bad input; a refusal that waiting will not change stays input.
    #[test]
    fn a_busy_or_unreachable_hub_is_unavailable_not_input() {
        let busy = SyncError::Refused { status: 503, code: "hub.storage".into(), message: "database busy".into() };
        assert!(matches!(failure(busy), Failure::Unavailable(m) if m.contains("try again later")));
        assert!(matches!(failure(SyncError::Network("connection refused".into())), Failure::Unavailable(_)));
        assert!(matches!(failure(SyncError::Refused { status: 429, code: "rate_limited".into(), message: "wait".into() }), Failure::Unavailable(_)));
        let used = SyncError::Refused { status: 403, code: "enroll.code_used".into(), message: "used".into() };
        assert!(matches!(failure(used), Failure::Input(_)));
        assert_eq!(Failure::Unavailable(String::new()).exit_code(), 4);
    }
}
