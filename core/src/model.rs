//! The records a desk keeps. Persons and doses are written as immutable events;
//! the current state of a person and their dose history are derived from them
//! (see `docs/adr/0001-records-are-events.md`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7), made on the device that records it.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A person, stable across every event about them.
    PersonId
);
uuid_id!(
    /// One event (a person upsert or a dose record / amend / void).
    EventId
);
uuid_id!(
    /// One visit at a desk, made when the visit starts and kept with it
    /// (across a screen's recreation too). A new person saved in the visit
    /// takes this id, and so does its dose event: a save tried again finds
    /// what the first one wrote instead of writing it twice.
    VisitId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// The word printed on the CCCD card and used by the national platform.
    pub fn vietnamese(self) -> &'static str {
        match self {
            Sex::Male => "Nam",
            Sex::Female => "Nữ",
        }
    }
}

/// Which identity document a number belongs to. A 12-digit number is usually a
/// CCCD, but 12-digit CMND cards were issued 2012–2016, so the kind is recorded
/// rather than guessed from the length every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    Cccd,
    Cmnd,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NationalId {
    pub kind: IdKind,
    pub number: String,
}

impl NationalId {
    /// Infer the kind from the length: 9 digits or fewer → CMND, more → CCCD
    /// (10 or 11 digits is a CCCD with a digit missing far more often than
    /// anything else, and its checks then say "12 digits expected").
    pub fn guess(number: &str) -> Self {
        let number = number.trim().to_string();
        let kind = if number.chars().count() > 9 { IdKind::Cccd } else { IdKind::Cmnd };
        Self { kind, number }
    }
}

/// A birth date as the documents give it: health QR codes may mask day and
/// month, and older paper records only carry the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BirthDate {
    Full(NaiveDate),
    Year(i32),
}

impl BirthDate {
    pub fn year(self) -> i32 {
        match self {
            BirthDate::Full(d) => d.year(),
            BirthDate::Year(y) => y,
        }
    }

    /// Age in whole years on `on`, as a range: exact for a full date, and
    /// `(age-1, age)` when only the year is known.
    pub fn age_range_on(self, on: NaiveDate) -> (i32, i32) {
        match self {
            BirthDate::Full(d) => {
                let mut age = on.year() - d.year();
                if (on.month(), on.day()) < (d.month(), d.day()) {
                    age -= 1;
                }
                (age, age)
            }
            BirthDate::Year(y) => (on.year() - y - 1, on.year() - y),
        }
    }

    /// The earliest day this birth date could be.
    pub fn earliest(self) -> Option<NaiveDate> {
        match self {
            BirthDate::Full(d) => Some(d),
            BirthDate::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1),
        }
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BirthDate::Full(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            BirthDate::Year(y) => write!(f, "{y:04}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("birth_date: expected YYYY-MM-DD, DD/MM/YYYY or YYYY, got {0:?}")]
pub struct BirthDateParseError(pub String);

impl FromStr for BirthDate {
    type Err = BirthDateParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || BirthDateParseError(s.to_string());
        if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().map(BirthDate::Year).map_err(|_| bad());
        }
        for fmt in ["%Y-%m-%d", "%d/%m/%Y"] {
            if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
                return Ok(BirthDate::Full(d));
            }
        }
        Err(bad())
    }
}

impl Serialize for BirthDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BirthDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Administrative codes of the General Statistics Office (province 2 digits,
/// district 3, ward 5), which the national platform takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward_code: Option<String>,
}

/// Where a person's details came from: a scanned card is trusted more than
/// typing, and the hub uses this when it merges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PersonSource {
    CccdQr,
    HealthQr,
    #[default]
    Manual,
}

/// The current state of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalId>,
    /// Unicode NFC, single spaces.
    pub full_name: String,
    pub birth_date: BirthDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Normalised to the 10-digit `0…` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_insurance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_group: Option<String>,
    pub source: PersonSource,
}

impl Person {
    /// The folded key that name search runs on (`Nguyễn Văn An` → `nguyen van an`).
    pub fn name_key(&self) -> String {
        crate::fold::fold(&self.full_name)
    }
}

/// A person upsert: the full new state, so any single event is enough to
/// rebuild the person and a lost intermediate event cannot corrupt them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonEvent {
    pub id: EventId,
    pub person: Person,
    pub device: String,
    /// Warning codes the volunteer confirmed when saving.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirmed: Vec<String>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province_code: Option<String>,
}

/// A citizen registered ahead (on the national health app, by the
/// commune) to come to a site on a day: the site's list, which a
/// coordinator uploads to the hub and the desks pull. The person comes as
/// a person event of its own; this says who is expected, where and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub person_id: PersonId,
    pub site: String,
    /// The appointment day (`Ngày hẹn tiêm`).
    pub appointment: NaiveDate,
}

/// A desk of a site as the hub lists it (its code and name). Not to be
/// confused with [`crate::desk::Desk`], the volunteer's desk on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDesk {
    pub code: String,
    pub site: String,
    pub name: String,
}

/// A clinic day at a desk: which vaccine and lots it is giving today. (A
/// coordinator's log-in on the hub is a `LogIn`, never a session here.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub date: NaiveDate,
    pub site: String,
    pub desk: String,
    pub vaccine: String,
    pub lots: Vec<String>,
}

/// The doctor's screening decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Vaccinated,
    Deferred,
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Vaccinated => "vaccinated",
            Outcome::Deferred => "deferred",
            Outcome::Refused => "refused",
        }
    }
}

/// The content of a dose record (or of its amendment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dose {
    pub vaccine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot_expiry: Option<NaiveDate>,
    /// 1-based, counting boosters after the primary series; `None` when no
    /// dose was given (deferred, refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose_number: Option<u8>,
    pub administered_at: DateTime<FixedOffset>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A dose given before this desk saw the person (another province,
    /// abroad, before vaxdesk), entered so the series counts it. It is
    /// checked only for what is impossible, never against today's schedule,
    /// and is exported as given elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_elsewhere: Option<GivenElsewhere>,
}

/// Where a dose given elsewhere was given, as the citizen or their paper
/// says it ("Bệnh viện Bạch Mai", "Singapore"); empty when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GivenElsewhere {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub place: String,
}

/// Record, or a correction of an earlier record. A correction always points
/// at the record it corrects (the root), never at another correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DoseKind {
    Record,
    Amend { corrects: EventId, reason: String },
    Void { corrects: EventId, reason: String },
}

impl DoseKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            DoseKind::Record => "record",
            DoseKind::Amend { .. } => "amend",
            DoseKind::Void { .. } => "void",
        }
    }

    /// The record this event belongs to.
    pub fn root(&self, own_id: EventId) -> EventId {
        match self {
            DoseKind::Record => own_id,
            DoseKind::Amend { corrects, .. } | DoseKind::Void { corrects, .. } => *corrects,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoseEvent {
    pub id: EventId,
    pub person_id: PersonId,
    pub site: String,
    pub desk: String,
    pub device: String,
    pub kind: DoseKind,
    /// `None` only for a void.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<Dose>,
    /// Warning codes the volunteer confirmed when saving.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirmed: Vec<String>,
    pub recorded_at: DateTime<Utc>,
}

impl DoseEvent {
    pub fn root(&self) -> EventId {
        self.kind.root(self.id)
    }
}

/// One dose as it stands after corrections: what the history, the next-dose
/// rules and the export see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoseRecord {
    /// The id of the original record.
    pub id: EventId,
    pub person_id: PersonId,
    pub site: String,
    pub desk: String,
    pub dose: Dose,
    /// The id of the event whose content is shown (the last amend, or the record).
    pub head: EventId,
    pub amended: bool,
}

/// Fold a person's dose events (in the order they were recorded) into the
/// doses as they stand: amends replace content, voids remove the dose.
pub fn derive_history(events: &[DoseEvent]) -> Vec<DoseRecord> {
    let mut out: Vec<DoseRecord> = Vec::new();
    for e in events {
        match (&e.kind, &e.dose) {
            (DoseKind::Record, Some(d)) => out.push(DoseRecord {
                id: e.id,
                person_id: e.person_id,
                site: e.site.clone(),
                desk: e.desk.clone(),
                dose: d.clone(),
                head: e.id,
                amended: false,
            }),
            (DoseKind::Amend { corrects, .. }, Some(d)) => {
                if let Some(r) = out.iter_mut().find(|r| r.id == *corrects) {
                    r.dose = d.clone();
                    r.head = e.id;
                    r.amended = true;
                }
            }
            (DoseKind::Void { corrects, .. }, _) => out.retain(|r| r.id != *corrects),
            // A record or amend without content cannot be saved (validate
            // refuses it); if one arrives from elsewhere it changes nothing.
            (_, None) => {}
        }
    }
    out.sort_by_key(|r| (r.dose.administered_at, r.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_date_parses_full_and_year_forms() {
        assert_eq!("1987-01-18".parse::<BirthDate>().unwrap().to_string(), "1987-01-18");
        assert_eq!("18/01/1987".parse::<BirthDate>().unwrap().to_string(), "1987-01-18");
        assert_eq!("1987".parse::<BirthDate>().unwrap(), BirthDate::Year(1987));
        assert!("1987-13-01".parse::<BirthDate>().is_err());
        assert!("87".parse::<BirthDate>().is_err());
    }

    #[test]
    fn age_of_year_only_birth_date_is_a_range() {
        let on = NaiveDate::from_ymd_opt(2021, 9, 1).unwrap();
        assert_eq!(BirthDate::Year(2003).age_range_on(on), (17, 18));
        let full = BirthDate::Full(NaiveDate::from_ymd_opt(2003, 9, 2).unwrap());
        assert_eq!(full.age_range_on(on), (17, 17));
    }

    fn dose_at(day: u32) -> Dose {
        Dose {
            vaccine: "AZ".into(),
            lot: Some("L1".into()),
            lot_expiry: None,
            dose_number: Some(1),
            administered_at: DateTime::parse_from_rfc3339(&format!("2021-09-{day:02}T08:00:00+07:00")).unwrap(),
            outcome: Outcome::Vaccinated,
            note: None,
            given_elsewhere: None,
        }
    }

    #[test]
    fn history_applies_amend_and_void() {
        let p = PersonId::new();
        let ev = |kind: DoseKind, dose: Option<Dose>| DoseEvent {
            id: EventId::new(),
            person_id: p,
            site: "S".into(),
            desk: "D".into(),
            device: "dev".into(),
            kind,
            dose,
            confirmed: vec![],
            recorded_at: Utc::now(),
        };
        let a = ev(DoseKind::Record, Some(dose_at(1)));
        let b = ev(DoseKind::Record, Some(dose_at(2)));
        let mut fixed = dose_at(3);
        fixed.lot = Some("L2".into());
        let amend = ev(DoseKind::Amend { corrects: a.id, reason: "wrong lot".into() }, Some(fixed));
        let void = ev(DoseKind::Void { corrects: b.id, reason: "entered twice".into() }, None);
        let h = derive_history(&[a.clone(), b, amend.clone(), void]);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].id, a.id);
        assert_eq!(h[0].head, amend.id);
        assert_eq!(h[0].dose.lot.as_deref(), Some("L2"));
        assert!(h[0].amended);
    }

    #[test]
    fn events_round_trip_through_json() {
        let e = DoseEvent {
            id: EventId::new(),
            person_id: PersonId::new(),
            site: "QN-01".into(),
            desk: "D1".into(),
            device: "dev".into(),
            kind: DoseKind::Void { corrects: EventId::new(), reason: "duplicate".into() },
            dose: None,
            confirmed: vec!["lot.near_expiry".into()],
            recorded_at: Utc::now(),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""type":"void""#), "{json}");
        assert_eq!(serde_json::from_str::<DoseEvent>(&json).unwrap(), e);
    }
}
