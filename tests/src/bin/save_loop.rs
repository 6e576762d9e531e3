//! Child process for the durability test: saves persons and doses in a loop
//! and prints `committed <event id>` after each save returns, until killed.

use std::io::Write;

use chrono::NaiveDate;
use vaxdesk_core::catalog::{Catalog, Lot};
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::Sex;
use vaxdesk_core::validate::PersonDraft;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: save_loop DB")?;
    let desk = Desk::open(&path)?;
    if desk.config().site.is_none() {
        desk.set_up("DUR-SITE", "D1", None)?;
    }
    if desk.catalog().lots.is_empty() {
        let mut c = Catalog::builtin();
        c.version += 1;
        c.lots.push(Lot { number: "DUR-1".into(), vaccine: "VC".into(), expiry: NaiveDate::from_ymd_opt(2099, 12, 31).ok_or("date")? });
        desk.load_catalog(c)?;
    }
    let mut n = desk.store().person_count()?;
    let stdout = std::io::stdout();
    loop {
        let draft = PersonDraft {
            national_id: Some(format!("022090{n:06}")),
            full_name: "Người Thử Bền".into(),
            birth_date: "1990".into(),
            sex: Some(Sex::Male),
            ..Default::default()
        };
        let p = desk.save_person(&draft, &[])?;
        writeln!(stdout.lock(), "committed person {}", p.id)?;
        let dose = DoseDraft { vaccine: Some("VC".into()), lot: Some("DUR-1".into()), ..DoseDraft::vaccinated(p.id) };
        let e = desk.record_dose(&dose, &[])?;
        writeln!(stdout.lock(), "committed dose {}", e.id)?;
        n += 1;
    }
}
