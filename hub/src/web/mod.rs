//! The coordinator pages: server-rendered HTML (maud), no script and no
//! CDN, since a site's hub may have no internet. Vietnamese by default,
//! English on request. Every page is limited to the coordinator's sites;
//! every change is a POST form with a CSRF token and leaves an audit entry.

mod app;
mod catalog;
mod charts;
mod dashboard;
mod devices;
mod duplicates;
pub(crate) mod exports;
pub mod i18n;
mod login;
mod persons;
mod registrations;
mod reports;
pub mod session;
mod sites;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use crate::error::HubError;
use crate::AppState;
use i18n::{Lang, Texts};
use session::Web;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/lang/{lang}", get(set_lang))
        .route("/app", get(app::page))
        .route("/app/vaxdesk.apk", get(app::download))
        .route("/dashboard", get(dashboard::page))
        .route("/sites", get(sites::list).post(sites::save_site))
        .route("/sites/{site}/desks", post(sites::save_desk))
        .route("/sites/{site}/desks/{desk}/enroll", post(sites::enroll))
        .route("/registrations", get(registrations::page).post(registrations::upload).layer(axum::extract::DefaultBodyLimit::max(crate::MAX_LIST)))
        .route("/registrations/uploads/{id}", get(registrations::upload_page))
        .route("/registrations/{site}/{day}", get(registrations::day_page))
        .route("/catalog", get(catalog::page))
        .route("/catalog/lots", post(catalog::add_lot))
        .route("/devices", get(devices::list))
        .route("/devices/{id}/revoke", post(devices::revoke))
        .route("/duplicates", get(duplicates::list))
        .route("/duplicates/{a}/{b}/merge", post(duplicates::merge))
        .route("/duplicates/{a}/{b}/dismiss", post(duplicates::dismiss))
        .route("/persons", get(persons::search))
        .route("/persons/{id}", get(persons::show))
        .route("/persons/{id}/doses/{record}/amend", post(persons::amend))
        .route("/persons/{id}/doses/{record}/void", post(persons::void))
        .route("/reports/daily", get(reports::page))
        .route("/reports/daily.xlsx", get(reports::xlsx))
        .route("/exports", get(exports::page))
        .route("/exports/download", get(exports::download))
        .route("/audit", get(audit))
}

#[derive(Debug, Deserialize)]
struct Back {
    #[serde(default)]
    back: Option<String>,
}

/// Switch language and go back to the page (only a path on this hub).
async fn set_lang(State(s): State<AppState>, jar: CookieJar, Path(lang): Path<String>, Query(b): Query<Back>) -> Response {
    let lang = Lang::parse(&lang).unwrap_or(Lang::Vi);
    let back = b.back.filter(|p| local_path(p)).unwrap_or_else(|| "/dashboard".into());
    (jar.add(session::cookie(&s, session::LANG_COOKIE, lang.code().into())), Redirect::to(&back)).into_response()
}

/// A path on this hub, not a way to another site: browsers read `//x` and
/// `/\\x` as another host.
fn local_path(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && !p.chars().any(char::is_control)
}

/// The frame of every page after log-in.
pub fn layout(w: &Web, title: &str, here: &str, body: Markup) -> Markup {
    let t = w.t();
    let nav: [(&str, &str); 10] = [
        ("/dashboard", t.dashboard),
        ("/reports/daily", t.daily_report),
        ("/sites", t.sites),
        ("/registrations", t.registrations),
        ("/devices", t.devices),
        ("/catalog", t.catalog),
        ("/persons", t.persons),
        ("/duplicates", t.duplicates),
        ("/exports", t.exports),
        ("/audit", t.audit),
    ];
    shell(w.lang, title, false, html! {
        header {
            strong { (t.app) }
            nav { @for (href, label) in nav { a href=(href) class=[(href == here).then_some("here")] { (label) } } }
            span.who {
                (w.who.username) " · "
                a href={ "/lang/vi?back=" (here) } { "VI" } " | " a href={ "/lang/en?back=" (here) } { "EN" }
                form.inline method="post" action="/logout" {
                    input type="hidden" name="csrf" value=(w.csrf);
                    button type="submit" { (t.logout) }
                }
            }
        }
        main { h1 { (title) } (body) }
    })
}

/// The HTML document around any page; `refresh` reloads it every 15 s.
pub fn shell(lang: Lang, title: &str, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh { meta http-equiv="refresh" content="15"; }
                title { (title) " · vaxdesk" }
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
}

const CSS: &str = "
body{font-family:system-ui,'Segoe UI',Roboto,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;gap:1em;align-items:center;background:#0b5d3b;color:#fff;padding:.6em 1em}
header a{color:#fff;text-decoration:none;padding:.2em .5em;border-radius:4px}
header a.here{background:#ffffff33}
header nav{display:flex;flex-wrap:wrap;gap:.2em;flex:1}
main{padding:1em 1.5em;max-width:1200px}
table{border-collapse:collapse;background:#fff;margin:.5em 0 1.5em}
th,td{border:1px solid #d5d9de;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#eef1f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
form.inline{display:inline}
fieldset{background:#fff;border:1px solid #d5d9de;margin:.5em 0 1em;padding:.6em 1em}
label{display:inline-block;margin:.2em .8em .2em 0}
input,select,button{font:inherit;padding:.25em .4em}
button{cursor:pointer}
.msg{padding:.5em 1em;background:#e6f4ea;border-left:4px solid #0b5d3b}
.err{padding:.5em 1em;background:#fdecea;border-left:4px solid #b3261e}
.warn{color:#8a5300}
tr.behind td{background:#fff4e5}
.muted{color:#5f6b76}
.qr svg{width:320px;height:320px;background:#fff;padding:8px}
code.big{font-size:1.4em;letter-spacing:.1em}
figure.chart{margin:.3em 0 1.2em;max-width:680px;background:#fff;border:1px solid #d5d9de;padding:.5em}
svg.chart{width:100%;height:auto;display:block}
details.chart-data{font-size:.85em;margin-top:.3em}
figcaption.legend{display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:.9em}
section.charts h3{margin:.8em 0 .2em;font-size:1em}
@page{size:A4;margin:14mm}
@media print{header,.noprint,details.chart-data{display:none}h2,h3{break-after:avoid}body{background:#fff;font-size:10pt}main{padding:0;max-width:none}table,figure.chart{break-inside:avoid}figure.chart{max-width:170mm;border:0}section.site+section.site{break-before:page}}
";

/// A page saying what went wrong, with a status the browser test can see.
pub fn problem(w: &Web, status: StatusCode, message: &str) -> Response {
    (status, layout(w, w.t().not_saved, "", html! { p.err { (message) } })).into_response()
}

/// A form that is only a button (revoke, dismiss, make a code, log out):
/// its one field is the CSRF token.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

impl session::WithCsrf for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The answer to a form with a stale or missing CSRF token.
pub fn stale_form(w: &Web) -> Response {
    problem(w, StatusCode::FORBIDDEN, w.t().form_expired)
}

/// A HubError, shown as a page.
pub fn hub_problem(w: &Web, e: HubError) -> Response {
    problem(w, e.status, &e.message)
}

/// A page handler's result, its error shown as a page.
pub fn answer(w: &Web, r: Result<Response, HubError>) -> Response {
    r.unwrap_or_else(|e| hub_problem(w, e))
}

pub use crate::actions::blocking;
pub use crate::report::vn;

/// Sites the coordinator may see, for pickers and filters.
pub async fn my_sites(s: &AppState, w: &Web) -> Result<Vec<vaxdesk_core::model::Site>, HubError> {
    let db = s.db.clone();
    let all = tokio::task::spawn_blocking(move || db.sites()).await??;
    Ok(all.into_iter().filter(|x| w.who.may_see(&x.code)).collect())
}

/// Short local time (Vietnam) of an RFC 3339 instant, for tables.
pub fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&vn()).format("%d/%m/%Y %H:%M:%S").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

async fn audit(State(s): State<AppState>, w: Web) -> Response {
    let db = s.db.clone();
    let entries = match tokio::task::spawn_blocking(move || db.audit_log(500)).await {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => return hub_problem(&w, e.into()),
        Err(e) => return hub_problem(&w, e.into()),
    };
    let t: &Texts = w.t();
    // A change without a site (the shared catalog, its lots) concerns every
    // site: every coordinator sees it. Another site's changes stay hidden.
    let mine = entries.into_iter().filter(|e| e.site.as_deref().is_none_or(|s| w.who.may_see(s)));
    layout(&w, t.audit, "/audit", html! {
        table {
            tr { th { (t.time) } th { (t.who) } th { (t.action) } th { (t.site) } th { (t.subject) } th { (t.detail) } }
            @for e in mine {
                tr { td { (local_time(&e.at)) } td { (e.coordinator) } td { code { (e.action) } } td { (e.site.as_deref().unwrap_or("—")) } td { code { (e.subject) } } td { (e.detail) } }
            }
        }
    })
    .into_response()
}
