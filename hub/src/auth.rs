//! Who is calling: a desk (device token) or a coordinator (session token
//! from logging in). Tokens are random; the hub stores only their SHA-256,
//! and passwords only as Argon2id hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Coordinator, Device};
use crate::error::HubError;
use crate::AppState;

/// 32 random bytes as hex: the bearer tokens and one-time codes' secret.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A one-time enrollment code a person could type: 12 characters from an
/// alphabet without look-alikes, grouped by four.
pub fn enrollment_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    let chars: Vec<char> = b.iter().map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A log-in's password check, taking as long whether or not the username
/// exists: an unknown user is checked against a hash of the same cost (made
/// once per process), so the answer's time does not tell which usernames
/// are real. Slow on purpose (Argon2id): call it on the blocking pool.
pub fn check_login(password: &str, stored_hash: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match stored_hash {
        Some(h) => verify_password(password, h),
        None => {
            let dummy = DUMMY.get_or_init(|| hash_password("no such user: the same work as a real check").unwrap_or_default());
            let _ = verify_password(password, dummy);
            false
        }
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// Look up whoever the request's bearer token belongs to (by its hash), on
/// the blocking pool.
async fn by_token<T: Send + 'static>(
    parts: &Parts,
    state: &AppState,
    what: &str,
    find: impl FnOnce(&crate::db::HubDb, &str) -> crate::db::Result<Option<T>> + Send + 'static,
) -> Result<Option<T>, HubError> {
    let token = bearer(parts).ok_or_else(|| HubError::unauthorized(format!("Authorization: Bearer <{what}> required")))?;
    let db = state.db.clone();
    let hash = hash_token(&token);
    Ok(tokio::task::spawn_blocking(move || find(&db, &hash)).await??)
}

/// A desk, by its device token. A revoked device is refused at once.
#[derive(Debug, Clone)]
pub struct DeskAuth(pub Device);

impl FromRequestParts<AppState> for DeskAuth {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let device = by_token(parts, state, "device token", |db, hash| db.device_by_token(hash)).await?;
        device.map(DeskAuth).ok_or_else(|| HubError::unauthorized("unknown or revoked device token"))
    }
}

/// A logged-in coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorAuth(pub Coordinator);

impl FromRequestParts<AppState> for CoordinatorAuth {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let who = by_token(parts, state, "session token (POST /api/v1/login)", |db, hash| db.session(hash)).await?;
        who.map(CoordinatorAuth).ok_or_else(|| HubError::unauthorized("unknown or expired session"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_tokens_differ() {
        let h = hash_password("mật khẩu 2021").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("mật khẩu 2021", &h));
        assert!(!verify_password("mat khau 2021", &h));
        assert_ne!(random_token(), random_token());
        assert_eq!(hash_token(" abc "), hash_token("abc"));
        let code = enrollment_code();
        assert_eq!(code.len(), 14);
        assert!(code.chars().all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit()));
    }
}
