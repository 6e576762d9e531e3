//! Who is at the browser. A coordinator logs in with a password (Argon2id)
//! and gets a random session token in an HttpOnly, SameSite=Strict cookie
//! (Secure when the hub is served over https); the hub keeps only its
//! SHA-256, as for the API's session tokens. Every form carries a CSRF
//! token derived from the session token, which a page of another origin
//! cannot read; the log-in form, before any session, uses a random token
//! held in a cookie and in the form (double submit).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::i18n::Lang;
use crate::auth::hash_token;
use crate::db::Coordinator;
use crate::AppState;

pub const SESSION_COOKIE: &str = "vxd_session";
pub const LOGIN_COOKIE: &str = "vxd_login";
pub const LANG_COOKIE: &str = "vxd_lang";

/// A logged-in coordinator at the browser.
#[derive(Debug, Clone)]
pub struct Web {
    pub who: Coordinator,
    pub lang: Lang,
    /// The token every form of this session must send back.
    pub csrf: String,
}

impl Web {
    pub fn t(&self) -> &'static super::i18n::Texts {
        self.lang.t()
    }

    pub fn csrf_ok(&self, sent: &str) -> bool {
        same(&self.csrf, sent)
    }
}

/// The language chosen by cookie; Vietnamese unless English was chosen.
pub fn lang_of(jar: &CookieJar) -> Lang {
    jar.get(LANG_COOKIE).and_then(|c| Lang::parse(c.value())).unwrap_or(Lang::Vi)
}

/// The CSRF token of a session: bound to it, useless without the cookie.
pub fn csrf_for(session_token: &str) -> String {
    Sha256::digest(format!("vaxdesk csrf\n{session_token}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compare without an early exit, so timing tells nothing of the token.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie of this hub: HttpOnly, SameSite=Strict, whole site, Secure
/// when the hub is reached over https (a plain-http site hub on a LAN could
/// not keep a Secure cookie at all).
pub fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value)).http_only(true).same_site(SameSite::Strict).path("/").secure(state.public_url.starts_with("https://")).build()
}

impl FromRequestParts<AppState> for Web {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = lang_of(&jar);
        let to_login = || Redirect::to("/login").into_response();
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()).filter(|t| !t.is_empty()) else {
            return Err(to_login());
        };
        let db = state.db.clone();
        let hash = hash_token(&token);
        let who = tokio::task::spawn_blocking(move || db.session(&hash)).await;
        match who {
            Ok(Ok(Some(who))) => Ok(Web { who, lang, csrf: csrf_for(&token) }),
            Ok(Ok(None)) => Err(to_login()),
            Ok(Err(e)) => Err(crate::error::HubError::from(e).into_response()),
            Err(e) => Err(crate::error::HubError::from(e).into_response()),
        }
    }
}

/// A form that carries the CSRF token of the session that posts it.
pub trait WithCsrf {
    fn csrf(&self) -> &str;
}

/// A form posted by a logged-in coordinator, its CSRF token already
/// checked: a handler that takes one cannot forget the check. A stale or
/// missing token is answered 403 with nothing done.
#[derive(Debug)]
pub struct Posted<T>(pub Web, pub T);

impl<T> FromRequest<AppState> for Posted<T>
where
    T: DeserializeOwned + WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let w = Web::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        if !w.csrf_ok(form.csrf()) {
            return Err(super::stale_form(&w));
        }
        Ok(Posted(w, form))
    }
}
