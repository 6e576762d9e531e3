//! A person as typed or scanned, checked and normalised into a `Person`.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{check_national_id, check_text, normalize_phone, Code, Findings, PhoneError};
use crate::fold::tidy_nfc;
use crate::model::{Address, BirthDate, IdKind, NationalId, Person, PersonId, PersonSource, Sex};

/// The longest full name accepted. Vietnamese names rarely pass 40
/// characters; the bound keeps garbage out of exports.
const NAME_MAX: usize = 80;

/// What the volunteer typed or a QR code filled in, before checks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PersonDraft {
    /// Set when editing a person already on record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<String>,
    /// Inferred from the length when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_kind: Option<IdKind>,
    pub full_name: String,
    pub birth_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_insurance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_group: Option<String>,
    #[serde(default)]
    pub source: PersonSource,
    /// The scanned code's bytes were not UTF-8 and were read as this
    /// (`guessed-windows-1258`, ...): the name must be checked against the
    /// card, a warning to confirm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset_guessed: Option<String>,
}

impl From<&Person> for PersonDraft {
    /// A person on record as a draft again (to edit, or to re-check).
    fn from(p: &Person) -> Self {
        PersonDraft {
            id: Some(p.id),
            national_id: p.national_id.as_ref().map(|n| n.number.clone()),
            id_kind: p.national_id.as_ref().map(|n| n.kind),
            full_name: p.full_name.clone(),
            birth_date: p.birth_date.to_string(),
            sex: p.sex,
            phone: p.phone.clone(),
            address: p.address.clone(),
            health_insurance: p.health_insurance.clone(),
            priority_group: p.priority_group.clone(),
            source: p.source,
            charset_guessed: None,
        }
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Check a draft. The person is returned whenever there is no error
/// (warnings still need confirming before a save).
pub fn check_person(d: &PersonDraft, today: NaiveDate) -> (Findings, Option<Person>) {
    let mut out = Findings::default();

    let full_name = check_name(&mut out, &d.full_name);
    if let Some(cs) = &d.charset_guessed {
        out.warn(
            Code::CharsetGuessed,
            "full_name",
            format!("the code's text was not UTF-8 and was read as {}: check the name ({full_name}) against the card", cs.trim_start_matches("guessed-")),
        );
    }

    let birth_date = match d.birth_date.parse::<BirthDate>() {
        Ok(b) => {
            check_birth(&mut out, b, today);
            Some(b)
        }
        Err(_) => {
            out.error(Code::BirthDateFormat, "birth_date", format!("YYYY-MM-DD, DD/MM/YYYY or YYYY expected, got {:?}", d.birth_date));
            None
        }
    };

    let national_id = non_empty(&d.national_id).map(|n| {
        let mut id = NationalId::guess(n);
        if let Some(k) = d.id_kind {
            id.kind = k;
        }
        let (f, _) = check_national_id(&id, d.sex, birth_date, today);
        out.extend(f);
        id
    });

    let phone = non_empty(&d.phone).and_then(|p| match normalize_phone(p) {
        Ok((n, carrier)) => {
            if carrier.is_none() {
                out.warn(Code::PhonePrefixUnknown, "phone", format!("{} is not a known mobile prefix", &n[..3]));
            }
            Some(n)
        }
        Err(PhoneError::Format(_)) => {
            out.error(Code::PhoneFormat, "phone", format!("digits expected, got {p:?}"));
            None
        }
        Err(e @ PhoneError::Length { .. }) => {
            out.error(Code::PhoneLength, "phone", e.to_string());
            None
        }
    });

    let health_insurance = non_empty(&d.health_insurance).map(|h| {
        let h: String = h.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        if !is_health_insurance(&h) {
            out.error(
                Code::HealthInsuranceFormat,
                "health_insurance",
                format!("15 characters (2 letters, 1 digit 1-5, 12 digits) or 10 digits expected, got {h:?}"),
            );
        }
        h
    });

    let address = check_address(&mut out, &d.address);
    let priority_group = non_empty(&d.priority_group).map(|g| check_text(&mut out, "priority_group", g, 40));

    if out.errors().next().is_some() {
        return (out, None);
    }
    let Some(birth_date) = birth_date else { return (out, None) };
    let person = Person {
        id: d.id.unwrap_or_default(),
        national_id,
        full_name,
        birth_date,
        sex: d.sex,
        phone,
        address,
        health_insurance,
        priority_group,
        source: d.source,
    };
    (out, Some(person))
}

fn check_name(out: &mut Findings, raw: &str) -> String {
    if let Some((i, c)) = raw.chars().enumerate().find(|(_, c)| c.is_control()) {
        out.error(Code::TextControlChar, "full_name", format!("control character U+{:04X} at position {}", c as u32, i + 1));
        return String::new();
    }
    let name = tidy_nfc(raw);
    let n = name.chars().count();
    if n == 0 {
        out.error(Code::NameEmpty, "full_name", "a name is required");
    } else if n > NAME_MAX {
        out.error(Code::NameTooLong, "full_name", format!("at most {NAME_MAX} characters, got {n}"));
    } else if let Some((i, c)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_alphabetic() || matches!(c, ' ' | '\'' | '-' | '.') || unicode_normalization::char::is_combining_mark(*c)))
    {
        out.error(Code::NameInvalidChar, "full_name", format!("letters expected, got {c:?} at position {}", i + 1));
    }
    name
}

fn check_birth(out: &mut Findings, b: BirthDate, today: NaiveDate) {
    let future = match b {
        BirthDate::Full(d) => d > today,
        BirthDate::Year(y) => y > today.year(),
    };
    if future {
        out.error(Code::BirthDateFuture, "birth_date", format!("{b} is in the future"));
    } else if b.year() < today.year() - 120 || b.year() < 1900 {
        out.error(Code::BirthDateImplausible, "birth_date", format!("{b} means older than 120 years"));
    }
}

fn is_health_insurance(h: &str) -> bool {
    let b = h.as_bytes();
    let new_form = b.len() == 10 && b.iter().all(u8::is_ascii_digit);
    let card_form = b.len() == 15
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && (b'1'..=b'5').contains(&b[2])
        && b[3..].iter().all(u8::is_ascii_digit);
    new_form || card_form
}

fn check_address(out: &mut Findings, a: &Address) -> Address {
    let mut code = |field: &str, v: &Option<String>, digits: usize| {
        non_empty(v).map(|c| {
            if c.len() != digits || !c.bytes().all(|b| b.is_ascii_digit()) {
                out.error(Code::AddressCode, field, format!("{digits}-digit statistics office code expected, got {c:?}"));
            }
            c.to_string()
        })
    };
    let province_code = code("address.province_code", &a.province_code, 2);
    let district_code = code("address.district_code", &a.district_code, 3);
    let ward_code = code("address.ward_code", &a.ward_code, 5);
    let line = non_empty(&a.line).map(|l| check_text(out, "address.line", l, 200));
    Address { line, province_code, district_code, ward_code }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 9, 1).unwrap()
    }

    fn draft() -> PersonDraft {
        PersonDraft {
            national_id: Some("022187001234".into()),
            full_name: "  Nguyễn   Thị Hoa ".into(),
            birth_date: "1987-05-02".into(),
            sex: Some(Sex::Female),
            phone: Some("+84 912 345 678".into()),
            health_insurance: Some("DN 4 01 0123456789".into()),
            ..Default::default()
        }
    }

    #[test]
    fn good_draft_becomes_a_normalised_person() {
        let (f, p) = check_person(&draft(), today());
        assert!(f.is_empty(), "{f}");
        let p = p.unwrap();
        assert_eq!(p.full_name, "Nguyễn Thị Hoa");
        assert_eq!(p.phone.as_deref(), Some("0912345678"));
        assert_eq!(p.health_insurance.as_deref(), Some("DN4010123456789"));
        assert_eq!(p.national_id.as_ref().unwrap().kind, IdKind::Cccd);
        assert_eq!(p.name_key(), "nguyen thi hoa");
    }

    #[test]
    fn a_person_round_trips_through_a_draft() {
        let (_, p) = check_person(&draft(), today());
        let p = p.unwrap();
        let (f, again) = check_person(&PersonDraft::from(&p), today());
        assert!(f.is_empty(), "{f}");
        assert_eq!(again.unwrap(), p);
    }

    #[test]
    fn warnings_still_give_a_person() {
        let mut d = draft();
        d.sex = Some(Sex::Male);
        let (f, p) = check_person(&d, today());
        assert!(f.has(Code::NationalIdSexMismatch));
        assert!(p.is_some());
    }

    #[test]
    fn errors_name_the_field() {
        let mut d = draft();
        d.full_name = "Nguyen 2".into();
        d.birth_date = "2030-01-01".into();
        d.phone = Some("12345".into());
        d.address.ward_code = Some("12".into());
        let (f, p) = check_person(&d, today());
        assert!(p.is_none());
        let fields: Vec<_> = f.errors().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, vec!["full_name", "birth_date", "phone", "address.ward_code"]);
        assert!(f.0[0].message.contains("'2' at position 8"), "{}", f.0[0].message);
    }
}
