//! `/app`: the app for volunteers' phones, handed out by the hub
//! (`vaxdesk hub --apk`). No log-in: a volunteer scans the page's QR code
//! with the phone to be enrolled and downloads the APK from the site's own
//! hub. The page says what to check before installing: the size, the
//! SHA-256 of the file and of the certificate that signed it.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{html, PreEscaped};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::session::lang_of;
use super::shell;
use crate::AppState;

/// The file's name on the phone.
pub const FILE: &str = "vaxdesk.apk";

pub async fn page(State(s): State<AppState>, jar: CookieJar) -> Response {
    let lang = lang_of(&jar);
    let t = lang.t();
    let Some(apk) = s.apk.clone() else {
        return (StatusCode::NOT_FOUND, shell(lang, t.app_title, false, html! { main { h1 { (t.app_title) } p { (t.app_none) } } })).into_response();
    };
    let url = format!("{}/app/{FILE}", s.public_url.trim_end_matches('/'));
    let qr = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
        .map(|q| q.render::<svg::Color<'_>>().min_dimensions(280, 280).quiet_zone(true).build())
        .unwrap_or_default();
    let mb = apk.size as f64 / 1_000_000.0;
    shell(lang, t.app_title, false, html! {
        main {
            h1 { (t.app_title) }
            p { a href="/lang/vi?back=/app" { "Tiếng Việt" } " | " a href="/lang/en?back=/app" { "English" } }
            p { (t.app_scan) }
            div.qr id="app-qr" role="img" aria-label=(t.app_qr_label) { (PreEscaped(qr)) }
            p { a id="app-download" href={ "/app/" (FILE) } download=(FILE) { (t.app_download) " (" (format!("{mb:.1}")) " MB)" } }
            p.muted { code id="app-url" { (url) } }
            h2 { (t.app_check) }
            table {
                tr { th { (t.app_size) } td id="app-size" { (apk.size) " bytes" } }
                tr { th { "SHA-256" } td { code id="app-sha256" { (apk.sha256) } } }
                tr { th { (t.app_signer) } td { code id="app-signer" { (apk.signer_sha256) } } }
            }
            h2 { (t.app_install) }
            ol { @for step in t.app_steps { li { (step) } } }
        }
    })
    .into_response()
}

/// The APK itself, as it was read when the hub started.
pub async fn download(State(s): State<AppState>) -> Response {
    let Some(apk) = s.apk.clone() else {
        return crate::error::HubError::not_found("app").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "application/vnd.android.package-archive".to_string()),
            (header::CONTENT_DISPOSITION, super::exports::content_disposition(FILE)),
        ],
        Body::from(apk.bytes.clone()),
    )
        .into_response()
}
