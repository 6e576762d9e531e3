//! Enrollment on a congested network, against the https hub through the
//! fault proxy: a reply lost after the hub enrolled the phone must not lock
//! the phone out. The same code from the same phone gets the same
//! enrollment back; a phone whose enrollment never completed can use a new
//! code; nothing but the pending code is written on the phone until the
//! whole enrollment succeeds; records saved before enrolling go out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vaxdesk_core::desk::Desk;
use vaxdesk_core::sync::engine::{META_HUB, META_TOKEN};
use vaxdesk_core::sync::{enroll_with, is_enrolled, pending_enrollment, sync_once, SyncError, SyncOptions};
use vaxdesk_core::validate::PersonDraft;
use vaxdesk_hub::fault_proxy::{Fault, Faults};
use vaxdesk_tests::{Coordinator, FaultyNetwork, LocalHub};

fn quick(attempts: u32) -> SyncOptions {
    SyncOptions { attempts, base_backoff: Duration::from_millis(20), max_backoff: Duration::from_millis(200), timeout: Duration::from_secs(10), ..SyncOptions::default() }
}

fn save_person(desk: &Desk, name: &str) {
    let draft = PersonDraft { full_name: name.into(), birth_date: "1990-04-05".into(), ..Default::default() };
    desk.save_person(&draft, &[]).unwrap();
}

fn setup() -> (tempfile::TempDir, LocalHub, Coordinator, FaultyNetwork) {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start_tls(dir.path()).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("QN-01", &["D1", "D2"]).unwrap();
    let net = FaultyNetwork::new(&hub.url, Faults::none(), 7).unwrap();
    assert!(net.url.starts_with("https://"));
    (dir, hub, coordinator, net)
}

fn devices(coordinator: &Coordinator) -> Vec<serde_json::Value> {
    coordinator.call(reqwest::Method::GET, "/devices", serde_json::json!({})).unwrap().as_array().unwrap().clone()
}

#[test]
fn a_lost_reply_is_retried_with_the_same_code_and_the_phone_is_enrolled_once() {
    let (dir, hub, coordinator, net) = setup();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    save_person(&desk, "Trần Thị Mai"); // saved before enrolling: waits for the hub
    let text = net.route(&coordinator.enrollment_text("QN-01", "D1").unwrap()).unwrap();

    // The hub enrolls the phone twice over and both answers are lost; the third try gets through.
    net.control.script([Fault::LoseReply(0), Fault::LoseReply(17)]);
    let reply = enroll_with(&desk, &text, Some("phone"), &quick(6)).unwrap();
    assert_eq!(net.control.scripted_left(), 0, "both lost replies were met");
    assert_eq!(net.counts.lost.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!((reply.site.code.as_str(), reply.desk.code.as_str()), ("QN-01", "D1"));
    assert_eq!(desk.config().site.as_deref(), Some("QN-01"));
    assert!(pending_enrollment(&desk).unwrap().is_none(), "the pending code is cleared once enrolled");
    let listed = devices(&coordinator);
    assert_eq!(listed.len(), 1, "one device, not three: {listed:?}");
    assert_eq!(listed[0]["id"], desk.config().device_id.as_str());

    let r = sync_once(&desk, &quick(6)).unwrap();
    assert_eq!((r.pushed, r.accepted), (1, 1), "the record saved before enrolling went out");
    assert_eq!(hub.db.event_count().unwrap(), 1);
}

#[test]
fn nothing_is_stored_until_enrollment_completes_and_the_next_sync_finishes_it() {
    let (dir, hub, coordinator, net) = setup();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    save_person(&desk, "Lê Văn Hùng");
    let text = net.route(&coordinator.enrollment_text("QN-01", "D2").unwrap()).unwrap();

    // Every try's reply is lost: the hub holds the device, the phone holds only the pending code.
    net.control.script(std::iter::repeat_n(Fault::LoseReply(0), 3));
    match enroll_with(&desk, &text, None, &quick(3)) {
        Err(e) => assert!(e.is_transient(), "a lost reply is worth retrying: {e}"),
        Ok(r) => panic!("no reply reached the phone, yet it enrolled: {r:?}"),
    }
    assert!(!is_enrolled(&desk).unwrap());
    assert!(desk.store().meta(META_HUB).unwrap().is_none() && desk.config().site.is_none(), "nothing half-written");
    assert_eq!(pending_enrollment(&desk).unwrap().map(|p| p.text), Some(text.clone()));
    assert_eq!(devices(&coordinator).len(), 1, "the hub did enroll it");

    // The network heals; a sync (as the phone's background job runs) finishes the enrollment and sends the record.
    let r = sync_once(&desk, &quick(3)).unwrap();
    assert!(is_enrolled(&desk).unwrap());
    assert_eq!(desk.config().desk.as_deref(), Some("D2"));
    assert_eq!((r.pushed, r.accepted), (1, 1));
    assert_eq!(hub.db.event_count().unwrap(), 1);
    assert_eq!(devices(&coordinator).len(), 1);

    // The code is spent now: another phone cannot use it, and this one cannot take it again either.
    let other = Desk::open(dir.path().join("other.db")).unwrap();
    match enroll_with(&other, &text, None, &quick(2)) {
        Err(SyncError::Refused { status: 403, code, .. }) => assert_eq!(code, "enroll.code_used"),
        other => panic!("expected enroll.code_used, got {other:?}"),
    }
    assert!(pending_enrollment(&other).unwrap().is_none(), "a refused code is forgotten");
}

#[test]
fn a_phone_whose_enrollment_never_completed_can_use_a_new_code_even_after_a_revoke() {
    let (dir, _hub, coordinator, net) = setup();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    let first = net.route(&coordinator.enrollment_text("QN-01", "D1").unwrap()).unwrap();
    net.control.script(std::iter::repeat_n(Fault::LoseReply(0), 2));
    assert!(enroll_with(&desk, &first, None, &quick(2)).is_err());
    let orphan = devices(&coordinator);
    assert_eq!(orphan.len(), 1);

    // Someone else who read the device id (it is in every event the site's desks pull) and holds a
    // valid code cannot take the orphan over: the hub answers only the desk with the orphan's key.
    let id = desk.config().device_id;
    let spare = coordinator.enrollment_text("QN-01", "D2").unwrap();
    let code = vaxdesk_core::qr::payload::parse_enroll(&spare).value.unwrap();
    let client = vaxdesk_core::sync::HubClient::new(&code.hub, None, Duration::from_secs(10), code.fp.as_deref()).unwrap();
    let impostor = vaxdesk_core::sync::protocol::EnrollRequest { code: code.code.clone(), device_id: id.clone(), device_name: None, enroll_key: Some("not the desk's key".into()) };
    match client.enroll(&impostor) {
        Err(SyncError::Refused { status: 409, code, .. }) => assert_eq!(code, "enroll.device_exists"),
        other => panic!("an orphan must not go to another key: {other:?}"),
    }
    let bare = vaxdesk_core::sync::protocol::EnrollRequest { enroll_key: None, ..impostor };
    assert!(matches!(client.enroll(&bare), Err(SyncError::Refused { status: 409, .. })));

    // The coordinator revokes the orphan and hands out a new code for another desk: it works.
    coordinator.call(reqwest::Method::POST, &format!("/devices/{id}/revoke"), serde_json::json!({})).unwrap();
    let second = net.route(&coordinator.enrollment_text("QN-01", "D2").unwrap()).unwrap();
    let reply = enroll_with(&desk, &second, None, &quick(2)).unwrap();
    assert_eq!(reply.desk.code, "D2");
    let now = devices(&coordinator);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["desk"], "D2");
    assert!(now[0]["revoked_at"].is_null(), "enrolled again: {now:?}");
    sync_once(&desk, &quick(2)).unwrap();

    // Once the phone has used its enrollment, a new code for the same device id is refused:
    // a live phone cannot be taken over by someone who copied its id.
    let third = net.route(&coordinator.enrollment_text("QN-01", "D1").unwrap()).unwrap();
    match enroll_with(&desk, &third, None, &quick(1)) {
        Err(SyncError::Refused { status: 409, code, .. }) => assert_eq!(code, "enroll.device_exists"),
        other => panic!("expected enroll.device_exists, got {other:?}"),
    }
    assert_eq!(desk.config().desk.as_deref(), Some("D2"), "the refused try changed nothing");
    assert!(sync_once(&desk, &quick(2)).is_ok(), "and the phone still syncs");
}

#[test]
fn the_same_code_sent_again_offers_a_fresh_token_and_the_older_dies_when_it_is_used() {
    use vaxdesk_core::qr::payload::parse_enroll;
    use vaxdesk_core::sync::protocol::EnrollRequest;
    use vaxdesk_core::sync::HubClient;
    let (dir, _hub, coordinator, _net) = setup();
    let text = coordinator.enrollment_text("QN-01", "D1").unwrap();
    let code = parse_enroll(&text).value.unwrap();
    let client = HubClient::new(&code.hub, None, Duration::from_secs(10), code.fp.as_deref()).unwrap();
    let request = EnrollRequest { code: code.code.clone(), device_id: "phone-1".into(), device_name: None, enroll_key: Some("phone-1's own key".into()) };
    let first = client.enroll(&request).unwrap();
    // The same code and device id without the desk's key: someone who photographed the code and read the id.
    for key in [None, Some("a guess".to_string())] {
        let thief = EnrollRequest { enroll_key: key, ..request.clone() };
        assert!(matches!(client.enroll(&thief), Err(SyncError::Refused { status: 403, .. })), "a code is answered again only to its desk");
    }
    // A request replayed by the network (or a retry whose first reply was in fact delivered).
    let second = client.enroll(&request).unwrap();
    assert_ne!(first.token, second.token);
    assert_eq!((first.site.code.as_str(), first.desk.code.as_str()), (second.site.code.as_str(), second.desk.code.as_str()));
    let with = |t: &str| HubClient::new(&code.hub, Some(t.to_string()), Duration::from_secs(10), code.fp.as_deref()).unwrap();
    assert!(with(&first.token).changes(None, 1).is_ok(), "a replay does not take the working token away");
    assert!(with(&second.token).changes(None, 1).is_ok());
    match with(&first.token).changes(None, 1) {
        Err(SyncError::Refused { status: 401, .. }) => {}
        other => panic!("the older token dies once the fresh one is used: {other:?}"),
    }
    // Once the device has used its enrollment, the code is spent even for its own desk.
    assert!(matches!(client.enroll(&request), Err(SyncError::Refused { status: 403, .. })));
    // Another device with the same code: refused.
    let other = EnrollRequest { device_id: "phone-2".into(), ..request };
    assert!(matches!(client.enroll(&other), Err(SyncError::Refused { status: 403, .. })));
    drop(dir);
}

#[test]
fn a_phone_refuses_a_plain_http_hub_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start(&dir.path().join("hub.db")).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("QN-01", &["D1"]).unwrap();
    let text = coordinator.enrollment_text("QN-01", "D1").unwrap();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    match enroll_with(&desk, &text, None, &SyncOptions::default()) {
        Err(e @ SyncError::PlainHttp(_)) => assert!(e.to_string().contains("https://"), "{e}"),
        other => panic!("expected a refusal of plain http, got {other:?}"),
    }
    assert!(desk.store().meta(META_TOKEN).unwrap().is_none());
    assert_eq!(hub.db.devices().unwrap().len(), 0, "nothing was sent");
    let opts = SyncOptions { allow_plain_http: true, ..SyncOptions::default() };
    enroll_with(&desk, &text, None, &opts).unwrap();
}
