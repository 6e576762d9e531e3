//! The HTTP client a desk talks to its hub with (reqwest, blocking, rustls).
//! Pushes are gzip-compressed; replies are decompressed transparently.

use std::io::Write;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use super::protocol::{ApiError, ChangesPage, EnrollReply, EnrollRequest, PushBatch, PushReply, API};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The hub could not be reached or the exchange broke off: try later.
    #[error("hub unreachable: {0}")]
    Network(String),
    /// The hub answered with an error status.
    #[error("hub refused ({status}) {code}: {message}")]
    Refused { status: u16, code: String, message: String },
    #[error("hub reply not understood: {0}")]
    Decode(String),
    #[error("this desk is not enrolled with a hub: run vaxdesk enroll with the coordinator's code")]
    NotEnrolled,
    #[error("enrollment code: {0}")]
    BadCode(String),
    /// The enrollment code names a plain `http://` hub and this desk talks
    /// to hubs over https only.
    #[error("hub: an https:// address expected, got {0:?}: plain http would send records in the clear")]
    PlainHttp(String),
    /// The hub showed another TLS certificate than the one pinned at
    /// enrollment: someone else may be answering. Not retried.
    #[error("{0}")]
    PinMismatch(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Core(Box<crate::Error>),
}

impl From<crate::Error> for SyncError {
    fn from(e: crate::Error) -> Self {
        SyncError::Core(Box::new(e))
    }
}

impl SyncError {
    /// Worth retrying after a pause: network trouble, a hub under load or
    /// restarting (5xx, 429, 408). A 4xx refusal will not change by waiting.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Network(_) | SyncError::Decode(_) => true,
            SyncError::Refused { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }

    /// The hub no longer knows this device (revoked, or a wrong token).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, SyncError::Refused { status: 401, .. })
    }
}

#[derive(Debug, Clone)]
pub struct HubClient {
    base: String,
    token: Option<String>,
    http: Client,
}

impl HubClient {
    /// `pin`: the SHA-256 (hex) of the hub's certificate, from the
    /// enrollment code; then that certificate and no other is accepted.
    pub fn new(base: &str, token: Option<String>, timeout: Duration, pin: Option<&str>) -> Result<Self, SyncError> {
        Self::with_pool(base, token, timeout, true, pin)
    }

    pub fn with_pool(base: &str, token: Option<String>, timeout: Duration, reuse_connections: bool, pin: Option<&str>) -> Result<Self, SyncError> {
        let mut builder = Client::builder();
        if let Some(fp) = pin.filter(|_| base.starts_with("https://")) {
            builder = builder.use_preconfigured_tls(super::tls_pin::pinned_config(fp).map_err(SyncError::Network)?);
        }
        let http = builder
            .pool_max_idle_per_host(if reuse_connections { usize::MAX } else { 0 })
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .gzip(true)
            .user_agent(concat!("vaxdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Network(e.to_string()))?;
        Ok(HubClient { base: base.trim_end_matches('/').to_string(), token, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{API}{path}", self.base)
    }

    fn auth(&self, rb: reqwest::blocking::RequestBuilder) -> Result<reqwest::blocking::RequestBuilder, SyncError> {
        let token = self.token.as_deref().ok_or(SyncError::NotEnrolled)?;
        Ok(rb.header(AUTHORIZATION, format!("Bearer {token}")))
    }

    pub fn enroll(&self, req: &EnrollRequest) -> Result<EnrollReply, SyncError> {
        let resp = self.http.post(self.url("/enroll")).json(req).send().map_err(net)?;
        read(resp)
    }

    /// Push a batch; returns the reply and the bytes sent on the wire.
    pub fn push(&self, batch: &PushBatch) -> Result<(PushReply, usize), SyncError> {
        let json = serde_json::to_vec(batch).map_err(|e| SyncError::Decode(e.to_string()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 4), flate2::Compression::default());
        gz.write_all(&json).map_err(|e| SyncError::Decode(e.to_string()))?;
        let body = gz.finish().map_err(|e| SyncError::Decode(e.to_string()))?;
        let sent = body.len();
        let rb = self.http.post(self.url("/events")).header(CONTENT_TYPE, "application/json").header(CONTENT_ENCODING, "gzip").body(body);
        let resp = self.auth(rb)?.send().map_err(net)?;
        Ok((read(resp)?, sent))
    }

    pub fn changes(&self, since: Option<&str>, limit: u32) -> Result<ChangesPage, SyncError> {
        // The kinds of change beyond the first protocol's this desk applies:
        // a hub leaves them out for desks that do not say so (an older app
        // would refuse the whole page over one it cannot read).
        let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string()), ("kinds", super::protocol::NEWER_KINDS.join(","))];
        if let Some(s) = since {
            q.push(("since", s.to_string()));
        }
        let resp = self.auth(self.http.get(self.url("/changes")).query(&q))?.send().map_err(net)?;
        read(resp)
    }
}

impl HubClient {
    /// Ask the hub for a fresh device token (`POST /token`).
    pub fn rotate_token(&self) -> Result<String, SyncError> {
        #[derive(serde::Deserialize)]
        struct NewToken {
            token: String,
        }
        let resp = self.auth(self.http.post(self.url("/token")))?.send().map_err(net)?;
        Ok(read::<NewToken>(resp)?.token)
    }

    /// Ask the hub to sign a certificate for a person (refused with
    /// `cert.not_eligible` before the series is complete).
    pub fn certificate(&self, person_id: &str) -> Result<super::protocol::CertificateReply, SyncError> {
        let resp = self.auth(self.http.get(self.url(&format!("/persons/{person_id}/certificate"))))?.send().map_err(net)?;
        read(resp)
    }
}

fn net(e: reqwest::Error) -> SyncError {
    if super::tls_pin::is_mismatch(&e) {
        return SyncError::PinMismatch(super::tls_pin::PIN_MISMATCH.into());
    }
    // The causes, not only reqwest's summary: "connection refused" or a
    // certificate problem is what a coordinator needs to read.
    let mut text = e.to_string();
    let mut cur = std::error::Error::source(&e);
    while let Some(c) = cur {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cur = c.source();
    }
    SyncError::Network(text)
}

fn read<T: DeserializeOwned>(resp: Response) -> Result<T, SyncError> {
    let status = resp.status();
    let bytes = resp.bytes().map_err(net)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| SyncError::Decode(e.to_string()));
    }
    let err: ApiError = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| ApiError { code: "http".into(), message: String::from_utf8_lossy(&bytes).chars().take(200).collect() });
    Err(SyncError::Refused { status: status.as_u16(), code: err.code, message: err.message })
}
