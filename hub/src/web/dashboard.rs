//! A site's day, desk by desk: doses by vaccine and dose number, deferrals
//! and refusals (corrections applied), the day's registration list against
//! who came, charts of the day, how late records reach the hub, what each
//! phone still holds, and what the hub refused. Reloads itself.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use super::reports::{day_charts, hour_now_if_today, registration_table, secs, totals_table};
use super::session::Web;
use super::{answer, blocking, layout, local_time, my_sites, vn};
use crate::report::{self, day_start_utc, SiteTotals};
use crate::AppState;

/// Sites shown in "sites on the day" at most: their day rows are counted at
/// each load, and the page reloads every 15 s.
const SITES_ON_DAY: usize = 30;

#[derive(Debug, Deserialize)]
pub struct DashQuery {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    date: Option<String>,
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
        let day_start = day_start_utc(day);
        let site_q = site.clone();
        let listed: Vec<String> = sites.iter().map(|x| x.code.clone()).take(SITES_ON_DAY).collect();
        let (board, all, rejections, devices, desks) = blocking(&s, move |db| {
            let board = report::site_day(db, &site_q, day)?;
            let all = if listed.len() > 1 {
                // The site on show is already read in full; the others counted together.
                let others: Vec<String> = listed.iter().filter(|c| **c != site_q).cloned().collect();
                let mut counted = report::sites_totals(db, &others, day)?.into_iter();
                listed.iter().filter_map(|c| if *c == site_q { Some(SiteTotals::from(&board)) } else { counted.next() }).collect::<Vec<SiteTotals>>()
            } else {
                Vec::new()
            };
            Ok((board, all, db.rejections(&site_q, &day_start)?, db.devices()?, db.desks(&site_q)?))
        })
        .await?;
        let total = &board.total;
        let mut names: Vec<String> = desks.iter().map(|d| d.code.clone()).collect();
        names.extend(board.desks.keys().filter(|k| !desks.iter().any(|d| &d.code == *k)).cloned());
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
                    @let d = board.desks.get(name).cloned().unwrap_or_default();
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
            h2 { (t.registration_figures) }
            (registration_table(t, &board))
            p { a #daily-report href={ "/reports/daily?site=" (site) "&date=" (day) } { (t.daily_report) } }
            (day_charts(t, &board, hour_now_if_today(day)))
            @if !all.is_empty() {
                h2 { (t.sites_on_day) }
                @if sites.len() > all.len() { p.muted { (t.first_sites_of) " " (sites.len()) ": " (all.len()) "." } }
                (totals_table(t, &all))
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
        // "Live" without script: the browser reloads today's page every 15 s
        // (a past day changes only when a late phone syncs).
        let refresh = if day == today { "15" } else { "300" };
        Ok(([(axum::http::header::REFRESH, refresh)], layout(&w, &title, "/dashboard", body)).into_response())
    }
    .await;
    answer(&w, r)
}
