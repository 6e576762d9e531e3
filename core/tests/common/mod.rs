//! Shared set-up for the core's integration tests: a desk on a temporary
//! database with a fixed clock (a clinic morning in Quảng Ninh, 2021) and a
//! catalog that has lots.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, Utc};
use vaxdesk_core::catalog::{Catalog, Lot};
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::{Person, PersonId, Sex};
use vaxdesk_core::validate::PersonDraft;

pub const CLINIC_MORNING: &str = "2021-10-05T02:00:00Z"; // 09:00 in Vietnam

pub fn clinic_now() -> DateTime<Utc> {
    CLINIC_MORNING.parse().unwrap()
}

pub fn catalog_with_lots() -> Catalog {
    let mut c = Catalog::builtin();
    c.version += 1;
    let expiry = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    c.lots = vec![
        Lot { number: "AZ2107".into(), vaccine: "AZ".into(), expiry: expiry(2022, 1, 31) },
        Lot { number: "AZ-OLD".into(), vaccine: "AZ".into(), expiry: expiry(2021, 9, 30) },
        Lot { number: "AZ-SOON".into(), vaccine: "AZ".into(), expiry: expiry(2021, 10, 8) },
        Lot { number: "FK1234".into(), vaccine: "PF".into(), expiry: expiry(2022, 2, 28) },
        Lot { number: "VC0921".into(), vaccine: "VC".into(), expiry: expiry(2023, 9, 1) },
        Lot { number: "AB0001".into(), vaccine: "AB".into(), expiry: expiry(2022, 6, 1) },
    ];
    c
}

pub struct TestDesk {
    pub dir: tempfile::TempDir,
    pub desk: Desk,
}

impl TestDesk {
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("desk.db")
    }
}

pub fn desk() -> TestDesk {
    let dir = tempfile::tempdir().unwrap();
    let desk = open_at(&dir.path().join("desk.db"));
    desk.set_up("QN-HL-01", "D1", None).unwrap();
    desk.load_catalog(catalog_with_lots()).unwrap();
    TestDesk { dir, desk }
}

pub fn open_at(path: &std::path::Path) -> Desk {
    Desk::open(path).unwrap().with_clock(clinic_now)
}

pub fn draft(name: &str, id: &str, birth: &str, sex: Sex) -> PersonDraft {
    PersonDraft {
        national_id: Some(id.into()),
        full_name: name.into(),
        birth_date: birth.into(),
        sex: Some(sex),
        ..Default::default()
    }
}

pub fn hoa() -> PersonDraft {
    draft("Nguyễn Thị Hoa", "022187001234", "1987-05-02", Sex::Female)
}

pub fn add(desk: &Desk, d: &PersonDraft) -> Person {
    desk.save_person(d, &[]).unwrap()
}

/// A first AstraZeneca dose from the catalog's good lot, given now.
pub fn az_dose(person: PersonId) -> DoseDraft {
    DoseDraft { vaccine: Some("AZ".into()), lot: Some("AZ2107".into()), ..DoseDraft::vaccinated(person) }
}
