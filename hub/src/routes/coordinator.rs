//! What coordinators call: log in, set up sites, desks, lots and the catalog,
//! make one-time enrollment codes, watch and revoke devices. Each is limited
//! to the coordinator's sites; duplicates and dose fixes are in `fixes`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use vaxdesk_core::catalog::{Catalog, Lot};
use vaxdesk_core::model::{SiteDesk, Site};
use vaxdesk_core::qr::payload::EnrollCode;

use crate::auth::{check_login, enrollment_code, hash_password, hash_token, random_token, CoordinatorAuth};
use crate::db::{Coordinator, Device};
use crate::error::{HubError, HubResult};
use crate::limits::Peer;
use crate::routes::ApiJson;
use crate::AppState;

const SESSION_HOURS: i64 = 12;

#[derive(Debug, Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

/// A coordinator's log-in: the bearer token and when it ends (a clinic
/// day at a desk is `model::Session`).
#[derive(Debug, Serialize)]
pub struct LogIn {
    token: String,
    expires_at: String,
}

pub async fn login(State(s): State<AppState>, Peer(from): Peer, ApiJson(l): ApiJson<Login>) -> HubResult<Json<LogIn>> {
    s.limits.login(from, &l.username)?;
    let db = s.db.clone();
    let user = l.username.trim().to_string();
    let password = l.password;
    // The look-up and the Argon2 check both on the blocking pool, never on
    // the async workers, a few at a time.
    let _permit = s.password_checks.clone().acquire_owned().await.map_err(|e| HubError::new(StatusCode::SERVICE_UNAVAILABLE, "hub.busy", e.to_string()))?;
    let found = tokio::task::spawn_blocking(move || {
        let found = db.password_hash(&user)?;
        let ok = check_login(&password, found.as_ref().map(|(_, h)| h.as_str()));
        Ok::<_, crate::db::DbError>(found.filter(|_| ok))
    })
    .await??;
    let Some((id, _)) = found else {
        return Err(HubError::unauthorized("username or password is wrong"));
    };
    let token = random_token();
    let expires_at = (chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (db, hash, exp) = (s.db.clone(), hash_token(&token), expires_at.clone());
    tokio::task::spawn_blocking(move || db.create_session(&hash, id, &exp)).await??;
    Ok(Json(LogIn { token, expires_at }))
}

#[derive(Debug, Deserialize)]
pub struct NewCoordinator {
    username: String,
    password: String,
    #[serde(default)]
    sites: Vec<String>,
}

pub async fn create_coordinator(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, ApiJson(n): ApiJson<NewCoordinator>) -> HubResult<StatusCode> {
    if !me.all_sites {
        return Err(HubError::forbidden("only a coordinator of every site can add coordinators"));
    }
    check_password(&n.password)?;
    let user = check_code("username", &n.username)?;
    let hash = hash_password(&n.password).map_err(|e| HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "hub.internal", e))?;
    let db = s.db.clone();
    let taken = {
        let db = db.clone();
        let u = user.clone();
        tokio::task::spawn_blocking(move || db.password_hash(&u)).await??.is_some()
    };
    if taken {
        return Err(HubError::new(StatusCode::CONFLICT, "coordinator.exists", format!("username: {user} is taken")));
    }
    let sites = n.sites.clone();
    let known = { let db = db.clone(); tokio::task::spawn_blocking(move || db.sites()).await?? };
    if let Some(missing) = sites.iter().find(|x| !known.iter().any(|k| &k.code == *x)) {
        return Err(HubError::bad_request("site.unknown", format!("sites: no site {missing}")));
    }
    tokio::task::spawn_blocking(move || db.create_coordinator(&user, &hash, false, &sites)).await??;
    Ok(StatusCode::CREATED)
}

pub fn check_password(p: &str) -> HubResult<()> {
    if p.chars().count() < 10 {
        return Err(HubError::bad_request("password.weak", "password: at least 10 characters"));
    }
    Ok(())
}

/// Codes (site, desk, username, lot) appear in URLs and exports: the
/// core's rule, the same one a desk applies when enrollment names them.
pub fn check_code(field: &str, v: &str) -> HubResult<String> {
    vaxdesk_core::validate::check_code(field, v).map_err(|e| HubError::bad_request("request.code", e.to_string()))
}

pub fn check_name(field: &str, v: &str) -> HubResult<String> {
    let v = vaxdesk_core::fold::tidy_nfc(v);
    if v.is_empty() || v.chars().count() > 120 || v.chars().any(char::is_control) {
        return Err(HubError::bad_request("request.name", format!("{field}: 1-120 printable characters expected")));
    }
    Ok(v)
}

pub async fn list_sites(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth) -> HubResult<Json<Vec<Site>>> {
    let db = s.db.clone();
    let sites = tokio::task::spawn_blocking(move || db.sites()).await??;
    Ok(Json(sites.into_iter().filter(|x| me.may_see(&x.code)).collect()))
}

pub async fn put_site(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, ApiJson(site): ApiJson<Site>) -> HubResult<StatusCode> {
    save_site(&s, &me, site).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add or rename a site (API and web).
pub async fn save_site(s: &AppState, me: &Coordinator, site: Site) -> HubResult<()> {
    let code = check_code("code", &site.code)?;
    if !me.all_sites && !me.may_see(&code) {
        return Err(HubError::forbidden(format!("site {code} is not one of yours")));
    }
    let province_code = site.province_code.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
    if let Some(p) = &province_code {
        // The platform writes "01", a CCCD "001": the same province.
        if !p.bytes().all(|b| b.is_ascii_digit()) || vaxdesk_core::validate::province_name(&format!("{p:0>3}")).is_none() {
            return Err(HubError::bad_request("site.province", format!("province_code: {p:?} is not a province code")));
        }
    }
    let site = Site { code, name: check_name("name", &site.name)?, province_code };
    let (db, who) = (s.db.clone(), me.clone());
    tokio::task::spawn_blocking(move || {
        db.upsert_site(&site)?;
        crate::actions::audit(&db, &who, "site.save", Some(&site.code), &site.code, &site.name)
    })
    .await?
}

fn scoped(me: &crate::db::Coordinator, site: &str) -> HubResult<()> {
    if me.may_see(site) { Ok(()) } else { Err(HubError::forbidden(format!("site {site} is not one of yours"))) }
}

pub async fn list_desks(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path(site): Path<String>) -> HubResult<Json<Vec<SiteDesk>>> {
    scoped(&me, &site)?;
    let db = s.db.clone();
    Ok(Json(tokio::task::spawn_blocking(move || db.desks(&site)).await??))
}

#[derive(Debug, Deserialize)]
pub struct NewDesk {
    pub code: String,
    pub name: String,
}

pub async fn put_desk(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path(site): Path<String>, ApiJson(d): ApiJson<NewDesk>) -> HubResult<StatusCode> {
    save_desk(&s, &me, site, d).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add or rename a desk of a site (API and web).
pub async fn save_desk(s: &AppState, me: &Coordinator, site: String, d: NewDesk) -> HubResult<()> {
    scoped(me, &site)?;
    let db = s.db.clone();
    let exists = { let db = db.clone(); let site = site.clone(); tokio::task::spawn_blocking(move || db.site(&site)).await??.is_some() };
    if !exists {
        return Err(HubError::not_found("site"));
    }
    let desk = SiteDesk { site, code: check_code("code", &d.code)?, name: check_name("name", &d.name)? };
    let who = me.clone();
    tokio::task::spawn_blocking(move || {
        db.upsert_desk(&desk)?;
        crate::actions::audit(&db, &who, "desk.save", Some(&desk.site), &format!("{}/{}", desk.site, desk.code), &desk.name)
    })
    .await?
}

pub async fn get_catalog(State(s): State<AppState>, CoordinatorAuth(_): CoordinatorAuth) -> HubResult<Json<Catalog>> {
    let db = s.db.clone();
    let c = tokio::task::spawn_blocking(move || db.current_catalog()).await??.unwrap_or_else(Catalog::builtin);
    Ok(Json(c))
}

/// Add the hub's certificate signer to a catalog about to be published, so
/// a coordinator's catalog never drops the desks' trust in it.
fn with_signer(mut c: Catalog, signer: Option<&vaxdesk_core::cert::Signer>) -> Catalog {
    if let Some(s) = signer {
        let p = s.published();
        if !c.signers.iter().any(|x| x.kid == p.kid) {
            c.signers.push(p);
        }
    }
    c
}

/// At start: publish the catalog one version up if it does not list this
/// hub's signer yet (a new hub, or a new key).
pub fn publish_signer(db: &crate::HubDb, signer: &vaxdesk_core::cert::Signer) -> crate::db::Result<()> {
    let current = db.current_catalog()?.unwrap_or_else(Catalog::builtin);
    if current.signers.iter().any(|x| x.kid == signer.published().kid) {
        return Ok(());
    }
    let mut next = with_signer(current, Some(signer));
    next.version += 1;
    db.publish_catalog(&next)
}

async fn publish(s: &AppState, c: Catalog) -> HubResult<Json<Catalog>> {
    let c = with_signer(c, s.signer.as_deref());
    c.check().map_err(|e| HubError::bad_request("catalog.invalid", e.to_string()))?;
    let _guard = s.catalog_lock.lock().await;
    let db = s.db.clone();
    let current = { let db = db.clone(); tokio::task::spawn_blocking(move || db.current_catalog()).await?? };
    // The desks' succession rule, under the lock so two publications cannot both pass it.
    match c.may_follow(current.as_ref()) {
        Ok(()) => {}
        Err(e @ vaxdesk_core::catalog::CatalogError::NotNewer { .. }) => return Err(HubError::new(StatusCode::CONFLICT, "catalog.not_newer", e.to_string())),
        Err(e) => return Err(HubError::bad_request("catalog.invalid", e.to_string())),
    }
    let out = c.clone();
    tokio::task::spawn_blocking(move || db.publish_catalog(&c)).await??;
    Ok(Json(out))
}

pub async fn put_catalog(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, ApiJson(c): ApiJson<Catalog>) -> HubResult<Json<Catalog>> {
    if !me.all_sites {
        return Err(HubError::forbidden("the catalog is shared by every site: only a coordinator of every site may publish it"));
    }
    let out = publish(&s, c).await?;
    let (db, who, v) = (s.db.clone(), me.clone(), out.version);
    tokio::task::spawn_blocking(move || crate::actions::audit(&db, &who, "catalog.publish", None, &format!("v{v}"), "catalog published")).await??;
    Ok(out)
}

/// Add a lot: publishes the current catalog with the lot, one version up.
pub async fn post_lot(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, ApiJson(lot): ApiJson<Lot>) -> HubResult<Json<Catalog>> {
    add_lot(&s, &me, lot).await.map(Json)
}

/// Add a lot (API and web). Lots are part of the one catalog every site
/// shares, so only a coordinator of every site adds one (ADR 0011).
pub async fn add_lot(s: &AppState, me: &Coordinator, lot: Lot) -> HubResult<Catalog> {
    if !me.all_sites {
        return Err(HubError::forbidden("lots are in the catalog every site shares: only a coordinator of every site may add one"));
    }
    let db = s.db.clone();
    let mut c = tokio::task::spawn_blocking(move || db.current_catalog()).await??.unwrap_or_else(Catalog::builtin);
    let Some(vaccine) = c.vaccine(&lot.vaccine).map(|v| v.code.clone()) else {
        return Err(HubError::bad_request("lot.vaccine", format!("vaccine: {:?} is not in the catalog", lot.vaccine)));
    };
    let number = check_code("number", &lot.number)?;
    let (first, last) = crate::dates::bounds();
    if lot.expiry < first || lot.expiry > last {
        return Err(HubError::bad_request("lot.expiry", format!("expiry: a date between {first} and {last} expected, got {}", lot.expiry)));
    }
    if c.lots.iter().any(|l| l.number.eq_ignore_ascii_case(&number) && l.vaccine.eq_ignore_ascii_case(&vaccine)) {
        return Err(HubError::new(StatusCode::CONFLICT, "lot.exists", format!("number: lot {number} is already in the catalog")));
    }
    c.lots.push(Lot { number: number.clone(), vaccine: vaccine.clone(), expiry: lot.expiry });
    c.version += 1;
    let published = publish(s, c).await?;
    let (db, who) = (s.db.clone(), me.clone());
    let detail = format!("{vaccine}, expires {}, catalog v{}", lot.expiry, published.version);
    tokio::task::spawn_blocking(move || crate::actions::audit(&db, &who, "lot.add", None, &number, &detail)).await??;
    Ok(published.0)
}

#[derive(Debug, Deserialize)]
pub struct CodeRequest {
    #[serde(default)]
    ttl_minutes: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct CodeReply {
    pub code: String,
    /// The text to show as a QR code on the coordinator's screen.
    pub text: String,
    pub expires_at: String,
}

pub async fn enrollment_code_for(
    State(s): State<AppState>,
    CoordinatorAuth(me): CoordinatorAuth,
    Path((site, desk)): Path<(String, String)>,
    ApiJson(r): ApiJson<CodeRequest>,
) -> HubResult<Json<CodeReply>> {
    new_enrollment_code(&s, &me, site, desk, r.ttl_minutes).await.map(Json)
}

/// A one-time enrollment code for a desk (API and web).
pub async fn new_enrollment_code(s: &AppState, me: &Coordinator, site: String, desk: String, ttl_minutes: Option<u32>) -> HubResult<CodeReply> {
    scoped(me, &site)?;
    let db = s.db.clone();
    let desks = { let db = db.clone(); let site = site.clone(); tokio::task::spawn_blocking(move || db.desks(&site)).await?? };
    if !desks.iter().any(|d| d.code == desk) {
        return Err(HubError::not_found("desk"));
    }
    let ttl = i64::from(ttl_minutes.unwrap_or(30).clamp(1, 24 * 60));
    let code = enrollment_code();
    let expires_at = (chrono::Utc::now() + chrono::Duration::minutes(ttl)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (hash, exp, who) = (hash_token(&code), expires_at.clone(), me.clone());
    tokio::task::spawn_blocking(move || {
        db.create_enrollment_code(&hash, &site, &desk, who.id, &exp)?;
        crate::actions::audit(&db, &who, "enrollment.code", Some(&site), &format!("{site}/{desk}"), &format!("expires {exp}"))
    })
    .await??;
    let text = EnrollCode { hub: s.public_url.clone(), code: code.clone(), fp: s.tls_fingerprint.clone() }.to_text();
    Ok(CodeReply { code, text, expires_at })
}

pub async fn list_devices(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth) -> HubResult<Json<Vec<Device>>> {
    let db = s.db.clone();
    let all = tokio::task::spawn_blocking(move || db.devices()).await??;
    Ok(Json(all.into_iter().filter(|d| me.may_see(&d.site)).collect()))
}

pub async fn revoke_device(State(s): State<AppState>, CoordinatorAuth(me): CoordinatorAuth, Path(id): Path<String>) -> HubResult<StatusCode> {
    revoke(&s, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke a device: its token stops working at once (API and web).
pub async fn revoke(s: &AppState, me: &Coordinator, id: String) -> HubResult<()> {
    let db = s.db.clone();
    let all = { let db = db.clone(); tokio::task::spawn_blocking(move || db.devices()).await?? };
    let Some(d) = all.into_iter().find(|d| d.id == id) else { return Err(HubError::not_found("device")) };
    scoped(me, &d.site)?;
    let who = me.clone();
    let subject = d.id.clone();
    let site = d.site.clone();
    tokio::task::spawn_blocking(move || {
        db.revoke_device(&id)?;
        crate::actions::audit(&db, &who, "device.revoke", Some(&site), &subject, &format!("desk {}", d.desk))
    })
    .await??;
    tracing::info!("device revoked");
    Ok(())
}
