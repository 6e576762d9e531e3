//! Helpers shared by the end-to-end tests: a hub on a loopback port and a
//! coordinator's calls to set up a site and hand out enrollment codes.

use std::sync::Arc;

use serde_json::{json, Value};
use vaxdesk_hub::{auth, AppState, HubDb};

pub const ADMIN: (&str, &str) = ("admin", "correct horse battery");

/// A hub serving a database in its own runtime until dropped.
#[derive(Debug)]
pub struct LocalHub {
    pub url: String,
    pub db: Arc<HubDb>,
    _runtime: tokio::runtime::Runtime,
}

impl LocalHub {
    pub fn start(db_path: &std::path::Path) -> Result<LocalHub, String> {
        let db = HubDb::open(db_path).map_err(|e| e.to_string())?;
        if db.password_hash(ADMIN.0).map_err(|e| e.to_string())?.is_none() {
            db.create_coordinator(ADMIN.0, &auth::hash_password(ADMIN.1)?, true, &[]).map_err(|e| e.to_string())?;
            publish_synth_lots(&db)?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(|e| e.to_string())?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let signer = vaxdesk_hub::load_signer(db_path.parent().unwrap_or(std::path::Path::new(".")))?;
        let state = AppState::new(db, url.clone()).with_signer(signer)?;
        let db = state.db.clone();
        runtime.spawn(async move { axum::serve(listener, vaxdesk_hub::router(state)).await });
        Ok(LocalHub { url, db, _runtime: runtime })
    }
}

impl LocalHub {
    /// The hub as `vaxdesk hub` runs it: over TLS with a self-signed
    /// certificate made in `dir` at first start.
    pub fn start_tls(dir: &std::path::Path) -> Result<LocalHub, String> {
        let db_path = dir.join("hub.db");
        let db = HubDb::open(&db_path).map_err(|e| e.to_string())?;
        db.create_coordinator(ADMIN.0, &auth::hash_password(ADMIN.1)?, true, &[]).map_err(|e| e.to_string())?;
        publish_synth_lots(&db)?;
        let db = Arc::new(db);
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
        let (target, data) = (db_path.display().to_string(), dir.to_path_buf());
        let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().map_err(|e: std::net::AddrParseError| e.to_string())?;
        runtime.spawn(async move { vaxdesk_hub::serve(&target, listen, None, &data, true).await });
        for _ in 0..200 {
            if std::net::TcpStream::connect(listen).is_ok() {
                return Ok(LocalHub { url: format!("https://{listen}"), db, _runtime: runtime });
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        Err("the TLS hub did not start".into())
    }
}

/// Enroll with a hub on loopback that may be plain HTTP (the tests' own
/// [`LocalHub::start`]); phones refuse such a hub.
pub fn enroll(
    desk: &vaxdesk_core::desk::Desk,
    text: &str,
    name: Option<&str>,
) -> Result<vaxdesk_core::sync::protocol::EnrollReply, vaxdesk_core::sync::SyncError> {
    let opts = vaxdesk_core::sync::SyncOptions { allow_plain_http: true, ..Default::default() };
    vaxdesk_core::sync::enroll_with(desk, text, name, &opts)
}

/// A fault proxy in front of a hub (plain or https: the faults act on
/// bytes), on a runtime of its own, until dropped.
#[derive(Debug)]
pub struct FaultyNetwork {
    /// The hub's address as seen through the proxy (same scheme).
    pub url: String,
    pub counts: Arc<vaxdesk_hub::fault_proxy::FaultCounts>,
    pub control: vaxdesk_hub::fault_proxy::FaultControl,
    _runtime: tokio::runtime::Runtime,
}

impl FaultyNetwork {
    pub fn new(hub_url: &str, faults: vaxdesk_hub::fault_proxy::Faults, seed: u64) -> Result<FaultyNetwork, String> {
        let (scheme, host) = hub_url.split_once("://").ok_or("hub url without scheme")?;
        let upstream: std::net::SocketAddr = host.trim_end_matches('/').parse().map_err(|e: std::net::AddrParseError| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(|e| e.to_string())?;
        let url = format!("{scheme}://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let (counts, control) = runtime.block_on(async { vaxdesk_hub::fault_proxy::spawn_controlled(listener, upstream, faults, seed) });
        Ok(FaultyNetwork { url, counts, control, _runtime: runtime })
    }

    /// An enrollment code's text pointing at the hub through this proxy
    /// (the certificate's fingerprint is kept: the proxy only moves bytes).
    pub fn route(&self, enrollment_text: &str) -> Result<String, String> {
        let mut code = vaxdesk_core::qr::payload::parse_enroll(enrollment_text).value.ok_or("not an enrollment code")?;
        code.hub.clone_from(&self.url);
        Ok(code.to_text())
    }
}

/// The lots the generated desks' doses name ([`vaxdesk_core::synth`]), in
/// the hub's catalog as a coordinator would have added them: the hub refuses
/// a dose of a lot it does not know.
pub fn publish_synth_lots(db: &HubDb) -> Result<(), String> {
    let c = vaxdesk_core::synth::catalog_with_lots(&vaxdesk_core::catalog::Catalog::builtin());
    db.publish_catalog(&c).map_err(|e| e.to_string())
}

/// A coordinator session on a hub.
#[derive(Debug)]
pub struct Coordinator {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Coordinator {
    pub fn login(base: &str) -> Result<Coordinator, String> {
        // The coordinator's browser is told to trust the self-signed hub by
        // hand; desks pin it. Test harness only.
        let http = reqwest::blocking::Client::builder().danger_accept_invalid_certs(base.starts_with("https://")).build().map_err(|e| e.to_string())?;
        let r: Value = http
            .post(format!("{base}/api/v1/login"))
            .json(&json!({"username": ADMIN.0, "password": ADMIN.1}))
            .send()
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        let token = r["token"].as_str().ok_or("login failed")?.to_string();
        Ok(Coordinator { base: base.to_string(), token, http })
    }

    pub fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value, String> {
        let r = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token).json(&body).send().map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.text().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Send a file as the body (a registration list, say); the JSON reply.
    pub fn upload(&self, path: &str, content_type: &str, bytes: Vec<u8>) -> Result<Value, String> {
        let r = self.http.post(format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token).header("content-type", content_type).body(bytes).send().map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.text().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// Create a site with the given desks.
    pub fn site(&self, code: &str, desks: &[&str]) -> Result<(), String> {
        self.call(reqwest::Method::PUT, "/sites", json!({"code": code, "name": format!("Điểm tiêm {code}")}))?;
        for d in desks {
            self.call(reqwest::Method::PUT, &format!("/sites/{code}/desks"), json!({"code": d, "name": format!("Bàn {d}")}))?;
        }
        Ok(())
    }

    pub fn lot(&self, number: &str, vaccine: &str, expiry: &str) -> Result<(), String> {
        self.call(reqwest::Method::POST, "/lots", json!({"number": number, "vaccine": vaccine, "expiry": expiry})).map(|_| ())
    }

    /// The `VXD1:` text a coordinator's page would show for a desk.
    pub fn enrollment_text(&self, site: &str, desk: &str) -> Result<String, String> {
        let r = self.call(reqwest::Method::POST, &format!("/sites/{site}/desks/{desk}/enrollment-codes"), json!({}))?;
        r["text"].as_str().map(str::to_string).ok_or_else(|| "no text".into())
    }
}

/// Fill a desk's store with `persons` persons and `doses_per_person` doses
/// each (written in bulk, queued for the hub like any save), plus `invalid`
/// doses of a vaccine the hub does not know. Returns the invalid event ids.
pub fn seed_desk(
    desk: &vaxdesk_core::desk::Desk,
    persons: usize,
    doses_per_person: usize,
    invalid: usize,
    id_prefix: &str,
) -> Result<Vec<vaxdesk_core::model::EventId>, String> {
    let c = desk.config();
    let (site, desk_code) = (c.site.clone().ok_or("not set up")?, c.desk.clone().ok_or("not set up")?);
    let (pe, mut de) = vaxdesk_core::synth::desk_events(&c.device_id, &site, &desk_code, id_prefix, 0..persons as u64, doses_per_person);
    let mut invalid_ids = Vec::new();
    for k in 0..invalid.min(persons) {
        let mut bad = de[k * doses_per_person].clone();
        bad.id = vaxdesk_core::model::EventId::new();
        if let Some(d) = bad.dose.as_mut() {
            d.vaccine = "XX".into();
        }
        invalid_ids.push(bad.id);
        de.push(bad);
    }
    desk.store().append_batch(&pe, &de).map_err(|e| e.to_string())?;
    Ok(invalid_ids)
}
