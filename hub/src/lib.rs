#![recursion_limit = "256"]
//! vaxdesk-hub: the server desks sync with and coordinators manage.
//! HTTP + JSON under `/api/v1` (axum), gzip or zstd request bodies accepted,
//! SQLite by default. The hub holds no state outside its database.

pub mod actions;
pub mod apk;
pub mod auth;
pub mod backup;
pub mod dates;
pub mod day_records;
pub mod db;
pub mod early;
pub mod error;
pub mod export;
pub mod fault_proxy;
pub mod files;
pub mod limits;
pub mod ingest;
pub mod openapi;
mod persons;
pub mod registrations;
pub mod report;
pub mod routes;
pub mod tls;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::predicate::Predicate as _;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

pub use db::HubDb;
use vaxdesk_core::cert::Signer;
pub use ingest::Incoming;

/// A full batch of 500 events is well under 1 MB of JSON; 4 MB leaves room
/// and bounds what a (decompressed) body may cost.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// A site's registration list: 100,000 rows of CSV are ~15 MB.
pub const MAX_LIST: usize = 40 * 1024 * 1024;

/// The largest body a path takes: registration lists are big, the rest small.
pub fn body_limit(path: &str) -> usize {
    // Exactly the two upload routes (the page and the API), not any path that
    // ends alike: the larger buffer is read before the caller is known.
    let api = path.strip_prefix("/api/v1/sites/").and_then(|rest| rest.strip_suffix("/registrations")).is_some_and(|site| !site.is_empty() && !site.contains('/'));
    if path == "/registrations" || api {
        MAX_LIST
    } else {
        MAX_BODY
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_two_upload_routes_take_a_large_body() {
        assert_eq!(super::body_limit("/registrations"), super::MAX_LIST);
        assert_eq!(super::body_limit("/api/v1/sites/QN-01/registrations"), super::MAX_LIST);
        for small in ["/x/registrations", "/api/v1/sites//registrations", "/api/v1/sites/a/b/registrations", "/api/v1/events", "/registrations/uploads/1"] {
            assert_eq!(super::body_limit(small), super::MAX_BODY, "{small}");
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Arc<HubDb>,
    /// The URL desks reach this hub at (goes into enrollment codes).
    pub public_url: String,
    pub tls_fingerprint: Option<String>,
    /// Catalog versions are read-modify-write; one publish at a time.
    pub catalog_lock: Arc<tokio::sync::Mutex<()>>,
    /// Signs vaccination certificates; none means the hub issues none.
    pub signer: Option<Arc<Signer>>,
    /// Rate limits on log-in and enrollment.
    pub limits: limits::Limits,
    /// The app handed out at `/app` (`vaxdesk hub --apk`), if any.
    pub apk: Option<Arc<apk::AppPackage>>,
    /// Password checks running at once (Argon2id: 19 MiB and tens of ms
    /// each): many log-in attempts queue here instead of exhausting memory.
    pub password_checks: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(db: HubDb, public_url: impl Into<String>) -> Self {
        AppState {
            db: Arc::new(db),
            public_url: public_url.into(),
            tls_fingerprint: None,
            catalog_lock: Arc::default(),
            signer: None,
            limits: limits::Limits::default(),
            apk: None,
            password_checks: Arc::new(tokio::sync::Semaphore::new(4)),
        }
    }

    /// Sign certificates with `signer`, and make sure the catalog in force
    /// lists it, so that desks trust what it signs.
    pub fn with_signer(mut self, signer: Signer) -> Result<Self, String> {
        let signer = Arc::new(signer);
        routes::coordinator::publish_signer(&self.db, &signer).map_err(|e| e.to_string())?;
        self.signer = Some(signer);
        Ok(self)
    }
}

/// The signer kept in `data_dir` (made there on the first start).
pub fn load_signer(data_dir: &std::path::Path) -> Result<Signer, String> {
    Signer::load_or_create(data_dir, "vaxdesk hub certificate signer").map_err(|e| e.to_string())
}

/// Every route under `/api/v1`, as `(method, path)`: the router below and
/// the OpenAPI document are both checked against this list by a test.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/enroll"),
    ("post", "/events"),
    ("get", "/changes"),
    ("post", "/token"),
    ("post", "/login"),
    ("post", "/coordinators"),
    ("get", "/sites"),
    ("put", "/sites"),
    ("get", "/sites/{site}/desks"),
    ("put", "/sites/{site}/desks"),
    ("post", "/sites/{site}/desks/{desk}/enrollment-codes"),
    ("get", "/catalog"),
    ("put", "/catalog"),
    ("post", "/lots"),
    ("get", "/devices"),
    ("post", "/devices/{id}/revoke"),
    ("get", "/duplicates"),
    ("post", "/duplicates/{a}/{b}/merge"),
    ("post", "/duplicates/{a}/{b}/dismiss"),
    ("get", "/persons/{id}"),
    ("post", "/doses/{record}/amend"),
    ("post", "/doses/{record}/void"),
    ("get", "/persons/{id}/certificate"),
    ("post", "/sites/{site}/registrations"),
    ("get", "/openapi.json"),
];

pub fn router(state: AppState) -> Router {
    use routes::{coordinator as c, desk as d, fixes};
    let api = Router::new()
        .route("/enroll", post(d::enroll))
        .route("/events", post(d::push))
        .route("/changes", get(d::changes))
        .route("/token", post(d::rotate_token))
        .route("/login", post(c::login))
        .route("/coordinators", post(c::create_coordinator))
        .route("/sites", get(c::list_sites).put(c::put_site))
        .route("/sites/{site}/desks", get(c::list_desks).put(c::put_desk))
        .route("/sites/{site}/desks/{desk}/enrollment-codes", post(c::enrollment_code_for))
        .route("/catalog", get(c::get_catalog).put(c::put_catalog))
        .route("/lots", post(c::post_lot))
        .route("/devices", get(c::list_devices))
        .route("/devices/{id}/revoke", post(c::revoke_device))
        .route("/duplicates", get(fixes::list))
        .route("/duplicates/{a}/{b}/merge", post(fixes::merge))
        .route("/duplicates/{a}/{b}/dismiss", post(fixes::dismiss))
        .route("/persons/{id}", get(fixes::person))
        .route("/doses/{record}/amend", post(fixes::amend))
        .route("/doses/{record}/void", post(fixes::void))
        .route("/persons/{id}/certificate", get(routes::cert::certificate))
        .route("/sites/{site}/registrations", post(routes::registrations::upload).layer(DefaultBodyLimit::max(MAX_LIST)))
        .route("/openapi.json", get(|| async { axum::Json(openapi::document()) }))
        .fallback(|| async { error::HubError::not_found("endpoint") });
    Router::new()
        .nest(vaxdesk_core::sync::protocol::API, api)
        .merge(web::router())
        .route("/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(RequestDecompressionLayer::new())
        .layer(axum::middleware::from_fn(early::known_encoding))
        .layer(axum::middleware::from_fn(early::whole_body_first))
        // The APK is compressed already (and large): compressing it per download would cost the hub's CPU.
        .layer(CompressionLayer::new().compress_when(
            tower_http::compression::DefaultPredicate::new().and(tower_http::compression::predicate::NotForContentType::const_new("application/vnd.android.package-archive")),
        ))
        .with_state(state)
}

/// Open (or create) the database — a SQLite path or a `postgres://` URL —
/// and serve until the task is cancelled: over TLS with the certificate kept
/// in `data_dir` (made at first start), or plain HTTP when `tls` is false
/// (behind a proxy that terminates TLS, or for a test).
pub async fn serve(db: &str, listen: SocketAddr, public_url: Option<String>, data_dir: &std::path::Path, tls: bool) -> Result<(), String> {
    serve_with(db, listen, public_url, data_dir, tls, limits::Limits::default(), None).await
}

/// `serve`, with other rate limits, and the app to hand out at `/app`
/// (checked before the port opens: an unsigned or unreadable APK stops the start).
pub async fn serve_with(
    db: &str,
    listen: SocketAddr,
    public_url: Option<String>,
    data_dir: &std::path::Path,
    tls: bool,
    limits: limits::Limits,
    apk: Option<std::path::PathBuf>,
) -> Result<(), String> {
    let apk = match apk {
        Some(p) => Some(Arc::new(tokio::task::spawn_blocking(move || apk::AppPackage::load(&p)).await.map_err(|e| e.to_string())??)),
        None => None,
    };
    let target = db.to_string();
    let db = tokio::task::spawn_blocking(move || HubDb::open_target(&target)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    let signer = load_signer(data_dir)?;
    // The TLS identity exists before the port opens: whoever connects
    // first (a desk, a test) finds the certificate in place.
    let identity = if tls {
        let host = public_url.as_deref().and_then(|u| u.split("://").nth(1)).and_then(|r| r.split(['/', ':']).next()).unwrap_or_default().to_string();
        Some(tls::HubTls::load_or_create(data_dir, &[host, listen.ip().to_string()])?)
    } else {
        None
    };
    let listener = std::net::TcpListener::bind(listen).map_err(|e| format!("listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls { "https" } else { "http" };
    let url = public_url.unwrap_or_else(|| format!("{scheme}://{local}"));
    tracing::info!(%local, tls, "hub listening");
    let fp = identity.as_ref().map(|t| t.fingerprint.clone());
    let state = tokio::task::spawn_blocking(move || {
        let mut s = AppState::new(db, url).with_signer(signer)?;
        s.tls_fingerprint = fp;
        s.limits = limits;
        s.apk = apk;
        Ok::<_, String>(s)
    })
    .await
    .map_err(|e| e.to_string())??;
    // The peer's address feeds the rate limits.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    match identity {
        Some(t) => axum_server::from_tcp_rustls(listener, t.server_config()?).map_err(|e| e.to_string())?.serve(app).await.map_err(|e| e.to_string()),
        None => {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
            axum::serve(listener, app).await.map_err(|e| e.to_string())
        }
    }
}
