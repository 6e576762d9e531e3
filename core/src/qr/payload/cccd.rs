//! The chip-ID card's QR (CCCD, 2021 model): REFERENCE §1.1.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{err, sex_of, FieldError, Parsed};
use crate::fold::tidy_nfc;
use crate::model::{IdKind, Sex};
use crate::validate::PersonDraft;

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

