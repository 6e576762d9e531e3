//! The hub over TLS with a self-signed certificate: the enrollment code
//! carries its fingerprint, the desk pins it and syncs; a hub showing any
//! other certificate is refused at once (not retried), and without the pin
//! the self-signed certificate is not trusted at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vaxdesk_core::desk::Desk;
use vaxdesk_core::qr::payload::parse_enroll;
use vaxdesk_core::sync::engine::META_HUB_PIN;
use vaxdesk_core::sync::{enroll, sync_once, SyncError, SyncOptions};
use vaxdesk_core::validate::PersonDraft;
use vaxdesk_tests::{Coordinator, LocalHub};

fn person(desk: &Desk) {
    let draft = PersonDraft { full_name: "Phạm Thị Lan".into(), birth_date: "1995-02-03".into(), ..Default::default() };
    desk.save_person(&draft, &[]).unwrap();
}

#[test]
fn the_desk_pins_the_hubs_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start_tls(dir.path()).unwrap();
    assert!(hub.url.starts_with("https://"));
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("HP-01", &["D1", "D2"]).unwrap();

    let text = coordinator.enrollment_text("HP-01", "D1").unwrap();
    let code = parse_enroll(&text).value.unwrap();
    let cert = std::fs::read(dir.path().join("hub-tls.cert.der")).unwrap();
    assert_eq!(code.fp.as_deref(), Some(vaxdesk_hub::tls::fingerprint(&cert).as_str()), "the code carries the certificate's SHA-256");
    assert!(code.hub.starts_with("https://"));

    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    enroll(&desk, &text, Some("phone")).unwrap();
    person(&desk);
    let report = sync_once(&desk, &SyncOptions::default()).unwrap();
    assert_eq!((report.pushed, report.accepted), (1, 1));
    assert_eq!(hub.db.event_count().unwrap(), 1);

    // Another certificate (a hub reinstalled, or someone in between): refused, not retried, nothing sent.
    desk.store().set_meta(META_HUB_PIN, &"ab".repeat(32)).unwrap();
    person(&desk);
    let opts = SyncOptions { attempts: 5, ..SyncOptions::default() };
    match sync_once(&desk, &opts) {
        Err(e @ SyncError::PinMismatch(_)) => assert!(!e.is_transient(), "a mismatch does not get better by waiting"),
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
    assert_eq!(hub.db.event_count().unwrap(), 1);
    assert_eq!(desk.queue().unwrap().pending + desk.queue().unwrap().sent, 1, "the record waits on the desk");

    // A code without the fingerprint: the self-signed certificate is not trusted.
    let bare = text.replacen(&format!(",\"fp\":\"{}\"", code.fp.as_deref().unwrap()), "", 1);
    assert!(parse_enroll(&bare).value.unwrap().fp.is_none(), "{bare}");
    let other = Desk::open(dir.path().join("other.db")).unwrap();
    match enroll(&other, &bare, None) {
        Err(SyncError::Network(m)) => assert!(m.to_lowercase().contains("certificate"), "{m}"),
        other => panic!("expected a certificate refusal, got {other:?}"),
    }
}

#[test]
fn a_rotated_token_retires_the_old_one_and_a_lost_reply_locks_no_one_out() {
    use vaxdesk_core::sync::engine::{META_HUB, META_TOKEN};
    use vaxdesk_core::sync::{rotate_token, HubClient};
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start_tls(dir.path()).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("HP-01", &["D1"]).unwrap();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    enroll(&desk, &coordinator.enrollment_text("HP-01", "D1").unwrap(), None).unwrap();
    let store = desk.store();
    let (url, pin) = (store.meta(META_HUB).unwrap().unwrap(), store.meta(META_HUB_PIN).unwrap());
    let with = |token: &str| HubClient::new(&url, Some(token.to_string()), std::time::Duration::from_secs(10), pin.as_deref()).unwrap();
    let first = store.meta(META_TOKEN).unwrap().unwrap();

    // A rotation whose reply is lost: the desk goes on with its token.
    let lost = with(&first).rotate_token().unwrap();
    assert_ne!(lost, first);
    person(&desk);
    assert_eq!(sync_once(&desk, &SyncOptions::default()).unwrap().accepted, 1, "the old token still works");

    rotate_token(&desk, &SyncOptions::default()).unwrap();
    let second = store.meta(META_TOKEN).unwrap().unwrap();
    assert!(second != first && second != lost);
    match with(&first).changes(None, 1) {
        Err(SyncError::Refused { status: 401, .. }) => {}
        other => panic!("the old token is retired once the new one is used: {other:?}"),
    }
    assert!(matches!(with(&lost).changes(None, 1), Err(SyncError::Refused { status: 401, .. })), "an offered token not taken up is gone too");
    person(&desk);
    assert_eq!(sync_once(&desk, &SyncOptions::default()).unwrap().accepted, 1, "the desk syncs with its new token");
}
