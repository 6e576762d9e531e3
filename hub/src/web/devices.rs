//! Enrolled phones: last sync, what they still hold, revoke.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::session::{Posted, Web};
use super::{answer, CsrfOnly, blocking, layout, local_time};
use crate::routes::coordinator::revoke as revoke_device;
use crate::AppState;

pub async fn list(State(s): State<AppState>, w: Web) -> Response {
    let r = async {
        let devices = blocking(&s, |db| Ok(db.devices()?)).await?;
        let t = w.t();
        Ok(layout(&w, t.devices, "/devices", html! {
            table #devices {
                tr { th { (t.site) } th { (t.desk) } th { (t.device) } th { (t.enrolled) } th { (t.last_sync) } th { (t.pending) } th { (t.state) } }
                @for d in devices.iter().filter(|d| w.who.may_see(&d.site)) {
                    tr data-device=(d.id) {
                        td { code { (d.site) } } td { code { (d.desk) } }
                        td { (d.name.as_deref().unwrap_or("—")) br; small.muted { (d.id) } }
                        td { (local_time(&d.enrolled_at)) }
                        td { @match &d.last_seen_at { Some(at) => (local_time(at)), None => span.muted { (t.never) } } }
                        td.n { @match d.pending { Some(n) => (n), None => "—" } }
                        td {
                            @match &d.revoked_at {
                                Some(at) => { span.warn { (t.revoked) } br; small { (local_time(at)) } }
                                None => {
                                    (t.active) " "
                                    form.inline method="post" action={ "/devices/" (d.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(w.csrf);
                                        button type="submit" { (t.revoke) }
                                    }
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

pub async fn revoke(State(s): State<AppState>, Path(id): Path<String>, Posted(w, _): Posted<CsrfOnly>) -> Response {
    let r = revoke_device(&s, &w.who, id).await.map(|()| Redirect::to("/devices").into_response());
    answer(&w, r)
}
