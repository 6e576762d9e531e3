//! A hub run inside this process on a loopback port, for the demo and the
//! benchmarks. The coordinator's set-up goes straight to its database; desks
//! talk to it over HTTP like real phones.

use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, Utc};
use vaxdesk_core::desk::Desk;
use vaxdesk_core::model::{Site, SiteDesk};
use vaxdesk_hub::{auth, AppState, HubDb};

use crate::{CliResult, Failure};


pub struct EmbeddedHub {
    pub runtime: tokio::runtime::Runtime,
    pub db: Arc<HubDb>,
    pub url: String,
    pub addr: std::net::SocketAddr,
    coordinator: i64,
}

impl EmbeddedHub {
    pub fn start(db_path: &Path) -> CliResult<EmbeddedHub> {
        let db = HubDb::open(db_path).map_err(Failure::storage)?;
        let hash = auth::hash_password(&auth::random_token()).map_err(Failure::storage)?;
        let coordinator = db.create_coordinator("coordinator", &hash, true, &[]).map_err(Failure::storage)?;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(Failure::storage)?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(Failure::storage)?;
        let addr = listener.local_addr().map_err(Failure::storage)?;
        let url = format!("http://{addr}");
        let signer = vaxdesk_hub::load_signer(db_path.parent().unwrap_or(Path::new("."))).map_err(Failure::storage)?;
        let state = AppState::new(db, url.clone()).with_signer(signer).map_err(Failure::storage)?;
        let db = state.db.clone();
        runtime.spawn(async move {
            let _ = axum::serve(listener, vaxdesk_hub::router(state)).await;
        });
        Ok(EmbeddedHub { runtime, db, url, addr, coordinator })
    }

    pub fn site(&self, code: &str, name: &str, desks: &[&str]) -> CliResult {
        self.db.upsert_site(&Site { code: code.into(), name: name.into(), province_code: Some("22".into()) }).map_err(Failure::storage)?;
        for d in desks {
            self.db.upsert_desk(&SiteDesk { site: code.into(), code: (*d).into(), name: format!("Bàn {d}") }).map_err(Failure::storage)?;
        }
        Ok(())
    }

    /// Enroll `desk` at `site`/`desk_code` from a fresh one-time code.
    pub fn enroll(&self, desk: &Desk, site: &str, desk_code: &str) -> CliResult {
        let secret = auth::enrollment_code();
        let expires = (Utc::now() + Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.db.create_enrollment_code(&auth::hash_token(&secret), site, desk_code, self.coordinator, &expires).map_err(Failure::storage)?;
        let text = vaxdesk_core::qr::payload::EnrollCode { hub: self.url.clone(), code: secret, fp: None }.to_text();
        // The embedded hub listens on loopback, in plain HTTP (see demo.rs).
        let opts = vaxdesk_core::sync::SyncOptions { allow_plain_http: true, ..Default::default() };
        vaxdesk_core::sync::enroll_with(desk, &text, Some(desk_code), &opts).map_err(Failure::storage)?;
        Ok(())
    }
}
