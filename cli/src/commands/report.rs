//! `vaxdesk report daily`: the steering committee's figures of a day, per
//! site, from the hub's database: the same numbers as the hub's printable
//! report and its XLSX (`vaxdesk_hub::report`).

use std::fmt::Write as _;

use vaxdesk_core::catalog::Catalog;
use vaxdesk_hub::report::{self, SiteDay};

use super::{open_hub, parse_date};
use crate::args::ReportCmd;
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(out: Out, c: ReportCmd) -> CliResult {
    match c {
        ReportCmd::Daily { hub_db, date, site, out: file } => daily(out, &hub_db, date.as_deref(), site.as_deref(), file.as_deref()),
    }
}


fn daily(out: Out, target: &str, date: Option<&str>, site: Option<&str>, file: Option<&std::path::Path>) -> CliResult {
    let day = match date {
        Some(d) => parse_date("date", d)?,
        None => chrono::Utc::now().with_timezone(&report::vn()).date_naive(),
    };
    let hub = open_hub(target)?;
    let sites = hub.sites().map_err(Failure::storage)?;
    let chosen: Vec<_> = match site {
        Some(code) => vec![sites.iter().find(|s| s.code == code).ok_or_else(|| Failure::Input(format!("site: no site {code:?} on this hub")))?.clone()],
        None => sites,
    };
    let days = chosen.iter().map(|s| report::site_day(&hub, &s.code, day)).collect::<Result<Vec<_>, _>>().map_err(Failure::storage)?;
    let catalog = hub.current_catalog().map_err(Failure::storage)?.unwrap_or_else(Catalog::builtin);
    if let Some(path) = file {
        let bytes = report::daily_xlsx(&days, &catalog).map_err(|e| Failure::Input(format!("out: {e}")))?;
        std::fs::write(path, bytes).map_err(|e| Failure::Input(format!("out: cannot write {}: {e}", path.display())))?;
    }
    let figures: Vec<_> = days.iter().map(SiteDay::figures).collect();
    out.show(&figures, || {
        let mut s = String::new();
        for (d, site) in days.iter().zip(&chosen) {
            text(&mut s, d, &site.name, &catalog);
        }
        if chosen.is_empty() {
            s.push_str("Hub chưa có điểm tiêm nào.\n");
        }
        if let Some(path) = file {
            let _ = writeln!(s, "Đã ghi {}", path.display());
        }
        s.trim_end().to_string()
    });
    Ok(())
}

/// One site's day, in the words of the printed report.
fn text(s: &mut String, d: &SiteDay, name: &str, catalog: &Catalog) {
    let _ = writeln!(s, "Điểm tiêm {} — {} · {}", d.site, name, d.day.format("%d/%m/%Y"));
    let _ = writeln!(s, "  Đã tiêm {} mũi · hoãn tiêm {} · từ chối tiêm {}", d.total.given(), d.total.deferred, d.total.refused);
    for ((v, n), count) in &d.total.doses {
        let _ = writeln!(s, "    {} mũi {n}: {count}", report::vaccine_label(catalog, v));
    }
    let _ = writeln!(s, "  Đăng ký {} · đã đến {} · chưa đến {} · không đăng ký {}", d.registered, d.served, d.not_yet_come(), d.walk_ins);
    let _ = writeln!(s, "  Chứng nhận đã cấp {} (cho {} người)", d.certificates, d.certificate_persons);
    for (desk, x) in &d.desks {
        let _ = writeln!(s, "  Bàn {desk}: {} mũi · hoãn {} · từ chối {}", x.given(), x.deferred, x.refused);
    }
    s.push('\n');
}
