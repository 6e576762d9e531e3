//! Sync for one desk: enroll once; then push the outbox in batches and pull
//! the site's changes page by page. Saving never waits for any of this. Each
//! request is retried with exponential backoff and jitter while the trouble
//! is transient; everything is resumable from where it stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::client::{HubClient, SyncError};
use super::protocol::{ChangesPage, EnrollRequest, PushBatch, PushStatus, MAX_BATCH};
use crate::desk::Desk;
use crate::qr::payload::parse_enroll;

pub const META_HUB: &str = "hub_url";
pub const META_TOKEN: &str = "hub_token";
/// When the device token was last issued (RFC 3339).
pub const META_TOKEN_AT: &str = "hub_token_at";
/// A token older than this is exchanged for a new one during a sync.
pub const TOKEN_MAX_AGE_DAYS: i64 = 30;
/// SHA-256 of the hub's TLS certificate, pinned at enrollment.
pub const META_HUB_PIN: &str = "hub_tls_sha256";
pub const META_LAST_SYNC: &str = "last_sync";
/// When a pull last reached the hub's last page: until the first one does,
/// the desk does not hold its whole site (searches say they are incomplete).
pub const META_PULLED_TO_END: &str = "pulled_to_end";
/// The names the hub gave the site and desk at enrollment, for screens.
pub const META_SITE_NAME: &str = "site_name";
pub const META_DESK_NAME: &str = "desk_name";

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Events per push (the hub takes at most 500).
    pub batch: usize,
    /// Changes per pulled page.
    pub page: u32,
    /// Changes per page once a pull is behind (its last page was full):
    /// fewer, larger transactions. Each holds the store for a moment (a
    /// quarter of a second for 5,000 on a laptop); a save waits that long.
    pub catch_up_page: u32,
    /// Tries per request before giving up for this round.
    pub attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
    /// Keep connections open between requests (off: one connection per
    /// request, as on networks that drop idle connections).
    pub reuse_connections: bool,
    /// Accept a hub at a plain `http://` address. Off by default: the phone
    /// refuses one (Android's cleartext ban does not reach the core's own
    /// HTTP client); the CLI and tests opt in.
    pub allow_plain_http: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            batch: 200,
            page: 1000,
            catch_up_page: 5000,
            attempts: 6,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            reuse_connections: true,
            allow_plain_http: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub pushed: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub pulled: u64,
    pub retries: u64,
    pub bytes_sent: u64,
    /// Each push's time in microseconds, retries included (what the desk
    /// waited), for load measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push_micros: Vec<u64>,
    /// A first pull set the name-search indexes aside and built them again
    /// at its end (ADR 0023).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub search_set_aside: bool,
}

/// An enrollment on its way: written before the code is sent, so that a
/// reply lost on the network (the hub enrolled the device, the desk never
/// heard) is retried with the same code, now or at the next sync, and the
/// hub answers with the same enrollment and a fresh token. Cleared when the
/// enrollment is complete or the hub refuses the code for good.
pub const META_ENROLL_PENDING: &str = "enroll_pending";
/// The desk's enrollment key: random, made at its first enrollment and kept
/// for good; the hub answers a retried or repeated enrollment of this
/// device only to the desk that sends it (ADR 0013).
pub const META_ENROLL_KEY: &str = "enroll_key";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrollment {
    /// The `VXD1:` text as scanned or typed.
    pub text: String,
    #[serde(default)]
    pub device_name: Option<String>,
}

/// Enroll this desk with the hub named in a `VXD1:` code. The desk keeps its
/// own device id; the hub gives a token and says which site and desk it is.
pub fn enroll(desk: &Desk, text: &str, device_name: Option<&str>) -> Result<super::protocol::EnrollReply, SyncError> {
    enroll_with(desk, text, device_name, &SyncOptions::default())
}

/// [`enroll`] with the retry and timeout settings of `opts`. Nothing but the
/// pending enrollment is written until the hub's answer is in hand and
/// checked; then the hub, token, site and desk are written in one
/// transaction, so a desk is either enrolled in full or not at all.
pub fn enroll_with(desk: &Desk, text: &str, device_name: Option<&str>, opts: &SyncOptions) -> Result<super::protocol::EnrollReply, SyncError> {
    let parsed = parse_enroll(text);
    let code = parsed.value.ok_or_else(|| SyncError::BadCode(parsed.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))?;
    check_scheme(&code.hub, opts)?;
    let store = desk.store();
    let pending = PendingEnrollment { text: text.trim().to_string(), device_name: device_name.map(str::to_string) };
    let pending_json = serde_json::to_string(&pending).map_err(|e| SyncError::Decode(e.to_string()))?;
    store.set_meta(META_ENROLL_PENDING, &pending_json)?;
    let device_id = desk.config().device_id;
    let enroll_key = enroll_key(desk)?;
    let client = HubClient::new(&code.hub, None, opts.timeout, code.fp.as_deref())?;
    let request = EnrollRequest { code: code.code.clone(), device_id: device_id.clone(), device_name: pending.device_name.clone(), enroll_key: Some(enroll_key) };
    let mut retries = 0;
    let reply = match retry(opts, &mut retries, || client.enroll(&request)) {
        Ok(r) => r,
        Err(e) => {
            // A refusal (code used by another phone, expired, unknown; a
            // certificate that is not the pinned one) will not change by
            // waiting: forget the code. Network trouble keeps it for later.
            if !e.is_transient() {
                store.set_metas(&[(META_ENROLL_PENDING, None)])?;
            }
            return Err(e);
        }
    };
    if reply.device_id != device_id {
        return Err(SyncError::Decode(format!("the hub enrolled device {:?}, not this one", reply.device_id)));
    }
    let now = chrono::Utc::now().to_rfc3339();
    // A code without a fingerprint (a hub behind a real certificate)
    // clears any pin of an earlier enrollment.
    let fp = code.fp.clone().unwrap_or_default();
    let settings: [(&str, Option<&str>); 7] = [
        (META_HUB, Some(&code.hub)),
        (META_TOKEN, Some(&reply.token)),
        (META_TOKEN_AT, Some(&now)),
        (META_HUB_PIN, Some(&fp)),
        (META_SITE_NAME, Some(&reply.site.name)),
        (META_DESK_NAME, Some(&reply.desk.name)),
        (META_ENROLL_PENDING, None),
    ];
    desk.set_up_with(&reply.site.code, &reply.desk.code, None, &settings)?;
    Ok(reply)
}

/// This desk's enrollment key, made (32 random bytes, hex) the first time.
fn enroll_key(desk: &Desk) -> Result<String, SyncError> {
    let store = desk.store();
    if let Some(k) = store.meta(META_ENROLL_KEY)?.filter(|k| !k.is_empty()) {
        return Ok(k);
    }
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    let k: String = b.iter().map(|x| format!("{x:02x}")).collect();
    store.set_meta(META_ENROLL_KEY, &k)?;
    Ok(k)
}

/// The enrollment this desk started and did not finish, if any: the app
/// offers to finish it, and [`sync_once`] finishes it by itself.
pub fn pending_enrollment(desk: &Desk) -> Result<Option<PendingEnrollment>, SyncError> {
    Ok(desk.store().meta(META_ENROLL_PENDING)?.and_then(|j| serde_json::from_str(&j).ok()))
}

/// Is this desk enrolled with a hub (a token in hand)?
pub fn is_enrolled(desk: &Desk) -> Result<bool, SyncError> {
    Ok(desk.store().meta(META_TOKEN)?.is_some())
}

/// Phones talk to their hub over https only: a plain `http://` hub in an
/// enrollment code is refused unless the caller allows it (tests, a
/// desktop on a trusted network, the demo's loopback hub).
fn check_scheme(hub: &str, opts: &SyncOptions) -> Result<(), SyncError> {
    if hub.starts_with("https://") || opts.allow_plain_http {
        return Ok(());
    }
    Err(SyncError::PlainHttp(hub.split('/').take(3).collect::<Vec<_>>().join("/")))
}

/// The certificate the hub signs for a person of this desk, once their
/// doses have reached it (sync first).
pub fn fetch_certificate(desk: &Desk, person: crate::model::PersonId, opts: &SyncOptions) -> Result<super::protocol::CertificateReply, SyncError> {
    let id = desk.store().canonical_person(person)?;
    let c = client(desk, opts)?;
    let mut retries = 0;
    retry(opts, &mut retries, || c.certificate(&id.to_string()))
}

/// Check a certificate against the signers the desk's catalog trusts:
/// offline, with what the last sync brought.
pub fn verify_certificate(desk: &Desk, text: &str) -> crate::qr::payload::Parsed<crate::qr::payload::Hc1Cert> {
    crate::qr::payload::parse_hc1(text, &crate::cert::trust_list(&desk.catalog().signers))
}

pub fn client(desk: &Desk, opts: &SyncOptions) -> Result<HubClient, SyncError> {
    let store = desk.store();
    let hub = store.meta(META_HUB)?.ok_or(SyncError::NotEnrolled)?;
    let token = store.meta(META_TOKEN)?.ok_or(SyncError::NotEnrolled)?;
    let pin = store.meta(META_HUB_PIN)?.filter(|p| !p.is_empty());
    HubClient::with_pool(&hub, Some(token), opts.timeout, opts.reuse_connections, pin.as_deref())
}

/// Run `f` until it succeeds, fails for good, or runs out of attempts.
fn retry<T>(opts: &SyncOptions, retries: &mut u64, f: impl FnMut() -> Result<T, SyncError>) -> Result<T, SyncError> {
    retry_while(opts, retries, || true, f)
}

/// [`retry`] that gives up at once, with the last error, when `wanted`
/// says the answer is no longer awaited.
fn retry_while<T>(opts: &SyncOptions, retries: &mut u64, wanted: impl Fn() -> bool, mut f: impl FnMut() -> Result<T, SyncError>) -> Result<T, SyncError> {
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if e.is_transient() && attempt + 1 < opts.attempts && wanted() => {
                let exp = opts.base_backoff.saturating_mul(1u32 << attempt.min(16)).min(opts.max_backoff);
                let jitter = rand::rng().random_range(0.5..1.5);
                std::thread::sleep(exp.mul_f64(jitter));
                attempt += 1;
                *retries += 1;
            }
            other => return other,
        }
    }
}

/// Push everything pending, then pull everything new. Stops at the first
/// failure that retrying did not cure; what was done stays done.
pub fn sync_once(desk: &Desk, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    if !is_enrolled(desk)? {
        // An enrollment whose reply was lost: finish it first, so the
        // records saved meanwhile go out.
        if let Some(p) = pending_enrollment(desk)? {
            enroll_with(desk, &p.text, p.device_name.as_deref(), opts)?;
        }
    }
    let client = client(desk, opts)?;
    let mut report = SyncReport::default();
    push_all(desk, &client, opts, &mut report)?;
    pull_all(desk, &client, opts, &mut report)?;
    desk.store().set_meta(META_LAST_SYNC, &chrono::Utc::now().to_rfc3339())?;
    if token_age_days(desk)? >= TOKEN_MAX_AGE_DAYS {
        rotate_token(desk, opts)?;
    }
    Ok(report)
}

fn token_age_days(desk: &Desk) -> Result<i64, SyncError> {
    let at = desk.store().meta(META_TOKEN_AT)?.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
    // A desk enrolled before tokens were dated counts as due.
    Ok(at.map_or(TOKEN_MAX_AGE_DAYS, |t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_days()))
}

/// Exchange the device token for a fresh one. The hub keeps the old one
/// valid until the new one is first used, which this does at once (a pull),
/// so a stolen old token stops working now.
pub fn rotate_token(desk: &Desk, opts: &SyncOptions) -> Result<(), SyncError> {
    let old = client(desk, opts)?;
    let mut retries = 0;
    let token = retry(opts, &mut retries, || old.rotate_token())?;
    let store = desk.store();
    store.set_meta(META_TOKEN, &token)?;
    store.set_meta(META_TOKEN_AT, &chrono::Utc::now().to_rfc3339())?;
    let fresh = client(desk, opts)?;
    let since = store.pull_cursor()?;
    retry(opts, &mut retries, || fresh.changes(since.as_deref(), 1)).map(|_| ())
}

pub fn push_all(desk: &Desk, client: &HubClient, opts: &SyncOptions, report: &mut SyncReport) -> Result<(), SyncError> {
    let store = desk.store();
    let batch = opts.batch.clamp(1, MAX_BATCH) as u32;
    loop {
        let events = store.outbox_batch(batch)?;
        if events.is_empty() {
            return Ok(());
        }
        store.mark_sent(&events)?;
        let pending = store.outbox_counts().ok().map(|c| c.pending);
        let body = PushBatch { events, pending };
        let started = std::time::Instant::now();
        let (reply, sent) = retry(opts, &mut report.retries, || client.push(&body))?;
        report.push_micros.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        report.bytes_sent += sent as u64;
        report.pushed += body.events.len() as u64;
        for r in &reply.results {
            match r.status {
                PushStatus::Accepted => report.accepted += 1,
                PushStatus::Duplicate => report.duplicates += 1,
                PushStatus::Rejected => report.rejected += 1,
            }
        }
        // Only results for events we sent count; a reply that does not
        // answer an event leaves it to be sent again.
        let sent_ids: std::collections::HashSet<_> = body.events.iter().map(|e| e.id()).collect();
        let results: Vec<_> = reply.results.into_iter().filter(|r| sent_ids.contains(&r.id)).collect();
        store.record_results(&results)?;
        if results.len() < body.events.len() {
            return Err(SyncError::Decode(format!("hub answered {} of {} events", results.len(), body.events.len())));
        }
    }
}

/// Pull every page the hub has for this desk. The next page is fetched
/// while the last one is written (the network and the phone's storage
/// work at once), and a desk that is behind asks for larger pages. A first
/// pull that finds more than a page waiting sets the name-search indexes
/// aside and builds them again once at the end (ADR 0023), whether the
/// pull ends well or not.
pub fn pull_all(desk: &Desk, client: &HubClient, opts: &SyncOptions, report: &mut SyncReport) -> Result<(), SyncError> {
    let store = desk.store();
    let since = store.pull_cursor()?;
    let first_pull = since.is_none();
    let wanted = AtomicBool::new(true);
    let (pages_in, pages) = std::sync::mpsc::sync_channel(1);
    let mut set_aside = false;
    let (applied, retries) = std::thread::scope(|s| {
        let fetcher = s.spawn(|| fetch_pages(client, opts, since, &wanted, pages_in));
        let applied = (|| -> Result<(), SyncError> {
            let mut last_seen = false;
            for page in &pages {
                let page: ChangesPage = page?;
                last_seen = !page.more;
                if first_pull && page.more && !set_aside {
                    // Best effort: a store that cannot set them aside pulls the usual way.
                    match store.defer_search_index() {
                        Ok(_) => set_aside = true,
                        Err(e) => tracing::warn!(error = %e, "name-search indexes kept for this pull"),
                    }
                }
                let (added, catalog) = store.apply_changes(&page.changes, &page.cursor)?;
                report.pulled += added;
                if let Some(c) = catalog {
                    // The one succession rule (valid, and newer than the one in use).
                    if c.may_follow(Some(&desk.catalog())).is_ok() {
                        desk.adopt_catalog(c);
                    }
                }
            }
            if !last_seen {
                return Err(SyncError::Network("the pull stopped before the hub's last page".into()));
            }
            store.set_meta(META_PULLED_TO_END, &chrono::Utc::now().to_rfc3339())?;
            Ok(())
        })();
        // A page that could not be written stops the fetching too.
        wanted.store(false, Ordering::Relaxed);
        drop(pages);
        (applied, fetcher.join().unwrap_or(0))
    });
    report.retries += retries;
    report.search_set_aside |= set_aside;
    // Also when an earlier pull or open could not restore them.
    let restored = if set_aside || store.search_index_deferred()? { store.restore_search_index().map_err(SyncError::from) } else { Ok(()) };
    match (applied, restored) {
        (Err(e), Err(lost)) => {
            tracing::warn!(error = %lost, "name-search indexes still set aside; the next sync tries again");
            Err(e)
        }
        (applied, restored) => applied.and(restored),
    }
}

/// Fetch pages in order into `out` until the last (or an error, sent as
/// the last item). Returns the retries made.
fn fetch_pages(client: &HubClient, opts: &SyncOptions, mut since: Option<String>, wanted: &AtomicBool, out: SyncSender<Result<ChangesPage, SyncError>>) -> u64 {
    let mut retries = 0;
    let mut limit = opts.page;
    loop {
        let page = retry_while(opts, &mut retries, || wanted.load(Ordering::Relaxed), || {
            let page = client.changes(since.as_deref(), limit);
            // A large page that did not come (a slow link may not carry it
            // within the timeout) is asked for again at the usual size.
            if page.is_err() {
                limit = opts.page;
            }
            page
        });
        let next = match &page {
            Ok(p) if p.more => Some(p.cursor.clone()),
            _ => None,
        };
        if out.send(page).is_err() {
            return retries;
        }
        match next {
            Some(cursor) if wanted.load(Ordering::Relaxed) => since = Some(cursor),
            _ => return retries,
        }
        limit = opts.catch_up_page.max(opts.page);
    }
}
