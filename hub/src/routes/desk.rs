//! What desks call: enroll once, then push events and pull changes.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use vaxdesk_core::sync::protocol::{ChangesPage, EnrollReply, EnrollRequest, PushBatch, PushReply, MAX_BATCH};

use crate::auth::{hash_token, random_token, DeskAuth};
use crate::db::EnrollRefusal;
use crate::error::{HubError, HubResult};
use crate::limits::Peer;
use crate::ingest::Incoming;
use crate::routes::ApiJson;
use crate::AppState;

pub async fn enroll(State(s): State<AppState>, Peer(from): Peer, ApiJson(req): ApiJson<EnrollRequest>) -> HubResult<Json<EnrollReply>> {
    s.limits.enroll(from)?;
    let device_id = req.device_id.trim().to_string();
    if device_id.is_empty() || device_id.len() > 64 || !device_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(HubError::bad_request("enroll.device_id", "device_id: 1-64 letters, digits or '-' expected"));
    }
    let name = req.device_name.map(|n| n.chars().filter(|c| !c.is_control()).take(64).collect::<String>());
    let token = random_token();
    let (code_hash, token_hash) = (hash_token(&req.code.to_ascii_uppercase()), hash_token(&token));
    // Under a label of its own: an enrollment key's hash is never a token's.
    let key_hash = req.enroll_key.as_deref().map(str::trim).filter(|k| !k.is_empty()).map(|k| hash_token(&format!("enroll-key:{k}")));
    let db = s.db.clone();
    let id = device_id.clone();
    let outcome = tokio::task::spawn_blocking(move || db.enroll(&code_hash, &id, name.as_deref(), &token_hash, key_hash.as_deref())).await??;
    let (site, desk) = match outcome {
        Ok(sd) => sd,
        Err(EnrollRefusal::Unknown) => return Err(HubError::new(StatusCode::FORBIDDEN, "enroll.code_unknown", "code: not a valid enrollment code")),
        Err(EnrollRefusal::Expired) => return Err(HubError::new(StatusCode::FORBIDDEN, "enroll.code_expired", "code: this enrollment code has expired; ask for a new one")),
        Err(EnrollRefusal::Used) => return Err(HubError::new(StatusCode::FORBIDDEN, "enroll.code_used", "code: this enrollment code was already used")),
        Err(EnrollRefusal::DeviceTaken) => return Err(HubError::new(StatusCode::CONFLICT, "enroll.device_exists", "device_id: this device is already enrolled")),
    };
    let db = s.db.clone();
    let (site_row, desks) = tokio::task::spawn_blocking(move || Ok::<_, crate::db::DbError>((db.site(&site)?, db.desks(&site)?))).await??;
    let site = site_row.ok_or_else(|| HubError::not_found("site"))?;
    let desk = desks.into_iter().find(|d| d.code == desk).ok_or_else(|| HubError::not_found("desk"))?;
    tracing::info!(site = %site.code, desk = %desk.code, "device enrolled");
    Ok(Json(EnrollReply { device_id, token, site, desk }))
}

pub async fn push(State(s): State<AppState>, DeskAuth(device): DeskAuth, ApiJson(batch): ApiJson<PushBatch>) -> HubResult<Json<PushReply>> {
    if batch.events.len() > MAX_BATCH {
        return Err(HubError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "push.batch_too_large",
            format!("events: at most {MAX_BATCH} per push, got {}", batch.events.len()),
        ));
    }
    let pending = batch.pending.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let incoming: Vec<Incoming> = batch.events.into_iter().map(Incoming::new).collect();
    let db = s.db.clone();
    let results = tokio::task::spawn_blocking(move || db.push_at(&device, &incoming, pending, &crate::db::now_text())).await??;
    Ok(Json(PushReply { results }))
}

#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    /// Kinds of change beyond the first protocol's the desk applies
    /// (`registration`); others are left out of its pages.
    #[serde(default)]
    kinds: Option<String>,
}

pub async fn changes(State(s): State<AppState>, DeskAuth(device): DeskAuth, q: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>) -> HubResult<Json<ChangesPage>> {
    let Query(q) = q?;
    let since = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| HubError::bad_request("changes.cursor", "since: a cursor from an earlier page expected"))?,
    };
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let db = s.db.clone();
    let page = tokio::task::spawn_blocking(move || {
        // A desk with nothing to push still checks in here: that is its last sync.
        let _ = db.touch_device(&device.id, None);
        db.changes(&device.site, &device.id, since, limit)
    })
    .await??;
    // A desk of an older app would refuse the whole page over a change it
    // cannot read: it is not sent them (the cursor moves past them all the
    // same; an updated app pulls its site again from the start).
    let knows_registrations = q.kinds.as_deref().is_some_and(|k| k.split(',').any(|k| k.trim() == "registration"));
    let mut page = page;
    if !knows_registrations {
        page.changes.retain(|c| !matches!(c, vaxdesk_core::sync::protocol::Change::Registration { .. }));
    }
    Ok(Json(page))
}

#[derive(Debug, serde::Serialize)]
pub struct NewToken {
    token: String,
}

/// A fresh token for the calling device. The old one keeps working until
/// the new one is first used, so a reply lost on the way locks no one out.
pub async fn rotate_token(State(s): State<AppState>, DeskAuth(device): DeskAuth) -> HubResult<Json<NewToken>> {
    let token = random_token();
    let (db, hash) = (s.db.clone(), hash_token(&token));
    tokio::task::spawn_blocking(move || db.offer_token(&device.id, &hash)).await??;
    tracing::info!("device token rotated");
    Ok(Json(NewToken { token }))
}
