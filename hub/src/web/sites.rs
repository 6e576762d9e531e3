//! Sites and their desks; a desk's enrollment code as a QR code.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, PreEscaped};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::Deserialize;
use vaxdesk_core::model::Site;

use super::session::{Posted, Web, WithCsrf};
use super::{answer, CsrfOnly, blocking, layout, local_time, my_sites};
use crate::error::HubError;
use crate::routes::coordinator::{new_enrollment_code, save_desk as save_desk_of, save_site as save_site_of, NewDesk};
use crate::AppState;

pub async fn list(State(s): State<AppState>, w: Web) -> Response {
    let r = async {
        let sites = my_sites(&s, &w).await?;
        let codes: Vec<String> = sites.iter().map(|x| x.code.clone()).collect();
        let desks = blocking(&s, move |db| Ok(codes.iter().map(|c| db.desks(c)).collect::<Result<Vec<_>, _>>()?)).await?;
        let t = w.t();
        Ok(layout(&w, t.sites, "/sites", html! {
            @if sites.is_empty() { p.muted { (t.no_sites) } }
            @for (site, desks) in sites.iter().zip(&desks) {
                fieldset id={ "site-" (site.code) } {
                    legend { strong { (site.name) } " " code { (site.code) } @if let Some(p) = &site.province_code { " · " (t.province) " " (p) } }
                    table {
                        tr { th { (t.desk) } th { (t.name) } th {} }
                        @for d in desks {
                            tr {
                                td { code { (d.code) } } td { (d.name) }
                                td {
                                    form.inline method="post" action={ "/sites/" (site.code) "/desks/" (d.code) "/enroll" } {
                                        input type="hidden" name="csrf" value=(w.csrf);
                                        button type="submit" name="enroll" value=(d.code) { (t.enroll_phone) }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action={ "/sites/" (site.code) "/desks" } {
                        input type="hidden" name="csrf" value=(w.csrf);
                        strong { (t.add_desk) ": " }
                        label { (t.code) " " input name="code" size="8" required; }
                        label { (t.name) " " input name="name" required; }
                        button type="submit" { (t.save) }
                    }
                }
            }
            @if w.who.all_sites {
                fieldset {
                    legend { (t.add_site) }
                    form method="post" action="/sites" {
                        input type="hidden" name="csrf" value=(w.csrf);
                        label { (t.code) " " input name="code" size="12" required; }
                        label { (t.name) " " input name="name" size="40" required; }
                        label { (t.province) " " input name="province_code" size="4"; }
                        button type="submit" { (t.save) }
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
pub struct SiteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    province_code: String,
}

impl WithCsrf for SiteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn save_site(State(s): State<AppState>, Posted(w, f): Posted<SiteForm>) -> Response {
    let site = Site { code: f.code, name: f.name, province_code: Some(f.province_code) };
    let r = save_site_of(&s, &w.who, site).await.map(|()| Redirect::to("/sites").into_response());
    answer(&w, r)
}

#[derive(Debug, Deserialize)]
pub struct DeskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

impl WithCsrf for DeskForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn save_desk(State(s): State<AppState>, Path(site): Path<String>, Posted(w, f): Posted<DeskForm>) -> Response {
    let r = save_desk_of(&s, &w.who, site, NewDesk { code: f.code, name: f.name }).await.map(|()| Redirect::to("/sites").into_response());
    answer(&w, r)
}

/// Make a one-time code and show it as a QR code drawn by the hub (SVG in
/// the page: the secret never sits in a URL or a cache).
pub async fn enroll(State(s): State<AppState>, Path((site, desk)): Path<(String, String)>, Posted(w, _): Posted<CsrfOnly>) -> Response {
    let r = async {
        let code = new_enrollment_code(&s, &w.who, site.clone(), desk.clone(), None).await?;
        let qr = QrCode::with_error_correction_level(code.text.as_bytes(), EcLevel::M)
            .map_err(|e| HubError::bad_request("enroll.qr", format!("text: cannot draw as a QR code: {e}")))?;
        let svg = qr.render::<svg::Color<'_>>().min_dimensions(320, 320).quiet_zone(true).build();
        let t = w.t();
        Ok(layout(&w, &format!("{} {site}/{desk}", t.enroll_title), "/sites", html! {
            p { (t.enroll_help) }
            div.qr id="enroll-qr" { (PreEscaped(svg)) }
            p { (t.enroll_expires) ": " strong id="enroll-expires" { (local_time(&code.expires_at)) } }
            p { (t.enroll_type) ": " code.big id="enroll-code" { (code.code) } }
            p.muted { code id="enroll-text" { (code.text) } }
            @if s.apk.is_some() { p { (t.app_not_installed) " " a id="enroll-app" href="/app" { (t.app_title) } } }
        })
        .into_response())
    }
    .await;
    answer(&w, r)
}
