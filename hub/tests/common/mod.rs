//! A hub on a free loopback port with a temporary database, and a blocking
//! HTTP helper, for the API tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::{json, Value};
use vaxdesk_hub::{auth, AppState, HubDb};

pub struct TestHub {
    pub url: String,
    pub db: Arc<HubDb>,
    /// What the database was opened from (a file path or a URL).
    pub target: String,
    pub dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

pub const ADMIN: (&str, &str) = ("admin", "correct horse battery");

impl TestHub {
    pub fn start() -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let (db, target) = open_db(&dir);
        db.create_coordinator(ADMIN.0, &auth::hash_password(ADMIN.1).unwrap(), true, &[]).unwrap();
        db.publish_catalog(&catalog_with_test_lots()).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let signer = vaxdesk_hub::load_signer(dir.path()).unwrap();
        let state = AppState::new(db, url.clone()).with_signer(signer).unwrap();
        let db = state.db.clone();
        let app = vaxdesk_hub::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        runtime.spawn(async move { axum::serve(listener, app).await });
        TestHub { url, db, target, dir, _runtime: runtime }
    }

    /// Another hub process's worth: a second server with its own connections
    /// to the same database. Returns its URL and the runtime serving it.
    pub fn second_server(&self) -> (String, tokio::runtime::Runtime) {
        let db = HubDb::open_target(&self.target).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(db, url.clone());
        runtime.spawn(async move { axum::serve(listener, vaxdesk_hub::router(state)).await });
        (url, runtime)
    }

    pub fn client(&self) -> Http {
        Http { base: self.url.clone(), token: None, http: reqwest::blocking::Client::new() }
    }

    /// Logged in as the admin, with site S1 (desks D1, D2) and site S2 (D1).
    pub fn admin(&self) -> Http {
        let mut h = self.client();
        h.login(ADMIN.0, ADMIN.1);
        for (site, name) in [("S1", "Trạm y tế Hồng Hải"), ("S2", "Trạm y tế Bãi Cháy")] {
            h.put("/sites", json!({"code": site, "name": name, "province_code": "22"})).ok();
        }
        for (site, desk) in [("S1", "D1"), ("S1", "D2"), ("S2", "D1")] {
            h.put(&format!("/sites/{site}/desks"), json!({"code": desk, "name": format!("Bàn {desk}")})).ok();
        }
        h
    }

    /// Enroll a device at a desk; returns a client holding its token.
    pub fn device(&self, admin: &Http, site: &str, desk: &str, device_id: &str) -> Http {
        let code = admin.post(&format!("/sites/{site}/desks/{desk}/enrollment-codes"), json!({})).ok();
        let mut d = self.client();
        let r = d.post("/enroll", json!({"code": code["code"], "device_id": device_id})).ok();
        d.token = Some(r["token"].as_str().unwrap().to_string());
        d
    }
}

/// SQLite in the test's directory, or, when `VAXDESK_TEST_PG` names a
/// PostgreSQL server (`postgres://user@host:port`), a fresh database on it:
/// the same tests run against both backends.
pub fn open_db(dir: &tempfile::TempDir) -> (HubDb, String) {
    let target = match std::env::var("VAXDESK_TEST_PG") {
        Ok(server) if !server.is_empty() => {
            let name = format!("hubtest_{}", uuid::Uuid::now_v7().simple());
            let mut admin = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls).unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            format!("{server}/{name}")
        }
        _ => dir.path().join("hub.db").display().to_string(),
    };
    (HubDb::open_target(&target).unwrap(), target)
}

pub fn on_postgres() -> bool {
    std::env::var("VAXDESK_TEST_PG").is_ok_and(|s| !s.is_empty())
}

pub struct Http {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::blocking::Client,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The body of a 2xx reply.
    pub fn ok(self) -> Value {
        assert!((200..300).contains(&self.status), "expected success, got {} {}", self.status, self.body);
        self.body
    }

    /// A refusal: its status and its error code.
    pub fn refused(&self) -> (u16, &str) {
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()), "refusal without a message: {}", self.body);
        (self.status, self.body["code"].as_str().unwrap_or(""))
    }
}

impl Http {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub fn send_with(&self, rb: reqwest::blocking::RequestBuilder) -> Reply {
        self.send(rb)
    }

    fn send(&self, rb: reqwest::blocking::RequestBuilder) -> Reply {
        let rb = match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        };
        let resp = rb.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    pub fn login(&mut self, user: &str, password: &str) -> Reply {
        let r = self.send(self.http.post(self.url("/login")).json(&json!({"username": user, "password": password})));
        if r.status == 200 {
            self.token = Some(r.body["token"].as_str().unwrap().to_string());
        }
        r
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path)))
    }

    pub fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.post(self.url(path)).json(&body))
    }

    pub fn put(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.put(self.url(path)).json(&body))
    }

    pub fn raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(self.http.post(self.url(path)).header("content-type", content_type).body(body))
    }
}

/// Sites and desks made and a phone enrolled at each desk, straight in the
/// database (no HTTP), as `ids[k]` for `desks[k]`: the hub's devices, in order.
pub fn enrolled_devices(db: &HubDb, desks: &[(&str, &str)], ids: &[String]) -> Vec<vaxdesk_hub::db::Device> {
    use vaxdesk_core::model::{Site, SiteDesk};
    let who = db.create_coordinator(&format!("c-{}", uuid::Uuid::now_v7().simple()), "-", true, &[]).unwrap();
    let expiry = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for (&(site, desk), id) in desks.iter().zip(ids) {
        db.upsert_site(&Site { code: site.into(), name: format!("Trạm {site}"), province_code: Some("22".into()) }).unwrap();
        db.upsert_desk(&SiteDesk { site: site.into(), code: desk.into(), name: format!("Bàn {desk}") }).unwrap();
        let code = auth::enrollment_code();
        db.create_enrollment_code(&auth::hash_token(&code), site, desk, who, &expiry).unwrap();
        db.enroll(&auth::hash_token(&code), id, None, &auth::hash_token(&auth::random_token()), None).unwrap().unwrap();
    }
    let all = db.devices().unwrap();
    ids.iter().map(|id| all.iter().find(|d| &d.id == id).unwrap().clone()).collect()
}

/// A person event from `device` as a desk would send it.
pub fn person_event(device: &str, person_id: &str, national_id: Option<&str>, name: &str, birth: &str) -> Value {
    let mut person = json!({
        "id": person_id, "full_name": name, "birth_date": birth, "source": "manual", "address": {}
    });
    if let Some(n) = national_id {
        person["national_id"] = json!({"kind": "cccd", "number": n});
    }
    json!({"stream": "person", "event": {
        "id": uuid::Uuid::now_v7().to_string(), "person": person, "device": device,
        "recorded_at": "2021-10-05T02:00:00Z"
    }})
}

/// The built-in catalog with lot `<code>2107` of every vaccine (to 2022):
/// the lots the tests' doses name, as a coordinator would have added them.
pub fn catalog_with_test_lots() -> vaxdesk_core::catalog::Catalog {
    let mut c = vaxdesk_core::catalog::Catalog::builtin();
    c.version += 1;
    for v in c.vaccines.clone() {
        c.lots.push(vaxdesk_core::catalog::Lot { number: format!("{}2107", v.code), vaccine: v.code, expiry: chrono::NaiveDate::from_ymd_opt(2022, 12, 31).unwrap() });
    }
    c
}

/// A dose of `vaccine` from its test lot (`<code>2107`).
pub fn dose_event(device: &str, site: &str, person_id: &str, vaccine: &str) -> Value {
    json!({"stream": "dose", "event": {
        "id": uuid::Uuid::now_v7().to_string(), "person_id": person_id, "site": site, "desk": "D1",
        "device": device, "kind": {"type": "record"},
        "dose": {"vaccine": vaccine, "lot": format!("{vaccine}2107"), "dose_number": 1,
                 "administered_at": "2021-10-05T09:00:00+07:00", "outcome": "vaccinated"},
        "recorded_at": "2021-10-05T02:00:00Z"
    }})
}
