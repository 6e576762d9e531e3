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
    db.upsert_desk(&vaxdesk_core::model::SiteDesk { code: "D1".into(), site: "S1".into(), name: "Bàn 1".into() }).expect("desk");
    db.create_enrollment_code(&auth::hash_token("CODE-CODE-CODE"), "S1", "D1", admin, "2999-01-01T00:00:00.000Z").expect("code");
    let device = "device-token-for-fuzzing".to_string();
    db.enroll(&auth::hash_token("CODE-CODE-CODE"), "fuzz-device", None, &auth::hash_token(&device), None).expect("enroll").expect("enrolled");
    let session = "session-token-for-fuzzing".to_string();
    db.create_session(&auth::hash_token(&session), admin, "2999-01-01T00:00:00.000Z").expect("session");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let app = vaxdesk_hub::router(AppState::new(db, "http://127.0.0.1:9"));
    // A person with a dose and a look-alike, so the fix endpoints meet real rows.
    let person = |id: &str, cccd: serde_json::Value| serde_json::json!({"stream": "person", "event": {
        "id": uuid::Uuid::now_v7().to_string(), "device": "fuzz-device", "recorded_at": "2021-10-05T02:00:00Z",
        "person": {"id": id, "full_name": "Nguyễn Thị Hoa", "birth_date": "1987-03-12", "source": "manual", "address": {}, "national_id": cccd}}});
    let batch = serde_json::json!({"events": [
        person(PERSON, serde_json::json!({"kind": "cccd", "number": "022187001234"})),
        person(LOOK_ALIKE, serde_json::Value::Null),
        {"stream": "dose", "event": {"id": RECORD, "person_id": PERSON, "site": "S1", "desk": "D1", "device": "fuzz-device",
            "kind": {"type": "record"}, "recorded_at": "2021-10-05T02:00:00Z",
            "dose": {"vaccine": "AZ", "lot": "AZ2107", "dose_number": 1, "administered_at": "2021-10-05T09:00:00+07:00", "outcome": "vaccinated"}}}
    ]});
    let seed = Request::post("/api/v1/events").header("content-type", "application/json").header("authorization", format!("Bearer {device}"));
    let seeded = runtime.block_on(app.clone().oneshot(seed.body(Body::from(batch.to_string())).expect("seed"))).expect("infallible");
    assert!(seeded.status().is_success(), "seeding: {}", seeded.status());
    Hub { runtime, app, device, session }
});

const PERSON: &str = "01930000-0000-7000-8000-000000000001";
const LOOK_ALIKE: &str = "01930000-0000-7000-8000-000000000002";
const RECORD: &str = "01930000-0000-7000-8000-000000000003";

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
    ("POST", "/api/v1/doses/01930000-0000-7000-8000-000000000003/amend", "application/json", 2),
    ("POST", "/api/v1/doses/01930000-0000-7000-8000-000000000003/void", "application/json", 2),
    ("POST", "/api/v1/duplicates/01930000-0000-7000-8000-000000000001/01930000-0000-7000-8000-000000000002/merge", "application/json", 2),
    ("POST", "/login", "application/x-www-form-urlencoded", 0),
    ("POST", "/sites", "application/x-www-form-urlencoded", 3),
    ("POST", "/catalog/lots", "application/x-www-form-urlencoded", 3),
    ("POST", "/api/v1/sites/S1/registrations", "text/csv", 2),
    // The same with a zip archive's magic first: what calamine is handed as XLSX.
    ("POST", "/api/v1/sites/S1/registrations", "application/zip", 2),
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
    } else if content_type == "application/zip" {
        (path.to_string(), [b"PK\x03\x04".as_slice(), body].concat())
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
