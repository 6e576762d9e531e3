//! Shared set-up for the core's integration tests: a desk on a temporary
//! database with a fixed clock (a clinic morning in Quảng Ninh, 2021) and a
//! catalog that has lots.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, Utc};
use vaxdesk_core::catalog::{Catalog, Lot};
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::{Dose, DoseEvent, DoseKind, Person, PersonEvent, PersonId, Sex};
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

/// Person and dose events written into a store of schema 7 or older as the
/// app before schema 8 wrote them: each projection row kept a copy of its
/// latest event's content (`body`) and that event's id (`head_event`).
/// Today's writer writes schema 8's rows, so an older store's rows are
/// written here. Persons first, then doses, each in the order given.
pub fn write_before_schema_8(path: &std::path::Path, persons: &[PersonEvent], doses: &[DoseEvent]) {
    use rusqlite::params;
    let mut c = rusqlite::Connection::open(path).unwrap();
    let tx = c.transaction().unwrap();
    for e in persons {
        let p = &e.person;
        tx.execute(
            "INSERT INTO person_events (id, person_id, body, recorded_at) VALUES (?1, ?2, ?3, ?4)",
            params![e.id.to_string(), p.id.to_string(), json(e), e.recorded_at.to_rfc3339()],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO persons (id, national_id, phone, name_key, birth_year, head_event, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET national_id = excluded.national_id, phone = excluded.phone,
                 name_key = excluded.name_key, birth_year = excluded.birth_year, head_event = excluded.head_event, body = excluded.body",
            params![p.id.to_string(), p.national_id.as_ref().map(|n| n.number.clone()), p.phone, p.name_key(), p.birth_date.year(), e.id.to_string(), json(p)],
        )
        .unwrap();
        tx.execute("INSERT INTO outbox (event_id, stream, updated_at) VALUES (?1, 'person', ?2)", params![e.id.to_string(), e.recorded_at.to_rfc3339()]).unwrap();
    }
    for e in doses {
        let (id, root, person) = (e.id.to_string(), e.root().to_string(), e.person_id.to_string());
        tx.execute(
            "INSERT INTO dose_events (id, root_id, person_id, kind, body, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, root, person, e.kind.as_str(), json(e), e.recorded_at.to_rfc3339()],
        )
        .unwrap();
        let day = |d: &Dose| d.administered_at.date_naive().to_string();
        let changed = match (&e.kind, &e.dose) {
            (DoseKind::Record, Some(d)) => tx
                .execute(
                    "INSERT INTO doses (id, person_id, head_event, day, site, desk, outcome, body) VALUES (?1, ?2, ?1, ?3, ?4, ?5, ?6, ?7)",
                    params![id, person, day(d), e.site, e.desk, d.outcome.as_str(), json(d)],
                )
                .unwrap(),
            (DoseKind::Amend { .. }, Some(d)) => tx
                .execute(
                    "UPDATE doses SET head_event = ?2, day = ?3, outcome = ?4, amended = 1, body = ?5 WHERE id = ?1 AND voided = 0",
                    params![root, id, day(d), d.outcome.as_str(), json(d)],
                )
                .unwrap(),
            (DoseKind::Void { .. }, _) => tx.execute("UPDATE doses SET head_event = ?2, voided = 1 WHERE id = ?1 AND voided = 0", params![root, id]).unwrap(),
            (_, None) => panic!("{id}: a record or amend without its dose"),
        };
        assert_eq!(changed, 1, "{id} changed its record");
        tx.execute("INSERT INTO outbox (event_id, stream, updated_at) VALUES (?1, 'dose', ?2)", params![id, e.recorded_at.to_rfc3339()]).unwrap();
    }
    tx.commit().unwrap();
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

/// The events a desk holds about these persons, each person's in the order
/// the desk wrote them.
pub fn events_of(desk: &Desk, persons: &[PersonId]) -> (Vec<PersonEvent>, Vec<DoseEvent>) {
    let store = desk.store();
    let people = persons.iter().flat_map(|p| store.person_events(*p).unwrap()).collect();
    // A person's corrections follow their records (each person's doses in
    // the desk's order); persons need no order between them.
    let doses = persons.iter().flat_map(|p| store.dose_events_of(*p).unwrap()).collect();
    (people, doses)
}
