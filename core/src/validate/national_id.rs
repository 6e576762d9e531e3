//! Identity numbers. A CCCD number is `PPP G YY NNNNNN`: province of birth
//! registration, one digit for century and sex, two digits of birth year,
//! six random digits (REFERENCE §2). An old CMND number (9 digits, or 12 for
//! cards of 2012–2016) is opaque: no check digit is public.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::provinces::province_name;
use super::{Code, Findings};
use crate::model::{BirthDate, IdKind, NationalId, Sex};

/// What a CCCD number says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CccdInfo {
    pub province_code: String,
    pub province: String,
    pub sex: Sex,
    pub birth_year: i32,
}

/// Check the number's structure, and cross-check a CCCD against the
/// person's sex and birth year (mismatches are warnings: the card may be
/// right and the typed data wrong, or the other way round).
pub fn check_national_id(
    id: &NationalId,
    sex: Option<Sex>,
    birth: Option<BirthDate>,
    today: NaiveDate,
) -> (Findings, Option<CccdInfo>) {
    let mut out = Findings::default();
    let n = &id.number;
    if let Some((i, c)) = n.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        out.error(Code::NationalIdFormat, "national_id", format!("digits only, got {c:?} at position {}", i + 1));
        return (out, None);
    }
    let ok_len = match id.kind {
        IdKind::Cccd => n.len() == 12,
        IdKind::Cmnd => n.len() == 9 || n.len() == 12,
    };
    if !ok_len {
        let expected = match id.kind {
            IdKind::Cccd => "12 digits",
            IdKind::Cmnd => "9 or 12 digits",
        };
        out.error(Code::NationalIdLength, "national_id", format!("{expected} expected, got {}", n.len()));
        return (out, None);
    }
    if id.kind == IdKind::Cmnd {
        return (out, None);
    }
    let province_code = &n[0..3];
    let Some(province) = province_name(province_code) else {
        out.error(Code::NationalIdProvince, "national_id", format!("{province_code} is not a province code (digits 1-3 of {n})"));
        return (out, None);
    };
    let g = u32::from(n.as_bytes()[3] - b'0');
    let yy: i32 = i32::from(n.as_bytes()[4] - b'0') * 10 + i32::from(n.as_bytes()[5] - b'0');
    let birth_year = 1900 + (g as i32 / 2) * 100 + yy;
    if birth_year > today.year() {
        out.error(
            Code::NationalIdCentury,
            "national_id",
            format!("digit 4 ({g}) with year digits {yy:02} gives birth year {birth_year}, which is in the future"),
        );
        return (out, None);
    }
    let card_sex = if g % 2 == 0 { Sex::Male } else { Sex::Female };
    if let Some(s) = sex {
        if s != card_sex {
            out.warn(
                Code::NationalIdSexMismatch,
                "national_id",
                format!("digit 4 ({g}) says {}, the person is recorded as {}", card_sex.vietnamese(), s.vietnamese()),
            );
        }
    }
    if let Some(b) = birth {
        if b.year() != birth_year {
            out.warn(
                Code::NationalIdBirthYearMismatch,
                "national_id",
                format!("digits 4-6 say born {birth_year}, the person is recorded as born {}", b.year()),
            );
        }
    }
    let info = CccdInfo { province_code: province_code.to_string(), province: province.to_string(), sex: card_sex, birth_year };
    (out, Some(info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 9, 1).unwrap()
    }

    fn cccd(n: &str) -> NationalId {
        NationalId { kind: IdKind::Cccd, number: n.into() }
    }

    #[test]
    fn reads_province_sex_and_year() {
        let (f, info) = check_national_id(&cccd("022187001234"), None, None, today());
        assert!(f.is_empty(), "{f}");
        let info = info.unwrap();
        assert_eq!((info.province.as_str(), info.sex, info.birth_year), ("Quảng Ninh", Sex::Female, 1987));
        let (_, info) = check_national_id(&cccd("001203001234"), None, None, today());
        assert_eq!(info.map(|i| (i.sex, i.birth_year)), Some((Sex::Male, 2003)));
    }

    #[test]
    fn mismatches_are_warnings() {
        let birth = BirthDate::Year(1990);
        let (f, _) = check_national_id(&cccd("022087001234"), Some(Sex::Female), Some(birth), today());
        assert!(f.has(Code::NationalIdSexMismatch) && f.has(Code::NationalIdBirthYearMismatch), "{f}");
        assert_eq!(f.errors().count(), 0);
    }

    #[test]
    fn structural_errors() {
        let cases = [
            ("02218700123", Code::NationalIdLength),
            ("0221870012345", Code::NationalIdLength),
            ("02218700123A", Code::NationalIdFormat),
            ("003187001234", Code::NationalIdProvince),
            ("022487001234", Code::NationalIdCentury),
        ];
        for (n, code) in cases {
            let (f, info) = check_national_id(&cccd(n), None, None, today());
            assert!(f.has(code), "{n}: {f}");
            assert!(info.is_none());
        }
        let msg = check_national_id(&cccd("02218700123"), None, None, today()).0 .0[0].message.clone();
        assert_eq!(msg, "national_id: 12 digits expected, got 11");
    }

    #[test]
    fn cmnd_is_opaque_but_sized() {
        let cmnd = |n: &str| NationalId { kind: IdKind::Cmnd, number: n.into() };
        assert!(check_national_id(&cmnd("123456789"), None, None, today()).0.is_empty());
        assert!(check_national_id(&cmnd("123456789012"), None, None, today()).0.is_empty());
        assert!(check_national_id(&cmnd("12345678"), None, None, today()).0.has(Code::NationalIdLength));
    }

    proptest! {
        #[test]
        fn any_valid_cccd_round_trips_sex_and_year(
            p in prop::sample::select(vec!["001", "022", "079", "096"]),
            year in 1900i32..=2021,
            female in any::<bool>(),
            tail in "[0-9]{6}",
        ) {
            let g = (year - 1900) / 100 * 2 + i32::from(female);
            let n = format!("{p}{g}{:02}{tail}", year % 100);
            let sex = if female { Sex::Female } else { Sex::Male };
            let (f, info) = check_national_id(&cccd(&n), Some(sex), Some(BirthDate::Year(year)), today());
            prop_assert!(f.is_empty(), "{}: {}", n, f);
            let info = info.unwrap();
            prop_assert_eq!((info.sex, info.birth_year), (sex, year));
        }

        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = check_national_id(&cccd(&s), None, None, today());
            let _ = check_national_id(&NationalId { kind: IdKind::Cmnd, number: s }, None, None, today());
        }
    }
}
