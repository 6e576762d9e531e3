//! Log in and out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar};
use maud::html;
use serde::Deserialize;

use super::session::{cookie, lang_of, same, Posted, LOGIN_COOKIE, SESSION_COOKIE};
use super::shell;
use crate::auth::{check_login, hash_token, random_token};
use crate::limits::Peer;
use crate::AppState;

const SESSION_HOURS: i64 = 12;

pub async fn form(State(s): State<AppState>, jar: CookieJar) -> Response {
    // A fresh double-submit token for each log-in form.
    let token = random_token();
    let page = login_page(&jar, &token, None);
    (jar.add(cookie(&s, LOGIN_COOKIE, token)), page).into_response()
}

fn login_page(jar: &CookieJar, token: &str, error: Option<&str>) -> maud::Markup {
    let lang = lang_of(jar);
    let t = lang.t();
    shell(lang, t.login, false, html! {
        main.login {
            h1 { (t.app) }
            p { a href="/lang/vi?back=/login" { "Tiếng Việt" } " | " a href="/lang/en?back=/login" { "English" } }
            @if let Some(e) = error { p.err role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                p { label { (t.username) br; input name="username" autocomplete="username" required autofocus; } }
                p { label { (t.password) br; input name="password" type="password" autocomplete="current-password" required; } }
                button type="submit" { (t.login) }
            }
        }
    })
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(State(s): State<AppState>, Peer(from): Peer, jar: CookieJar, Form(f): Form<LoginForm>) -> Response {
    let t = lang_of(&jar).t();
    if s.limits.login(from, &f.username).is_err() {
        let fresh = random_token();
        let page = login_page(&jar, &fresh, Some(t.too_many_tries));
        return (StatusCode::TOO_MANY_REQUESTS, jar.add(cookie(&s, LOGIN_COOKIE, fresh)), page).into_response();
    }
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    let fresh = random_token();
    if expected.is_empty() || !same(&expected, &f.csrf) {
        let page = login_page(&jar, &fresh, Some(t.form_expired));
        return (StatusCode::FORBIDDEN, jar.add(cookie(&s, LOGIN_COOKIE, fresh)), page).into_response();
    }
    let db = s.db.clone();
    let user = f.username.trim().to_string();
    let password = f.password.clone();
    // The look-up and the Argon2 check (as long for an unknown user) on the
    // blocking pool, a few at a time.
    let Ok(_permit) = s.password_checks.clone().acquire_owned().await else {
        return crate::error::HubError::new(StatusCode::SERVICE_UNAVAILABLE, "hub.busy", "try again").into_response();
    };
    let found = tokio::task::spawn_blocking(move || {
        let found = db.password_hash(&user)?;
        let ok = check_login(&password, found.as_ref().map(|(_, h)| h.as_str()));
        Ok::<_, crate::db::DbError>(found.filter(|_| ok))
    })
    .await;
    let found = match found {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => return crate::error::HubError::from(e).into_response(),
        Err(e) => return crate::error::HubError::from(e).into_response(),
    };
    let Some((id, _)) = found else {
        tracing::info!("web log-in refused");
        let page = login_page(&jar, &fresh, Some(t.login_failed));
        return (StatusCode::UNAUTHORIZED, jar.add(cookie(&s, LOGIN_COOKIE, fresh)), page).into_response();
    };
    let token = random_token();
    let expires_at = (chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (db, hash) = (s.db.clone(), hash_token(&token));
    if let Err(e) = tokio::task::spawn_blocking(move || db.create_session(&hash, id, &expires_at)).await.map_err(crate::error::HubError::from).and_then(|r| r.map_err(Into::into)) {
        return e.into_response();
    }
    let jar = jar.remove(Cookie::build(LOGIN_COOKIE).path("/")).add(cookie(&s, SESSION_COOKIE, token));
    (jar, Redirect::to("/dashboard")).into_response()
}

pub async fn logout(State(s): State<AppState>, jar: CookieJar, Posted(..): Posted<super::CsrfOnly>) -> Response {
    if let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        let db = s.db.clone();
        let hash = hash_token(&token);
        let _ = tokio::task::spawn_blocking(move || db.end_session(&hash)).await;
    }
    (jar.remove(Cookie::build(SESSION_COOKIE).path("/")), Redirect::to("/login")).into_response()
}
