//! What a coordinator fixes by hand, for scripts and tools beside the pages:
//! possible duplicates (list, merge, dismiss), a person's file, and dose
//! records (amend, void). The same actions as the pages (`crate::actions`),
//! with the same scope, checks and audit entries.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{Dose, DoseRecord, EventId, Person};
use vaxdesk_core::validate::Finding;

use crate::actions::{blocking, correct_dose, CorrectionRequest, dismiss_duplicate, duplicates_for, merge_duplicate, person_file, Correction};
use crate::auth::CoordinatorAuth;
use crate::db::{Coordinator, PossibleDuplicate};
use crate::error::{HubError, HubResult};
use crate::routes::ApiJson;
use crate::AppState;

pub async fn list(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth) -> HubResult<Json<Vec<PossibleDuplicate>>> {
    Ok(Json(blocking(&s, move |db| duplicates_for(db, &me)).await?))
}

#[derive(Debug, Deserialize)]
pub struct Keep {
    keep: String,
}

pub async fn merge(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path((a, b)): Path<(String, String)>, ApiJson(k): ApiJson<Keep>) -> HubResult<StatusCode> {
    blocking(&s, move |db| merge_duplicate(db, &me, &a, &b, &k.keep)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn dismiss(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path((a, b)): Path<(String, String)>) -> HubResult<StatusCode> {
    blocking(&s, move |db| dismiss_duplicate(db, &me, &a, &b)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person as the hub knows them: the latest record and the doses as they
/// stand, each with the record id a correction points at.
#[derive(Debug, Serialize)]
pub struct PersonReply {
    id: String,
    site: String,
    person: Person,
    doses: Vec<DoseRecord>,
}

pub async fn person(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path(id): Path<String>) -> HubResult<Json<PersonReply>> {
    let wanted = id.clone();
    let file = blocking(&s, move |db| person_file(db, &wanted)).await?;
    // Another site's person answers as an unknown one: no probing across sites.
    let Some(f) = file.filter(|f| me.may_see(&f.site)) else { return Err(HubError::not_found("person")) };
    Ok(Json(PersonReply { id: f.person.id.to_string(), site: f.site, person: f.person, doses: f.doses }))
}

#[derive(Debug, Deserialize)]
pub struct VoidRequest {
    reason: String,
}

#[derive(Debug, Deserialize)]
pub struct AmendRequest {
    dose: Dose,
    reason: String,
    /// Warning codes the coordinator has read and accepts (`lot.unknown`, ...).
    #[serde(default)]
    confirm: Vec<String>,
}

/// The correction event the hub made; desks of the site receive it at
/// their next pull.
#[derive(Debug, Serialize)]
pub struct Corrected {
    id: String,
    corrects: String,
    kind: &'static str,
}

/// Refused by the dose rules: every finding that stands in the way.
#[derive(Debug, Serialize)]
pub struct Refused {
    code: &'static str,
    message: String,
    findings: Vec<Finding>,
}

pub async fn void(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path(record): Path<String>, ApiJson(r): ApiJson<VoidRequest>) -> HubResult<Response> {
    apply(&s, me, &record, Correction::Void, r.reason, Vec::new()).await
}

pub async fn amend(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path(record): Path<String>, ApiJson(r): ApiJson<AmendRequest>) -> HubResult<Response> {
    apply(&s, me, &record, Correction::Amend(r.dose), r.reason, r.confirm).await
}

async fn apply(s: &AppState, me: Coordinator, record: &str, c: Correction, reason: String, confirm: Vec<String>) -> HubResult<Response> {
    let record: EventId = record.parse().map_err(|_| HubError::not_found("dose"))?;
    let outcome = blocking(s, move |db| {
        let catalog = db.current_catalog()?.unwrap_or_else(Catalog::builtin);
        correct_dose(db, &catalog, &me, CorrectionRequest { record, correction: c, reason, confirmed: confirm, now: chrono::Utc::now() })
    })
    .await?;
    Ok(match outcome {
        Ok(e) => Json(Corrected { id: e.id.to_string(), corrects: e.root().to_string(), kind: e.kind.as_str() }).into_response(),
        Err(findings) => {
            let findings: Vec<Finding> = findings.iter().cloned().collect();
            let message = findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            (StatusCode::UNPROCESSABLE_ENTITY, Json(Refused { code: "dose.refused", message, findings })).into_response()
        }
    })
}
