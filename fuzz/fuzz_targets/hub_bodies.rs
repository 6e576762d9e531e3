//! Any bytes as the body of the hub's requests (API and coordinator pages),
//! sent by an enrolled device or a logged-in coordinator: the hub answers
//! 2xx-4xx, never 5xx, and never panics.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use vaxdesk_hub::{auth, AppState, HubDb};

struct Hub {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    device: String,
    session: String,
}

static HUB: LazyLock<Hub> = LazyLock::new(|| {
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
    let db = HubDb::open(&dir.path().join("hub.db")).expect("hub db");
    let admin = db.create_coordinator("admin", &auth::hash_password("correct horse battery").expect("hash"), true, &[]).expect("admin");
    db.upsert_site(&vaxdesk_core::model::Site { code: "S1".into(), name: "Trạm y tế".into(), province_code: None }).expect("site");
    db.upsert_desk(&vaxdesk_core::model::Desk { code: "D1".into(), site: "S1".into(), name: "Bàn 1".into() }).expect("desk");
    db.create_enrollment_code(&auth::hash_token("CODE-CODE-CODE"), "S1", "D1", admin, "2999-01-01T00:00:00.000Z").expect("code");
    let device = "device-token-for-fuzzing".to_string();
    db.enroll(&auth::hash_token("CODE-CODE-CODE"), "fuzz-device", None, &auth::hash_token(&device)).expect("enroll").expect("enrolled");
    let session = "session-token-for-fuzzing".to_string();
    db.create_session(&auth::hash_token(&session), admin, "2999-01-01T00:00:00.000Z").expect("session");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let app = vaxdesk_hub::router(AppState::new(db, "http://127.0.0.1:9"));
    Hub { runtime, app, device, session }
});

/// (method, path, content type, who): what each first byte selects.
const ENDPOINTS: &[(&str, &str, &str, u8)] = &[
    ("POST", "/api/v1/events", "application/json", 1),
    ("POST", "/api/v1/enroll", "application/json", 0),
    ("POST", "/api/v1/login", "application/json", 0),
    ("PUT", "/api/v1/catalog", "application/json", 2),
    ("POST", "/api/v1/lots", "application/json", 2),
    ("PUT", "/api/v1/sites", "application/json", 2),
    ("PUT", "/api/v1/sites/S1/desks", "application/json", 2),
    ("POST", "/api/v1/coordinators", "application/json", 2),
    ("POST", "/api/v1/sites/S1/desks/D1/enrollment-codes", "application/json", 2),
    ("POST", "/api/v1/token", "application/json", 1),
    ("POST", "/login", "application/x-www-form-urlencoded", 0),
    ("POST", "/sites", "application/x-www-form-urlencoded", 3),
    ("POST", "/catalog/lots", "application/x-www-form-urlencoded", 3),
    ("GET", "/api/v1/changes?since=", "", 1),
    ("GET", "/dashboard?site=S1&date=", "", 3),
    ("GET", "/persons?q=", "", 3),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let hub = &*HUB;
    let (method, path, content_type, who) = ENDPOINTS[usize::from(pick) % ENDPOINTS.len()];
    // Query endpoints take the bytes in the URL (escaped), others as the body.
    let (uri, body) = if method == "GET" {
        let q: String = body.iter().map(|b| format!("%{b:02X}")).collect();
        (format!("{path}{q}"), Vec::new())
    } else {
        (path.to_string(), body.to_vec())
    };
    let mut req = Request::builder().method(Method::from_bytes(method.as_bytes()).expect("method")).uri(uri);
    if !content_type.is_empty() {
        req = req.header("content-type", content_type);
    }
    req = match who {
        1 => req.header("authorization", format!("Bearer {}", hub.device)),
        2 => req.header("authorization", format!("Bearer {}", hub.session)),
        // The pages' session cookie; forms without the CSRF token are refused.
        3 => req.header("cookie", format!("vxd_session={}", hub.session)),
        _ => req,
    };
    let req = req.body(Body::from(body)).expect("request");
    let status = hub.runtime.block_on(hub.app.clone().oneshot(req)).expect("infallible").status();
    assert!(!status.is_server_error(), "{method} {path}: {status}");
});
