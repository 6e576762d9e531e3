//! A site's day, desk by desk: doses by vaccine and dose number, deferrals
//! and refusals (corrections applied), how late records reach the hub,
//! what each phone still holds, and what the hub refused. Reloads itself.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use maud::html;
use serde::Deserialize;
use vaxdesk_core::model::{derive_history, DoseEvent, Outcome};

use super::session::Web;
use super::{answer, blocking, layout, local_time, my_sites, vn};
use crate::db::ReceivedEvent;
use crate::AppState;

/// One desk's day.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeskDay {
    /// (vaccine, dose number) → doses given.
    pub doses: BTreeMap<(String, u8), u32>,
    pub deferred: u32,
    pub refused: u32,
    /// Seconds from saving on the phone to arriving at the hub, per record.
    pub lags: Vec<i64>,
}

impl DeskDay {
    pub fn given(&self) -> u32 {
        self.doses.values().sum()
    }
    fn lag(&self, q: f64) -> Option<i64> {
        let mut v = self.lags.clone();
        v.sort_unstable();
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v.get(i).copied()
    }
}

/// Fold a site's recent dose events into each desk's `day` (local date of
/// administration). Events must be in arrival order; corrections of records
/// older than the events given are not seen (the page reads three days).
pub fn day_board(events: &[ReceivedEvent], day: NaiveDate) -> BTreeMap<String, DeskDay> {
    let mut parsed: Vec<(DoseEvent, &str)> = Vec::with_capacity(events.len());
    for e in events {
        if let Ok(d) = serde_json::from_str::<DoseEvent>(&e.body) {
            parsed.push((d, &e.received_at));
        }
    }
    let mut board: BTreeMap<String, DeskDay> = BTreeMap::new();
    for (e, received) in &parsed {
        // A dose given elsewhere is history typed at the desk, not the day's work.
        let on_day = e.dose.as_ref().is_some_and(|d| d.administered_at.date_naive() == day && d.given_elsewhere.is_none());
        if on_day && e.kind == vaxdesk_core::model::DoseKind::Record {
            if let Ok(r) = DateTime::parse_from_rfc3339(received) {
                let lag = (r.with_timezone(&Utc) - e.recorded_at).num_seconds().max(0);
                board.entry(e.desk.clone()).or_default().lags.push(lag);
            }
        }
    }
    let events: Vec<DoseEvent> = parsed.into_iter().map(|(e, _)| e).collect();
    for r in derive_history(&events).into_iter().filter(|r| r.dose.administered_at.date_naive() == day && r.dose.given_elsewhere.is_none()) {
        let desk = board.entry(r.desk.clone()).or_default();
        match r.dose.outcome {
            Outcome::Vaccinated => *desk.doses.entry((r.dose.vaccine.clone(), r.dose.dose_number.unwrap_or(0))).or_default() += 1,
            Outcome::Deferred => desk.deferred += 1,
            Outcome::Refused => desk.refused += 1,
        }
    }
    board
}

#[derive(Debug, Deserialize)]
pub struct DashQuery {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

fn secs(s: Option<i64>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) => format!("{} h", s / 3600),
    }
}

pub async fn page(State(s): State<AppState>, w: Web, Query(q): Query<DashQuery>) -> Response {
    let r = async {
        let sites = my_sites(&s, &w).await?;
        let today = Utc::now().with_timezone(&vn()).date_naive();
        let day = match q.date.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(d) => crate::dates::day("dashboard.date", "date", d)?,
            None => today,
        };
        let site = q.site.filter(|c| sites.iter().any(|x| &x.code == c)).or_else(|| sites.first().map(|x| x.code.clone()));
        let t = w.t();
        let Some(site) = site else {
            return Ok(layout(&w, t.dashboard, "/dashboard", html! { p.muted { (t.no_sites) } }).into_response());
        };
        // Records of `day` may arrive days later from a phone that was
        // offline; three days before it and everything after are read.
        let since = (day - chrono::Duration::days(3)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().to_rfc3339();
        let day_start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_local_timezone(vn()).single().map(|d| d.to_rfc3339()).unwrap_or_default();
        let site_q = site.clone();
        let (events, rejections, devices, desks) = blocking(&s, move |db| {
            Ok((db.recent_dose_events(&site_q, &since)?, db.rejections(&site_q, &day_start)?, db.devices()?, db.desks(&site_q)?))
        })
        .await?;
        let board = day_board(&events, day);
        let total = board.values().fold(DeskDay::default(), |mut acc, d| {
            for (k, n) in &d.doses {
                *acc.doses.entry(k.clone()).or_default() += n;
            }
            acc.deferred += d.deferred;
            acc.refused += d.refused;
            acc.lags.extend(&d.lags);
            acc
        });
        let mut names: Vec<String> = desks.iter().map(|d| d.code.clone()).collect();
        names.extend(board.keys().filter(|k| !desks.iter().any(|d| &d.code == *k)).cloned());
        let kinds: Vec<(String, u8)> = total.doses.keys().cloned().collect();
        let title = format!("{} · {}", t.dashboard, site);
        let body = html! {
            form method="get" action="/dashboard" {
                label { (t.site) " " select name="site" { @for x in &sites { option value=(x.code) selected[x.code == site] { (x.code) " — " (x.name) } } } }
                label { (t.date) " " input type="date" name="date" value=(day.to_string()); }
                button type="submit" { (t.show) }
                " " span.muted { (t.live_note) }
            }
            table #board {
                tr {
                    th { (t.desk) }
                    @for (v, n) in &kinds { th { (v) " · " (t.dose_number) " " (n) } }
                    th { (t.doses) } th { (t.deferred) } th { (t.refused) }
                    th { (t.sync_lag) " (" (t.lag_median) " / " (t.lag_max) ")" }
                }
                @for name in &names {
                    @let d = board.get(name).cloned().unwrap_or_default();
                    tr data-desk=(name) {
                        td { code { (name) } }
                        @for k in &kinds { td.n { (d.doses.get(k).copied().unwrap_or(0)) } }
                        td.n.given { (d.given()) } td.n { (d.deferred) } td.n { (d.refused) }
                        td.n { (secs(d.lag(0.5))) " / " (secs(d.lag(1.0))) }
                    }
                }
                tr.total {
                    th { (t.total) }
                    @for k in &kinds { th.n { (total.doses.get(k).copied().unwrap_or(0)) } }
                    th.n #total-given { (total.given()) } th.n { (total.deferred) } th.n { (total.refused) }
                    th.n { (secs(total.lag(0.5))) " / " (secs(total.lag(1.0))) }
                }
            }
            h2 { (t.devices) }
            table {
                tr { th { (t.desk) } th { (t.device) } th { (t.last_sync) } th { (t.pending) } }
                @for d in devices.iter().filter(|d| d.site == site && d.revoked_at.is_none()) {
                    tr {
                        td { code { (d.desk) } } td { (d.name.as_deref().unwrap_or(&d.id)) }
                        td { @match &d.last_seen_at { Some(at) => (local_time(at)), None => span.muted { (t.never) } } }
                        td.n { @match d.pending { Some(n) => (n), None => "—" } }
                    }
                }
            }
            h2 { (t.rejected_events) }
            @if rejections.is_empty() { p.muted { (t.none) } } @else {
                table #rejections {
                    tr { th { (t.time) } th { (t.device) } th { (t.code) } th { (t.reason) } }
                    @for r in &rejections { tr { td { (local_time(&r.received_at)) } td { small { (r.device) } } td { code { (r.code) } } td { (r.message) } } }
                }
            }
        };
        // "Live" without script: the browser reloads the page every 15 s.
        Ok(([(axum::http::header::REFRESH, "15")], layout(&w, &title, "/dashboard", body)).into_response())
    }
    .await;
    answer(&w, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxdesk_core::model::{Dose, DoseKind, EventId, PersonId};

    fn event(desk: &str, kind: DoseKind, outcome: Outcome, vaccine: &str, n: Option<u8>, at: &str) -> (DoseEvent, String) {
        let administered_at = DateTime::parse_from_rfc3339(at).unwrap();
        let e = DoseEvent {
            id: EventId::new(),
            person_id: PersonId::new(),
            site: "S".into(),
            desk: desk.into(),
            device: "d".into(),
            kind: kind.clone(),
            dose: (!matches!(kind, DoseKind::Void { .. })).then(|| Dose {
                vaccine: vaccine.into(),
                lot: None,
                lot_expiry: None,
                dose_number: n,
                administered_at,
                outcome,
                note: None,
                given_elsewhere: None,
            }),
            confirmed: vec![],
            recorded_at: administered_at.with_timezone(&Utc),
        };
        let received = (e.recorded_at + chrono::Duration::seconds(90)).to_rfc3339();
        (e, received)
    }

    fn received(list: &[(DoseEvent, String)]) -> Vec<ReceivedEvent> {
        list.iter().map(|(e, r)| ReceivedEvent { device: "d".into(), body: serde_json::to_string(e).unwrap(), received_at: r.clone() }).collect()
    }

    #[test]
    fn counts_by_desk_with_corrections_applied() {
        let day: NaiveDate = "2021-09-14".parse().unwrap();
        let a = event("D1", DoseKind::Record, Outcome::Vaccinated, "AZ", Some(1), "2021-09-14T08:00:00+07:00");
        let b = event("D1", DoseKind::Record, Outcome::Vaccinated, "AZ", Some(2), "2021-09-14T08:05:00+07:00");
        let c = event("D2", DoseKind::Record, Outcome::Deferred, "PF", None, "2021-09-14T09:00:00+07:00");
        let other_day = event("D2", DoseKind::Record, Outcome::Vaccinated, "PF", Some(1), "2021-09-13T09:00:00+07:00");
        let amend = event("D1", DoseKind::Amend { corrects: b.0.id, reason: "số mũi".into() }, Outcome::Vaccinated, "AZ", Some(1), "2021-09-14T08:05:00+07:00");
        let void = event("D1", DoseKind::Void { corrects: a.0.id, reason: "nhập nhầm".into() }, Outcome::Vaccinated, "AZ", None, "2021-09-14T10:00:00+07:00");
        let mut elsewhere = event("D1", DoseKind::Record, Outcome::Vaccinated, "AB", Some(1), "2021-09-14T07:00:00+07:00");
        if let Some(d) = elsewhere.0.dose.as_mut() {
            d.given_elsewhere = Some(vaxdesk_core::model::GivenElsewhere { place: "Cần Thơ".into() });
        }
        let board = day_board(&received(&[a, b, c, other_day, amend, void, elsewhere]), day);
        let d1 = &board["D1"];
        assert_eq!(d1.given(), 1, "one voided, one amended to dose 1");
        assert_eq!(d1.doses.get(&("AZ".to_string(), 1)), Some(&1));
        assert_eq!(d1.doses.get(&("AZ".to_string(), 2)), None);
        assert_eq!(d1.doses.get(&("AB".to_string(), 1)), None, "a dose given elsewhere is not the desk's work");
        assert_eq!(d1.lags, vec![90, 90]);
        assert_eq!(board["D2"].deferred, 1);
        assert_eq!(board["D2"].given(), 0, "the dose of the day before is not today's");
        assert_eq!(d1.lag(0.5), Some(90));
    }
}
