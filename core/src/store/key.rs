//! Encryption at rest: the desk's database is a SQLCipher file (AES-256,
//! page HMACs) when opened with a key. The key is derived from the PIN (or
//! the desktop's passphrase) with Argon2id and a random salt kept beside the
//! database — the salt is not secret; without the PIN it yields nothing.
//! A wrong key is refused before anything is written.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

use super::{Result, StoreError};

/// A 256-bit database key. Never printed; wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey(zeroize::Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey(…)")
    }
}

impl DbKey {
    /// Argon2id (19 MiB, 2 passes: OWASP's minimum for interactive use) of
    /// `secret` with `salt`.
    pub fn derive(secret: &str, salt: &[u8]) -> Result<DbKey> {
        let params = Params::new(19 * 1024, 2, 1, Some(32)).map_err(|e| kdf(e.to_string()))?;
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into(secret.as_bytes(), salt, out.as_mut()).map_err(|e| kdf(e.to_string()))?;
        Ok(DbKey(out))
    }

    /// The key for the database at `db`, from `secret` and the salt file
    /// beside it (made, with a new salt, when the database is new).
    pub fn for_database(db: &Path, secret: &str) -> Result<DbKey> {
        if secret.is_empty() {
            return Err(StoreError::BadRow { table: "key", detail: "passphrase: must not be empty".into() });
        }
        let salt_path = salt_path(db);
        let salt = match std::fs::read(&salt_path) {
            Ok(s) if s.len() == 16 => s,
            Ok(_) => return Err(StoreError::Corrupt { path: salt_path, detail: "salt file is not 16 bytes".into() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if db.exists() && std::fs::metadata(db).map(|m| m.len() > 0).unwrap_or(false) {
                    return Err(StoreError::Corrupt { path: salt_path, detail: "the key's salt file is missing; the database cannot be opened".into() });
                }
                let mut s = vec![0u8; 16];
                rand::rng().fill_bytes(&mut s);
                std::fs::write(&salt_path, &s).map_err(|source| StoreError::Io { path: salt_path.clone(), source })?;
                s
            }
            Err(source) => return Err(StoreError::Io { path: salt_path, source }),
        };
        DbKey::derive(secret, &salt)
    }

    /// A key kept elsewhere (the phone's keystore wraps the PIN's key so
    /// the background sync can open the database): exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<DbKey> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| StoreError::BadRow { table: "key", detail: format!("key: must be 32 bytes, not {}", bytes.len()) })?;
        Ok(DbKey(zeroize::Zeroizing::new(arr)))
    }

    /// The raw key, for the shell to wrap. Callers wipe their copy.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The statement that gives SQLCipher this raw key (hex digits only, so
    /// nothing to escape).
    pub(crate) fn pragma(&self, name: &str) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(format!("PRAGMA {name} = {};", self.literal().as_str()))
    }

    /// SQLCipher's raw-key literal, `"x'…'"`.
    pub(crate) fn literal(&self) -> zeroize::Zeroizing<String> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        zeroize::Zeroizing::new(format!("\"x'{hex}'\""))
    }
}

/// `desk.db` → `desk.db-salt`.
pub fn salt_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-salt");
    PathBuf::from(p)
}

fn kdf(detail: String) -> StoreError {
    StoreError::BadRow { table: "key", detail }
}

/// Whether a file that SQLite cannot read without a key looks like an
/// encrypted database rather than a damaged or foreign file: whole pages,
/// and a first page that looks random (SQLCipher's salt and ciphertext),
/// not the SQLite header or text or a fill pattern.
pub(crate) fn looks_plain(path: &Path) -> bool {
    use std::io::Read;
    let Ok(meta) = std::fs::metadata(path) else { return true };
    let mut head = [0u8; 64];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    if read.is_err() || meta.len() % 512 != 0 || head.starts_with(b"SQLite format 3\0") {
        return true;
    }
    let mut seen = [false; 256];
    head.iter().for_each(|b| seen[usize::from(*b)] = true);
    seen.iter().filter(|s| **s).count() < 32
}
