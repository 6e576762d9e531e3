use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::desk::Desk;

use crate::args::CatalogCmd;
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(desk: &Desk, out: Out, c: CatalogCmd) -> CliResult {
    match c {
        CatalogCmd::Show => {
            let c = desk.catalog();
            out.show(&*c, || {
                let mut s = format!("catalog v{} — {}\n", c.version, c.name);
                for v in &c.vaccines {
                    let intervals: Vec<_> = v.intervals.iter().map(|i| format!("≥{}d", i.min_days)).collect();
                    let age = match v.age.max_years {
                        Some(m) => format!("{}-{}", v.age.min_years, m),
                        None => format!("{}+", v.age.min_years),
                    };
                    s.push_str(&format!(
                        "  {:<3} {:<12} {} dose(s) {:<10} ages {:<6} {}\n",
                        v.code,
                        v.name,
                        v.series_doses,
                        intervals.join(" "),
                        age,
                        if v.booster { "booster" } else { "" }
                    ));
                }
                for l in &c.lots {
                    s.push_str(&format!("  lot {:<12} {:<3} expires {}\n", l.number, l.vaccine, l.expiry));
                }
                s.trim_end().to_string()
            });
            Ok(())
        }
        CatalogCmd::Load { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            let c = Catalog::from_json(&text).map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            let version = c.version;
            desk.load_catalog(c)?;
            out.show(&serde_json::json!({ "loaded": version }), || format!("catalog v{version} loaded"));
            Ok(())
        }
    }
}
