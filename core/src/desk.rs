//! The volunteer's operations at one desk: find or add a person, see the dose
//! due, record a dose, correct one. Each save validates first and writes the
//! event with its outbox row in one transaction; a refusal writes nothing.
//! The CLI and the FFI `Desk` object are thin wrappers over this.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::{Dose, DoseEvent, DoseKind, DoseRecord, EventId, GivenElsewhere, Outcome, Person, PersonEvent, PersonId, Session};
use crate::search::{SearchPage, SearchQuery};
use crate::store::{OpenOptions, OutboxCounts, Store, StoreError};
use crate::correction::{CorrectionContext, CorrectionPlan};
use crate::validate::{self, Code, CorrectionTarget, DoseContext, Findings, NextDose, PersonDraft};

mod status;
mod visit;
pub use status::DeskStatus;
pub use visit::{VisitDose, VisitFix, VisitPlan, VisitSave, VisitSaved};

/// Vietnam's offset (UTC+7), the default for dose times.
pub const VIETNAM_OFFSET_SECONDS: i32 = 7 * 3600;

const META_DEVICE: &str = "device_id";
const META_SITE: &str = "site";
const META_DESK: &str = "desk";
const META_OFFSET: &str = "utc_offset_seconds";
const META_SESSION: &str = "session";

/// Who this desk is. The device id is made once, on first open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskConfig {
    pub device_id: String,
    pub site: Option<String>,
    pub desk: Option<String>,
    pub utc_offset_seconds: i32,
}

/// A dose as entered. Missing vaccine and time default to today's session
/// and now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoseDraft {
    pub person: PersonId,
    #[serde(default)]
    pub vaccine: Option<String>,
    #[serde(default)]
    pub lot: Option<String>,
    #[serde(default)]
    pub lot_expiry: Option<NaiveDate>,
    #[serde(default)]
    pub dose_number: Option<u8>,
    #[serde(default)]
    pub administered_at: Option<DateTime<FixedOffset>>,
    pub outcome: Outcome,
    #[serde(default)]
    pub note: Option<String>,
    /// Given before this desk saw the person: vaccine and date are then
    /// required (nothing comes from today's session or clock).
    #[serde(default)]
    pub given_elsewhere: Option<GivenElsewhere>,
}

impl DoseDraft {
    pub fn vaccinated(person: PersonId) -> Self {
        Self {
            person,
            vaccine: None,
            lot: None,
            lot_expiry: None,
            dose_number: None,
            administered_at: None,
            outcome: Outcome::Vaccinated,
            note: None,
            given_elsewhere: None,
        }
    }

    /// A dose given elsewhere, on `at`, of `vaccine`, at `place` (may be empty).
    pub fn given_elsewhere(person: PersonId, vaccine: &str, at: DateTime<FixedOffset>, place: &str) -> Self {
        Self {
            vaccine: Some(vaccine.to_string()),
            administered_at: Some(at),
            given_elsewhere: Some(GivenElsewhere { place: place.to_string() }),
            ..Self::vaccinated(person)
        }
    }

    /// The draft a correction of `record` starts from: everything as stored,
    /// so a field the volunteer does not touch keeps its value (a record
    /// refused yesterday stays yesterday's, whatever today's session is).
    pub fn of_record(record: &DoseRecord) -> Self {
        let d = &record.dose;
        Self {
            person: record.person_id,
            vaccine: Some(d.vaccine.clone()),
            lot: d.lot.clone(),
            lot_expiry: d.lot_expiry,
            dose_number: d.dose_number,
            administered_at: Some(d.administered_at),
            outcome: d.outcome,
            note: d.note.clone(),
            given_elsewhere: d.given_elsewhere.clone(),
        }
    }
}

type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct Desk {
    store: Store,
    catalog: RwLock<Arc<Catalog>>,
    config: RwLock<DeskConfig>,
    clock: Clock,
    /// Held from a save's checks to its commit, so two saves for the same
    /// person cannot both pass the same-day check.
    save_lock: Mutex<()>,
    /// Held for a whole visit's save (person, then dose), so a second tap
    /// waits for the first and then finds it done.
    visit_lock: Mutex<()>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").field("store", &self.store.path()).finish_non_exhaustive()
    }
}

impl Desk {
    pub fn open(path: impl AsRef<Path>) -> Result<Desk> {
        Self::open_with(path, &OpenOptions::default())
    }

    /// Open (or create) the desk's database encrypted under a key derived
    /// from `secret` (the PIN on a phone, a passphrase on a desktop). A wrong
    /// secret is refused (`StoreError::WrongKey`) with nothing written.
    pub fn open_encrypted(path: impl AsRef<Path>, secret: &str) -> Result<Desk> {
        let key = crate::store::DbKey::for_database(path.as_ref(), secret)?;
        Self::open_with(path, &OpenOptions { key: Some(key), ..OpenOptions::default() })
    }

    /// Open the encrypted database at `path` with a key derived earlier
    /// ([`crate::store::DbKey::for_database`]) and kept wrapped by the
    /// phone's keystore: no PIN typed, no Argon2 run (the background sync).
    pub fn open_with_key(path: impl AsRef<Path>, key: crate::store::DbKey) -> Result<Desk> {
        Self::open_with(path, &OpenOptions { key: Some(key), ..OpenOptions::default() })
    }

    /// Change the secret of the closed, encrypted database at `path` (a PIN
    /// change). The old secret must be right.
    pub fn change_secret(path: impl AsRef<Path>, old: &str, new: &str) -> Result<()> {
        let path = path.as_ref();
        let old = crate::store::DbKey::for_database(path, old)?;
        let new = crate::store::DbKey::for_database(path, new)?;
        Ok(Store::rekey(path, Some(&old), Some(&new))?)
    }

    /// Encrypt the closed, plain database at `path` under `secret` (a desk
    /// set up before it had a PIN).
    pub fn encrypt(path: impl AsRef<Path>, secret: &str) -> Result<()> {
        let path = path.as_ref();
        let salt = crate::store::key::salt_path(path);
        if salt.exists() {
            return Err(crate::Error::input("passphrase", "this database already has a key"));
        }
        // The salt is made for a database that has none yet.
        let mut s = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut s);
        std::fs::write(&salt, s).map_err(|source| crate::store::StoreError::Io { path: salt.clone(), source })?;
        let key = crate::store::DbKey::derive(secret, &s)?;
        Store::rekey(path, None, Some(&key)).inspect_err(|_| {
            let _ = std::fs::remove_file(&salt);
        })?;
        Ok(())
    }

    /// Decrypt the closed database at `path` back to a plain file (undoing
    /// [`Desk::encrypt`] when the PIN could not be set after all).
    pub fn decrypt(path: impl AsRef<Path>, secret: &str) -> Result<()> {
        let path = path.as_ref();
        let key = crate::store::DbKey::for_database(path, secret)?;
        Store::rekey(path, Some(&key), None)?;
        let salt = crate::store::key::salt_path(path);
        std::fs::remove_file(&salt).map_err(|source| crate::store::StoreError::Io { path: salt, source })?;
        Ok(())
    }

    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Desk> {
        let store = Store::open_with(path, opts)?;
        let device_id = match store.meta(META_DEVICE)? {
            Some(id) => id,
            None if store.is_read_only() => "read-only".to_string(),
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                store.set_meta(META_DEVICE, &id)?;
                id
            }
        };
        let utc_offset_seconds = store
            .meta(META_OFFSET)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(VIETNAM_OFFSET_SECONDS);
        let config = DeskConfig { device_id, site: store.meta(META_SITE)?, desk: store.meta(META_DESK)?, utc_offset_seconds };
        let catalog = store.catalog()?.unwrap_or_else(Catalog::builtin);
        Ok(Desk {
            store,
            catalog: RwLock::new(Arc::new(catalog)),
            config: RwLock::new(config),
            clock: Arc::new(Utc::now),
            save_lock: Mutex::new(()),
            visit_lock: Mutex::new(()),
        })
    }

    /// Replace the clock (tests, demos replaying a past clinic day).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> DeskConfig {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Name this desk: site code, desk code, and the local UTC offset.
    pub fn set_up(&self, site: &str, desk: &str, utc_offset_seconds: Option<i32>) -> Result<DeskConfig> {
        self.set_up_with(site, desk, utc_offset_seconds, &[])
    }

    /// [`Desk::set_up`] and more settings (an enrollment's hub and token)
    /// in one transaction: everything is checked first, then all of it is
    /// written or none of it.
    pub fn set_up_with(&self, site: &str, desk: &str, utc_offset_seconds: Option<i32>, extra: &[(&str, Option<&str>)]) -> Result<DeskConfig> {
        let site = code_field("site", site)?;
        let desk = code_field("desk", desk)?;
        if let Some(o) = utc_offset_seconds {
            if FixedOffset::east_opt(o).is_none() {
                return Err(Error::input("utc_offset", format!("{o} seconds is not a valid offset")));
            }
        }
        let offset = utc_offset_seconds.map(|o| o.to_string());
        let mut pairs: Vec<(&str, Option<&str>)> = vec![(META_SITE, Some(&site)), (META_DESK, Some(&desk))];
        if let Some(o) = &offset {
            pairs.push((META_OFFSET, Some(o)));
        }
        pairs.extend_from_slice(extra);
        self.store.set_metas(&pairs)?;
        let mut c = self.config.write().unwrap_or_else(|e| e.into_inner());
        c.site = Some(site);
        c.desk = Some(desk);
        if let Some(o) = utc_offset_seconds {
            c.utc_offset_seconds = o;
        }
        Ok(c.clone())
    }

    fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.config().utc_offset_seconds).unwrap_or_else(|| Utc.fix())
    }

    /// Now, in the desk's local offset.
    pub fn now(&self) -> DateTime<FixedOffset> {
        (self.clock)().with_timezone(&self.offset())
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Take a newer catalog (from the hub, or a file). An older or equal
    /// version is refused so a stale file cannot roll rules back.
    pub fn load_catalog(&self, c: Catalog) -> Result<()> {
        match c.may_follow(Some(&self.catalog())) {
            Err(e @ crate::catalog::CatalogError::NotNewer { .. }) => {
                let message = e.to_string().trim_start_matches("catalog.version: ").to_string();
                return Err(Error::input("catalog.version", message));
            }
            other => other?,
        }
        self.store.save_catalog(&c)?;
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(c);
        Ok(())
    }

    /// Use a catalog already stored (pulled from the hub) from now on.
    pub fn adopt_catalog(&self, c: Catalog) {
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(c);
    }

    fn site_and_desk(&self) -> Result<(String, String)> {
        let c = self.config();
        match (c.site, c.desk) {
            (Some(s), Some(d)) => Ok((s, d)),
            _ => Err(Error::NotSetUp("set the site and desk first (vaxdesk init --site CODE --desk CODE)".into())),
        }
    }

    // ---- session ---------------------------------------------------------

    /// Start today's session: the vaccine given at this desk and its lots.
    pub fn start_session(&self, vaccine: &str, lots: &[String]) -> Result<Session> {
        let (site, desk) = self.site_and_desk()?;
        let catalog = self.catalog();
        let Some(v) = catalog.vaccine(vaccine) else {
            let known: Vec<String> = catalog.vaccines.iter().map(|v| format!("{} ({})", v.code, v.name)).collect();
            return Err(Error::input("vaccine", format!("{vaccine:?} is not in catalog v{} (known: {})", catalog.version, known.join(", "))));
        };
        for lot in lots {
            if let Some(other) = catalog.lots_numbered(lot).find(|l| !l.vaccine.eq_ignore_ascii_case(&v.code)) {
                return Err(Error::input("lot", format!("{lot} is a {} lot, not {}", other.vaccine, v.code)));
            }
        }
        let session = Session { date: self.today(), site, desk, vaccine: v.code.clone(), lots: lots.to_vec() };
        self.store.set_meta(META_SESSION, &serde_json::to_string(&session).unwrap_or_default())?;
        Ok(session)
    }

    /// Today's session, if one was started today.
    pub fn session(&self) -> Result<Option<Session>> {
        let Some(text) = self.store.meta(META_SESSION)? else { return Ok(None) };
        let s: Option<Session> = serde_json::from_str(&text).ok();
        Ok(s.filter(|s| s.date == self.today()))
    }

    // ---- persons ---------------------------------------------------------

    /// Check a person draft, including that their national id is not already
    /// someone else's.
    pub fn check_person(&self, draft: &PersonDraft) -> Result<(Findings, Option<Person>)> {
        let (mut findings, person) = validate::check_person(draft, self.today());
        if let Some(p) = &person {
            if let Some(n) = &p.national_id {
                if let Some(holder) = self.store.person_by_national_id(&n.number)? {
                    if holder.id != p.id {
                        findings.error(
                            Code::NationalIdDuplicate,
                            "national_id",
                            format!("{} already belongs to a person on record ({}, born {})", n.number, holder.full_name, holder.birth_date),
                        );
                        return Ok((findings, None));
                    }
                }
            }
        }
        Ok((findings, person))
    }

    /// Save a new person or a change to one. Refused (nothing written) on any
    /// error or unconfirmed warning.
    pub fn save_person(&self, draft: &PersonDraft, confirmed: &[String]) -> Result<Person> {
        self.save_person_with(draft, confirmed, false, EventId::new())
    }

    /// `create`: a draft whose id is not on record makes a new person with
    /// that id (a visit's), instead of being refused as unknown. `event`:
    /// the id of the event written.
    fn save_person_with(&self, draft: &PersonDraft, confirmed: &[String], create: bool, event: EventId) -> Result<Person> {
        let _guard = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = draft.id.filter(|_| !create) {
            if self.store.person(id)?.is_none() {
                return Err(Error::NotFound { what: "person", id: id.to_string() });
            }
        }
        let (findings, person) = self.check_person(draft)?;
        let blocking = findings.blocking(confirmed);
        let Some(person) = person.filter(|_| blocking.is_empty()) else {
            return Err(Error::Refused(blocking));
        };
        let event = PersonEvent {
            id: event,
            person: person.clone(),
            device: self.config().device_id,
            confirmed: findings.confirmed_codes(confirmed),
            recorded_at: (self.clock)(),
        };
        match self.store.append_person_event(&event) {
            Ok(()) => Ok(person),
            Err(StoreError::Duplicate { what: "national_id", value }) => {
                let mut f = Findings::default();
                f.error(Code::NationalIdDuplicate, "national_id", format!("{value} already belongs to a person on record"));
                Err(Error::Refused(f))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The person on record that a scanned or typed draft is about: the
    /// holder of its national id; failing that (a PC-Covid code masks the
    /// id), the only person with the same name and birth year.
    pub fn match_draft(&self, draft: &PersonDraft) -> Result<Option<Person>> {
        let id: String = draft.national_id.as_deref().unwrap_or("").chars().filter(char::is_ascii_digit).collect();
        if id.len() >= 9 && !draft.national_id.as_deref().unwrap_or("").contains('*') {
            return Ok(self.store.person_by_national_id(&id)?);
        }
        let year = draft.birth_date.parse::<crate::model::BirthDate>().ok().map(|b| b.year());
        let name = crate::fold::fold(&draft.full_name);
        if name.is_empty() || year.is_none() {
            return Ok(None);
        }
        let q = SearchQuery { birth_year: year, per_page: 3, ..SearchQuery::new(draft.full_name.clone()) };
        let same: Vec<Person> = self.find(&q)?.hits.into_iter().map(|h| h.person).filter(|p| crate::fold::fold(&p.full_name) == name).collect();
        Ok(if same.len() == 1 { same.into_iter().next() } else { None })
    }

    pub fn person(&self, id: PersonId) -> Result<Person> {
        self.store.person(id)?.ok_or_else(|| Error::NotFound { what: "person", id: id.to_string() })
    }

    pub fn find(&self, q: &SearchQuery) -> Result<SearchPage> {
        Ok(crate::search::search(&self.store, q)?)
    }

    /// A person's doses as they stand.
    pub fn history(&self, person: PersonId) -> Result<Vec<DoseRecord>> {
        Ok(self.store.doses_of(person)?)
    }

    pub fn next_dose(&self, person: PersonId) -> Result<NextDose> {
        let p = self.person(person)?;
        let history = self.history(person)?;
        Ok(validate::next_dose(&self.catalog(), &p, &history))
    }

    // ---- doses -----------------------------------------------------------

    fn dose_from(&self, draft: &DoseDraft) -> Result<Dose> {
        if draft.given_elsewhere.is_some() {
            // Nothing of today applies to a dose given elsewhere.
            let vaccine = draft.vaccine.clone().filter(|v| !v.trim().is_empty()).ok_or_else(|| Error::input("vaccine", "a dose given elsewhere needs its vaccine"))?;
            let at = draft.administered_at.ok_or_else(|| Error::input("administered_at", "a dose given elsewhere needs the date it was given"))?;
            return Ok(Dose {
                vaccine,
                lot: draft.lot.clone(),
                lot_expiry: draft.lot_expiry,
                dose_number: draft.dose_number,
                administered_at: at,
                outcome: draft.outcome,
                note: draft.note.clone(),
                given_elsewhere: draft.given_elsewhere.clone(),
            });
        }
        let session = self.session()?;
        let vaccine = draft
            .vaccine
            .clone()
            .or_else(|| session.as_ref().map(|s| s.vaccine.clone()))
            .ok_or_else(|| Error::input("vaccine", "no vaccine given and no session started today"))?;
        // With one lot in today's session, the lot need not be typed.
        let lot = draft.lot.clone().or_else(|| {
            session.as_ref().filter(|s| s.vaccine.eq_ignore_ascii_case(&vaccine) && s.lots.len() == 1).map(|s| s.lots[0].clone())
        });
        // A lot belongs to a dose given: a deferral or refusal keeps none,
        // whatever the screen sent (the one place this is decided).
        let lot = if draft.outcome == Outcome::Vaccinated { lot } else { None };
        Ok(Dose {
            vaccine,
            lot,
            lot_expiry: draft.lot_expiry,
            dose_number: draft.dose_number,
            administered_at: draft.administered_at.unwrap_or_else(|| self.now()),
            outcome: draft.outcome,
            note: draft.note.clone(),
            given_elsewhere: None,
        })
    }

    /// What saving this draft would find, and the dose as it would be stored.
    pub fn check_dose(&self, draft: &DoseDraft) -> Result<(Findings, Dose)> {
        let person = self.person(draft.person)?;
        let dose = self.dose_from(draft)?;
        let history = self.history(draft.person)?;
        let catalog = self.catalog();
        let ctx = DoseContext { catalog: &catalog, person: &person, history: &history, now: self.now() };
        Ok(validate::check_dose(ctx, &dose))
    }

    /// Record a dose (or a deferral / refusal).
    pub fn record_dose(&self, draft: &DoseDraft, confirmed: &[String]) -> Result<DoseEvent> {
        self.record_dose_as(EventId::new(), draft, confirmed)
    }

    /// [`Desk::record_dose`] with the event's id chosen by the caller (a
    /// visit's, so a retried save finds the first).
    pub(crate) fn record_dose_as(&self, id: EventId, draft: &DoseDraft, confirmed: &[String]) -> Result<DoseEvent> {
        let _guard = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let (findings, dose) = self.check_dose(draft)?;
        self.write_dose(id, draft.person, DoseKind::Record, Some(dose), &findings, confirmed)
    }

    /// Correct a dose record: the new content replaces the old, which stays
    /// in the history of events. Start the draft from
    /// [`Desk::dose_draft_of`] so untouched fields keep their values.
    pub fn amend_dose(&self, target: EventId, draft: &DoseDraft, reason: &str, confirmed: &[String]) -> Result<DoseEvent> {
        self.amend_dose_as(EventId::new(), target, draft, reason, confirmed)
    }

    fn amend_dose_as(&self, id: EventId, target: EventId, draft: &DoseDraft, reason: &str, confirmed: &[String]) -> Result<DoseEvent> {
        let _guard = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let plan = self.plan_correction(target, draft.person, Some(draft), reason)?;
        self.write_dose(id, draft.person, plan.kind, plan.dose, &plan.findings, confirmed)
    }

    /// Void a dose record entered by mistake (wrong person, entered twice).
    pub fn void_dose(&self, target: EventId, reason: &str) -> Result<DoseEvent> {
        let _guard = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let person = self.store.dose_state(target)?.map(|(_, s)| s.person).unwrap_or_default();
        let plan = self.plan_correction(target, person, None, reason)?;
        self.write_dose(EventId::new(), person, plan.kind, plan.dose, &plan.findings, &[])
    }

    /// The draft every correction of a record starts from: the record as it
    /// stands (after earlier corrections). `target` may name the record or
    /// any correction of it.
    pub fn dose_draft_of(&self, target: EventId) -> Result<DoseDraft> {
        let not_found = || Error::NotFound { what: "dose record", id: target.to_string() };
        let (root, state) = self.store.dose_state(target)?.ok_or_else(not_found)?;
        if state.voided {
            return Err(Error::input("corrects", "this dose record was voided: there is nothing left to correct"));
        }
        let record = self.history(state.person)?.into_iter().find(|r| r.id == root).ok_or_else(not_found)?;
        Ok(DoseDraft::of_record(&record))
    }

    /// Plan an amend (`Some(draft)`) or a void of `target` with the shared
    /// correction rules ([`crate::correction::plan`]), at this desk's now.
    fn plan_correction(&self, target: EventId, person: PersonId, draft: Option<&DoseDraft>, reason: &str) -> Result<CorrectionPlan> {
        let state = self.store.dose_state(target)?;
        let t = match state {
            None => CorrectionTarget::Unknown,
            Some((_, s)) if s.voided => CorrectionTarget::Voided,
            Some((_, s)) => CorrectionTarget::Live { person: s.person },
        };
        let root = state.map_or(target, |(root, _)| root);
        if t == CorrectionTarget::Unknown {
            return Err(Error::Refused(validate::check_correction(t, person, reason)));
        }
        let p = self.person(person)?;
        let doses = self.history(person)?;
        let dose = draft.map(|d| self.dose_from(d)).transpose()?;
        let catalog = self.catalog();
        let ctx = CorrectionContext { catalog: &catalog, person: &p, doses: &doses, root, target: t, now: self.now() };
        Ok(crate::correction::plan(ctx, dose, reason))
    }

    /// Correct a dose record, as the queue's "fix" does. When the hub has the
    /// record this is an amend. When the hub refused the record itself it
    /// never had it, and would refuse an amend too: the record is voided here
    /// and the corrected dose recorded afresh, both in one transaction, and
    /// only the fresh record goes to the hub.
    pub fn correct_dose(&self, target: EventId, draft: &DoseDraft, reason: &str, confirmed: &[String]) -> Result<DoseEvent> {
        self.correct_dose_as(EventId::new(), target, draft, reason, confirmed)
    }

    /// [`Desk::correct_dose`] with the id of the event that carries the new
    /// content chosen by the caller.
    pub(crate) fn correct_dose_as(&self, id: EventId, target: EventId, draft: &DoseDraft, reason: &str, confirmed: &[String]) -> Result<DoseEvent> {
        let root = self.store.dose_state(target)?.map(|(root, _)| root).unwrap_or(target);
        if !self.store.is_refused(&root.to_string())? {
            return self.amend_dose_as(id, target, draft, reason, confirmed);
        }
        let _guard = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let plan = self.plan_correction(target, draft.person, Some(draft), reason)?;
        let DoseKind::Amend { reason, .. } = plan.kind else {
            return Err(Error::input("corrects", "a correction with new content is an amend"));
        };
        let void = self.dose_event(EventId::new(), draft.person, DoseKind::Void { corrects: root, reason }, None, &Findings::default(), &[])?;
        let record = self.dose_event(id, draft.person, DoseKind::Record, plan.dose, &plan.findings, confirmed)?;
        self.store.append_replacement(&void, &record)?;
        Ok(record)
    }

    fn write_dose(
        &self,
        id: EventId,
        person: PersonId,
        kind: DoseKind,
        dose: Option<Dose>,
        findings: &Findings,
        confirmed: &[String],
    ) -> Result<DoseEvent> {
        let event = self.dose_event(id, person, kind, dose, findings, confirmed)?;
        self.store.append_dose_event(&event)?;
        Ok(event)
    }

    /// The event a save would write, or the refusal.
    fn dose_event(
        &self,
        id: EventId,
        person: PersonId,
        kind: DoseKind,
        dose: Option<Dose>,
        findings: &Findings,
        confirmed: &[String],
    ) -> Result<DoseEvent> {
        let blocking = findings.blocking(confirmed);
        if !blocking.is_empty() {
            return Err(Error::Refused(blocking));
        }
        let (site, desk) = self.site_and_desk()?;
        let event = DoseEvent {
            id,
            person_id: person,
            site,
            desk,
            device: self.config().device_id,
            kind,
            dose,
            confirmed: findings.confirmed_codes(confirmed),
            recorded_at: (self.clock)(),
        };
        Ok(event)
    }

    /// Doses given today, at this desk only or at every desk this device knows.
    pub fn todays_doses(&self, this_desk_only: bool) -> Result<Vec<DoseRecord>> {
        let desk = if this_desk_only { self.config().desk } else { None };
        Ok(self.store.doses_on(self.today(), desk.as_deref())?)
    }

    pub fn queue(&self) -> Result<OutboxCounts> {
        Ok(self.store.outbox_counts()?)
    }
}

/// Site and desk codes go into exports and URLs: keep them short and plain.
/// Site and desk codes follow the hub's rule (one function for both).
fn code_field(field: &str, v: &str) -> Result<String> {
    validate::check_code(field, v).map_err(|e| Error::input(field, e.message()))
}
