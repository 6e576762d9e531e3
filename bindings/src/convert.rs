//! Records that cross the FFI, and their conversions from and to the core's
//! types. Dates and times cross as ISO 8601 text; ids as UUID text.

use vaxdesk_core::desk::{DoseDraft, VisitDose, VisitFix, VisitPlan, VisitSave, VisitSaved};
use vaxdesk_core::model::{Address, DoseEvent, DoseRecord, EventId, GivenElsewhere, IdKind, VisitId, Outcome, Person, PersonId, PersonSource, Session, Sex};
use vaxdesk_core::qr::decode::Code;
use vaxdesk_core::qr::payload::{self, Payload, SignatureStatus};
use vaxdesk_core::search::SearchPage;
use vaxdesk_core::store::ToFixItem;
use vaxdesk_core::sync::SyncReport;
use vaxdesk_core::validate::{self, NextDose, NextDoseKind, PersonDraft};

use crate::VaxdeskError;

fn input(field: &str, detail: String) -> VaxdeskError {
    VaxdeskError::Input { field: field.into(), detail }
}

pub(crate) fn person_id(s: &str) -> Result<PersonId, VaxdeskError> {
    s.parse().map_err(|_| input("person_id", format!("person_id: a UUID expected, got {s:?}")))
}

pub(crate) fn event_id(s: &str) -> Result<EventId, VaxdeskError> {
    s.parse().map_err(|_| input("id", format!("id: a UUID expected, got {s:?}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    pub field: String,
    pub message: String,
}

impl From<validate::Finding> for Finding {
    fn from(f: validate::Finding) -> Self {
        Finding {
            code: f.code.as_str().to_string(),
            severity: match f.severity {
                validate::Severity::Error => Severity::Error,
                validate::Severity::Warning => Severity::Warning,
            },
            field: f.field,
            message: f.message,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrollment {
    pub device_id: String,
    pub site: String,
    pub site_name: String,
    pub desk: String,
    pub desk_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionInfo {
    pub date: String,
    pub site: String,
    pub desk: String,
    pub vaccine: String,
    pub lots: Vec<String>,
}

impl From<Session> for SessionInfo {
    fn from(s: Session) -> Self {
        SessionInfo { date: s.date.to_string(), site: s.site, desk: s.desk, vaccine: s.vaccine, lots: s.lots }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VaccineInfo {
    pub code: String,
    pub name: String,
    pub lots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PersonInfo {
    pub id: String,
    pub national_id: Option<String>,
    pub full_name: String,
    pub birth_date: String,
    /// `male` or `female`.
    pub sex: Option<String>,
    pub phone: Option<String>,
    pub source: String,
}

fn sex_text(s: Sex) -> String {
    match s {
        Sex::Male => "male".into(),
        Sex::Female => "female".into(),
    }
}

fn source_text(s: PersonSource) -> String {
    match s {
        PersonSource::CccdQr => "cccd-qr".into(),
        PersonSource::HealthQr => "health-qr".into(),
        PersonSource::Manual => "manual".into(),
    }
}

impl From<Person> for PersonInfo {
    fn from(p: Person) -> Self {
        PersonInfo {
            id: p.id.to_string(),
            national_id: p.national_id.map(|n| n.number),
            full_name: p.full_name,
            birth_date: p.birth_date.to_string(),
            sex: p.sex.map(sex_text),
            phone: p.phone,
            source: source_text(p.source),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SearchResult {
    pub hits: Vec<PersonInfo>,
    /// Per hit, the appointment day (ISO) of those on the site's registration list.
    pub appointments: Vec<Option<String>>,
    pub total: u32,
    /// More may match: ask for a birth year or another word.
    pub truncated: bool,
    /// The desk's first pull is still taking in the site: names may be
    /// missing (say so, and do not conclude that a person is new).
    pub incomplete: bool,
}

impl From<SearchPage> for SearchResult {
    fn from(p: SearchPage) -> Self {
        let appointments = p.hits.iter().map(|h| h.appointment.map(|d| d.to_string())).collect();
        SearchResult { hits: p.hits.into_iter().map(|h| h.person.into()).collect(), appointments, total: p.total, truncated: p.truncated, incomplete: p.incomplete }
    }
}

/// A person as typed or scanned, before checks. Text as entered.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct PersonDraftInfo {
    pub id: Option<String>,
    pub national_id: Option<String>,
    /// The number is an old CMND even with 12 digits.
    pub cmnd: bool,
    pub full_name: String,
    pub birth_date: String,
    pub sex: Option<String>,
    pub phone: Option<String>,
    pub health_insurance: Option<String>,
    pub priority_group: Option<String>,
    pub address_line: Option<String>,
    pub province_code: Option<String>,
    pub district_code: Option<String>,
    pub ward_code: Option<String>,
    /// `cccd-qr`, `health-qr` or `manual`.
    pub source: String,
    /// Set when the scanned code's text was not UTF-8 (`guessed-windows-1258`,
    /// ...): saving then needs the warning `qr.charset_guessed` confirmed.
    #[uniffi(default = None)]
    pub charset_guessed: Option<String>,
}

impl TryFrom<PersonDraftInfo> for PersonDraft {
    type Error = VaxdeskError;
    fn try_from(d: PersonDraftInfo) -> Result<Self, VaxdeskError> {
        let sex = match d.sex.as_deref() {
            None | Some("") => None,
            Some("male") => Some(Sex::Male),
            Some("female") => Some(Sex::Female),
            Some(other) => return Err(input("sex", format!("sex: male or female expected, got {other:?}"))),
        };
        let source = match d.source.as_str() {
            "cccd-qr" => PersonSource::CccdQr,
            "health-qr" => PersonSource::HealthQr,
            _ => PersonSource::Manual,
        };
        Ok(PersonDraft {
            id: d.id.as_deref().map(person_id).transpose()?,
            national_id: d.national_id,
            id_kind: d.cmnd.then_some(IdKind::Cmnd),
            full_name: d.full_name,
            birth_date: d.birth_date,
            sex,
            phone: d.phone,
            address: Address { line: d.address_line, province_code: d.province_code, district_code: d.district_code, ward_code: d.ward_code },
            health_insurance: d.health_insurance,
            priority_group: d.priority_group,
            source,
            charset_guessed: d.charset_guessed,
        })
    }
}

impl From<PersonDraft> for PersonDraftInfo {
    fn from(d: PersonDraft) -> Self {
        PersonDraftInfo {
            id: d.id.map(|i| i.to_string()),
            national_id: d.national_id,
            cmnd: d.id_kind == Some(IdKind::Cmnd),
            full_name: d.full_name,
            birth_date: d.birth_date,
            sex: d.sex.map(sex_text),
            phone: d.phone,
            health_insurance: d.health_insurance,
            priority_group: d.priority_group,
            address_line: d.address.line,
            province_code: d.address.province_code,
            district_code: d.address.district_code,
            ward_code: d.address.ward_code,
            source: source_text(d.source),
            charset_guessed: d.charset_guessed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NextDoseInfo {
    /// `primary`, `booster` or `complete`.
    pub kind: String,
    pub dose_number: u8,
    pub earliest: Option<String>,
    pub recommended: Option<String>,
    pub vaccines: Vec<String>,
}

impl From<NextDose> for NextDoseInfo {
    fn from(n: NextDose) -> Self {
        let kind = match n.kind {
            NextDoseKind::Primary => "primary",
            NextDoseKind::Booster => "booster",
            NextDoseKind::Complete => "complete",
        };
        NextDoseInfo {
            kind: kind.into(),
            dose_number: n.dose_number,
            earliest: n.earliest.map(|d| d.to_string()),
            recommended: n.recommended.map(|d| d.to_string()),
            vaccines: n.vaccines,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DoseOutcome {
    Vaccinated,
    Deferred,
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DoseDraftInfo {
    pub person_id: String,
    /// Default: today's session.
    pub vaccine: Option<String>,
    pub lot: Option<String>,
    pub lot_expiry: Option<String>,
    pub dose_number: Option<u8>,
    /// RFC 3339, or a day with an optional time ("14/09/2021 08:30") in
    /// the desk's offset; default now.
    pub administered_at: Option<String>,
    pub outcome: DoseOutcome,
    pub note: Option<String>,
    /// `Some(place)` for a dose given before this desk saw the person (the
    /// place may be empty when unknown): vaccine and time are then required,
    /// and only what is impossible is refused.
    pub given_elsewhere: Option<String>,
}

/// A dose draft from the shell. `administered_at` is RFC 3339, or a day
/// (`YYYY-MM-DD` / `DD/MM/YYYY`) with an optional `HH:MM` in the desk's
/// `offset` (a dose given elsewhere is often known by its day only).
pub(crate) fn dose_draft(d: DoseDraftInfo, offset: chrono::FixedOffset) -> Result<DoseDraft, VaxdeskError> {
    let lot_expiry = d
        .lot_expiry
        .as_deref()
        .map(|s| vaxdesk_core::dates::parse_day("lot_expiry", s))
        .transpose()?;
    let administered_at = d
        .administered_at
        .as_deref()
        .map(|s| vaxdesk_core::dates::parse_moment("administered_at", s, offset).map(|m| m.at))
        .transpose()?;
    Ok(DoseDraft {
        person: person_id(&d.person_id)?,
        vaccine: d.vaccine,
        lot: d.lot,
        lot_expiry,
        dose_number: d.dose_number,
        administered_at,
        outcome: outcome_of(d.outcome),
        note: d.note,
        given_elsewhere: d.given_elsewhere.map(|place| GivenElsewhere { place }),
    })
}

impl From<DoseDraft> for DoseDraftInfo {
    fn from(d: DoseDraft) -> Self {
        DoseDraftInfo {
            person_id: d.person.to_string(),
            vaccine: d.vaccine,
            lot: d.lot,
            lot_expiry: d.lot_expiry.map(|e| e.to_string()),
            dose_number: d.dose_number,
            administered_at: d.administered_at.map(|t| t.to_rfc3339()),
            outcome: outcome(d.outcome),
            note: d.note,
            given_elsewhere: d.given_elsewhere.map(|g| g.place),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DoseInfo {
    /// The record's id (amends and voids point at it).
    pub id: String,
    pub person_id: String,
    pub desk: String,
    pub vaccine: String,
    pub lot: Option<String>,
    pub lot_expiry: Option<String>,
    pub dose_number: Option<u8>,
    pub administered_at: String,
    pub outcome: DoseOutcome,
    pub amended: bool,
    /// Where a dose given elsewhere was given (may be empty); `None` for a
    /// dose given at a vaxdesk desk.
    pub given_elsewhere: Option<String>,
}

fn outcome_of(o: DoseOutcome) -> Outcome {
    match o {
        DoseOutcome::Vaccinated => Outcome::Vaccinated,
        DoseOutcome::Deferred => Outcome::Deferred,
        DoseOutcome::Refused => Outcome::Refused,
    }
}

fn outcome(o: Outcome) -> DoseOutcome {
    match o {
        Outcome::Vaccinated => DoseOutcome::Vaccinated,
        Outcome::Deferred => DoseOutcome::Deferred,
        Outcome::Refused => DoseOutcome::Refused,
    }
}

impl From<DoseRecord> for DoseInfo {
    fn from(r: DoseRecord) -> Self {
        DoseInfo {
            id: r.id.to_string(),
            person_id: r.person_id.to_string(),
            desk: r.desk,
            vaccine: r.dose.vaccine,
            lot: r.dose.lot,
            lot_expiry: r.dose.lot_expiry.map(|d| d.to_string()),
            dose_number: r.dose.dose_number,
            administered_at: r.dose.administered_at.to_rfc3339(),
            outcome: outcome(r.dose.outcome),
            amended: r.amended,
            given_elsewhere: r.dose.given_elsewhere.map(|g| g.place),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SavedEvent {
    pub id: String,
    /// `record`, `amend` or `void`.
    pub kind: String,
    /// The dose as stored (the session's vaccine and lot filled in).
    pub vaccine: Option<String>,
    pub lot: Option<String>,
    pub dose_number: Option<u8>,
    /// Warning codes stored with the event as confirmed.
    pub confirmed: Vec<String>,
}

impl From<DoseEvent> for SavedEvent {
    fn from(e: DoseEvent) -> Self {
        let (vaccine, lot, dose_number) = match e.dose {
            Some(d) => (Some(d.vaccine), d.lot, d.dose_number),
            None => (None, None, None),
        };
        SavedEvent { id: e.id.to_string(), kind: e.kind.as_str().into(), vaccine, lot, dose_number, confirmed: e.confirmed }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ToFix {
    pub event_id: String,
    /// `person` or `dose`.
    pub stream: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub person_id: Option<String>,
    /// For a dose: the record to correct (`correct_dose`).
    pub record_id: Option<String>,
}

impl From<ToFixItem> for ToFix {
    fn from(t: ToFixItem) -> Self {
        let e = t.entry;
        ToFix { event_id: e.event_id, stream: e.stream, code: e.reject_code, message: e.reject_message, person_id: t.person_id, record_id: t.record_id }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueueInfo {
    pub pending: u64,
    pub sent: u64,
    pub accepted: u64,
    pub to_fix: Vec<ToFix>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncInfo {
    pub pushed: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub pulled: u64,
    pub retries: u64,
    pub bytes_sent: u64,
}

impl From<SyncReport> for SyncInfo {
    fn from(r: SyncReport) -> Self {
        SyncInfo { pushed: r.pushed, accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected, pulled: r.pulled, retries: r.retries, bytes_sent: r.bytes_sent }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StatusInfo {
    pub hub: Option<String>,
    pub last_sync: Option<String>,
    pub device_id: String,
    pub site: Option<String>,
    pub desk: Option<String>,
    pub site_name: Option<String>,
    pub desk_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldErrorInfo {
    pub field: String,
    pub message: String,
}

/// A scanned (or typed) code: what it is, its problems, and the person
/// draft it fills in, if any.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScanResult {
    pub text: String,
    /// `cccd`, `health`, `hc1`, `enroll` or `unknown`.
    pub kind: String,
    pub errors: Vec<FieldErrorInfo>,
    pub draft: Option<PersonDraftInfo>,
    /// Fields a PC-Covid code masks, for the volunteer to complete.
    pub masked_fields: Vec<String>,
    /// The decoder step that read it (None for typed text).
    pub step: Option<String>,
    /// How the code's bytes were read: `utf-8`, `eci-<n>` or `guessed-<name>`
    /// (typed text is `utf-8`).
    pub charset: String,
}

impl ScanResult {
    pub(crate) fn from_code(c: Code) -> ScanResult {
        let mut r = ScanResult::from_text(c.text.clone(), Some(c.step.to_string()));
        let p = payload::parse(&c.text);
        r.draft = vaxdesk_core::qr::scan::person_draft(&p, c.charset).map(Into::into);
        r.charset = c.charset.label();
        r
    }

    pub(crate) fn from_text(text: String, step: Option<String>) -> ScanResult {
        let p = payload::parse(&text);
        let masked_fields = match &p {
            Payload::Health(h) => h.value.as_ref().map(|v| v.masked_fields().into_iter().map(str::to_string).collect()).unwrap_or_default(),
            _ => Vec::new(),
        };
        ScanResult {
            kind: p.kind().into(),
            errors: p.errors().iter().map(|e| FieldErrorInfo { field: e.field.clone(), message: e.message.clone() }).collect(),
            draft: p.person_draft().map(Into::into),
            masked_fields,
            step,
            text,
            charset: "utf-8".into(),
        }
    }
}

/// A certificate and what the desk's trust list says of it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CertificateInfo {
    /// The `HC1:` text the QR carries.
    pub text: String,
    /// `verified`, `unknown_key`, `bad_signature` or `unsupported_algorithm`.
    pub signature: String,
    pub expired: bool,
    /// Signed by a signer this desk trusts, and not expired.
    pub valid: bool,
    pub name: String,
    pub birth_date: String,
    pub dose_number: u32,
    pub series_doses: u32,
    /// The date of the dose it certifies.
    pub date: String,
}

impl CertificateInfo {
    /// The core's one verdict ([`vaxdesk_core::cert::verdict`]) as the shell shows it.
    pub(crate) fn from_verdict(text: String, v: vaxdesk_core::cert::CertVerdict) -> Self {
        CertificateInfo {
            text,
            signature: match v.signature {
                SignatureStatus::Verified => "verified",
                SignatureStatus::UnknownKey => "unknown_key",
                SignatureStatus::BadSignature => "bad_signature",
                SignatureStatus::UnsupportedAlgorithm => "unsupported_algorithm",
            }
            .into(),
            expired: v.expired,
            valid: v.valid,
            name: v.holder,
            birth_date: v.birth_date,
            dose_number: v.dose_number,
            series_doses: v.series_doses,
            date: v.date,
        }
    }
}

/// A QR code's modules for the shell to draw: `size` × `size`, row by row, 1 = dark.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QrModules {
    pub size: u32,
    pub dark: Vec<u8>,
}

/// What the desk knows of a visit before the volunteer taps anything.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitPlanInfo {
    /// The person on record the scan or typing is about.
    pub matched: Option<PersonInfo>,
    /// The record on file completed by the scan, or the scan for someone new.
    pub draft: PersonDraftInfo,
    pub next: Option<NextDoseInfo>,
    pub findings: Vec<Finding>,
    /// On the site's registration list: the appointment day (ISO), for
    /// "Đã đăng ký, hẹn ngày …".
    pub appointment: Option<String>,
}

impl From<VisitPlan> for VisitPlanInfo {
    fn from(p: VisitPlan) -> Self {
        VisitPlanInfo {
            matched: p.matched.map(Into::into),
            draft: p.draft.into(),
            next: p.next.map(Into::into),
            findings: p.findings.0.into_iter().map(Into::into).collect(),
            appointment: p.appointment.map(|d| d.to_string()),
        }
    }
}

/// Today's dose in a visit: vaccine and lot default to the session's.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitDoseInfo {
    pub vaccine: Option<String>,
    pub lot: Option<String>,
    pub outcome: DoseOutcome,
    pub note: Option<String>,
}

/// A visit to save. `visit_id` is made once when the visit starts
/// ([`crate::new_visit_id`]) and kept with it: saving it again does nothing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitSaveInfo {
    pub visit_id: String,
    pub person: PersonDraftInfo,
    /// None: the person only.
    pub dose: Option<VisitDoseInfo>,
    /// The refused dose record this visit corrects (with `fix_reason`).
    pub fix_record: Option<String>,
    /// Set for a fix: why (a person fix has no `fix_record`).
    pub fix_reason: Option<String>,
    pub confirmed: Vec<String>,
}

impl TryFrom<VisitSaveInfo> for VisitSave {
    type Error = VaxdeskError;
    fn try_from(v: VisitSaveInfo) -> Result<Self, VaxdeskError> {
        let visit = v.visit_id.parse::<VisitId>().map_err(|_| input("visit_id", format!("visit_id: a UUID expected, got {:?}", v.visit_id)))?;
        let record = v.fix_record.as_deref().map(event_id).transpose()?;
        let fix = match (record, v.fix_reason) {
            (record, Some(reason)) => Some(VisitFix { record, reason }),
            (Some(_), None) => return Err(input("fix_reason", "fix_reason: a correction needs its reason".into())),
            (None, None) => None,
        };
        Ok(VisitSave {
            visit,
            person: v.person.try_into()?,
            dose: v.dose.map(|d| VisitDose { vaccine: d.vaccine, lot: d.lot, outcome: outcome_of(d.outcome), note: d.note }),
            fix,
            confirmed: v.confirmed,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitSavedInfo {
    pub person: PersonInfo,
    pub person_saved: bool,
    pub dose: Option<SavedEvent>,
    /// Saved before; nothing written now.
    pub repeated: bool,
}

impl From<VisitSaved> for VisitSavedInfo {
    fn from(v: VisitSaved) -> Self {
        VisitSavedInfo { person: v.person.into(), person_saved: v.person_saved, dose: v.dose.map(Into::into), repeated: v.repeated }
    }
}

/// What a screen scans for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ScanPurpose {
    Person,
    Enroll,
}

/// The core's choice among one frame's codes ([`vaxdesk_core::qr::scan::choose`]).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScanChoiceInfo {
    /// Take `found[taken]`.
    pub taken: Option<u32>,
    /// Only codes of other kinds: the first one's kind, to name it.
    pub wrong_kind: Option<String>,
    /// A code of the right kind that cannot fill the form: why.
    pub unreadable: Vec<FieldErrorInfo>,
}

pub(crate) fn scan_choice(purpose: ScanPurpose, found: &[ScanResult]) -> ScanChoiceInfo {
    use vaxdesk_core::qr::scan::{choose, ScanChoice, ScanPurpose as P};
    let payloads: Vec<Payload> = found.iter().map(|r| payload::parse(&r.text)).collect();
    let p = match purpose {
        ScanPurpose::Person => P::Person,
        ScanPurpose::Enroll => P::Enroll,
    };
    let none = ScanChoiceInfo { taken: None, wrong_kind: None, unreadable: vec![] };
    match choose(p, &payloads) {
        ScanChoice::Take { index } => ScanChoiceInfo { taken: u32::try_from(index).ok(), ..none },
        ScanChoice::WrongKind { kind } => ScanChoiceInfo { wrong_kind: Some(kind.into()), ..none },
        ScanChoice::Unreadable { errors } => ScanChoiceInfo { unreadable: errors.into_iter().map(|e| FieldErrorInfo { field: e.field, message: e.message }).collect(), ..none },
        ScanChoice::Nothing => none,
    }
}
