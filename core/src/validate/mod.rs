//! Checks that explain themselves. Every finding carries a stable machine code,
//! a severity and a plain message naming the field and the value seen.
//! Errors block a save; warnings need the volunteer's confirmation, which is
//! stored with the event (DESIGN "Validation explains").

mod code;
mod dose;
mod national_id;
mod person;
mod phone;
mod provinces;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use code::{check_code, CodeError, CODE_MAX};
pub use dose::{check_correction, check_dose, check_dose_content, next_dose, CorrectionTarget, DoseContext, NextDose, NextDoseKind};
pub use national_id::{check_national_id, CccdInfo};
pub use person::{check_person, PersonDraft};
pub use phone::{normalize_phone, Carrier, PhoneError};
pub use provinces::province_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

macro_rules! codes {
    ($($variant:ident = $text:literal,)*) => {
        /// Stable finding codes: scripts, the FFI and the hub match on these
        /// strings, so a code is never renamed once shipped.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($text => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    NationalIdFormat = "national_id.format",
    NationalIdLength = "national_id.length",
    NationalIdProvince = "national_id.province",
    NationalIdCentury = "national_id.century",
    NationalIdSexMismatch = "national_id.sex_mismatch",
    NationalIdBirthYearMismatch = "national_id.birth_year_mismatch",
    NationalIdDuplicate = "national_id.duplicate",
    NameEmpty = "full_name.empty",
    NameTooLong = "full_name.too_long",
    NameInvalidChar = "full_name.invalid_char",
    CharsetGuessed = "qr.charset_guessed",
    BirthDateFormat = "birth_date.format",
    BirthDateFuture = "birth_date.future",
    BirthDateImplausible = "birth_date.implausible",
    PhoneFormat = "phone.format",
    PhoneLength = "phone.length",
    PhonePrefixUnknown = "phone.prefix_unknown",
    HealthInsuranceFormat = "health_insurance.format",
    AddressCode = "address.code",
    TextTooLong = "text.too_long",
    TextControlChar = "text.control_char",
    PersonUnknown = "person.unknown",
    VaccineUnknown = "vaccine.unknown",
    LotMissing = "lot.missing",
    LotUnknown = "lot.unknown",
    LotVaccineMismatch = "lot.vaccine_mismatch",
    LotExpired = "lot.expired",
    LotNearExpiry = "lot.near_expiry",
    AdministeredFuture = "administered_at.future",
    AdministeredBeforeBirth = "administered_at.before_birth",
    AdministeredTooEarly = "administered_at.too_early",
    AdministeredLongAgo = "administered_at.long_ago",
    AgeOutOfRange = "age.out_of_range",
    AgeUncertain = "age.uncertain",
    MixNotAllowed = "dose.mix_not_allowed",
    IntervalShort = "dose.interval_short",
    SeriesComplete = "dose.series_complete",
    NotABooster = "dose.not_a_booster",
    SameDay = "dose.same_day",
    DoseNumberDiffers = "dose.number_differs",
    DoseNumberInvalid = "dose.number_invalid",
    ElsewhereNotGiven = "given_elsewhere.not_vaccinated",
    ReasonMissing = "correction.reason_missing",
    CorrectionTargetUnknown = "correction.target_unknown",
    CorrectionTargetVoided = "correction.target_voided",
    CorrectionOtherPerson = "correction.other_person",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Code::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown finding code {s:?}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// The field the volunteer should look at (`national_id`, `lot`, ...).
    pub field: String,
    /// `field: what was expected, what was seen`.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev} [{}] {}", self.code, self.message)
    }
}

/// What a check found. Empty means "save".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    pub fn error(&mut self, code: Code, field: &str, message: impl Into<String>) {
        self.push(code, Severity::Error, field, message);
    }

    pub fn warn(&mut self, code: Code, field: &str, message: impl Into<String>) {
        self.push(code, Severity::Warning, field, message);
    }

    fn push(&mut self, code: Code, severity: Severity, field: &str, message: impl Into<String>) {
        let message = message.into();
        // Messages name the field first, so they read well on their own.
        let message = if message.starts_with(field) { message } else { format!("{field}: {message}") };
        self.0.push(Finding { code, severity, field: field.to_string(), message });
    }

    pub fn extend(&mut self, other: Findings) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Finding> {
        self.0.iter()
    }

    pub fn has(&self, code: Code) -> bool {
        self.0.iter().any(|f| f.code == code)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.0.iter().filter(|f| f.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.0.iter().filter(|f| f.severity == Severity::Warning)
    }

    /// What stands in the way of saving: every error, and every warning whose
    /// code the volunteer has not confirmed.
    pub fn blocking(&self, confirmed: &[String]) -> Findings {
        Findings(
            self.0
                .iter()
                .filter(|f| f.severity == Severity::Error || !confirmed.iter().any(|c| c == f.code.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The warning codes that were present and confirmed: this is what gets
    /// stored with the event (a confirmation for a warning that did not occur
    /// is not recorded).
    pub fn confirmed_codes(&self, confirmed: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self
            .warnings()
            .map(|f| f.code.as_str().to_string())
            .filter(|c| confirmed.contains(c))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl fmt::Display for Findings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, x) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

/// Free-text fields: no control characters, bounded length. Returns the
/// tidied (NFC, single-spaced) text.
pub(crate) fn check_text(out: &mut Findings, field: &str, value: &str, max_chars: usize) -> String {
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| c.is_control()) {
        out.error(Code::TextControlChar, field, format!("control character U+{:04X} at position {i}", c as u32));
    }
    let tidy = crate::fold::tidy_nfc(value);
    let n = tidy.chars().count();
    if n > max_chars {
        out.error(Code::TextTooLong, field, format!("at most {max_chars} characters, got {n}"));
    }
    tidy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert!(c.as_str().contains('.'), "{c} is not field.reason");
        }
    }

    #[test]
    fn blocking_keeps_errors_and_unconfirmed_warnings() {
        let mut f = Findings::default();
        f.error(Code::LotExpired, "lot", "expired on 2021-08-01");
        f.warn(Code::IntervalShort, "administered_at", "20 days after dose 1, 28 expected");
        f.warn(Code::LotNearExpiry, "lot", "expires in 3 days");
        let confirmed = vec!["dose.interval_short".to_string(), "phone.prefix_unknown".to_string()];
        let b = f.blocking(&confirmed);
        assert_eq!(b.0.iter().map(|x| x.code).collect::<Vec<_>>(), vec![Code::LotExpired, Code::LotNearExpiry]);
        assert_eq!(f.confirmed_codes(&confirmed), vec!["dose.interval_short".to_string()]);
        assert!(f.0[0].message.starts_with("lot: "));
    }
}
