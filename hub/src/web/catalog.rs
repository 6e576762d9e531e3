//! The catalog in force: vaccines and lots; add a lot.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use vaxdesk_core::catalog::{Catalog, Lot};

use super::session::{Posted, Web, WithCsrf};
use super::{answer, blocking, layout};
use crate::error::HubError;
use crate::routes::coordinator::add_lot as add_lot_to;
use crate::AppState;

pub async fn page(State(s): State<AppState>, w: Web) -> Response {
    let r = async {
        let c = blocking(&s, |db| Ok(db.current_catalog()?.unwrap_or_else(Catalog::builtin))).await?;
        let t = w.t();
        Ok(layout(&w, t.catalog, "/catalog", html! {
            p { (t.catalog_version) ": " strong { (c.version) } }
            h2 { (t.vaccines) }
            table {
                tr { th { (t.code) } th { (t.name) } th { (t.country) } th { (t.series) } }
                @for v in &c.vaccines { tr { td { code { (v.code) } } td { (v.name) } td { (v.country) } td.n { (v.series_doses) } } }
            }
            h2 { (t.lots) }
            table #lots {
                tr { th { (t.lot) } th { (t.vaccine) } th { (t.expiry) } }
                @for l in &c.lots { tr { td { code { (l.number) } } td { (l.vaccine) } td { (l.expiry.format("%d/%m/%Y")) } } }
            }
            @if !w.who.all_sites {
                p.muted #lot-note { (t.lots_shared) }
            }
            @if w.who.all_sites { fieldset {
                legend { (t.add_lot) }
                form method="post" action="/catalog/lots" {
                    input type="hidden" name="csrf" value=(w.csrf);
                    label { (t.vaccine) " " select name="vaccine" { @for v in &c.vaccines { option value=(v.code) { (v.code) " — " (v.name) } } } }
                    label { (t.lot) " " input name="number" size="12" required; }
                    label { (t.expiry) " " input name="expiry" type="date" required; }
                    button type="submit" { (t.save) }
                }
            } }
        })
        .into_response())
    }
    .await;
    answer(&w, r)
}

#[derive(Debug, Deserialize)]
pub struct LotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    vaccine: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    expiry: String,
}

impl WithCsrf for LotForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn add_lot(State(s): State<AppState>, Posted(w, f): Posted<LotForm>) -> Response {
    let r = async {
        let expiry = f.expiry.parse().map_err(|_| HubError::bad_request("lot.expiry", format!("expiry: a date (YYYY-MM-DD) expected, got {:?}", f.expiry)))?;
        add_lot_to(&s, &w.who, Lot { number: f.number, vaccine: f.vaccine, expiry }).await?;
        Ok(Redirect::to("/catalog").into_response())
    }
    .await;
    answer(&w, r)
}
