//! Text from a QR code → a typed payload with field-level errors: the CCCD
//! card, the PC-Covid health code, the EU-DCC `HC1:` certificate, vaxdesk's
//! `VXD1:` enrollment code, or `Unknown`. Formats: REFERENCE §1. Parsers
//! never panic, whatever the input.

mod cccd;
mod enroll;
mod hc1;
mod health;

use serde::{Deserialize, Serialize};

use crate::fold::tidy_nfc;
use crate::model::Sex;
use crate::validate::PersonDraft;

pub use cccd::{parse_cccd, CccdCard};
pub use enroll::{parse_enroll, EnrollCode};
pub use hc1::{parse_hc1, Dcc, DccName, DccVaccination, Hc1Cert, SignatureStatus, TrustList, TrustedKey};
pub use health::{parse_health, DeclaredBy, HealthCode};

/// A problem with one field of a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_string(), message: message.into() }
}

/// A parse result that keeps going past the first bad field, so the desk can
/// show every problem at once. `value` is `None` when a field it needs failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed<T> {
    pub value: Option<T>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    Cccd(Parsed<CccdCard>),
    Health(Parsed<HealthCode>),
    Hc1(Parsed<Hc1Cert>),
    Enroll(Parsed<EnrollCode>),
    Unknown { text: String },
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Cccd(_) => "cccd",
            Payload::Health(_) => "health",
            Payload::Hc1(_) => "hc1",
            Payload::Enroll(_) => "enroll",
            Payload::Unknown { .. } => "unknown",
        }
    }

    pub fn errors(&self) -> &[FieldError] {
        match self {
            Payload::Cccd(p) => &p.errors,
            Payload::Health(p) => &p.errors,
            Payload::Hc1(p) => &p.errors,
            Payload::Enroll(p) => &p.errors,
            Payload::Unknown { .. } => &[],
        }
    }

    /// A person draft to prefill the form, when the payload carries one.
    pub fn person_draft(&self) -> Option<PersonDraft> {
        match self {
            Payload::Cccd(Parsed { value: Some(c), .. }) => Some(c.person_draft()),
            Payload::Health(Parsed { value: Some(h), .. }) => Some(h.person_draft()),
            Payload::Hc1(Parsed { value: Some(c), .. }) => Some(c.person_draft()),
            _ => None,
        }
    }
}

/// Decide what a text is and parse it. Certificates are checked against no
/// trusted key (their signature reads `unknown_key`); see `parse_with`.
pub fn parse(text: &str) -> Payload {
    parse_with(text, &TrustList::default())
}

/// Decide what a text is and parse it, checking certificate signatures
/// against `trust`.
pub fn parse_with(text: &str, trust: &TrustList) -> Payload {
    if text.starts_with(hc1::PREFIX) {
        return Payload::Hc1(parse_hc1(text, trust));
    }
    if text.starts_with(enroll::PREFIX) {
        return Payload::Enroll(parse_enroll(text));
    }
    let fields: Vec<&str> = text.split('|').collect();
    if looks_like_health(&fields) {
        return Payload::Health(parse_health(text));
    }
    if looks_like_cccd(&fields) {
        return Payload::Cccd(parse_cccd(text));
    }
    Payload::Unknown { text: text.to_string() }
}

fn is_sex_word(s: &str) -> bool {
    sex_of(s).is_some()
}

fn sex_of(s: &str) -> Option<Sex> {
    match tidy_nfc(s).to_lowercase().as_str() {
        "nam" => Some(Sex::Male),
        "nữ" | "nu" => Some(Sex::Female),
        _ => None,
    }
}

fn looks_like_cccd(f: &[&str]) -> bool {
    let id_like = f.first().is_some_and(|s| !s.is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()));
    match f.len() {
        7 => id_like && (is_sex_word(f[4]) || f[3].trim().len() == 8),
        6 => id_like && (is_sex_word(f[3]) || f[2].trim().len() == 8),
        _ => false,
    }
}

fn looks_like_health(f: &[&str]) -> bool {
    // NgaySinh is YYYY-MM-DD (possibly masked) in the third field; a CCCD
    // has a name there.
    f.len() == 6 && {
        let b = f[2].trim().as_bytes();
        b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    const CCCD: &str = "022187001234|123456789|Nguyễn Thị Hoa|02051987|Nữ|Tổ 5, Khu 3, Phường Hồng Hải, Hạ Long, Quảng Ninh|15042021";

    #[test]
    fn cccd_with_old_id() {
        let Payload::Cccd(p) = parse(CCCD) else { panic!("not cccd") };
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let c = p.value.unwrap();
        assert_eq!(c.number, "022187001234");
        assert_eq!(c.old_id.as_deref(), Some("123456789"));
        assert_eq!(c.full_name, "Nguyễn Thị Hoa");
        assert_eq!((c.birth_date.to_string(), c.sex, c.issued.to_string()), ("1987-05-02".into(), Sex::Female, "2021-04-15".into()));
        let d = c.person_draft();
        assert_eq!(d.source, crate::model::PersonSource::CccdQr);
        let (f, person) = crate::validate::check_person(&d, NaiveDate::from_ymd_opt(2021, 10, 1).unwrap());
        assert!(f.is_empty(), "{f}");
        assert!(person.is_some());
    }

    #[test]
    fn cccd_variants_empty_old_id_and_six_fields() {
        let empty_old = "022090000001||Trần Văn Nam|04031990|Nam|Hạ Long|01012021";
        let Payload::Cccd(p) = parse(empty_old) else { panic!() };
        assert_eq!(p.value.unwrap().old_id, None);
        let six = "022090000001|Trần Văn Nam|04031990|Nam|Hạ Long|01012021";
        let Payload::Cccd(p) = parse(six) else { panic!() };
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.value.unwrap().full_name, "Trần Văn Nam");
    }

    #[test]
    fn cccd_names_are_nfc() {
        let decomposed: String = unicode_normalization::UnicodeNormalization::nfd(CCCD).collect();
        let Payload::Cccd(p) = parse(&decomposed) else { panic!() };
        assert_eq!(p.value.unwrap().full_name, "Nguyễn Thị Hoa");
    }

    #[test]
    fn broken_cccd_names_each_field() {
        let p = parse_cccd("02218700123|12345|Nguyễn Thị Hoa|31021987|Nu?|addr|1504202");
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["number", "old_id", "birth_date", "sex", "issued"]);
        assert!(p.value.is_none());
        assert!(p.errors[2].message.contains("not a calendar date"), "{}", p.errors[2]);
        let p = parse_cccd("a|b|c");
        assert_eq!(p.errors[0].field, "payload");
    }

    #[test]
    fn health_code_full_and_masked() {
        let full = "001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|16297938858617<0<DN4010123456789<0912345678<sig";
        let Payload::Health(p) = parse(full) else { panic!("not health") };
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let h = p.value.unwrap();
        assert!(!h.number_masked && !h.birth_masked);
        assert_eq!((h.sex_code.as_deref(), h.phone.as_deref()), (Some("0"), Some("0912345678")));
        assert!(h.masked_fields().is_empty());
        assert_eq!(h.person_draft().national_id.as_deref(), Some("001093029317"));

        let masked = "******029317|NGUYEN LE KHA HAN|1987-**-**|1|162979388586171100|";
        let Payload::Health(p) = parse(masked) else { panic!() };
        let h = p.value.unwrap();
        assert_eq!(h.masked_fields(), vec!["national_id", "birth_date"]);
        assert_eq!(h.birth_date, crate::model::BirthDate::Year(1987));
        assert_eq!(h.declared_by, DeclaredBy::OnBehalf);
        let d = h.person_draft();
        assert_eq!((d.national_id, d.birth_date.as_str()), (None, "1987"));
    }

    #[test]
    fn broken_health_code_names_each_field() {
        let p = parse_health("00109302931#|NGUYEN|1987-13-45|2|abc|");
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["document_number", "birth_date", "declared_by", "qid"]);
    }

    #[test]
    fn prefixes_route_to_certificate_and_enrollment_parsers() {
        let key = hc1::tests::signer(3);
        let text = hc1::tests::issue(&key, b"kid-0001", false);
        let Payload::Hc1(p) = parse_with(&text, &hc1::tests::trusted(&key, b"kid-0001")) else { panic!("not hc1") };
        assert_eq!(p.value.unwrap().signature, SignatureStatus::Verified);
        assert_eq!(parse(&text).kind(), "hc1");
        assert_eq!(parse(r#"VXD1:{"hub":"http://127.0.0.1:9","code":"ABCDEF"}"#).kind(), "enroll");
        assert_eq!(parse("VXD1:garbage").errors()[0].field, "payload");
    }

    #[test]
    fn anything_else_is_unknown() {
        for t in ["https://example.org", "", "HELLO|WORLD", "1|2|3|4|5|6|7|8"] {
            assert_eq!(parse(t), Payload::Unknown { text: t.to_string() });
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse(&s);
            let _ = parse(&format!("HC1:{s}"));
            let _ = parse(&format!("VXD1:{s}"));
            let _ = parse_cccd(&s);
            let _ = parse_health(&s);
        }

        #[test]
        fn base45_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&format!("HC1:{}", base45::encode(&bytes)));
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut z, &bytes).unwrap();
            let _ = parse(&format!("HC1:{}", base45::encode(z.finish().unwrap())));
        }

        #[test]
        fn pipe_separated_garbage_never_panics(parts in prop::collection::vec("[0-9*\\-NamNữ ]{0,12}", 0..9)) {
            let s = parts.join("|");
            let p = parse(&s);
            let _ = p.person_draft();
        }
    }
}
