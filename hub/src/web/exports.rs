//! Exports from the hub's database, for a site and a date range: the same
//! CSV / XLSX rows and FHIR R4 Bundle as `vaxdesk export`. The file is
//! written to a temporary file (the XLSX writer needs one; memory stays
//! bounded) and streamed from it.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use maud::html;
use serde::Deserialize;
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::export;

use super::session::Web;
use super::{answer, layout, my_sites, vn};
use crate::error::HubError;
use crate::export::HubDoses;
use crate::AppState;

pub async fn page(State(s): State<AppState>, w: Web) -> Response {
    let r = async {
        let sites = my_sites(&s, &w).await?;
        let today = Utc::now().with_timezone(&vn()).date_naive();
        let t = w.t();
        Ok(layout(&w, t.exports, "/exports", html! {
            p { (t.export_help) }
            form method="get" action="/exports/download" {
                label { (t.site) " " select name="site" { @for x in &sites { option value=(x.code) { (x.code) " — " (x.name) } } } }
                label { (t.from) " " input type="date" name="from" value=(today) required; }
                label { (t.to) " " input type="date" name="to" value=(today) required; }
                label { (t.format) " " select name="format" {
                    option value="xlsx" { "Excel (XLSX)" }
                    option value="csv" { "CSV (UTF-8)" }
                    option value="fhir" { "FHIR R4 Bundle (JSON)" }
                } }
                button type="submit" { (t.download) }
            }
        })
        .into_response())
    }
    .await;
    answer(&w, r)
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    site: String,
    from: String,
    to: String,
    #[serde(default)]
    format: String,
}

fn date(field: &'static str, v: &str) -> Result<NaiveDate, HubError> {
    crate::dates::day("export.date", field, v)
}

/// A GET (a download link a coordinator can bookmark) that changes nothing
/// but the audit log, which records who exported what.
pub async fn download(State(s): State<AppState>, w: Web, Query(q): Query<ExportQuery>) -> Response {
    let r = async {
        // Only a site that exists and is the coordinator's: an unknown one is
        // a 404, not an empty file (and no audit row of an export that was not).
        let code = crate::routes::coordinator::check_code("site", &q.site)?;
        let (db, wanted) = (s.db.clone(), code.clone());
        let known = tokio::task::spawn_blocking(move || db.site(&wanted)).await??.is_some();
        if !known || !w.who.may_see(&code) {
            return Err(HubError::not_found("site"));
        }
        let (from, to) = (date("from", &q.from)?, date("to", &q.to)?);
        if to < from {
            return Err(HubError::bad_request("export.range", "to: must not be before from"));
        }
        let (kind, ext, mime) = match q.format.as_str() {
            "csv" => ("csv", "csv", "text/csv; charset=utf-8"),
            "fhir" => ("fhir", "json", "application/fhir+json"),
            "xlsx" | "" => ("xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            other => return Err(HubError::bad_request("export.format", format!("format: csv, xlsx or fhir expected, got {other:?}"))),
        };
        let (db, who, site) = (s.db.clone(), w.who.clone(), code.clone());
        let (file, rows) = tokio::task::spawn_blocking(move || -> Result<(std::fs::File, u64), HubError> {
            let catalog = db.current_catalog()?.unwrap_or_else(Catalog::builtin);
            let source = HubDoses { db: &db, sites: vec![site.clone()] };
            let tmp = tempfile::NamedTempFile::new().map_err(|e| internal(e.to_string()))?;
            let rows = match kind {
                "csv" => export::doses_csv(&source, &catalog, from, to, Some(&site), std::io::BufWriter::new(tmp.reopen().map_err(|e| internal(e.to_string()))?)),
                "fhir" => export::doses_fhir_bundle(&source, &catalog, from, to, Some(&site), tmp.reopen().map_err(|e| internal(e.to_string()))?, |_| {}).map(|(_, i)| i),
                _ => export::doses_xlsx(&source, &catalog, from, to, Some(&site), tmp.path(), |_| {}),
            }
            .map_err(|e| internal(e.to_string()))?;
            crate::actions::audit(&db, &who, &format!("export.{kind}"), Some(&site), &site, &format!("{from}..{to}, {rows} doses"))?;
            // Open before the temporary path goes away: the open file lives on.
            let file = std::fs::File::open(tmp.path()).map_err(|e| internal(e.to_string()))?;
            Ok((file, rows))
        })
        .await??;
        let name = format!("vaxdesk-{code}-{from}-{to}.{ext}");
        let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
        Ok((
            [
                (header::CONTENT_TYPE, mime.to_string()),
                (header::CONTENT_DISPOSITION, content_disposition(&name)),
                (header::HeaderName::from_static("x-vaxdesk-rows"), rows.to_string()),
            ],
            Body::from_stream(stream),
        )
            .into_response())
    }
    .await;
    answer(&w, r)
}

/// `attachment` with the file name quoted (RFC 6266) and, for any byte
/// outside plain ASCII, percent-encoded in `filename*` (RFC 5987): a name
/// can never add a parameter or a header line.
pub fn content_disposition(name: &str) -> String {
    let plain: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{}", percent_encoded(name))
}

/// Every byte but letters, digits and `._-` as `%XX`: safe in a header
/// parameter (RFC 5987) and in a URL's query (RFC 3986).
pub fn percent_encoded(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"._-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn internal(detail: String) -> HubError {
    HubError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "export.failed", detail)
}
