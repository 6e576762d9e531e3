//! A table of malformed inputs: each is refused with its exact finding code
//! (or input error) and writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::DateTime;
use common::*;
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::{Outcome, PersonId, Sex};
use vaxdesk_core::validate::PersonDraft;
use vaxdesk_core::Error;

fn counts(desk: &Desk) -> (u64, u64, u64) {
    let q = desk.queue().unwrap();
    (desk.store().person_count().unwrap(), desk.store().dose_event_count().unwrap(), q.pending + q.sent + q.accepted + q.to_fix)
}

fn person_case(f: impl Fn(&mut PersonDraft)) -> PersonDraft {
    let mut d = draft("Trần Văn Nam", "022090000001", "1990-03-04", Sex::Male);
    d.phone = Some("0912345678".into());
    f(&mut d);
    d
}

/// The codes a refusal carries (or `input:FIELD` / `not_found:WHAT`).
fn refused_codes(r: Result<impl std::fmt::Debug, Error>) -> Vec<String> {
    match r {
        Err(Error::Refused(f)) => {
            assert!(!f.is_empty());
            for x in f.iter() {
                assert!(x.message.starts_with(&format!("{}:", x.field)), "message must name the field: {}", x.message);
            }
            f.iter().map(|x| x.code.as_str().to_string()).collect()
        }
        Err(Error::Input { field, .. }) => vec![format!("input:{field}")],
        Err(Error::NotFound { what, .. }) => vec![format!("not_found:{what}")],
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The refusal's single code; a case that trips several checks must list
/// them all in `also`.
fn refused_code(r: Result<impl std::fmt::Debug, Error>) -> String {
    let codes = refused_codes(r);
    assert_eq!(codes.len(), 1, "expected one finding, got {codes:?}");
    codes[0].clone()
}

#[test]
fn malformed_persons_are_refused_with_their_code() {
    let t = desk();
    add(&t.desk, &hoa());
    let long = "A".repeat(81);
    let cases: Vec<(&str, PersonDraft)> = vec![
        ("national_id.length", person_case(|d| d.national_id = Some("02209000000".into()))),
        ("national_id.length", person_case(|d| d.national_id = Some("0220900000011".into()))),
        ("national_id.format", person_case(|d| d.national_id = Some("02209000000O".into()))),
        ("national_id.format", person_case(|d| d.national_id = Some("022-090-000001".into()))),
        ("national_id.province", person_case(|d| d.national_id = Some("099090000001".into()))),
        ("national_id.province", person_case(|d| d.national_id = Some("000090000001".into()))),
        ("national_id.century", person_case(|d| d.national_id = Some("022490000001".into()))),
        ("national_id.length", person_case(|d| {
            d.national_id = Some("1234567".into());
            d.id_kind = Some(vaxdesk_core::model::IdKind::Cmnd);
        })),
        ("national_id.duplicate", person_case(|d| {
            d.national_id = Some("022187001234".into());
            d.sex = Some(Sex::Female);
            d.birth_date = "1987".into();
        })),
        ("full_name.empty", person_case(|d| d.full_name = "   ".into())),
        ("full_name.too_long", person_case(|d| d.full_name = long.clone())),
        ("full_name.invalid_char", person_case(|d| d.full_name = "Trần Văn Nam 2".into())),
        ("full_name.invalid_char", person_case(|d| d.full_name = "Trần <Văn> Nam".into())),
        ("full_name.invalid_char", person_case(|d| d.full_name = "Trần|Văn|Nam".into())),
        ("text.control_char", person_case(|d| d.full_name = "Trần Văn\u{0} Nam".into())),
        ("text.control_char", person_case(|d| d.full_name = "Trần\u{7}Văn Nam".into())),
        ("birth_date.format", person_case(|d| d.birth_date = "1990-02-30".into())),
        ("birth_date.format", person_case(|d| d.birth_date = "04031990".into())),
        ("birth_date.format", person_case(|d| d.birth_date = "".into())),
        ("birth_date.future", person_case(|d| {
            d.birth_date = "2022-01-01".into();
            d.national_id = None;
        })),
        ("birth_date.implausible", person_case(|d| {
            d.birth_date = "1850".into();
            d.national_id = None;
        })),
        ("phone.length", person_case(|d| d.phone = Some("091234567".into()))),
        ("phone.length", person_case(|d| d.phone = Some("+8491234567".into()))),
        ("phone.format", person_case(|d| d.phone = Some("09123456a8".into()))),
        ("phone.format", person_case(|d| d.phone = Some("0912/345/678".into()))),
        ("health_insurance.format", person_case(|d| d.health_insurance = Some("DN40101234567".into()))),
        ("health_insurance.format", person_case(|d| d.health_insurance = Some("DN9010123456789".into()))),
        ("address.code", person_case(|d| d.address.province_code = Some("2".into()))),
        ("address.code", person_case(|d| d.address.ward_code = Some("ABCDE".into()))),
        ("text.too_long", person_case(|d| d.address.line = Some("x".repeat(201)))),
        ("text.control_char", person_case(|d| d.priority_group = Some("1\u{1b}[31m".into()))),
        ("not_found:person", person_case(|d| d.id = Some(PersonId::new()))),
    ];
    assert!(cases.len() >= 30);
    let before = counts(&t.desk);
    for (expected, d) in &cases {
        let got = refused_code(t.desk.save_person(d, &[]));
        assert_eq!(&got, expected, "for {d:?}");
        assert_eq!(counts(&t.desk), before, "{expected} wrote something");
    }
}

#[test]
fn malformed_doses_are_refused_with_their_code() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap());
    let dose = |f: &dyn Fn(&mut DoseDraft)| {
        let mut d = DoseDraft::vaccinated(p.id);
        d.vaccine = Some("AZ".into());
        d.lot = Some("AZ2107".into());
        f(&mut d);
        d
    };
    let first = t.desk.record_dose(&dose(&|d| d.administered_at = at("2021-08-01T09:00:00+07:00")), &[]).unwrap();
    let cases: Vec<(&str, DoseDraft)> = vec![
        ("vaccine.unknown", dose(&|d| d.vaccine = Some("ZZ".into()))),
        ("vaccine.unknown", dose(&|d| d.vaccine = Some("".into()))),
        ("lot.expired", dose(&|d| d.lot = Some("AZ-OLD".into()))),
        ("lot.missing", dose(&|d| d.lot = Some("  ".into()))),
        ("lot.vaccine_mismatch", dose(&|d| d.lot = Some("FK1234".into()))),
        ("text.too_long", dose(&|d| d.lot = Some("L".repeat(41)))),
        ("administered_at.future", dose(&|d| d.administered_at = at("2021-10-06T09:00:00+07:00"))),
        ("dose.same_day", dose(&|d| d.administered_at = at("2021-08-01T15:00:00+07:00"))),
        ("dose.mix_not_allowed", dose(&|d| {
            d.vaccine = Some("VC".into());
            d.lot = Some("VC0921".into());
        })),
        ("dose.number_invalid", dose(&|d| d.dose_number = Some(0))),
        ("text.control_char", dose(&|d| d.note = Some("ok\u{8}".into()))),
        ("not_found:person", DoseDraft { person: PersonId::new(), ..dose(&|_| {}) }),
        // Warnings not confirmed also refuse the save.
        ("lot.near_expiry", dose(&|d| d.lot = Some("AZ-SOON".into()))),
        ("lot.unknown", dose(&|d| d.lot = Some("NEW-LOT-1".into()))),
        ("dose.interval_short", dose(&|d| d.administered_at = at("2021-08-20T09:00:00+07:00"))),
    ];
    let before = counts(&t.desk);
    for (expected, d) in &cases {
        let got = refused_code(t.desk.record_dose(d, &[]));
        assert_eq!(&got, expected, "for {d:?}");
        assert_eq!(counts(&t.desk), before, "{expected} wrote something");
    }
    // A dose in 1980 is before any COVID-19 vaccine and before this birth: both are errors, nothing written.
    let before_birth = dose(&|d| d.administered_at = at("1980-01-01T09:00:00+07:00"));
    assert_eq!(refused_codes(t.desk.record_dose(&before_birth, &[])), vec!["administered_at.too_early", "administered_at.before_birth"]);
    assert_eq!(counts(&t.desk), before);
    // Corrections that must be refused.
    let good = dose(&|_| {});
    let corrections: Vec<(&str, Result<_, Error>)> = vec![
        ("correction.reason_missing", t.desk.void_dose(first.id, "  ")),
        ("correction.target_unknown", t.desk.void_dose(vaxdesk_core::model::EventId::new(), "typo")),
        ("correction.reason_missing", t.desk.amend_dose(first.id, &good, "", &[])),
    ];
    for (expected, r) in corrections {
        assert_eq!(refused_code(r), expected);
        assert_eq!(counts(&t.desk), before);
    }
    t.desk.void_dose(first.id, "entered for the wrong person").unwrap();
    assert_eq!(refused_code(t.desk.void_dose(first.id, "again")), "correction.target_voided");
    let deferral = DoseDraft { outcome: Outcome::Deferred, lot: None, ..dose(&|_| {}) };
    assert!(t.desk.record_dose(&deferral, &[]).is_ok());
}
