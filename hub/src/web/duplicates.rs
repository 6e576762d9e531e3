//! Persons who may be one person typed twice (same folded name and birth
//! date, different or missing id): merge, keeping one, or dismiss. Every
//! decision is kept with who made it and when.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::{Posted, Web, WithCsrf};
use super::{answer, CsrfOnly, blocking, layout, local_time};
use crate::actions::{dismiss_duplicate, merge_duplicate, visible_duplicates, PersonFile};
use crate::AppState;

fn summary(w: &Web, id: &str, f: Option<&PersonFile>) -> Markup {
    let t = w.t();
    html! {
        @match f {
            Some(f) => {
                a href={ "/persons/" (id) } { strong { (f.person.full_name) } }
                br; (t.birth_date) ": " (f.person.birth_date)
                br; (t.national_id) ": " (f.person.national_id.as_ref().map(|n| n.number.as_str()).unwrap_or("—"))
                br; (t.doses) ": " (f.doses.len())
                br; small.muted { (id) }
            }
            None => { small.muted { (id) } }
        }
    }
}

/// The hub records why a pair was raised in English; shown in the page's language.
fn reason<'a>(w: &Web, r: &'a str) -> &'a str {
    match r {
        "same name and birth date" => w.t().same_name_birth,
        other => other,
    }
}

pub async fn list(State(s): State<AppState>, w: Web) -> Response {
    let r = async {
        let who = w.who.clone();
        let pairs = blocking(&s, move |db| visible_duplicates(db, &who)).await?;
        let t = w.t();
        let (open, decided): (Vec<_>, Vec<_>) = pairs.into_iter().map(|d| (d.pair, d.a, d.b)).partition(|(d, _, _)| d.status == "open");
        Ok(layout(&w, t.duplicates, "/duplicates", html! {
            h2 { (t.open_pairs) }
            @if open.is_empty() { p.muted { (t.none) } }
            @for (d, fa, fb) in &open {
                fieldset.pair {
                    legend { (reason(&w, &d.reason)) " · " (t.found) " " (local_time(&d.found_at)) }
                    table { tr {
                        @for (id, f) in [(&d.a, fa), (&d.b, fb)] {
                            td {
                                (summary(&w, id, f.as_ref()))
                                form method="post" action={ "/duplicates/" (d.a) "/" (d.b) "/merge" } {
                                    input type="hidden" name="csrf" value=(w.csrf);
                                    input type="hidden" name="keep" value=(id);
                                    button type="submit" { (t.keep_this) }
                                }
                            }
                        }
                    } }
                    form method="post" action={ "/duplicates/" (d.a) "/" (d.b) "/dismiss" } {
                        input type="hidden" name="csrf" value=(w.csrf);
                        button type="submit" { (t.not_same) }
                    }
                }
            }
            h2 { (t.decided_pairs) }
            @if decided.is_empty() { p.muted { (t.none) } } @else {
                table {
                    tr { th { (t.person) " A" } th { (t.person) " B" } th { (t.state) } th { (t.decided_by) } }
                    @for (d, fa, fb) in &decided {
                        tr {
                            td { (summary(&w, &d.a, fa.as_ref())) } td { (summary(&w, &d.b, fb.as_ref())) }
                            td { (d.status) }
                            td { (d.resolved_by.as_deref().unwrap_or("—")) br; small { (d.resolved_at.as_deref().map(local_time).unwrap_or_default()) } }
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
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    keep: String,
}

impl WithCsrf for MergeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn merge(State(s): State<AppState>, Path((a, b)): Path<(String, String)>, Posted(w, f): Posted<MergeForm>) -> Response {
    let who = w.who.clone();
    let r = blocking(&s, move |db| merge_duplicate(db, &who, &a, &b, &f.keep)).await.map(|()| Redirect::to("/duplicates").into_response());
    answer(&w, r)
}

pub async fn dismiss(State(s): State<AppState>, Path((a, b)): Path<(String, String)>, Posted(w, _): Posted<CsrfOnly>) -> Response {
    let who = w.who.clone();
    let r = blocking(&s, move |db| dismiss_duplicate(db, &who, &a, &b)).await.map(|()| Redirect::to("/duplicates").into_response());
    answer(&w, r)
}
