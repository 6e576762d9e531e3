//! The national personal health QR (PC-Covid): REFERENCE §1.2.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{err, Parsed};
use crate::fold::tidy_nfc;
use crate::validate::PersonDraft;

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

