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
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(|e| e.to_string())?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let state = AppState::new(db, url.clone());
        let db = state.db.clone();
        runtime.spawn(async move { axum::serve(listener, vaxdesk_hub::router(state)).await });
        Ok(LocalHub { url, db, _runtime: runtime })
    }
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
        let http = reqwest::blocking::Client::new();
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
    use vaxdesk_core::model::*;
    let c = desk.config();
    let (site, desk_code) = (c.site.clone().ok_or("not set up")?, c.desk.clone().ok_or("not set up")?);
    let at: chrono::DateTime<chrono::FixedOffset> = chrono::DateTime::parse_from_rfc3339("2021-10-05T09:00:00+07:00").map_err(|e| e.to_string())?;
    let mut invalid_ids = Vec::new();
    let chunk = 1000;
    let mut i = 0;
    while i < persons {
        let mut pe = Vec::new();
        let mut de = Vec::new();
        for k in i..(i + chunk).min(persons) {
            let person = Person {
                id: PersonId::new(),
                national_id: Some(NationalId { kind: IdKind::Cccd, number: format!("{id_prefix}{k:06}") }),
                full_name: format!("Người Thử {}", ["An", "Bình", "Chi", "Dũng", "Hà", "Lan", "Minh", "Nam"][k % 8]),
                birth_date: BirthDate::Full(chrono::NaiveDate::from_ymd_opt(1950 + (k % 50) as i32, 1 + (k % 12) as u32, 1 + (k % 28) as u32).ok_or("date")?),
                sex: Some(Sex::Male),
                phone: None,
                address: Address::default(),
                health_insurance: None,
                priority_group: None,
                source: PersonSource::Manual,
            };
            for n in 0..doses_per_person + usize::from(k < invalid) {
                let bad = n == doses_per_person;
                let e = DoseEvent {
                    id: EventId::new(),
                    person_id: person.id,
                    site: site.clone(),
                    desk: desk_code.clone(),
                    device: c.device_id.clone(),
                    kind: DoseKind::Record,
                    dose: Some(Dose {
                        vaccine: if bad { "XX".into() } else { "AZ".into() },
                        lot: Some("AZ2107".into()),
                        lot_expiry: None,
                        dose_number: Some((n % 4 + 1) as u8),
                        administered_at: at + chrono::Duration::days(n as i64 * 30),
                        outcome: Outcome::Vaccinated,
                        note: None,
                    }),
                    confirmed: vec![],
                    recorded_at: chrono::Utc::now(),
                };
                if bad {
                    invalid_ids.push(e.id);
                }
                de.push(e);
            }
            pe.push(PersonEvent { id: EventId::new(), person, device: c.device_id.clone(), confirmed: vec![], recorded_at: chrono::Utc::now() });
        }
        desk.store().append_batch(&pe, &de).map_err(|e| e.to_string())?;
        i += chunk;
    }
    Ok(invalid_ids)
}
