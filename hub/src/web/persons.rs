//! Find a person; see their doses; amend or void a dose with a reason. A
//! correction made here is an event like a desk's: it goes to the desks of
//! the site at their next pull, and into every export.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, NaiveTime};
use maud::{html, Markup};
use serde::Deserialize;
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{Dose, EventId, Outcome};
use vaxdesk_core::validate::Findings;

use super::session::{Posted, Web, WithCsrf};
use super::{answer, blocking, layout, vn};
use std::collections::HashMap;

use vaxdesk_core::timeline::{record_timelines, FieldChange, RecordTimeline, Step};

use crate::actions::{correct_dose, person_file, Correction, CorrectionRequest, PersonFile, HUB_DEVICE};
use crate::db::AuditEntry;
use crate::error::HubError;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(State(s): State<AppState>, w: Web, Query(q): Query<SearchQuery>) -> Response {
    let r = async {
        let text = q.q.trim().to_string();
        let digits = text.chars().all(|c| c.is_ascii_digit());
        let (key, nid) = if text.is_empty() { (String::new(), String::new()) } else if digits { (String::new(), text.clone()) } else { (vaxdesk_core::fold::fold(&text), String::new()) };
        let who = w.who.clone();
        let found = blocking(&s, move |db| {
            let mut out = Vec::new();
            for p in db.find_persons(&key, &nid, 200)? {
                if p.merged_into.is_some() || !who.may_see(&p.site) {
                    continue;
                }
                if let Some(f) = person_file(db, &p.id)? {
                    out.push((p.id, f));
                }
                if out.len() >= 50 {
                    break;
                }
            }
            Ok(out)
        })
        .await?;
        let t = w.t();
        Ok(layout(&w, t.persons, "/persons", html! {
            form method="get" action="/persons" {
                input name="q" value=(text) size="40" placeholder=(t.search_help) autofocus;
                " " button type="submit" { (t.search) }
            }
            @if !text.is_empty() && found.is_empty() { p.muted { (t.no_results) } }
            @if !found.is_empty() {
                table #persons {
                    tr { th { (t.name) } th { (t.birth_date) } th { (t.national_id) } th { (t.site) } th { (t.doses) } }
                    @for (id, f) in &found {
                        tr {
                            td { a href={ "/persons/" (id) } { (f.person.full_name) } }
                            td { (f.person.birth_date) }
                            td { (f.person.national_id.as_ref().map(|n| n.number.as_str()).unwrap_or("—")) }
                            td { code { (f.site) } }
                            td.n { (f.doses.len()) }
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

#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

pub async fn show(State(s): State<AppState>, w: Web, Path(id): Path<String>, Query(q): Query<ShowQuery>) -> Response {
    let r = async {
        let (file, catalog) = load(&s, &w, &id).await?;
        let who = load_who(&s, &file).await?;
        let t = w.t();
        let note = q.done.is_some().then(|| html! { p.msg role="status" { (t.saved_correction) } });
        Ok(person_page(&w, &id, &file, &catalog, &who, note).into_response())
    }
    .await;
    answer(&w, r)
}

async fn load(s: &AppState, w: &Web, id: &str) -> Result<(PersonFile, Catalog), HubError> {
    let id = id.to_string();
    let (file, catalog) = blocking(s, move |db| Ok((person_file(db, &id)?, db.current_catalog()?.unwrap_or_else(Catalog::builtin)))).await?;
    let file = file.filter(|f| w.who.may_see(&f.site)).ok_or_else(|| HubError::not_found("person"))?;
    Ok((file, catalog))
}

/// Who wrote each step: the phones' names, and the coordinators behind the
/// hub's corrections (from the audit log: the event itself says only `hub`).
struct Who {
    devices: HashMap<String, String>,
    audit: Vec<AuditEntry>,
}

async fn load_who(s: &AppState, f: &PersonFile) -> Result<Who, HubError> {
    let site = f.site.clone();
    let corrected: Vec<String> = record_timelines(&f.events)
        .iter()
        .filter(|t| t.steps.iter().chain(&t.voided).any(|s| s.device == HUB_DEVICE))
        .map(|t| t.record.to_string())
        .collect();
    blocking(s, move |db| {
        let devices = db.devices()?.into_iter().filter(|d| d.site == site).map(|d| (d.id.clone(), d.name.unwrap_or(d.id))).collect();
        let mut audit = Vec::new();
        for record in &corrected {
            audit.extend(db.audit_about(&site, record)?);
        }
        Ok(Who { devices, audit })
    })
    .await
}

impl Who {
    fn of(&self, t: &super::i18n::Texts, record: EventId, s: &Step) -> String {
        if s.device == HUB_DEVICE {
            // The coordinator's entry for this correction: same record and
            // action, the nearest in time.
            let action = format!("dose.{}", s.kind);
            let subject = record.to_string();
            let by = self
                .audit
                .iter()
                .filter(|a| a.subject == subject && a.action == action)
                .min_by_key(|a| chrono::DateTime::parse_from_rfc3339(&a.at).map_or(i64::MAX, |at| (at.timestamp_millis() - s.at.timestamp_millis()).abs()))
                .map_or(HUB_DEVICE, |a| a.coordinator.as_str());
            format!("{by} ({})", t.coordinator_word)
        } else {
            let phone = self.devices.get(&s.device).map_or(s.device.as_str(), String::as_str);
            format!("{phone} · {} {}", t.desk, s.desk)
        }
    }
}

/// An outcome in the page's language.
fn outcome_label(t: &super::i18n::Texts, o: Outcome) -> &'static str {
    match o {
        Outcome::Vaccinated => t.outcome_vaccinated,
        Outcome::Deferred => t.outcome_deferred,
        Outcome::Refused => t.outcome_refused,
    }
}

/// What an amendment changed, as the page says it.
fn change_text(t: &super::i18n::Texts, c: &FieldChange) -> String {
    let label = match c.field {
        "vaccine" => t.vaccine,
        "lot" => t.lot,
        "dose_number" => t.dose_number,
        "administered_at" => t.administered,
        "outcome" => t.outcome,
        "note" => t.note_field,
        "given_elsewhere" => t.given_elsewhere,
        other => other,
    };
    let shown = |v: &str| -> String {
        if v.is_empty() {
            return "—".into();
        }
        match c.field {
            "administered_at" => chrono::DateTime::parse_from_rfc3339(v).map_or_else(|_| v.to_string(), |d| d.with_timezone(&vn()).format("%d/%m/%Y %H:%M").to_string()),
            "outcome" => ["vaccinated", "deferred", "refused"]
                .into_iter()
                .zip([Outcome::Vaccinated, Outcome::Deferred, Outcome::Refused])
                .find(|(k, _)| *k == v)
                .map_or_else(|| v.to_string(), |(_, o)| outcome_label(t, o).to_string()),
            _ => v.to_string(),
        }
    };
    format!("{label}: {} → {}", shown(&c.before), shown(&c.after))
}

fn outcome_text(o: Outcome) -> &'static str {
    match o {
        Outcome::Vaccinated => "vaccinated",
        Outcome::Deferred => "deferred",
        Outcome::Refused => "refused",
    }
}

fn person_page(w: &Web, id: &str, f: &PersonFile, catalog: &Catalog, who: &Who, note: Option<Markup>) -> Markup {
    let t = w.t();
    let p = &f.person;
    let timelines = record_timelines(&f.events);
    let voided: Vec<&RecordTimeline> = timelines.iter().filter(|r| r.voided.is_some()).collect();
    let corrected: Vec<&RecordTimeline> = timelines.iter().filter(|r| r.voided.is_some() || r.steps.len() > 1).collect();
    let when = |at: &chrono::DateTime<chrono::Utc>| at.with_timezone(&vn()).format("%d/%m/%Y %H:%M").to_string();
    layout(w, &p.full_name, "/persons", html! {
        @if let Some(n) = note { (n) }
        p {
            (t.birth_date) ": " (p.birth_date) " · " (t.national_id) ": " (p.national_id.as_ref().map(|n| n.number.as_str()).unwrap_or("—"))
            " · " (t.site) ": " code { (f.site) }
        }
        table #doses {
            tr { th { (t.administered) } th { (t.vaccine) } th { (t.dose_number) } th { (t.lot) } th { (t.outcome) } th { (t.desk) } th {} }
            @for d in &f.doses {
                tr data-record=(d.id) {
                    td { (d.dose.administered_at.with_timezone(&vn()).format("%d/%m/%Y %H:%M")) }
                    td { (d.dose.vaccine) } td.n { (d.dose.dose_number.map(|n| n.to_string()).unwrap_or_default()) }
                    td { (d.dose.lot.as_deref().unwrap_or("—")) }
                    td {
                        (outcome_label(t, d.dose.outcome))
                        @if d.amended { " " a.warn href={ "#rec-" (d.id) } { "(" (t.amended) ")" } }
                        @if let Some(g) = &d.dose.given_elsewhere {
                            br; small.elsewhere { (t.given_elsewhere) @if !g.place.trim().is_empty() { ": " (g.place) } }
                        }
                    }
                    td { code { (d.desk) } }
                    td {
                        details {
                            summary { (t.amend) }
                            form method="post" action={ "/persons/" (id) "/doses/" (d.id) "/amend" } {
                                input type="hidden" name="csrf" value=(w.csrf);
                                label { (t.vaccine) " " select name="vaccine" { @for v in &catalog.vaccines { option value=(v.code) selected[v.code == d.dose.vaccine] { (v.code) } } } }
                                label { (t.dose_number) " " input name="dose_number" type="number" min="1" max="10" size="3" value=[d.dose.dose_number]; }
                                label { (t.lot) " " input name="lot" size="10" value=[d.dose.lot.as_deref()]; }
                                br;
                                label { (t.date) " " input name="date" type="date" value=(d.dose.administered_at.with_timezone(&vn()).date_naive()); }
                                label { (t.time) " " input name="time" type="time" value=(d.dose.administered_at.with_timezone(&vn()).format("%H:%M")); }
                                label { (t.outcome) " " select name="outcome" {
                                    @for o in [Outcome::Vaccinated, Outcome::Deferred, Outcome::Refused] { option value=(outcome_text(o)) selected[o == d.dose.outcome] { (outcome_label(t, o)) } }
                                } }
                                br;
                                label { (t.reason) " " input name="reason" size="40" required; }
                                label { input type="checkbox" name="confirm" value="yes"; " " (t.confirm_warnings) }
                                button type="submit" { (t.save) }
                            }
                        }
                        details {
                            summary { (t.void) }
                            form method="post" action={ "/persons/" (id) "/doses/" (d.id) "/void" } {
                                input type="hidden" name="csrf" value=(w.csrf);
                                label { (t.reason) " " input name="reason" size="40" required; }
                                button type="submit" { (t.void) }
                            }
                        }
                    }
                }
            }
            // Voided records stay on the page, struck through, with why, who and when.
            @for r in &voided {
                @if let Some(v) = &r.voided {
                    tr.voided data-voided=(r.record) {
                        td { del { (r.dose.administered_at.with_timezone(&vn()).format("%d/%m/%Y %H:%M")) } }
                        td { del { (r.dose.vaccine) } } td.n { del { (r.dose.dose_number.map(|n| n.to_string()).unwrap_or_default()) } }
                        td { del { (r.dose.lot.as_deref().unwrap_or("—")) } }
                        td { del { (outcome_label(t, r.dose.outcome)) } }
                        td colspan="2" { span.warn { (t.voided) } ": " (v.reason.as_deref().unwrap_or("")) " · " (who.of(t, r.record, v)) " · " (when(&v.at)) }
                    }
                }
            }
        }
        h2 { (t.history) }
        @if corrected.is_empty() { p.muted #history-none { (t.no_corrections) } } @else {
            table #history {
                tr { th { (t.administered) } th { (t.reg_result) } th { (t.at_when) } th { (t.by_who) } th { (t.reason) } th { (t.what_changed) } }
                @for r in &corrected {
                    @for s in r.steps.iter().chain(&r.voided) {
                        tr id={ "rec-" (r.record) } data-step=(s.kind) {
                            td { (r.dose.administered_at.with_timezone(&vn()).format("%d/%m/%Y")) " " (r.dose.vaccine) }
                            td { (match s.kind { "amend" => t.step_amend, "void" => t.step_void, _ => t.step_record }) }
                            td { (when(&s.at)) }
                            td { (who.of(t, r.record, s)) }
                            td { (s.reason.as_deref().unwrap_or("")) }
                            td { @for c in &s.changes { (change_text(t, c)) br; } }
                        }
                    }
                }
            }
        }
    })
}

#[derive(Debug, Deserialize)]
pub struct AmendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    vaccine: String,
    #[serde(default)]
    dose_number: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: Option<String>,
}

impl WithCsrf for AmendForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The record as it stands with the form's fields put over it: what the
/// form does not show (the note, where a dose given elsewhere was given)
/// stays as it was.
fn amended_dose(f: &AmendForm, current: Option<&Dose>) -> Result<Dose, HubError> {
    let date: NaiveDate = f.date.parse().map_err(|_| HubError::bad_request("dose.date", format!("date: YYYY-MM-DD expected, got {:?}", f.date)))?;
    let time = NaiveTime::parse_from_str(&f.time, "%H:%M").map_err(|_| HubError::bad_request("dose.time", format!("time: HH:MM expected, got {:?}", f.time)))?;
    let administered_at = date.and_time(time).and_local_timezone(vn()).single().ok_or_else(|| HubError::bad_request("dose.time", "time: not a valid local time"))?;
    let outcome = match f.outcome.as_str() {
        "vaccinated" | "" => Outcome::Vaccinated,
        "deferred" => Outcome::Deferred,
        "refused" => Outcome::Refused,
        other => return Err(HubError::bad_request("dose.outcome", format!("outcome: {other:?} is not vaccinated, deferred or refused"))),
    };
    let dose_number = match f.dose_number.trim() {
        "" => None,
        n => Some(n.parse::<u8>().map_err(|_| HubError::bad_request("dose.dose_number", format!("dose_number: 1 to 10 expected, got {n:?}")))?),
    };
    let lot = Some(f.lot.trim().to_string()).filter(|l| !l.is_empty());
    let base = current.cloned().unwrap_or(Dose {
        vaccine: String::new(),
        lot: None,
        lot_expiry: None,
        dose_number: None,
        administered_at,
        outcome,
        note: None,
        given_elsewhere: None,
    });
    Ok(Dose { vaccine: f.vaccine.trim().to_string(), lot, dose_number, administered_at, outcome, ..base })
}

pub async fn amend(State(s): State<AppState>, Path((id, record)): Path<(String, String)>, Posted(w, f): Posted<AmendForm>) -> Response {
    let r = async {
        let (file, _) = load(&s, &w, &id).await?;
        let current = record.parse::<EventId>().ok().and_then(|r| file.doses.iter().find(|d| d.id == r || d.head == r)).map(|d| &d.dose);
        let dose = amended_dose(&f, current)?;
        let confirmed = f.confirm.is_some();
        apply(&s, &w, &id, &record, Correction::Amend(dose), &f.reason, confirmed).await
    }
    .await;
    answer(&w, r)
}

#[derive(Debug, Deserialize)]
pub struct VoidForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

impl WithCsrf for VoidForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn void(State(s): State<AppState>, Path((id, record)): Path<(String, String)>, Posted(w, f): Posted<VoidForm>) -> Response {
    let r = apply(&s, &w, &id, &record, Correction::Void, &f.reason, false).await;
    answer(&w, r)
}

async fn apply(s: &AppState, w: &Web, id: &str, record: &str, c: Correction, reason: &str, confirm_warnings: bool) -> Result<Response, HubError> {
    let record: EventId = record.parse().map_err(|_| HubError::not_found("dose"))?;
    let (file, catalog) = load(s, w, id).await?;
    // Confirming means: every warning the rules raise on this correction.
    let warnings: Vec<String> = if confirm_warnings { vaxdesk_core::validate::Code::ALL.iter().map(|c| c.as_str().to_string()).collect() } else { vec![] };
    let (who, cat) = (w.who.clone(), catalog.clone());
    let req = CorrectionRequest { record, correction: c, reason: reason.to_string(), confirmed: warnings, now: chrono::Utc::now() };
    let outcome = blocking(s, move |db| correct_dose(db, &cat, &who, req)).await?;
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/persons/{id}?done=1")).into_response()),
        Err(findings) => {
            let note = refused(w, &findings);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, person_page(w, id, &file, &catalog, &load_who(s, &file).await?, Some(note))).into_response())
        }
    }
}

fn refused(w: &Web, findings: &Findings) -> Markup {
    html! {
        div.err role="alert" {
            strong { (w.t().not_saved) }
            ul { @for f in findings.iter() { li { code { (f.field) } ": " (f.message) " " small.muted { "(" (f.code.as_str()) ")" } } } }
        }
    }
}
