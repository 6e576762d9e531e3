//! Text from a QR code → a typed payload with field-level errors.
//! Formats: REFERENCE §1. Parsers never panic, whatever the input.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::fold::tidy_nfc;
use crate::model::{IdKind, Sex};
use crate::validate::PersonDraft;

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
    Unknown { text: String },
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Cccd(_) => "cccd",
            Payload::Health(_) => "health",
            Payload::Unknown { .. } => "unknown",
        }
    }

    pub fn errors(&self) -> &[FieldError] {
        match self {
            Payload::Cccd(p) => &p.errors,
            Payload::Health(p) => &p.errors,
            Payload::Unknown { .. } => &[],
        }
    }

    /// A person draft to prefill the form, when the payload carries one.
    pub fn person_draft(&self) -> Option<PersonDraft> {
        match self {
            Payload::Cccd(Parsed { value: Some(c), .. }) => Some(c.person_draft()),
            Payload::Health(Parsed { value: Some(h), .. }) => Some(h.person_draft()),
            _ => None,
        }
    }
}

/// Decide what a text is and parse it.
pub fn parse(text: &str) -> Payload {
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

// ---- CCCD -------------------------------------------------------------------

/// The chip-ID card's QR (2021 model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CccdCard {
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_id: Option<String>,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub address: String,
    pub issued: NaiveDate,
}

impl CccdCard {
    pub fn person_draft(&self) -> PersonDraft {
        PersonDraft {
            national_id: Some(self.number.clone()),
            id_kind: Some(IdKind::Cccd),
            full_name: self.full_name.clone(),
            birth_date: self.birth_date.format("%Y-%m-%d").to_string(),
            sex: Some(self.sex),
            address: crate::model::Address { line: Some(self.address.clone()), ..Default::default() },
            source: crate::model::PersonSource::CccdQr,
            ..Default::default()
        }
    }
}

fn ddmmyyyy(field: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let t = s.trim();
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(err(field, format!("8 digits ddmmyyyy expected, got {t:?}")));
        return None;
    }
    let d = NaiveDate::parse_from_str(t, "%d%m%Y").ok();
    if d.is_none() {
        errors.push(err(field, format!("{t:?} is not a calendar date (ddmmyyyy)")));
    }
    d
}

pub fn parse_cccd(text: &str) -> Parsed<CccdCard> {
    let mut errors = Vec::new();
    let f: Vec<&str> = text.trim_end_matches(['\r', '\n']).split('|').collect();
    let (number, old_id, rest) = match f.len() {
        7 => (f[0], Some(f[1]), &f[2..]),
        6 => (f[0], None, &f[1..]),
        n => {
            errors.push(err("payload", format!("7 fields separated by '|' expected (or 6 without the old id), got {n}")));
            return Parsed { value: None, errors };
        }
    };
    let number = number.trim();
    if number.len() != 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(err("number", format!("12 digits expected, got {number:?}")));
    }
    let old_id = old_id.map(str::trim).filter(|s| !s.is_empty());
    if let Some(o) = old_id {
        if !(o.len() == 9 || o.len() == 12) || !o.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(err("old_id", format!("empty, 9 or 12 digits expected, got {o:?}")));
        }
    }
    let full_name = tidy_nfc(rest[0]);
    if full_name.is_empty() {
        errors.push(err("full_name", "empty"));
    } else if full_name.chars().any(char::is_control) {
        errors.push(err("full_name", "contains control characters"));
    }
    let birth_date = ddmmyyyy("birth_date", rest[1], &mut errors);
    let sex = sex_of(rest[2]);
    if sex.is_none() {
        errors.push(err("sex", format!("\"Nam\" or \"Nữ\" expected, got {:?}", rest[2])));
    }
    let address = tidy_nfc(rest[3]);
    let issued = ddmmyyyy("issued", rest[4], &mut errors);
    let value = match (errors.is_empty(), birth_date, sex, issued) {
        (true, Some(birth_date), Some(sex), Some(issued)) => Some(CccdCard {
            number: number.to_string(),
            old_id: old_id.map(str::to_string),
            full_name,
            birth_date,
            sex,
            address,
            issued,
        }),
        _ => None,
    };
    Parsed { value, errors }
}

// ---- PC-Covid health QR -----------------------------------------------------

/// Who declared the health record (`LoaiDinhDanh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredBy {
    Self_,
    OnBehalf,
}

/// The national personal health QR (PC-Covid, guidance v1.1 of 11/9/2021).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCode {
    /// The document number as printed, masked characters included.
    pub document_number: String,
    /// True when part of the number is masked with `*`: it is then not a
    /// lookup key.
    pub number_masked: bool,
    /// Upper case, without diacritics.
    pub full_name: String,
    /// `Year` when day and month are masked.
    pub birth_date: crate::model::BirthDate,
    pub birth_masked: bool,
    pub declared_by: DeclaredBy,
    pub qid: String,
    /// EXT's sex digit as written (0/1/2). Which digit means which is not
    /// in the public guidance, so it is kept raw and not put on the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_insurance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl HealthCode {
    /// A partial draft: a masked number is left out, and the name has no
    /// diacritics (the volunteer should correct it from the ID card).
    pub fn person_draft(&self) -> PersonDraft {
        PersonDraft {
            national_id: (!self.number_masked).then(|| self.document_number.clone()),
            full_name: self.full_name.clone(),
            birth_date: self.birth_date.to_string(),
            phone: self.phone.clone(),
            health_insurance: self.health_insurance.clone(),
            source: crate::model::PersonSource::HealthQr,
            ..Default::default()
        }
    }

    /// Fields the volunteer must complete because the code masks them.
    pub fn masked_fields(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.number_masked {
            v.push("national_id");
        }
        if self.birth_masked {
            v.push("birth_date");
        }
        v
    }
}

pub fn parse_health(text: &str) -> Parsed<HealthCode> {
    let mut errors = Vec::new();
    let f: Vec<&str> = text.trim_end_matches(['\r', '\n']).split('|').collect();
    if f.len() != 6 {
        errors.push(err("payload", format!("6 fields separated by '|' expected (SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT), got {}", f.len())));
        return Parsed { value: None, errors };
    }
    let number = f[0].trim();
    let number_masked = number.contains('*');
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*') || number.len() > 20 {
        errors.push(err("document_number", format!("digits or '*' expected, got {number:?}")));
    }
    let full_name = tidy_nfc(f[1]);
    if full_name.is_empty() {
        errors.push(err("full_name", "empty"));
    } else if full_name.chars().any(char::is_control) {
        errors.push(err("full_name", "contains control characters"));
    }
    let (birth_date, birth_masked) = match masked_date(f[2].trim()) {
        Ok(v) => (Some(v.0), v.1),
        Err(m) => {
            errors.push(err("birth_date", m));
            (None, false)
        }
    };
    let declared_by = match f[3].trim() {
        "0" => Some(DeclaredBy::Self_),
        "1" => Some(DeclaredBy::OnBehalf),
        other => {
            errors.push(err("declared_by", format!("0 (self) or 1 (on behalf) expected, got {other:?}")));
            None
        }
    };
    let qid = f[4].trim();
    if qid.is_empty() || !qid.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(err("qid", format!("digits expected, got {qid:?}")));
    }
    // EXT: declarer QID < sex < insurance < phone < signature. Partly
    // unverified (REFERENCE §1.2): read what is there, never fail on it.
    let ext: Vec<&str> = f[5].split('<').map(str::trim).collect();
    let sex_code = ext.get(1).filter(|s| matches!(**s, "0" | "1" | "2")).map(|s| s.to_string());
    let health_insurance = ext.get(2).filter(|s| !s.is_empty()).map(|s| s.to_string());
    let phone = ext.get(3).filter(|s| !s.is_empty() && !s.contains('*')).map(|s| s.to_string());
    let value = match (errors.is_empty(), birth_date, declared_by) {
        (true, Some(birth_date), Some(declared_by)) => Some(HealthCode {
            document_number: number.to_string(),
            number_masked,
            full_name,
            birth_date,
            birth_masked,
            declared_by,
            qid: qid.to_string(),
            sex_code,
            health_insurance,
            phone,
        }),
        _ => None,
    };
    Parsed { value, errors }
}

/// `YYYY-MM-DD` where day and month may be `**`.
fn masked_date(s: &str) -> Result<(crate::model::BirthDate, bool), String> {
    let bad = || format!("YYYY-MM-DD expected (day and month may be '*'), got {s:?}");
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !b[..4].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    if s[5..].contains('*') {
        let year: i32 = s[..4].parse().map_err(|_| bad())?;
        return Ok((crate::model::BirthDate::Year(year), true));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| (crate::model::BirthDate::Full(d), false)).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn anything_else_is_unknown() {
        for t in ["https://example.org", "", "HELLO|WORLD", "1|2|3|4|5|6|7|8"] {
            assert_eq!(parse(t), Payload::Unknown { text: t.to_string() });
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse(&s);
            let _ = parse_cccd(&s);
            let _ = parse_health(&s);
        }

        #[test]
        fn pipe_separated_garbage_never_panics(parts in prop::collection::vec("[0-9*\\-NamNữ ]{0,12}", 0..9)) {
            let s = parts.join("|");
            let p = parse(&s);
            let _ = p.person_draft();
        }
    }
}
