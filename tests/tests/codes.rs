//! Site and desk codes: every code the hub accepts for a site or desk, a
//! desk accepts when it is enrolled there (once they drifted: the hub took
//! `HN.01`, the desk refused it after the enrollment code was spent).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use vaxdesk_core::desk::Desk;

/// Codes as coordinators type them, and the characters that go wrong:
/// dots, slashes, spaces, Vietnamese letters, controls, very long ones.
fn code() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9]{1,6}([-_.][A-Za-z0-9]{1,6}){0,3}",
        2 => "[ A-Za-z0-9._/\\\\:-]{0,70}",
        1 => "[Đđáàạ A-Z0-9.\\-\u{0}\u{7}\u{202e}]{0,12}",
        1 => "\\.{1,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_code_the_hub_accepts_a_desk_accepts(site in code(), desk_code in code()) {
        thread_local! {
            static DESK: (tempfile::TempDir, Desk) = {
                let dir = tempfile::tempdir().unwrap();
                let desk = Desk::open(dir.path().join("desk.db")).unwrap();
                (dir, desk)
            };
        }
        let hub_site = vaxdesk_hub::routes::coordinator::check_code("site", &site);
        let hub_desk = vaxdesk_hub::routes::coordinator::check_code("desk", &desk_code);
        if let (Ok(s), Ok(d)) = (hub_site, hub_desk) {
            DESK.with(|(_, desk)| {
                let c = desk.set_up(&s, &d, None);
                prop_assert!(c.is_ok(), "hub took site {s:?} desk {d:?}, the desk refused: {c:?}");
                let c = c.unwrap();
                prop_assert_eq!((c.site.as_deref(), c.desk.as_deref()), (Some(s.as_str()), Some(d.as_str())));
                Ok(())
            })?;
        }
    }
}

#[test]
fn the_codes_that_once_drifted() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(dir.path().join("desk.db")).unwrap();
    for (code, ok) in [("HN.01", true), ("QN-HL-01", true), ("D_2", true), (".", false), ("..", false), ("HN/01", false), ("", false)] {
        let hub = vaxdesk_hub::routes::coordinator::check_code("site", code).is_ok();
        let at_desk = desk.set_up(code, "D1", None).is_ok();
        assert_eq!((hub, at_desk), (ok, ok), "{code:?}");
    }
}
