//! Which of the codes in a camera frame a screen takes, the same on every
//! front end: a person's screen takes a CCCD or PC-Covid code, enrollment a
//! `VXD1:` code; a code of another kind is named back to the volunteer, and
//! one of the right kind that carries no usable person is "unreadable".

use serde::Serialize;

use super::decode::Charset;
use super::payload::{FieldError, Payload};
use crate::validate::PersonDraft;

/// The person draft a code fills the form with, marked when the code's text
/// had to be guessed from its bytes (the name may be misread: a warning to
/// confirm, `qr.charset_guessed`).
pub fn person_draft(p: &Payload, charset: Charset) -> Option<PersonDraft> {
    let mut d = p.person_draft()?;
    if charset.guessed() && matches!(p, Payload::Cccd(_) | Payload::Health(_)) {
        d.charset_guessed = Some(charset.label());
    }
    Some(d)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPurpose {
    /// The visit: a citizen's chip-ID card or health code.
    Person,
    /// Enrolling the desk: the coordinator's one-time code.
    Enroll,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "choice", rename_all = "snake_case")]
pub enum ScanChoice {
    /// Take the code at this index.
    Take { index: usize },
    /// Only codes of other kinds (the first one's kind, to name it).
    WrongKind { kind: &'static str },
    /// A code of the right kind that cannot fill the form: its errors.
    Unreadable { errors: Vec<FieldError> },
    /// No code at all.
    Nothing,
}

impl ScanPurpose {
    fn wants(self, p: &Payload) -> bool {
        match self {
            ScanPurpose::Person => matches!(p, Payload::Cccd(_) | Payload::Health(_)),
            ScanPurpose::Enroll => matches!(p, Payload::Enroll(_)),
        }
    }
}

/// Choose among the codes read from one frame, in the order read.
pub fn choose(purpose: ScanPurpose, codes: &[Payload]) -> ScanChoice {
    let Some(first) = codes.first() else { return ScanChoice::Nothing };
    let Some((index, hit)) = codes.iter().enumerate().find(|(_, p)| purpose.wants(p)) else {
        return ScanChoice::WrongKind { kind: first.kind() };
    };
    match purpose {
        ScanPurpose::Enroll if hit.errors().is_empty() => ScanChoice::Take { index },
        ScanPurpose::Enroll => ScanChoice::Unreadable { errors: hit.errors().to_vec() },
        // A person code with field errors is still taken while it names
        // someone: the form shows the errors under their fields.
        ScanPurpose::Person => match hit.person_draft() {
            Some(d) if !d.full_name.trim().is_empty() || hit.errors().is_empty() => ScanChoice::Take { index },
            _ => ScanChoice::Unreadable { errors: hit.errors().to_vec() },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::payload::parse;

    const HOA: &str = "022187001234|100234567|Nguyễn Thị Hoa|02051987|Nữ|Hạ Long, Quảng Ninh|15042021";

    #[test]
    fn each_screen_takes_its_kind_and_names_the_others() {
        let enroll = parse(r#"VXD1:{"hub":"https://10.0.0.2:8443","code":"ABCD-EFGH-JKLM"}"#);
        let card = parse(HOA);
        let junk = parse("https://example.com/menu");
        assert_eq!(choose(ScanPurpose::Person, &[]), ScanChoice::Nothing);
        assert_eq!(choose(ScanPurpose::Person, &[junk.clone(), card.clone()]), ScanChoice::Take { index: 1 }, "the card behind a menu's code");
        assert_eq!(choose(ScanPurpose::Person, std::slice::from_ref(&enroll)), ScanChoice::WrongKind { kind: "enroll" });
        assert_eq!(choose(ScanPurpose::Enroll, &[card.clone(), enroll]), ScanChoice::Take { index: 1 });
        assert_eq!(choose(ScanPurpose::Enroll, &[card]), ScanChoice::WrongKind { kind: "cccd" });
        // A card whose fields do not parse at all: unreadable, with the reasons.
        let broken = parse("022187001234|100234567||31021987|Nữ|Hạ Long|15042021");
        match choose(ScanPurpose::Person, &[broken]) {
            ScanChoice::Unreadable { errors } => assert!(errors.iter().any(|e| e.field == "full_name"), "{errors:?}"),
            other => panic!("a card without a name cannot fill the form: {other:?}"),
        }
        // A birth date not on the calendar: the card is misread, not half used.
        let bad_date = parse("022187001234|100234567|Nguyễn Thị Hoa|31021987|Nữ|Hạ Long|15042021");
        match choose(ScanPurpose::Person, &[bad_date]) {
            ScanChoice::Unreadable { errors } => assert_eq!(errors[0].field, "birth_date"),
            other => panic!("{other:?}"),
        }
    }
}
