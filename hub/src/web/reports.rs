//! The daily report for the steering committee: a site's (or every site's)
//! day on one printable page (A4, print stylesheet, no script) and the same
//! figures as an XLSX. The figures and charts here are the dashboard's too.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Timelike, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::Site;

use super::charts::{self, Line};
use super::exports::{content_disposition, percent_encoded};
use super::i18n::Texts;
use super::session::Web;
use super::{answer, blocking, layout, local_time, my_sites};
use crate::db::Device;
use crate::error::HubError;
use crate::report::{self, vn, SiteDay, SiteTotals};
use crate::AppState;

/// Sync lags as the tables show them.
pub(super) fn secs(s: Option<i64>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) => format!("{} h", s / 3600),
    }
}

/// Registered / served / not yet come / walk-ins of one site's day.
pub(super) fn registration_table(t: &Texts, d: &SiteDay) -> Markup {
    html! {
        table.figures data-site=(d.site) {
            tr { th { (t.day_registered) } th { (t.day_served) } th { (t.day_not_yet) } th { (t.day_walk_ins) } th { (t.certificates_issued) } }
            tr {
                td.n.registered { (d.registered) } td.n.served { (d.served) } td.n.not-yet { (d.not_yet_come()) } td.n.walk-ins { (d.walk_ins) }
                td.n.certificates { (d.certificates) " " span.muted { "(" (t.for_persons) " " (d.certificate_persons) " " (t.persons_word) ")" } }
            }
        }
    }
}

/// The day's three charts. `now`: the current local hour when `d` is today,
/// so the cumulative lines stop at the present.
pub(super) fn day_charts(t: &Texts, d: &SiteDay, now: Option<u32>) -> Markup {
    let busy = d.total.by_hour.iter().enumerate().filter(|(_, n)| **n > 0).map(|(h, _)| h as u32);
    let arrived = d.arrivals.iter().enumerate().filter(|(_, a)| a.0 + a.1 > 0).map(|(h, _)| h as u32);
    let saved = d.lags_by_hour.iter().enumerate().filter(|(_, l)| !l.is_empty()).map(|(h, _)| h as u32);
    let hours = charts::hours_of(busy.chain(arrived).chain(saved).chain(now));
    // Ids unique per site on a page of several (S.1 and S-1 are two sites).
    let id = |name: &str| format!("chart-{name}-{}", d.site.bytes().map(|b| format!("{b:02x}")).collect::<String>());

    let per_desk: Vec<(String, Vec<u32>)> = d.desks.iter().map(|(k, x)| (k.clone(), hours.iter().map(|h| x.by_hour[*h as usize]).collect())).collect();
    let peak = hours.iter().copied().max_by_key(|h| (d.total.by_hour[*h as usize], std::cmp::Reverse(*h)));
    let doses_summary = match peak.filter(|h| d.total.by_hour[*h as usize] > 0) {
        Some(h) => format!("{}: {}; {}: {:02}h ({})", t.doses, d.total.given(), t.busiest_hour, h, d.total.by_hour[h as usize]),
        None => format!("{}: {}", t.doses, t.no_data_yet),
    };

    let (mut served, mut everyone) = (0u32, 0u32);
    let mut served_line = Vec::with_capacity(hours.len());
    let mut everyone_line = Vec::with_capacity(hours.len());
    for h in 0..24u32 {
        let (r, w) = d.arrivals[h as usize];
        served += r;
        everyone += r + w;
        if hours.contains(&h) {
            let shown = now.is_none_or(|n| h <= n);
            served_line.push(shown.then_some(f64::from(served)));
            everyone_line.push(shown.then_some(f64::from(everyone)));
        }
    }
    let served_series = [
        Line { label: t.day_registered.to_string(), values: hours.iter().map(|_| Some(f64::from(d.registered))).collect(), dash: Some("6 4"), dots: false },
        Line { label: t.day_served.to_string(), values: served_line, dash: None, dots: true },
        Line { label: t.everyone_came.to_string(), values: everyone_line, dash: Some("2 3"), dots: false },
    ];
    let served_summary = format!("{} {}, {} {}, {} {}, {} {}", t.day_registered, d.registered, t.day_served, d.served, t.day_not_yet, d.not_yet_come(), t.day_walk_ins, d.walk_ins);

    // Seconds, minutes or hours, whichever the day's longest lag reads best in.
    let (per, unit) = match d.total.lag(1.0).unwrap_or(0) {
        s if s < 120 => (1.0, t.seconds),
        s if s < 7200 => (60.0, t.minutes),
        _ => (3600.0, t.hours),
    };
    let lag_of = |q: f64| -> Vec<Option<f64>> { hours.iter().map(|h| report::quantile(&d.lags_by_hour[*h as usize], q).map(|s| s as f64 / per)).collect() };
    let lag_series = [
        Line { label: t.lag_median.to_string(), values: lag_of(0.5), dash: None, dots: true },
        Line { label: t.lag_max.to_string(), values: lag_of(1.0), dash: Some("6 4"), dots: true },
    ];
    let lag_summary = match (d.total.lag(0.5), d.total.lag(1.0)) {
        (Some(m), Some(x)) => format!("{} {}: {}, {}: {}", t.sync_lag, t.lag_median, secs(Some(m)), t.lag_max, secs(Some(x))),
        _ => format!("{}: {}", t.sync_lag, t.no_data_yet),
    };
    html! {
        section.charts {
            h3 { (t.chart_doses) }
            (charts::stacked_bars(&id("doses"), t.chart_doses, &doses_summary, &hours, &per_desk, t.doses, t.chart_data))
            h3 { (t.chart_served) }
            (charts::lines(&id("served"), t.chart_served, &served_summary, &hours, &served_series, t.persons_word, t.chart_data))
            h3 { (t.chart_lag) }
            (charts::lines(&id("lag"), t.chart_lag, &lag_summary, &hours, &lag_series, unit, t.chart_data))
        }
    }
}

/// The local hour now, when `day` is today in Vietnam.
pub(super) fn hour_now_if_today(day: NaiveDate) -> Option<u32> {
    let now = Utc::now().with_timezone(&vn());
    (now.date_naive() == day).then(|| now.hour())
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// A site code; empty for every site the coordinator sees.
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

/// The sites and day a request asks for, within the coordinator's sites.
async fn chosen(s: &AppState, w: &Web, q: &ReportQuery) -> Result<(Vec<Site>, Vec<Site>, NaiveDate), HubError> {
    let mine = my_sites(s, w).await?;
    let day = match q.date.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(d) => crate::dates::day("report.date", "date", d)?,
        None => Utc::now().with_timezone(&vn()).date_naive(),
    };
    let chosen: Vec<Site> = match q.site.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        // Another coordinator's site is "not found": its code says nothing here.
        Some(code) => vec![mine.iter().find(|x| x.code == code).cloned().ok_or_else(|| HubError::not_found("site"))?],
        None => mine.clone(),
    };
    Ok((mine, chosen, day))
}

async fn days_of(s: &AppState, sites: &[Site], day: NaiveDate) -> Result<(Vec<SiteDay>, Catalog, Vec<Device>), HubError> {
    let codes: Vec<String> = sites.iter().map(|x| x.code.clone()).collect();
    blocking(s, move |db| {
        let days = codes.iter().map(|c| report::site_day(db, c, day)).collect::<Result<Vec<_>, _>>()?;
        let devices = db.devices()?.into_iter().filter(|d| d.revoked_at.is_none() && codes.contains(&d.site)).collect();
        Ok((days, db.current_catalog()?.unwrap_or_else(Catalog::builtin), devices))
    })
    .await
}

/// A phone whose records may be missing from the figures: it still holds
/// some, or (on the day itself) has not synced for half an hour.
fn behind(d: &Device, day: NaiveDate) -> bool {
    let stale = hour_now_if_today(day).is_some()
        && d.last_seen_at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_none_or(|t| Utc::now() - t.with_timezone(&Utc) > chrono::Duration::minutes(30));
    d.pending.unwrap_or(0) > 0 || stale
}

pub async fn page(State(s): State<AppState>, w: Web, Query(q): Query<ReportQuery>) -> Response {
    let r = async {
        let (mine, sites, day) = chosen(&s, &w, &q).await?;
        let (days, catalog, devices) = days_of(&s, &sites, day).await?;
        let t = w.t();
        // The site as matched (not as typed): the picker shows what was chosen.
        let site_q = if q.site.as_deref().is_some_and(|c| !c.trim().is_empty()) { sites.first().map(|x| x.code.clone()).unwrap_or_default() } else { String::new() };
        let shown_day = day.format("%d/%m/%Y").to_string();
        let title = format!("{} · {}", t.daily_report, shown_day);
        let now = hour_now_if_today(day);
        let body = html! {
            form.noprint method="get" action="/reports/daily" {
                label { (t.site) " " select name="site" {
                    option value="" selected[site_q.is_empty()] { (t.all_my_sites) }
                    @for x in &mine { option value=(x.code) selected[x.code == site_q] { (x.code) " — " (x.name) } }
                } }
                label { (t.date) " " input type="date" name="date" value=(day.to_string()); }
                button type="submit" { (t.show) }
                " " a #xlsx href={ "/reports/daily.xlsx?site=" (percent_encoded(&site_q)) "&date=" (day) } { (t.download_xlsx) }
                " " span.muted { (t.print) ": Ctrl+P (A4)" }
            }
            p.muted { (t.made_at) " " (local_time(&crate::db::now_text())) ". " (t.report_note) }
            @if devices.iter().any(|d| behind(d, day)) { p.warn #not-synced { (t.report_not_synced) } }
            @if days.len() > 1 {
                h2 { (t.total) }
                (totals_table(t, &days.iter().map(SiteTotals::from).collect::<Vec<_>>()))
            }
            @for (d, site) in days.iter().zip(&sites) {
                section.site data-site=(d.site) {
                    h2 { (site.code) " — " (site.name) " · " (shown_day) }
                    table.summary {
                        tr { th { (t.doses) } th { (t.deferred) } th { (t.refused) } }
                        tr { td.n.given { (d.total.given()) } td.n { (d.total.deferred) } td.n { (d.total.refused) } }
                    }
                    h3 { (t.registration_figures) }
                    (registration_table(t, d))
                    h3 { (t.by_vaccine) }
                    @if d.total.doses.is_empty() { p.muted { (t.no_data_yet) } } @else {
                        table.by-vaccine {
                            tr { th { (t.vaccine) } th { (t.dose_number) } th { (t.doses) } }
                            @for ((v, n), count) in &d.total.doses {
                                tr { td { (report::vaccine_label(&catalog, v)) } td.n { (n) } td.n { (count) } }
                            }
                        }
                    }
                    h3 { (t.by_desk) }
                    table.by-desk {
                        tr { th { (t.desk) } th { (t.doses) } th { (t.deferred) } th { (t.refused) } th { (t.sync_lag) " (" (t.lag_median) " / " (t.lag_max) ")" } }
                        @for (k, x) in &d.desks {
                            tr { td { code { (k) } } td.n { (x.given()) } td.n { (x.deferred) } td.n { (x.refused) } td.n { (secs(x.lag(0.5))) " / " (secs(x.lag(1.0))) } }
                        }
                    }
                    h3 { (t.report_phones) }
                    table.phones {
                        tr { th { (t.desk) } th { (t.device) } th { (t.last_sync) } th { (t.pending) } }
                        @for x in devices.iter().filter(|x| x.site == d.site) {
                            tr.behind[behind(x, day)] {
                                td { code { (x.desk) } } td { (x.name.as_deref().unwrap_or(&x.id)) }
                                td { @match &x.last_seen_at { Some(at) => (local_time(at)), None => span.muted { (t.never) } } }
                                td.n { @match x.pending { Some(n) => (n), None => "—" } }
                            }
                        }
                    }
                    (day_charts(t, d, now))
                }
            }
        };
        Ok(layout(&w, &title, "/reports/daily", body).into_response())
    }
    .await;
    answer(&w, r)
}

/// One row per site and a total, for a report of several sites (and the
/// dashboard's "sites on the day").
pub(super) fn totals_table(t: &Texts, days: &[SiteTotals]) -> Markup {
    let sum = |f: &dyn Fn(&SiteTotals) -> i64| days.iter().map(f).sum::<i64>();
    html! {
        table #sites-day {
            tr {
                th { (t.site) } th { (t.doses) } th { (t.deferred) } th { (t.refused) }
                th { (t.day_registered) } th { (t.day_served) } th { (t.day_not_yet) } th { (t.day_walk_ins) } th { (t.certificates_issued) }
            }
            @for d in days {
                tr data-site=(d.site) {
                    td { a href={ "/dashboard?site=" (d.site) "&date=" (d.day) } { code { (d.site) } } }
                    td.n { (d.given) } td.n { (d.deferred) } td.n { (d.refused) }
                    td.n { (d.registered) } td.n { (d.served) } td.n { (d.not_yet_come()) } td.n { (d.walk_ins) } td.n { (d.certificates) }
                }
            }
            tr.total {
                th { (t.total) }
                th.n { (sum(&|d| d.given.into())) } th.n { (sum(&|d| d.deferred.into())) } th.n { (sum(&|d| d.refused.into())) }
                th.n { (sum(&|d| d.registered.into())) } th.n { (sum(&|d| d.served.into())) } th.n { (sum(&|d| d.not_yet_come().into())) }
                th.n { (sum(&|d| d.walk_ins.into())) } th.n { (sum(&|d| d.certificates)) }
            }
        }
    }
}

pub async fn xlsx(State(s): State<AppState>, w: Web, Query(q): Query<ReportQuery>) -> Response {
    let r = async {
        let (_, sites, day) = chosen(&s, &w, &q).await?;
        let (days, catalog, _) = days_of(&s, &sites, day).await?;
        let bytes = report::daily_xlsx(&days, &catalog).map_err(|e| HubError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "report.xlsx", e.to_string()))?;
        let which = q.site.as_deref().map(str::trim).filter(|c| !c.is_empty()).unwrap_or("tat-ca");
        let name = format!("bao-cao-ngay-{which}-{day}.xlsx");
        Ok((
            [(header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()), (header::CONTENT_DISPOSITION, content_disposition(&name))],
            bytes,
        )
            .into_response())
    }
    .await;
    answer(&w, r)
}
