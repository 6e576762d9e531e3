//! `POST /sites/{site}/registrations`: a site's registration list, as the
//! national platform exports it (CSV in UTF-8, a byte-order mark allowed,
//! or XLSX), sent as the request body. The answer has a result for every
//! row (`crate::registrations`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;

use crate::actions::blocking;
use crate::auth::CoordinatorAuth;
use crate::error::HubResult;
use crate::registrations::{import, ImportReport};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// The file's name, kept with the upload for the coordinator's page.
    #[serde(default)]
    name: Option<String>,
}

pub async fn upload(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path(site): Path<String>, Query(q): Query<UploadQuery>, body: Bytes) -> HubResult<Json<ImportReport>> {
    let today = chrono::Utc::now().with_timezone(&crate::web::vn()).date_naive();
    let name = q.name.map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect::<String>());
    let report = blocking(&s, move |db| import(db, &me, &site, name.as_deref(), &body, today)).await?;
    Ok(Json(report?))
}
