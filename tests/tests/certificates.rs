//! Certificates end to end: a desk's doses reach the hub, the hub signs an
//! EU-DCC `HC1:` once the series is complete, and the desk verifies it
//! offline against the signer its catalog lists; a tampered, an expired and
//! a stranger-signed certificate are told apart. With `VAXDESK_PYTHON` set
//! (scripts/test sets it), an independent Python implementation (base45,
//! zlib, cbor2, cryptography) verifies the same certificate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use vaxdesk_core::cert::Signer;
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::Sex;
use vaxdesk_core::qr::payload::SignatureStatus;
use vaxdesk_core::sync::{fetch_certificate, sync_once, verify_certificate, SyncError, SyncOptions};
use vaxdesk_core::validate::PersonDraft;
use vaxdesk_tests::{enroll, Coordinator, LocalHub};

fn on(day: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("{day}T09:00:00+07:00")).unwrap()
}

#[test]
fn the_hub_signs_a_certificate_the_desk_verifies_offline() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start(&dir.path().join("hub.db")).unwrap();
    let coordinator = Coordinator::login(&hub.url).unwrap();
    coordinator.site("QN-01", &["D1"]).unwrap();
    coordinator.lot("AZ2107", "AZ", "2099-01-31").unwrap();
    // The desk lives on the day of the second dose; the hub signs with today's date.
    let desk = Desk::open(dir.path().join("desk.db")).unwrap().with_clock(|| "2021-10-05T03:00:00Z".parse().unwrap());
    enroll(&desk, &coordinator.enrollment_text("QN-01", "D1").unwrap(), Some("phone")).unwrap();
    let opts = SyncOptions::default();
    sync_once(&desk, &opts).unwrap();
    assert_eq!(desk.catalog().signers.len(), 1, "the catalog lists the hub's signer");

    let hoa = desk
        .save_person(
            &PersonDraft {
                national_id: Some("022187001234".into()),
                full_name: "Nguyễn Thị Hoa".into(),
                birth_date: "1987-05-02".into(),
                sex: Some(Sex::Female),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
    let mut dose = DoseDraft::vaccinated(hoa.id);
    dose.vaccine = Some("AZ".into());
    dose.lot = Some("AZ2107".into());
    dose.administered_at = Some(on("2021-08-01"));
    desk.record_dose(&dose, &[]).unwrap();
    sync_once(&desk, &opts).unwrap();
    match fetch_certificate(&desk, hoa.id, &opts) {
        Err(SyncError::Refused { code, .. }) => assert_eq!(code, "cert.not_eligible"),
        other => panic!("one dose of two: {other:?}"),
    }

    dose.administered_at = Some(on("2021-10-05"));
    desk.record_dose(&dose, &[]).unwrap();
    sync_once(&desk, &opts).unwrap();
    let reply = fetch_certificate(&desk, hoa.id, &opts).unwrap();
    assert_eq!((reply.dose_number, reply.series_doses), (2, 2));
    assert!(reply.text.starts_with("HC1:"));

    let checked = verify_certificate(&desk, &reply.text);
    let cert = checked.value.unwrap();
    assert_eq!(cert.signature, SignatureStatus::Verified);
    assert!(!cert.expired(Utc::now().timestamp()));
    assert_eq!(cert.dcc.nam.family_std, "NGUYEN");
    assert_eq!(cert.dcc.v[0].dt, "2021-10-05");
    assert_eq!(cert.kid.as_deref(), Some(reply.kid.as_str()));
    // The one verdict the phone and the CLI show.
    let v = desk.certificate_verdict(&reply.text).unwrap();
    assert!(v.valid && v.problems.is_empty(), "{v:?}");
    assert_eq!((v.holder.as_str(), v.dose_number, v.series_doses, v.date.as_str()), ("Nguyễn Thị Hoa", 2, 2, "2021-10-05"));

    // A tampered copy: one character of the payload changed.
    let mut tampered = reply.text.clone().into_bytes();
    let i = tampered.len() - 12;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let t = verify_certificate(&desk, std::str::from_utf8(&tampered).unwrap());
    assert!(t.value.map(|c| c.signature != SignatureStatus::Verified).unwrap_or(true), "a tampered certificate must not verify");

    // Signed by a key the catalog does not list.
    let stranger = Signer::generate("not our hub").unwrap();
    let foreign = stranger.issue(&cert.dcc, Utc::now()).unwrap();
    assert_eq!(verify_certificate(&desk, &foreign).value.unwrap().signature, SignatureStatus::UnknownKey);
    let v = desk.certificate_verdict(&foreign).unwrap();
    assert_eq!((v.valid, v.problems.clone()), (false, vec!["signed by a key this desk does not trust".to_string()]));

    // Signed by the hub's own key but issued two years ago: verified, expired.
    let hub_signer = Signer::load_or_create(dir.path(), "unused").unwrap();
    let old = hub_signer.issue(&cert.dcc, Utc::now() - chrono::Duration::days(730)).unwrap();
    let old = verify_certificate(&desk, &old).value.unwrap();
    assert_eq!(old.signature, SignatureStatus::Verified);
    assert!(old.expired(Utc::now().timestamp()));
    // The verdict is judged at the desk's clock (5 October 2021 here).
    let desk_now: chrono::DateTime<Utc> = "2021-10-05T03:00:00Z".parse().unwrap();
    let old_text = hub_signer.issue(&cert.dcc, desk_now - chrono::Duration::days(730)).unwrap();
    let v = desk.certificate_verdict(&old_text).unwrap();
    assert_eq!((v.valid, v.expired, v.problems.clone()), (false, true, vec!["expired".to_string()]));
    assert!(matches!(desk.certificate_verdict("HC1:not base45 at all"), Err(vaxdesk_core::Error::Input { field, .. }) if field == "certificate"));

    // Another site's desk cannot have this person's certificate.
    coordinator.site("HN-02", &["D1"]).unwrap();
    let other = Desk::open(dir.path().join("other.db")).unwrap();
    enroll(&other, &coordinator.enrollment_text("HN-02", "D1").unwrap(), None).unwrap();
    match fetch_certificate(&other, hoa.id, &opts) {
        Err(SyncError::Refused { status, .. }) => assert_eq!(status, 404),
        other => panic!("another site's person: {other:?}"),
    }

    independent_check(dir.path(), &reply.text, &desk);
}

/// The same certificate through Python's base45 + zlib + cbor2 +
/// cryptography (scripts/hc1_verify.py), when scripts/test provides them.
fn independent_check(dir: &std::path::Path, text: &str, desk: &Desk) {
    let Ok(python) = std::env::var("VAXDESK_PYTHON") else {
        eprintln!("VAXDESK_PYTHON not set: the independent Python check runs under scripts/test");
        return;
    };
    let signer = &desk.catalog().signers[0];
    let hc1 = dir.join("cert.txt");
    std::fs::write(&hc1, text).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/hc1_verify.py");
    let out = std::process::Command::new(python).arg(script).arg(&hc1).arg(&signer.certificate).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python verification failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("signature: valid"), "{stdout}");
    assert!(stdout.contains("\"fnt\": \"NGUYEN\""), "{stdout}");
    // And it refuses a tampered copy.
    let tampered = format!("{}00000000", &text[..text.len() - 8]);
    assert_ne!(tampered, text);
    std::fs::write(&hc1, tampered).unwrap();
    let bad = std::process::Command::new(std::env::var("VAXDESK_PYTHON").unwrap()).arg(script).arg(&hc1).arg(&signer.certificate).output().unwrap();
    assert!(!bad.status.success(), "a tampered certificate passed the Python check");
}
