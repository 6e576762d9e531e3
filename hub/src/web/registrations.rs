//! Registration lists on the coordinator's pages: upload a site's list
//! (the same import as the API, `crate::registrations`) and see every
//! row's result; a site's lists by appointment day, who is on each, and
//! the uploads before. Scoped like every page: a coordinator sees and
//! uploads only for their sites.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use vaxdesk_core::model::PersonEvent;

use super::session::Web;
use super::{answer, blocking, layout, local_time, my_sites, problem};
use crate::error::HubError;
use crate::registrations::{import, ImportReport, RowResult, RowStatus};
use crate::AppState;

/// Rows shown on the result page besides every refused one: a long list's
/// accepted rows are counted, not all printed.
const SHOWN_ACCEPTED: usize = 200;

pub async fn page(State(s): State<AppState>, w: Web) -> Response {
    let r = async {
        let sites = my_sites(&s, &w).await?;
        let codes: Vec<String> = sites.iter().map(|x| x.code.clone()).collect();
        let per_site = blocking(&s, move |db| {
            codes.iter().map(|c| Ok((db.registration_days(c, 30)?, db.registration_uploads(c, 10)?))).collect::<Result<Vec<_>, HubError>>()
        })
        .await?;
        let t = w.t();
        Ok(layout(&w, t.registrations, "/registrations", html! {
            (upload_form(&w, &sites, None))
            @for (site, (days, uploads)) in sites.iter().zip(&per_site) {
                fieldset id={ "site-" (site.code) } {
                    legend { strong { (site.name) } " " code { (site.code) } }
                    h3 { (t.reg_days) }
                    @if days.is_empty() { p.muted { (t.reg_none) } } @else {
                        table.days {
                            tr { th { (t.reg_day) } th.n { (t.reg_count) } }
                            @for (day, n) in days {
                                tr { td { a href={ "/registrations/" (site.code) "/" (day) } { (day_first(day)) } } td.n { (n) } }
                            }
                        }
                    }
                    @if !uploads.is_empty() {
                        h3 { (t.reg_uploads) }
                        table.uploads {
                            tr { th { (t.reg_at) } th { (t.reg_file) } th { (t.reg_by) } th.n { (t.reg_rows) } th.n { (t.reg_added) } th.n { (t.reg_updated) } th.n { (t.reg_unchanged) } th.n { (t.reg_refused) } }
                            @for u in uploads {
                                tr {
                                    td { a href={ "/registrations/uploads/" (u.id) } { (local_time(&u.uploaded_at)) } }
                                    td { (u.file_name.as_deref().unwrap_or("—")) } td { (u.uploaded_by) }
                                    td.n { (u.rows) } td.n { (u.added) } td.n { (u.updated) } td.n { (u.unchanged) }
                                    td.n { @if u.refused > 0 { span.warn { (u.refused) } } @else { "0" } }
                                }
                            }
                        }
                    }
                }
            }
        })
        .into_response())
    }
    .await;
    answer(&w, r)
}

fn upload_form(w: &Web, sites: &[vaxdesk_core::model::Site], chosen: Option<&str>) -> Markup {
    let t = w.t();
    html! {
        fieldset {
            legend { (t.reg_upload) }
            p.muted { (t.reg_help) }
            form method="post" action="/registrations" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(w.csrf);
                label { (t.site) " " select name="site" required {
                    @for site in sites { option value=(site.code) selected[chosen == Some(site.code.as_str())] { (site.code) " — " (site.name) } }
                } }
                " "
                label { (t.reg_file) " " input type="file" name="file" required accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"; }
                " "
                button type="submit" { (t.reg_send) }
            }
        }
    }
}

/// The form's fields: the CSRF token, the site and the file.
#[derive(Default)]
struct Form {
    csrf: String,
    site: String,
    file_name: Option<String>,
    bytes: Vec<u8>,
}

async fn read_form(mut mp: Multipart) -> Result<Form, HubError> {
    let mut f = Form::default();
    let bad = |e: axum::extract::multipart::MultipartError| HubError::bad_request("request.body", format!("the form could not be read: {e}"));
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => f.csrf = field.text().await.map_err(bad)?,
            Some("site") => f.site = field.text().await.map_err(bad)?,
            Some("file") => {
                f.file_name = field.file_name().map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect());
                f.bytes = field.bytes().await.map_err(bad)?.to_vec();
            }
            _ => {}
        }
    }
    Ok(f)
}

pub async fn upload(State(s): State<AppState>, w: Web, mp: Multipart) -> Response {
    let t = w.t();
    let form = match read_form(mp).await {
        Ok(f) => f,
        Err(e) => return super::hub_problem(&w, e),
    };
    // The token is checked before anything is read into the database.
    if !w.csrf_ok(&form.csrf) {
        return super::stale_form(&w);
    }
    let r = async {
        let sites = my_sites(&s, &w).await?;
        if form.bytes.is_empty() {
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, layout(&w, t.registrations, "/registrations", html! { p.warn { (t.reg_no_file) } (upload_form(&w, &sites, Some(&form.site))) })).into_response());
        }
        let today = chrono::Utc::now().with_timezone(&super::vn()).date_naive();
        let (who, site, name, bytes) = (w.who.clone(), form.site.clone(), form.file_name.clone(), form.bytes);
        let report = blocking(&s, move |db| import(db, &who, &site, name.as_deref(), &bytes, today)).await?;
        Ok(match report {
            Ok(report) => layout(&w, t.registrations, "/registrations", html! { (report_view(&w, &report.tally_view(), &report.results, true)) (upload_form(&w, &sites, Some(&form.site))) }).into_response(),
            Err(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                layout(&w, t.registrations, "/registrations", html! { h2 { (t.reg_list_refused) } p.warn #list-refused { (e.to_string()) } (upload_form(&w, &sites, Some(&form.site))) }),
            )
                .into_response(),
        })
    }
    .await;
    answer(&w, r)
}

/// An upload as stored: its counts and refused rows.
pub async fn upload_page(State(s): State<AppState>, w: Web, Path(id): Path<i64>) -> Response {
    let r = async {
        let found = blocking(&s, move |db| Ok(db.registration_upload(id)?)).await?;
        // Another site's upload answers as an unknown one.
        let Some((u, refusals)) = found.filter(|(u, _)| w.who.may_see(&u.site)) else { return Err(HubError::not_found("upload")) };
        let refused: Vec<RowResult> = serde_json::from_str::<Vec<serde_json::Value>>(&refusals)
            .unwrap_or_default()
            .into_iter()
            .map(|v| RowResult {
                row: v["row"].as_u64().unwrap_or(0),
                status: RowStatus::Refused,
                name: v["name"].as_str().map(Into::into),
                person_id: None,
                column: v["column"].as_str().map(Into::into),
                field: v["field"].as_str().map(Into::into),
                reason: v["reason"].as_str().map(Into::into),
                warnings: Vec::new(),
            })
            .collect();
        let t = w.t();
        let counts = TallyView { site: u.site.clone(), file: u.file_name.clone(), rows: u.rows, added: u.added, updated: u.updated, unchanged: u.unchanged, refused: u.refused };
        Ok(layout(&w, t.registrations, "/registrations", html! {
            p.muted { (local_time(&u.uploaded_at)) " · " (u.uploaded_by) }
            (report_view(&w, &counts, &refused, false))
        })
        .into_response())
    }
    .await;
    answer(&w, r)
}

/// Who is registered at a site for a day.
pub async fn day_page(State(s): State<AppState>, w: Web, Path((site, day)): Path<(String, String)>) -> Response {
    if !w.who.may_see(&site) {
        return problem(&w, StatusCode::NOT_FOUND, "no such site");
    }
    let Ok(date) = day.parse::<chrono::NaiveDate>() else { return problem(&w, StatusCode::NOT_FOUND, "no such day") };
    let r = async {
        let (site_code, day_text) = (site.clone(), date.to_string());
        let listed = blocking(&s, move |db| Ok(db.registered_on(&site_code, &day_text, 5_000)?)).await?;
        let t = w.t();
        let title = format!("{} · {} · {}", t.registrations, site, day_first(&date.to_string()));
        Ok(layout(&w, &title, "/registrations", html! {
            p { (listed.len()) " " (t.reg_count.to_lowercase()) }
            table #registered {
                tr { th { (t.name) } th { (t.birth_date) } th { (t.national_id) } th { (t.phone) } }
                @for (id, body) in &listed {
                    @let p = body.as_deref().and_then(|b| serde_json::from_str::<PersonEvent>(b).ok()).map(|e| e.person);
                    tr {
                        @match &p {
                            Some(p) => {
                                td { a href={ "/persons/" (id) } { (p.full_name) } }
                                td { (p.birth_date) }
                                td { (p.national_id.as_ref().map(|n| n.number.as_str()).unwrap_or("—")) }
                                td { (p.phone.as_deref().unwrap_or("—")) }
                            }
                            None => { td colspan="4" { code { (id) } } }
                        }
                    }
                }
            }
        })
        .into_response())
    }
    .await;
    answer(&w, r)
}

/// What the result table heads with.
struct TallyView {
    site: String,
    file: Option<String>,
    rows: i64,
    added: i64,
    updated: i64,
    unchanged: i64,
    refused: i64,
}

impl ImportReport {
    fn tally_view(&self) -> TallyView {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        TallyView { site: self.site.clone(), file: None, rows: n(self.tally.rows), added: n(self.tally.added), updated: n(self.tally.updated), unchanged: n(self.tally.unchanged), refused: n(self.tally.refused) }
    }
}

fn report_view(w: &Web, c: &TallyView, results: &[RowResult], fresh: bool) -> Markup {
    let t = w.t();
    let status = |s: RowStatus| match s {
        RowStatus::Added => t.reg_added,
        RowStatus::Updated => t.reg_updated,
        RowStatus::Unchanged => t.reg_unchanged,
        RowStatus::Refused => t.reg_refused,
    };
    // Every refused row, then the first accepted ones (and how many more).
    let refused: Vec<&RowResult> = results.iter().filter(|r| r.status == RowStatus::Refused).collect();
    let accepted: Vec<&RowResult> = results.iter().filter(|r| r.status != RowStatus::Refused).collect();
    let hidden = accepted.len().saturating_sub(SHOWN_ACCEPTED);
    html! {
        h2 { (t.reg_result) " · " code { (c.site) } @if let Some(f) = &c.file { " · " (f) } }
        table #tally {
            tr { th.n { (t.reg_rows) } th.n { (t.reg_added) } th.n { (t.reg_updated) } th.n { (t.reg_unchanged) } th.n { (t.reg_refused) } }
            tr { td.n { (c.rows) } td.n { (c.added) } td.n { (c.updated) } td.n { (c.unchanged) } td.n { @if c.refused > 0 { span.warn { (c.refused) } } @else { "0" } } }
        }
        table #rows {
            tr { th.n { (t.reg_row) } th { (t.name) } th { (t.reg_result) } th { (t.reg_column) } th { (t.reg_reason) } }
            @for r in refused.iter().chain(accepted.iter().take(if fresh { SHOWN_ACCEPTED } else { 0 })) {
                tr data-row=(r.row) data-status=(format!("{:?}", r.status).to_lowercase()) {
                    td.n { (r.row) }
                    td {
                        @match (&r.person_id, &r.name) {
                            (Some(id), Some(n)) => a href={ "/persons/" (id) } { (n) },
                            (None, Some(n)) => (n),
                            _ => "—",
                        }
                    }
                    td { @if r.status == RowStatus::Refused { span.warn { (status(r.status)) } } @else { (status(r.status)) } }
                    td { (r.column.as_deref().unwrap_or("")) }
                    td {
                        (r.reason.as_deref().unwrap_or(""))
                        @if !r.warnings.is_empty() { small.muted { (t.reg_warnings) ": " (r.warnings.join("; ")) } }
                    }
                }
            }
        }
        @if fresh && hidden > 0 { p.muted { (t.reg_more.replace("%n", &hidden.to_string())) } }
    }
}

fn day_first(iso: &str) -> String {
    iso.parse::<chrono::NaiveDate>().map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_else(|_| iso.to_string())
}
