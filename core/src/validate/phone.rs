//! Vietnamese mobile numbers: 10 digits with a leading `0` since the 2018–2019
//! renumbering; `+84` / `84` are accepted and normalised to `0`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Viettel,
    Vinaphone,
    Mobifone,
    Vietnamobile,
    Gmobile,
    Itelecom,
}

/// Three-digit prefixes (REFERENCE §2). 087 (Itelecom) and 052 are listed as
/// unverified there; they are accepted here rather than annoying volunteers.
const PREFIXES: &[(&str, Carrier)] = &[
    ("086", Carrier::Viettel), ("096", Carrier::Viettel), ("097", Carrier::Viettel),
    ("098", Carrier::Viettel), ("032", Carrier::Viettel), ("033", Carrier::Viettel),
    ("034", Carrier::Viettel), ("035", Carrier::Viettel), ("036", Carrier::Viettel),
    ("037", Carrier::Viettel), ("038", Carrier::Viettel), ("039", Carrier::Viettel),
    ("088", Carrier::Vinaphone), ("091", Carrier::Vinaphone), ("094", Carrier::Vinaphone),
    ("081", Carrier::Vinaphone), ("082", Carrier::Vinaphone), ("083", Carrier::Vinaphone),
    ("084", Carrier::Vinaphone), ("085", Carrier::Vinaphone),
    ("089", Carrier::Mobifone), ("090", Carrier::Mobifone), ("093", Carrier::Mobifone),
    ("070", Carrier::Mobifone), ("076", Carrier::Mobifone), ("077", Carrier::Mobifone),
    ("078", Carrier::Mobifone), ("079", Carrier::Mobifone),
    ("092", Carrier::Vietnamobile), ("056", Carrier::Vietnamobile), ("058", Carrier::Vietnamobile),
    ("052", Carrier::Vietnamobile),
    ("099", Carrier::Gmobile), ("059", Carrier::Gmobile),
    ("087", Carrier::Itelecom),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone: only digits, spaces, dots, dashes and a leading + allowed, got {0:?}")]
    Format(String),
    #[error("phone: 10 digits starting with 0 expected (or +84 / 84 and 9 digits), got {digits} digits in {raw:?}")]
    Length { raw: String, digits: usize },
}

/// Normalise to the 10-digit `0…` form. Returns the number and its carrier,
/// `None` when the prefix is not a known mobile prefix (a warning, since new
/// prefixes appear).
pub fn normalize_phone(raw: &str) -> Result<(String, Option<Carrier>), PhoneError> {
    let t = raw.trim();
    let (plus, body) = match t.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-')) {
        return Err(PhoneError::Format(raw.to_string()));
    }
    let digits: String = body.chars().filter(char::is_ascii_digit).collect();
    let national = if plus || (digits.starts_with("84") && digits.len() == 11) {
        match digits.strip_prefix("84") {
            Some(rest) if rest.len() == 9 => format!("0{rest}"),
            _ => return Err(PhoneError::Length { raw: raw.to_string(), digits: digits.len() }),
        }
    } else {
        digits
    };
    if national.len() != 10 || !national.starts_with('0') {
        return Err(PhoneError::Length { raw: raw.to_string(), digits: national.len() });
    }
    let carrier = PREFIXES.iter().find(|(p, _)| national.starts_with(p)).map(|(_, c)| *c);
    Ok((national, carrier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_three_forms() {
        for raw in ["0912345678", "+84912345678", "84912345678", "+84 91 234 5678", "091.234.5678"] {
            assert_eq!(normalize_phone(raw).unwrap(), ("0912345678".to_string(), Some(Carrier::Vinaphone)), "{raw}");
        }
        assert_eq!(normalize_phone("0386000111").unwrap().1, Some(Carrier::Viettel));
        assert_eq!(normalize_phone("0701234567").unwrap().1, Some(Carrier::Mobifone));
    }

    #[test]
    fn refuses_wrong_lengths_and_characters() {
        assert!(matches!(normalize_phone("091234567"), Err(PhoneError::Length { digits: 9, .. })));
        assert!(matches!(normalize_phone("09123456789"), Err(PhoneError::Length { .. })));
        assert!(matches!(normalize_phone("+1 650 555 0100"), Err(PhoneError::Length { .. })));
        assert!(matches!(normalize_phone("09l2345678"), Err(PhoneError::Format(_))));
        assert!(matches!(normalize_phone(""), Err(PhoneError::Format(_))));
        assert!(matches!(normalize_phone("1912345678"), Err(PhoneError::Length { .. })));
    }

    #[test]
    fn unknown_prefix_is_not_an_error() {
        assert_eq!(normalize_phone("0201234567").unwrap(), ("0201234567".to_string(), None));
    }

    proptest! {
        #[test]
        fn every_form_of_a_number_normalises_alike(prefix in prop::sample::select(PREFIXES.iter().map(|p| p.0).collect::<Vec<_>>()), rest in "[0-9]{7}") {
            let local = format!("{prefix}{rest}");
            let intl = format!("+84{}", &local[1..]);
            let bare = format!("84{}", &local[1..]);
            let a = normalize_phone(&local).unwrap();
            prop_assert_eq!(&a, &normalize_phone(&intl).unwrap());
            prop_assert_eq!(&a, &normalize_phone(&bare).unwrap());
            prop_assert_eq!(a.0, local);
            prop_assert!(a.1.is_some());
        }

        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = normalize_phone(&s);
        }
    }
}
