//! The desk's PIN: who may use the app on this phone.
//!
//! Kept in a small file beside the database, not in it: encryption at rest
//! (issue 8) derives the database key from the PIN, so the lock has to be
//! readable before the database can be opened. The file holds an Argon2id
//! hash, never the PIN, and the failure count, so that killing the app does
//! not reset the lockout.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Wrong PINs allowed before the first lockout.
pub const ATTEMPTS: u32 = 5;
/// The first lockout; each further wrong PIN doubles it, up to [`MAX_LOCKOUT_SECONDS`].
pub const FIRST_LOCKOUT_SECONDS: i64 = 30;
pub const MAX_LOCKOUT_SECONDS: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinCheck {
    Unlocked,
    Wrong { attempts_left: u32 },
    /// Too many wrong PINs: nothing is checked until the time has passed.
    LockedOut { seconds: u64 },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PinFile {
    /// PHC string (Argon2id, salt and parameters included).
    hash: String,
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
}

type Clock = Box<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct PinLock {
    path: PathBuf,
    clock: Clock,
    /// Serialises check/set so two taps cannot both read the same failure count.
    guard: Mutex<()>,
}

impl std::fmt::Debug for PinLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinLock").field("path", &self.path).finish()
    }
}

fn input(message: impl Into<String>) -> Error {
    Error::input("pin", message)
}

fn damaged(message: impl Into<String>) -> Error {
    Error::input("pin_file", message)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    damaged(format!("{}: {e}", path.display()))
}

/// A PIN is 4 to 8 digits and not one digit repeated.
pub fn check_pin_format(pin: &str) -> Result<()> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(input("4 to 8 digits expected"));
    }
    if pin.bytes().all(|b| b == pin.as_bytes()[0]) {
        return Err(input("one digit repeated is too easy to guess"));
    }
    Ok(())
}

impl PinLock {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PinLock { path: path.into(), clock: Box::new(Utc::now), guard: Mutex::new(()) }
    }

    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    pub fn is_set(&self) -> bool {
        self.path.exists()
    }

    /// Set the PIN the first time. Changing it needs [`PinLock::change`].
    pub fn set(&self, pin: &str) -> Result<()> {
        let _g = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_set() {
            return Err(input("already set; change it with the old PIN"));
        }
        self.write_new(pin)
    }

    pub fn change(&self, old: &str, new: &str) -> Result<PinCheck> {
        check_pin_format(new)?;
        match self.check(old)? {
            PinCheck::Unlocked => {
                let _g = self.guard.lock().unwrap_or_else(|e| e.into_inner());
                self.write_new(new)?;
                Ok(PinCheck::Unlocked)
            }
            other => Ok(other),
        }
    }

    /// Set the first PIN and encrypt the desk's closed database at `db`
    /// under it (the phone, right after enrolling). The database goes first:
    /// if that fails nothing changed; if the lock file then cannot be
    /// written, the database is decrypted again — the phone is never left
    /// with a database whose PIN the lock does not know.
    pub fn set_and_encrypt(&self, db: &Path, pin: &str) -> Result<()> {
        check_pin_format(pin)?;
        if self.is_set() {
            return Err(input("already set; change it with the old PIN"));
        }
        crate::desk::Desk::encrypt(db, pin)?;
        if let Err(e) = self.set(pin) {
            let _ = crate::desk::Desk::decrypt(db, pin);
            return Err(e);
        }
        Ok(())
    }

    /// Change the PIN and re-key the desk's closed database with it. A wrong
    /// old PIN counts as a failed attempt and changes nothing; a new PIN the
    /// rules refuse is refused before anything is re-keyed.
    pub fn change_and_rekey(&self, db: &Path, old: &str, new: &str) -> Result<PinCheck> {
        check_pin_format(new)?;
        match self.check(old)? {
            PinCheck::Unlocked => {}
            other => return Ok(other),
        }
        crate::desk::Desk::change_secret(db, old, new)?;
        let _g = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = self.write_new(new) {
            let _ = crate::desk::Desk::change_secret(db, new, old);
            return Err(e);
        }
        Ok(PinCheck::Unlocked)
    }

    pub fn check(&self, pin: &str) -> Result<PinCheck> {
        let _g = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        let mut file = self.read()?;
        let now = (self.clock)();
        if let Some(until) = file.locked_until {
            if until > now {
                let seconds = (until - now).num_seconds().max(1);
                return Ok(PinCheck::LockedOut { seconds: seconds.unsigned_abs() });
            }
        }
        let hash = PasswordHash::new(&file.hash).map_err(|e| damaged(format!("stored hash unreadable: {e}")))?;
        if Argon2::default().verify_password(pin.as_bytes(), &hash).is_ok() {
            if file.failures > 0 || file.locked_until.is_some() {
                file.failures = 0;
                file.locked_until = None;
                self.write(&file)?;
            }
            return Ok(PinCheck::Unlocked);
        }
        file.failures = file.failures.saturating_add(1);
        let result = if file.failures >= ATTEMPTS {
            let extra = (file.failures - ATTEMPTS).min(10);
            let seconds = (FIRST_LOCKOUT_SECONDS << extra).min(MAX_LOCKOUT_SECONDS);
            file.locked_until = Some(now + chrono::Duration::seconds(seconds));
            PinCheck::LockedOut { seconds: seconds.unsigned_abs() }
        } else {
            PinCheck::Wrong { attempts_left: ATTEMPTS - file.failures }
        };
        self.write(&file)?;
        Ok(result)
    }

    fn write_new(&self, pin: &str) -> Result<()> {
        check_pin_format(pin)?;
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let hash = Argon2::default().hash_password(pin.as_bytes(), &salt).map_err(|e| input(format!("cannot hash: {e}")))?.to_string();
        self.write(&PinFile { hash, failures: 0, locked_until: None })
    }

    fn read(&self) -> Result<PinFile> {
        let text = fs::read_to_string(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotSetUp("no PIN set on this phone yet".into()),
            _ => io(&self.path, e),
        })?;
        serde_json::from_str(&text).map_err(|e| damaged(format!("unreadable: {e}")))
    }

    /// Write to a temporary file, sync, then rename: a crash leaves the old
    /// file or the new one, never half of one.
    fn write(&self, file: &PinFile) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let body = serde_json::to_vec(file).map_err(|e| damaged(e.to_string()))?;
        let mut f = fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(&body).and_then(|_| f.sync_all()).map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &self.path).map_err(|e| io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    fn lock_at(dir: &Path) -> (PinLock, Arc<AtomicI64>) {
        let t = Arc::new(AtomicI64::new(1_700_000_000));
        let t2 = t.clone();
        let lock = PinLock::new(dir.join("pin.json")).with_clock(move || DateTime::from_timestamp(t2.load(Ordering::SeqCst), 0).unwrap_or_default());
        (lock, t)
    }

    #[test]
    fn set_then_check() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, _) = lock_at(dir.path());
        assert!(!lock.is_set());
        assert!(matches!(lock.check("2468"), Err(Error::NotSetUp(_))));
        lock.set("246810").unwrap();
        assert!(lock.is_set());
        assert_eq!(lock.check("246810").unwrap(), PinCheck::Unlocked);
        assert_eq!(lock.check("246811").unwrap(), PinCheck::Wrong { attempts_left: 4 });
        assert!(matches!(lock.set("1357"), Err(Error::Input { .. })), "set twice must be refused");
        let text = fs::read_to_string(dir.path().join("pin.json")).unwrap();
        assert!(!text.contains("246810"), "the PIN itself is never stored");
        assert!(text.contains("$argon2id$"));
    }

    #[test]
    fn format_is_checked() {
        for bad in ["", "123", "123456789", "12a4", "0000", "١٢٣٤"] {
            let e = check_pin_format(bad).unwrap_err();
            assert!(e.to_string().contains("pin"), "{bad:?}: {e}");
        }
        check_pin_format("1357").unwrap();
    }

    #[test]
    fn lockout_after_five_wrong_and_it_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, t) = lock_at(dir.path());
        lock.set("1357").unwrap();
        for left in (1..ATTEMPTS).rev() {
            assert_eq!(lock.check("9999").unwrap(), PinCheck::Wrong { attempts_left: left });
        }
        assert_eq!(lock.check("9999").unwrap(), PinCheck::LockedOut { seconds: 30 });
        // The right PIN does not help while locked, even from a new instance.
        let (again, _) = lock_at(dir.path());
        t.fetch_add(10, Ordering::SeqCst);
        let t_again = t.clone();
        let again = again.with_clock(move || DateTime::from_timestamp(t_again.load(Ordering::SeqCst), 0).unwrap_or_default());
        assert_eq!(again.check("1357").unwrap(), PinCheck::LockedOut { seconds: 20 });
        // Another wrong PIN after the wait doubles the lockout.
        t.fetch_add(21, Ordering::SeqCst);
        assert_eq!(again.check("9999").unwrap(), PinCheck::LockedOut { seconds: 60 });
        t.fetch_add(61, Ordering::SeqCst);
        assert_eq!(again.check("1357").unwrap(), PinCheck::Unlocked);
        assert_eq!(again.check("9999").unwrap(), PinCheck::Wrong { attempts_left: 4 }, "a right PIN resets the count");
    }

    #[test]
    fn change_needs_the_old_pin() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, _) = lock_at(dir.path());
        lock.set("1357").unwrap();
        assert_eq!(lock.change("0000", "2468").unwrap(), PinCheck::Wrong { attempts_left: 4 });
        assert_eq!(lock.change("1357", "2468").unwrap(), PinCheck::Unlocked);
        assert_eq!(lock.check("2468").unwrap(), PinCheck::Unlocked);
        assert!(matches!(lock.check("1357").unwrap(), PinCheck::Wrong { .. }));
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, _) = lock_at(dir.path());
        fs::write(dir.path().join("pin.json"), b"{not json").unwrap();
        let e = lock.check("1357").unwrap_err();
        assert!(e.to_string().contains("pin_file"), "{e}");
    }

    #[test]
    fn setting_and_changing_the_pin_encrypts_and_rekeys_the_database() {
        use crate::desk::Desk;
        use crate::store::StoreError;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("desk.db");
        let id = Desk::open(&db).unwrap().config().device_id; // enrolled, plain, before the PIN
        let (lock, _) = lock_at(dir.path());
        let needs_key = |r: Result<Desk>| matches!(r, Err(Error::Store(StoreError::NeedsKey { .. })));
        let wrong_key = |r: Result<Desk>| matches!(r, Err(Error::Store(StoreError::WrongKey { .. })));

        assert!(matches!(lock.set_and_encrypt(&db, "1111"), Err(Error::Input { .. })));
        assert!(!lock.is_set() && Desk::open(&db).is_ok(), "a refused PIN changes nothing");
        lock.set_and_encrypt(&db, "2468").unwrap();
        assert!(lock.is_set());
        assert!(needs_key(Desk::open(&db)));
        assert_eq!(Desk::open_encrypted(&db, "2468").unwrap().config().device_id, id);

        assert_eq!(lock.change_and_rekey(&db, "1357", "8642").unwrap(), PinCheck::Wrong { attempts_left: 4 });
        assert!(matches!(lock.change_and_rekey(&db, "2468", "0000"), Err(Error::Input { .. })));
        assert!(Desk::open_encrypted(&db, "2468").is_ok(), "a refused change leaves the old PIN's key");
        assert_eq!(lock.change_and_rekey(&db, "2468", "8642").unwrap(), PinCheck::Unlocked);
        assert!(wrong_key(Desk::open_encrypted(&db, "2468")));
        assert_eq!(Desk::open_encrypted(&db, "8642").unwrap().config().device_id, id);
        assert_eq!(lock.check("8642").unwrap(), PinCheck::Unlocked);
        assert_eq!(lock.check("2468").unwrap(), PinCheck::Wrong { attempts_left: 4 });
    }
}
