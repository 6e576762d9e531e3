//! Certificates: the hub signs an EU-DCC `HC1:` for a person whose accepted
//! doses complete a primary series (or add a booster). Desks fetch it for
//! the citizen in front of them; the signer's certificate is in the catalog,
//! so any desk can verify it offline.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use vaxdesk_core::cert::dcc_for;
use vaxdesk_core::model::{derive_history, DoseEvent, PersonEvent};
use vaxdesk_core::sync::protocol::CertificateReply;

use crate::auth::DeskAuth;
use crate::error::{HubError, HubResult};
use crate::AppState;


pub async fn certificate(State(s): State<AppState>, DeskAuth(device): DeskAuth, Path(id): Path<String>) -> HubResult<Json<CertificateReply>> {
    let signer = s.signer.clone().ok_or_else(|| HubError::new(StatusCode::SERVICE_UNAVAILABLE, "cert.no_signer", "this hub has no certificate signer"))?;
    let db = s.db.clone();
    let lookup = id.clone();
    let (found, catalog) = tokio::task::spawn_blocking(move || Ok::<_, crate::db::DbError>((db.person_events(&lookup)?, db.current_catalog()?))).await??;
    // Another site's person is "not found", not "forbidden": a desk learns
    // nothing about who is registered elsewhere.
    let (_, events) = found.filter(|(site, _)| *site == device.site).ok_or_else(|| HubError::not_found("person"))?;
    let mut person = None;
    let mut doses: Vec<DoseEvent> = Vec::new();
    for (stream, body) in &events {
        if stream == "person" {
            if let Ok(p) = serde_json::from_str::<PersonEvent>(body) {
                person = Some(p.person);
            }
        } else if let Ok(d) = serde_json::from_str::<DoseEvent>(body) {
            doses.push(d);
        }
    }
    let person = person.ok_or_else(|| HubError::not_found("person"))?;
    let catalog = catalog.unwrap_or_else(vaxdesk_core::catalog::Catalog::builtin);
    let dcc = dcc_for(&person, &derive_history(&doses), &catalog).map_err(|why| HubError::new(StatusCode::CONFLICT, "cert.not_eligible", why.to_string()))?;
    let v = dcc.v.first().map(|v| (v.dn, v.sd)).unwrap_or_default();
    let text = signer.issue(&dcc, chrono::Utc::now()).map_err(|e| HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "cert.sign", e.to_string()))?;
    tracing::info!(kid = %signer.published().kid, "certificate issued");
    // Noted for the daily report, without holding the reply: the citizen is
    // waiting at the desk, and a failure to note it withholds nothing.
    let (db, site, desk_device) = (s.db.clone(), device.site.clone(), device.id.clone());
    tokio::task::spawn_blocking(move || {
        if db.record_certificate(&site, &id, v.0, &desk_device).is_err() {
            tracing::warn!("a certificate issued could not be noted for the daily report");
        }
    });
    Ok(Json(CertificateReply { text, dose_number: v.0, series_doses: v.1, kid: signer.published().kid }))
}
