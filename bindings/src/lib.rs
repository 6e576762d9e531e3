//! vaxdesk-ffi: the core's surface for the Android shell, through uniffi.
//! Thin by design: records that mirror the core's types, two objects
//! (`Desk`, `Scanner`) that hold the core's and forward calls, and one error
//! enum with stable codes. No decision is taken here. Every call blocks and
//! is safe from many threads at once; Kotlin calls them off the main thread.
//! See `docs/adr/0004-ffi-surface.md`.

mod convert;
mod error;

use std::sync::Arc;
use std::time::Instant;

use vaxdesk_core::desk::Desk as CoreDesk;
use vaxdesk_core::qr::decode::{decode, decode_with, Effort, Frame};
use vaxdesk_core::search::SearchQuery;
use vaxdesk_core::sync::SyncOptions;

pub use convert::*;
pub use error::VaxdeskError;

uniffi::setup_scaffolding!();

type Result<T> = std::result::Result<T, VaxdeskError>;

/// One volunteer's desk: its database, catalog and sync state.
#[derive(Debug, uniffi::Object)]
pub struct Desk {
    inner: CoreDesk,
}

impl Desk {
    /// A draft from the shell, its typed times in this desk's offset.
    fn dose_draft(&self, d: DoseDraftInfo) -> Result<vaxdesk_core::desk::DoseDraft> {
        convert::dose_draft(d, *self.inner.now().offset())
    }
}

#[uniffi::export]
impl Desk {
    /// Open (or create) the desk's database; with a passphrase (the PIN),
    /// encrypted at rest (SQLCipher, key by Argon2id). A wrong one fails with
    /// `Storage` code `storage.wrong_key` and changes nothing.
    #[uniffi::constructor]
    pub fn open(path: String, passphrase: Option<String>) -> Result<Arc<Self>> {
        let inner = match passphrase.filter(|p| !p.is_empty()) {
            Some(p) => CoreDesk::open_encrypted(&path, &p)?,
            None => CoreDesk::open(&path)?,
        };
        Ok(Arc::new(Desk { inner }))
    }

    /// Open the encrypted database with a key from [`database_key`], kept
    /// wrapped by the phone's keystore: how the background sync opens the
    /// desk without the PIN typed. A wrong key is `storage.wrong_key`.
    #[uniffi::constructor]
    pub fn open_with_key(path: String, key: Vec<u8>) -> Result<Arc<Self>> {
        let key = zeroize::Zeroizing::new(key);
        let key = vaxdesk_core::store::DbKey::from_bytes(&key).map_err(|e| VaxdeskError::Input { field: "key".into(), detail: e.to_string() })?;
        Ok(Arc::new(Desk { inner: CoreDesk::open_with_key(&path, key)? }))
    }

    pub fn device_id(&self) -> String {
        self.inner.config().device_id
    }

    /// Enroll with the hub named in a scanned `VXD1:` code (https only: a
    /// phone refuses a plain-http hub). Retried while the network is the
    /// trouble; a reply lost on the way is safe to retry with the same code
    /// (the code stays pending: see `pending_enrollment`).
    pub fn enroll(&self, code_text: String, device_name: Option<String>) -> Result<Enrollment> {
        let r = vaxdesk_core::sync::enroll(&self.inner, &code_text, device_name.as_deref())?;
        Ok(Enrollment { device_id: r.device_id, site: r.site.code, site_name: r.site.name, desk: r.desk.code, desk_name: r.desk.name })
    }

    /// The code of an enrollment started and not finished (its reply was
    /// lost): enrolling with it again, or the next sync, finishes it.
    pub fn pending_enrollment(&self) -> Result<Option<String>> {
        Ok(vaxdesk_core::sync::pending_enrollment(&self.inner)?.map(|p| p.text))
    }

    pub fn start_session(&self, vaccine: String, lots: Vec<String>) -> Result<SessionInfo> {
        Ok(self.inner.start_session(&vaccine, &lots)?.into())
    }

    pub fn session(&self) -> Result<Option<SessionInfo>> {
        Ok(self.inner.session()?.map(Into::into))
    }

    /// Vaccines and lots of the catalog in force, for the session screen.
    pub fn vaccines(&self) -> Vec<VaccineInfo> {
        let c = self.inner.catalog();
        c.vaccines.iter().map(|v| VaccineInfo { code: v.code.clone(), name: v.name.clone(), lots: c.lots_of(&v.code).map(|l| l.number.clone()).collect() }).collect()
    }

    pub fn find(&self, text: String, birth_year: Option<i32>, page: u32) -> Result<SearchResult> {
        let q = SearchQuery { text, birth_year, page, per_page: 20 };
        Ok(self.inner.find(&q)?.into())
    }

    /// The person on record a scanned draft is about, if any.
    pub fn match_draft(&self, draft: PersonDraftInfo) -> Result<Option<PersonInfo>> {
        Ok(self.inner.match_draft(&draft.try_into()?)?.map(Into::into))
    }

    /// A person on record as a draft, every field kept, to edit and save again.
    pub fn draft_of(&self, person_id: String) -> Result<PersonDraftInfo> {
        let p = self.inner.person(convert::person_id(&person_id)?)?;
        Ok(vaxdesk_core::validate::PersonDraft::from(&p).into())
    }

    pub fn person(&self, id: String) -> Result<PersonInfo> {
        Ok(self.inner.person(convert::person_id(&id)?)?.into())
    }

    /// What a checked person draft would find (errors and warnings by field).
    pub fn check_person(&self, draft: PersonDraftInfo) -> Result<Vec<Finding>> {
        let (f, _) = self.inner.check_person(&draft.try_into()?)?;
        Ok(f.0.into_iter().map(Into::into).collect())
    }

    pub fn save_person(&self, draft: PersonDraftInfo, confirmed: Vec<String>) -> Result<PersonInfo> {
        Ok(self.inner.save_person(&draft.try_into()?, &confirmed)?.into())
    }

    /// The match, the record completed by the scan, the dose due and the
    /// person's findings: what the visit screen shows first.
    pub fn prepare_visit(&self, scanned: PersonDraftInfo) -> Result<VisitPlanInfo> {
        Ok(self.inner.prepare_visit(&scanned.try_into()?)?.into())
    }

    /// Save a visit: the person when new or changed, then the dose (or the
    /// correction of a refused record). The same visit saved again writes
    /// nothing and says so.
    pub fn save_visit(&self, visit: VisitSaveInfo) -> Result<VisitSavedInfo> {
        Ok(self.inner.save_visit(&visit.try_into()?)?.into())
    }

    pub fn next_dose(&self, person_id: String) -> Result<NextDoseInfo> {
        Ok(self.inner.next_dose(convert::person_id(&person_id)?)?.into())
    }

    pub fn history(&self, person_id: String) -> Result<Vec<DoseInfo>> {
        Ok(self.inner.history(convert::person_id(&person_id)?)?.into_iter().map(Into::into).collect())
    }

    pub fn check_dose(&self, draft: DoseDraftInfo) -> Result<Vec<Finding>> {
        let (f, _) = self.inner.check_dose(&self.dose_draft(draft)?)?;
        Ok(f.0.into_iter().map(Into::into).collect())
    }

    pub fn record_dose(&self, draft: DoseDraftInfo, confirmed: Vec<String>) -> Result<SavedEvent> {
        Ok(self.inner.record_dose(&self.dose_draft(draft)?, &confirmed)?.into())
    }

    pub fn amend_dose(&self, id: String, draft: DoseDraftInfo, reason: String, confirmed: Vec<String>) -> Result<SavedEvent> {
        Ok(self.inner.amend_dose(convert::event_id(&id)?, &self.dose_draft(draft)?, &reason, &confirmed)?.into())
    }

    /// The draft every correction starts from: the record as it stands, its
    /// vaccine, time and lot kept (nothing moves to today's session).
    pub fn dose_draft_of(&self, id: String) -> Result<DoseDraftInfo> {
        Ok(self.inner.dose_draft_of(convert::event_id(&id)?)?.into())
    }

    /// Correct a record from the queue: an amend, or a fresh record when the
    /// hub refused the record itself (the core decides).
    pub fn correct_dose(&self, id: String, draft: DoseDraftInfo, reason: String, confirmed: Vec<String>) -> Result<SavedEvent> {
        Ok(self.inner.correct_dose(convert::event_id(&id)?, &self.dose_draft(draft)?, &reason, &confirmed)?.into())
    }

    pub fn void_dose(&self, id: String, reason: String) -> Result<SavedEvent> {
        Ok(self.inner.void_dose(convert::event_id(&id)?, &reason)?.into())
    }

    pub fn todays_doses(&self) -> Result<Vec<DoseInfo>> {
        Ok(self.inner.todays_doses(true)?.into_iter().map(Into::into).collect())
    }

    /// Pending, sent, accepted, and the to-fix list with the hub's reasons.
    pub fn queue(&self) -> Result<QueueInfo> {
        let s = self.inner.status()?;
        let q = s.queue;
        Ok(QueueInfo { pending: q.pending, sent: q.sent, accepted: q.accepted, to_fix: s.to_fix.into_iter().map(Into::into).collect() })
    }

    /// Push and pull now (blocking; retries with backoff inside).
    pub fn sync_now(&self) -> Result<SyncInfo> {
        Ok(vaxdesk_core::sync::sync_once(&self.inner, &SyncOptions::default())?.into())
    }

    /// The certificate the hub signs for a person (their doses must have
    /// reached it: sync first), checked against this desk's trust list.
    /// `Sync` with code `cert.not_eligible` before the series is complete.
    pub fn certificate(&self, person_id: String) -> Result<CertificateInfo> {
        let reply = vaxdesk_core::sync::fetch_certificate(&self.inner, convert::person_id(&person_id)?, &SyncOptions::default())?;
        self.verify_certificate(reply.text)
    }

    /// Check a certificate offline against the signers this desk trusts.
    pub fn verify_certificate(&self, text: String) -> Result<CertificateInfo> {
        let v = self.inner.certificate_verdict(&text)?;
        Ok(CertificateInfo::from_verdict(text, v))
    }

    pub fn status(&self) -> Result<StatusInfo> {
        let s = self.inner.status()?;
        Ok(StatusInfo {
            hub: s.hub,
            last_sync: s.last_sync,
            device_id: s.device_id,
            site: s.site,
            desk: s.desk,
            site_name: s.site_name,
            desk_name: s.desk_name,
        })
    }
}

/// Reads QR codes from camera frames.
#[derive(Debug, Default, uniffi::Object)]
pub struct Scanner {}

#[uniffi::export]
impl Scanner {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Scanner {})
    }

    /// Decode a luma plane read in place (a direct ByteBuffer from Kotlin:
    /// the Y plane of YUV_420_888, with its row stride).
    pub fn decode(&self, frame: &[u8], width: u32, height: u32, stride: u32) -> Result<Vec<ScanResult>> {
        let f = Frame::new(frame, width as usize, height as usize, stride as usize)?;
        Ok(decode(&f).into_iter().map(ScanResult::from_code).collect())
    }

    /// The fast path only (about a millisecond on a 720p frame): for most
    /// live camera frames, with [`Scanner::decode`] every few frames.
    pub fn decode_quick(&self, frame: &[u8], width: u32, height: u32, stride: u32) -> Result<Vec<ScanResult>> {
        let f = Frame::new(frame, width as usize, height as usize, stride as usize)?;
        Ok(decode_with(&f, Effort::Quick).into_iter().map(ScanResult::from_code).collect())
    }

    /// The same from a copied ByteArray (for callers that hold one).
    pub fn decode_copy(&self, frame: Vec<u8>, width: u32, height: u32, stride: u32) -> Result<Vec<ScanResult>> {
        self.decode(&frame, width, height, stride)
    }

    /// Which of a frame's codes the screen takes (or why none): the core's
    /// rule, so every front end takes the same.
    pub fn choose(&self, purpose: ScanPurpose, found: Vec<ScanResult>) -> ScanChoiceInfo {
        convert::scan_choice(purpose, &found)
    }

    /// Parse text typed or pasted instead of scanned.
    pub fn parse(&self, text: String) -> ScanResult {
        ScanResult::from_text(text, None)
    }

    /// Milliseconds per decode of `frame`, measured inside Rust over
    /// `repeat` runs: the baseline for the FFI overhead benchmark.
    pub fn time_decode_in_rust(&self, frame: &[u8], width: u32, height: u32, stride: u32, repeat: u32) -> Result<f64> {
        let f = Frame::new(frame, width as usize, height as usize, stride as usize)?;
        let t = Instant::now();
        for _ in 0..repeat.max(1) {
            std::hint::black_box(decode(&f));
        }
        Ok(t.elapsed().as_secs_f64() * 1000.0 / f64::from(repeat.max(1)))
    }
}

/// A PIN or passphrase handed over as UTF-8 bytes, so the shell can keep it
/// in an array it wipes, never in an immutable string; wiped here too.
fn secret_text(bytes: Vec<u8>, field: &str) -> Result<zeroize::Zeroizing<String>> {
    String::from_utf8(bytes)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| {
            let mut bad = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bad);
            VaxdeskError::Input { field: field.into(), detail: "not UTF-8 text".into() }
        })
}

/// The PIN that opens the app, kept in a file beside the desk's database.
#[derive(Debug, uniffi::Object)]
pub struct PinLock {
    inner: vaxdesk_core::pin::PinLock,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PinCheck {
    Unlocked,
    Wrong { attempts_left: u32 },
    LockedOut { seconds: u64 },
}

impl From<vaxdesk_core::pin::PinCheck> for PinCheck {
    fn from(c: vaxdesk_core::pin::PinCheck) -> Self {
        use vaxdesk_core::pin::PinCheck as C;
        match c {
            C::Unlocked => PinCheck::Unlocked,
            C::Wrong { attempts_left } => PinCheck::Wrong { attempts_left },
            C::LockedOut { seconds } => PinCheck::LockedOut { seconds },
        }
    }
}

#[uniffi::export]
impl PinLock {
    #[uniffi::constructor]
    pub fn open(path: String) -> Arc<Self> {
        Arc::new(PinLock { inner: vaxdesk_core::pin::PinLock::new(path) })
    }

    pub fn is_set(&self) -> bool {
        self.inner.is_set()
    }

    /// Refused (`Input` with field `pin`) when the PIN is too weak or already
    /// set. PINs cross as UTF-8 bytes (see `secret_text`).
    pub fn set(&self, pin: Vec<u8>) -> Result<()> {
        Ok(self.inner.set(&secret_text(pin, "pin")?)?)
    }

    pub fn check(&self, pin: Vec<u8>) -> Result<PinCheck> {
        Ok(self.inner.check(&secret_text(pin, "pin")?)?.into())
    }

    pub fn change(&self, old: Vec<u8>, new: Vec<u8>) -> Result<PinCheck> {
        Ok(self.inner.change(&secret_text(old, "pin")?, &secret_text(new, "new_pin")?)?.into())
    }

    /// Set the first PIN and encrypt the closed desk database at `db_path`
    /// under it; on failure the phone is left as it was.
    pub fn set_and_encrypt(&self, db_path: String, pin: Vec<u8>) -> Result<()> {
        Ok(self.inner.set_and_encrypt(std::path::Path::new(&db_path), &secret_text(pin, "pin")?)?)
    }

    /// Change the PIN and re-key the closed desk database with it. A wrong
    /// old PIN is `Wrong` (counted) and changes nothing.
    pub fn change_and_rekey(&self, db_path: String, old: Vec<u8>, new: Vec<u8>) -> Result<PinCheck> {
        Ok(self.inner.change_and_rekey(std::path::Path::new(&db_path), &secret_text(old, "pin")?, &secret_text(new, "new_pin")?)?.into())
    }
}

/// Change the passphrase (PIN) of a closed, encrypted desk database.
#[uniffi::export]
pub fn change_passphrase(path: String, old: String, new: String) -> Result<()> {
    Ok(CoreDesk::change_secret(&path, &old, &new)?)
}

/// The database key the passphrase (PIN) gives for the desk at `path`
/// (Argon2id with the salt beside it), for the shell to wrap with the
/// platform keystore. The shell wipes the bytes once wrapped.
#[uniffi::export]
pub fn database_key(path: String, passphrase: Vec<u8>) -> Result<Vec<u8>> {
    let key = vaxdesk_core::store::DbKey::for_database(std::path::Path::new(&path), &secret_text(passphrase, "pin")?)?;
    Ok(key.bytes().to_vec())
}

/// Encrypt a closed, plain desk database under `passphrase`.
#[uniffi::export]
pub fn encrypt_database(path: String, passphrase: String) -> Result<()> {
    Ok(CoreDesk::encrypt(&path, &passphrase)?)
}

/// A text's QR modules, for the certificate screen to draw.
#[uniffi::export]
pub fn qr_modules(text: String) -> Result<QrModules> {
    let (size, dark) = vaxdesk_core::cert::qr_modules(&text).map_err(|e| VaxdeskError::Input { field: "text".into(), detail: e.to_string() })?;
    Ok(QrModules { size: size as u32, dark: dark.into_iter().map(u8::from).collect() })
}

/// A new visit's id, made when the visit starts and kept with it.
#[uniffi::export]
pub fn new_visit_id() -> String {
    vaxdesk_core::model::VisitId::new().to_string()
}

/// Does nothing: the cost of crossing the FFI, for the benchmark.
#[uniffi::export]
pub fn noop() {}

/// The library's version, for the about screen.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
