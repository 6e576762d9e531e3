//! Rate limits on what an attacker would repeat: guessing a coordinator's
//! password (API and web log-in) and guessing enrollment codes. Keyed by the
//! caller's address, and log-in also by the username tried, so one address
//! cannot spray one account and many addresses cannot hammer one account
//! beyond the quota. In memory: a restart forgets, which costs an attacker
//! a restart they cannot cause.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::StatusCode;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::HubError;

#[derive(Debug, Clone)]
pub struct Limits {
    login: Arc<DefaultKeyedRateLimiter<String>>,
    enroll: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Default for Limits {
    /// Ten log-in attempts a minute per address and per username; twenty
    /// enrollments a minute per address (a coordinator enrolling a room of
    /// phones from one NAT'd network).
    fn default() -> Self {
        Limits::per_minute(10, 20)
    }
}

impl Limits {
    pub fn per_minute(login: u32, enroll: u32) -> Limits {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Limits { login: Arc::new(RateLimiter::keyed(quota(login))), enroll: Arc::new(RateLimiter::keyed(quota(enroll))) }
    }

    /// One log-in attempt from `from` for `username`.
    pub fn login(&self, from: Option<IpAddr>, username: &str) -> Result<(), HubError> {
        let by_addr = from.map(|a| format!("ip {a}"));
        // At most 64 characters of the name a key: a 4 MB "username" is no reason to keep 4 MB.
        let user: String = username.trim().to_lowercase().chars().take(64).collect();
        for key in by_addr.into_iter().chain(std::iter::once(format!("user {user}"))) {
            if self.login.check_key(&key).is_err() {
                tracing::warn!("log-in rate limit reached");
                return Err(limited("too many log-in attempts; wait a minute and try again"));
            }
        }
        Ok(())
    }

    /// One enrollment attempt from `from`.
    pub fn enroll(&self, from: Option<IpAddr>) -> Result<(), HubError> {
        let key = from.map_or_else(|| "unknown".to_string(), |a| format!("ip {a}"));
        if self.enroll.check_key(&key).is_err() {
            tracing::warn!("enrollment rate limit reached");
            return Err(limited("too many enrollment attempts; wait a minute and try again"));
        }
        Ok(())
    }
}

fn limited(message: &str) -> HubError {
    HubError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
}

/// The caller's address, when the server records it (`serve` does).
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// An extractor for the caller's address (none when the server does not
/// record it, as in some tests).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer(parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_the_quota_per_address_and_per_user() {
        let l = Limits::per_minute(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "10.0.0.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for _ in 0..3 {
            assert!(l.login(Some(a), "admin").is_ok());
        }
        assert_eq!(l.login(Some(a), "someone").map_err(|e| e.status), Err(StatusCode::TOO_MANY_REQUESTS), "the address is spent");
        assert_eq!(l.login(Some(b), "ADMIN ").map_err(|e| e.status), Err(StatusCode::TOO_MANY_REQUESTS), "the account is spent too");
        assert!(l.login(Some(b), "lan").is_ok(), "another account from another address");
        assert!(l.enroll(Some(a)).is_ok() && l.enroll(Some(a)).is_ok());
        assert!(l.enroll(Some(a)).is_err());
        assert!(l.enroll(Some(b)).is_ok());
    }
}
