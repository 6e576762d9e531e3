//! The coordinator pages over HTTP (cookies, CSRF, scope) and the changes a
//! coordinator makes there (merge, dismiss, amend, void): they reach the
//! desks through the feed, the audit log and the exports. On SQLite, and
//! on PostgreSQL when VAXDESK_TEST_PG is set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::json;
use vaxdesk_core::export::{doses_csv, DoseSource};
use vaxdesk_core::model::{Dose, EventId, Outcome};
use vaxdesk_hub::actions::{correct_dose, dismiss_duplicate, merge_duplicate, Correction, CorrectionRequest};
use vaxdesk_hub::export::HubDoses;

/// A browser, as far as the hub can tell: cookies kept, redirects not followed.
struct Browser {
    base: String,
    http: reqwest::blocking::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(base: &str) -> Browser {
        let http = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { base: base.to_string(), http, cookies: HashMap::new() }
    }

    fn keep(&mut self, r: &reqwest::blocking::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict") && attrs.contains("Path=/"), "cookie {k}: {attrs}");
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn get(&mut self, path: &str) -> (u16, String, String) {
        let r = self.http.get(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).send().unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
        (status, location, r.text().unwrap())
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let r = self.http.post(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).form(form).send().unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
        (status, location, r.text().unwrap())
    }

    /// The CSRF token in a page's forms.
    fn csrf(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").expect("a form with a csrf token") + 19;
        page[at..at + 64].to_string()
    }

    fn log_in(&mut self, user: &str, password: &str) -> u16 {
        let (_, _, page) = self.get("/login");
        let token = Self::csrf(&page);
        self.post("/login", &[("csrf", &token), ("username", user), ("password", password)]).0
    }
}

#[test]
fn log_in_csrf_and_scope() {
    let hub = TestHub::start();
    let admin = hub.admin();
    admin.post("/coordinators", json!({"username": "lan", "password": "long enough pw", "sites": ["S1"]})).ok();

    let mut b = Browser::new(&hub.url);
    assert_eq!(b.get("/dashboard").1, "/login", "no session: to the log-in page");
    // The log-in form itself needs its double-submit token.
    assert_eq!(b.post("/login", &[("csrf", "made-up"), ("username", ADMIN.0), ("password", ADMIN.1)]).0, 403);
    assert_eq!(b.log_in(ADMIN.0, "wrong password!"), 401);
    assert_eq!(b.log_in(ADMIN.0, ADMIN.1), 303);
    let (status, _, page) = b.get("/sites");
    assert_eq!(status, 200);
    assert!(page.contains("Trạm y tế Hồng Hải"));
    let csrf = Browser::csrf(&page);

    // A change without the session's token (a forged cross-site form) is refused and writes nothing.
    assert_eq!(b.post("/sites", &[("csrf", &"0".repeat(64)), ("code", "EVIL"), ("name", "Evil")]).0, 403);
    assert_eq!(b.post("/sites", &[("code", "EVIL"), ("name", "Evil")]).0, 403);
    assert!(hub.db.site("EVIL").unwrap().is_none());
    assert_eq!(b.post("/sites", &[("csrf", &csrf), ("code", "S3"), ("name", "Trạm y tế Cao Xanh"), ("province_code", "22")]).0, 303);
    assert!(hub.db.site("S3").unwrap().is_some());
    assert_eq!(b.post("/sites", &[("csrf", &csrf), ("code", "S4"), ("name", "X"), ("province_code", "99")]).0, 400, "an unknown province is refused");

    // Every page answers.
    for page in ["/dashboard", "/dashboard?site=S2&date=2021-10-05", "/devices", "/catalog", "/persons?q=nguyen", "/duplicates", "/exports", "/audit"] {
        assert_eq!(b.get(page).0, 200, "{page}");
    }
    let (_, _, audit) = b.get("/audit");
    assert!(audit.contains("site.save") && audit.contains("S3"));

    // English on request, Vietnamese by default.
    assert!(b.get("/dashboard").2.contains("Tổng quan"));
    b.get("/lang/en?back=/dashboard");
    assert!(b.get("/dashboard").2.contains("Dashboard"));
    for evil in ["//evil.example", "/%5Cevil.example", "https://evil.example", "/%0d%0aSet-Cookie:x=1"] {
        assert_eq!(b.get(&format!("/lang/en?back={evil}")).1, "/dashboard", "only paths on this hub: {evil}");
    }

    // A coordinator of S1 sees S1 only.
    let desk = hub.device(&admin, "S2", "D1", "phone-s2");
    let person = uuid::Uuid::now_v7().to_string();
    desk.post("/events", json!({"events": [person_event("phone-s2", &person, Some("022190004321"), "Trần Văn Nam", "1990-05-02")]})).ok();
    let mut lan = Browser::new(&hub.url);
    assert_eq!(lan.log_in("lan", "long enough pw"), 303);
    assert_eq!(b.get(&format!("/persons/{person}")).0, 200);
    assert_eq!(lan.get(&format!("/persons/{person}")).0, 404);
    assert!(!lan.get("/persons?q=tran van nam").2.contains(&person));
    assert_eq!(lan.get("/exports/download?site=S2&from=2021-01-01&to=2021-12-31&format=csv").0, 404);
    assert!(!lan.get("/devices").2.contains("phone-s2"));
    let lan_csrf = Browser::csrf(&lan.get("/devices").2);
    assert_eq!(lan.post("/devices/phone-s2/revoke", &[("csrf", &lan_csrf)]).0, 403);
    assert!(hub.db.devices().unwrap().iter().all(|d| d.revoked_at.is_none()));

    // Log out: the session ends on the hub, not only in the browser.
    let session = b.cookies["vxd_session"].clone();
    let csrf = Browser::csrf(&b.get("/sites").2);
    assert_eq!(b.post("/logout", &[("csrf", &csrf)]).0, 303);
    b.cookies.insert("vxd_session".into(), session);
    assert_eq!(b.get("/sites").1, "/login");
}

#[test]
fn enroll_page_and_revoke() {
    let hub = TestHub::start();
    hub.admin();
    let mut b = Browser::new(&hub.url);
    b.log_in(ADMIN.0, ADMIN.1);
    let csrf = Browser::csrf(&b.get("/sites").2);
    let (status, _, page) = b.post("/sites/S1/desks/D2/enroll", &[("csrf", &csrf)]);
    assert_eq!(status, 200);
    assert!(page.contains("<svg"), "the QR code is drawn by the hub");
    let at = page.find("id=\"enroll-code\">").unwrap() + 17;
    let code = &page[at..at + 14];
    let mut phone = hub.client();
    let r = phone.post("/enroll", json!({"code": code, "device_id": "phone-1"})).ok();
    phone.token = Some(r["token"].as_str().unwrap().to_string());
    assert_eq!(r["desk"]["code"], "D2");
    phone.get("/changes").ok();
    let devices = b.get("/devices").2;
    assert!(devices.contains("phone-1"));
    assert_eq!(b.post("/devices/phone-1/revoke", &[("csrf", &csrf)]).0, 303);
    assert_eq!(phone.get("/changes").refused(), (401, "auth.required"));
    let entries = hub.db.audit_log(10).unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"device.revoke") && actions.contains(&"enrollment.code"), "{actions:?}");
    assert!(entries.iter().all(|e| e.coordinator == ADMIN.0));
}

/// Two persons alike and a dose each; returns (desk client, ids).
fn clinic(hub: &TestHub) -> (Http, Http, [String; 3], [String; 2]) {
    let admin = hub.admin();
    let desk = hub.device(&admin, "S1", "D1", "phone-a");
    let other = hub.device(&admin, "S1", "D2", "phone-b");
    let (p1, p2, p3) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
    let d1 = dose_event("phone-a", "S1", &p1, "AZ");
    let d2 = dose_event("phone-a", "S1", &p3, "AZ");
    let ids = [d1["event"]["id"].as_str().unwrap().to_string(), d2["event"]["id"].as_str().unwrap().to_string()];
    let r = desk
        .post("/events", json!({"events": [
            person_event("phone-a", &p1, Some("022190004321"), "Trần Văn Nam", "1990-05-02"),
            person_event("phone-a", &p2, None, "Tran Van Nam", "1990-05-02"),
            person_event("phone-a", &p3, Some("022187001234"), "Nguyễn Thị Hoa", "1987-03-12"),
            d1, d2,
        ], "pending": 7}))
        .ok();
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == "accepted"), "{r}");
    (desk, other, [p1, p2, p3], ids)
}

fn coordinator(hub: &TestHub) -> vaxdesk_hub::db::Coordinator {
    let token = "t0ken";
    let id = hub.db.password_hash(ADMIN.0).unwrap().unwrap().0;
    hub.db.create_session(&vaxdesk_hub::auth::hash_token(token), id, "2999-01-01T00:00:00.000Z").unwrap();
    hub.db.session(&vaxdesk_hub::auth::hash_token(token)).unwrap().unwrap()
}

fn export_rows(hub: &TestHub) -> Vec<String> {
    let catalog = hub.db.current_catalog().unwrap().unwrap();
    let source = HubDoses { db: &hub.db, sites: vec!["S1".into(), "S2".into()] };
    let mut out = Vec::new();
    let from = "2021-01-01".parse().unwrap();
    let to = "2021-12-31".parse().unwrap();
    doses_csv(&source, &catalog, from, to, Some("S1"), &mut out).unwrap();
    String::from_utf8(out).unwrap().lines().skip(1).map(str::to_string).collect()
}

#[test]
fn merge_and_dismiss_reach_desks_with_an_audit_trail() {
    let hub = TestHub::start();
    let (_, other, [p1, p2, _], _) = clinic(&hub);
    let who = coordinator(&hub);
    assert_eq!(hub.db.devices().unwrap().iter().find(|d| d.id == "phone-a").unwrap().pending, Some(7), "the desk's backlog is shown");
    let dups = hub.db.possible_duplicates().unwrap();
    assert_eq!(dups.len(), 1);
    let (a, b) = (dups[0].a.clone(), dups[0].b.clone());
    assert_eq!(merge_duplicate(&hub.db, &who, &a, &b, "someone else").unwrap_err().status, 400);
    merge_duplicate(&hub.db, &who, &a, &b, &p1).unwrap();
    assert_eq!(merge_duplicate(&hub.db, &who, &a, &b, &p1).unwrap_err().status, 409, "decided once");
    assert_eq!(dismiss_duplicate(&hub.db, &who, &a, &b).unwrap_err().status, 409);
    assert_eq!(hub.db.canonical_person(&p2).unwrap().as_deref(), Some(p1.as_str()));
    let decided = &hub.db.possible_duplicates().unwrap()[0];
    assert_eq!((decided.status.as_str(), decided.resolved_by.as_deref()), ("merged", Some(ADMIN.0)));
    // The other desk of the site learns of the merge.
    let changes = other.get("/changes").ok();
    let merge = changes["changes"].as_array().unwrap().iter().find(|c| c["type"] == "person_merge").expect("a merge in the feed");
    assert_eq!((merge["from"].as_str(), merge["into"].as_str()), (Some(p2.as_str()), Some(p1.as_str())));
    let audit = hub.db.audit_log(10).unwrap();
    assert_eq!(audit[0].action, "person.merge");
    assert!(audit[0].subject.contains(&p2) && !audit[0].detail.contains("Nam"), "ids, never names, in the audit log");
}

#[test]
fn corrections_from_the_hub_reach_desks_and_exports() {
    let hub = TestHub::start();
    let (_, other, [p1, _, p3], [rec1, rec2]) = clinic(&hub);
    let who = coordinator(&hub);
    let catalog = hub.db.current_catalog().unwrap().unwrap();
    assert_eq!(export_rows(&hub).len(), 2);
    let cursor = other.get("/changes").ok()["cursor"].as_str().unwrap().to_string();

    // The clock is the test's: corrections are judged at this moment.
    let now: chrono::DateTime<chrono::Utc> = "2021-12-01T03:00:00Z".parse().unwrap();
    let fix = |record: EventId, correction: Correction, reason: &str, confirmed: &[String], now| {
        let req = CorrectionRequest { record, correction, reason: reason.into(), confirmed: confirmed.to_vec(), now };
        correct_dose(&hub.db, &catalog, &who, req).unwrap()
    };
    // A void needs a reason.
    let r1: EventId = rec1.parse().unwrap();
    let refused = fix(r1, Correction::Void, "  ", &[], now).unwrap_err();
    assert!(refused.iter().any(|f| f.code.as_str() == "correction.reason_missing"), "{refused:?}");
    fix(r1, Correction::Void, "nhập nhầm người", &[], now).unwrap();
    let again = fix(r1, Correction::Void, "lần hai", &[], now).unwrap_err();
    assert!(again.iter().any(|f| f.code.as_str() == "correction.target_voided"), "{again:?}");

    // An amend is checked like a desk's: an unknown lot warns until confirmed.
    let r2: EventId = rec2.parse().unwrap();
    let dose = Dose {
        vaccine: "AZ".into(),
        lot: Some("LOT-NEW-9".into()),
        lot_expiry: None,
        dose_number: Some(1),
        administered_at: chrono::DateTime::parse_from_rfc3339("2021-10-05T10:30:00+07:00").unwrap(),
        outcome: Outcome::Vaccinated,
        note: None,
        given_elsewhere: None,
    };
    // Judged on 1 October, a dose on the 5th is in the future.
    let early: chrono::DateTime<chrono::Utc> = "2021-10-01T03:00:00Z".parse().unwrap();
    let future = fix(r2, Correction::Amend(dose.clone()), "số lô sai", &[], early).unwrap_err();
    assert!(future.iter().any(|f| f.code.as_str() == "administered_at.future"), "{future:?}");
    let warned = fix(r2, Correction::Amend(dose.clone()), "số lô sai", &[], now).unwrap_err();
    let codes: Vec<String> = warned.iter().map(|f| f.code.as_str().to_string()).collect();
    assert!(codes.contains(&"lot.unknown".to_string()), "{codes:?}");
    let amend = fix(r2, Correction::Amend(dose), "số lô sai", &codes, now).unwrap();
    assert_eq!(amend.recorded_at, now, "the hub's event carries the clock it was given");
    assert_eq!(amend.device, "hub");

    // Desks of the site pull both corrections.
    let changes = other.get(&format!("/changes?since={cursor}")).ok();
    let kinds: Vec<&str> = changes["changes"].as_array().unwrap().iter().filter_map(|c| c["event"]["event"]["kind"]["type"].as_str()).collect();
    assert_eq!(kinds, vec!["void", "amend"]);
    // Exports see the doses as they now stand.
    let rows = export_rows(&hub);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("Nguyễn Thị Hoa") && rows[0].contains("LOT-NEW-9") && rows[0].contains("10:30"), "{rows:?}");
    let actions: Vec<String> = hub.db.audit_log(2).unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, vec!["dose.amend", "dose.void"]);

    // The person pages show the record as it happened, in the page's language.
    let mut b = Browser::new(&hub.url);
    b.log_in(ADMIN.0, ADMIN.1);
    let (_, _, voided) = b.get(&format!("/persons/{p1}"));
    let row = voided.split(&format!("data-voided=\"{rec1}\"")).nth(1).expect("the voided record stays on the page").split("</tr>").next().unwrap();
    assert!(row.contains("<del>") && row.contains("nhập nhầm người") && row.contains("admin (điều phối)") && row.contains("01/12/2021 10:00"), "{row}");
    assert!(voided.contains("data-step=\"void\""));
    let (_, _, amended) = b.get(&format!("/persons/{p3}"));
    assert!(amended.contains("đã tiêm") && !amended.contains(">vaccinated<"), "outcomes in Vietnamese");
    let step = amended.split("data-step=\"amend\"").nth(1).expect("the amendment is listed").split("</tr>").next().unwrap();
    assert!(step.contains("Số lô: AZ2107 → LOT-NEW-9") && step.contains("số lô sai") && step.contains("admin (điều phối)"), "{step}");
    assert!(step.contains("09:00 → 05/10/2021 10:30"), "the time change is shown in local time: {step}");
    b.get("/lang/en?back=/dashboard");
    let (_, _, english) = b.get(&format!("/persons/{p3}"));
    assert!(english.contains(">vaccinated") && english.contains("Lot: AZ2107 → LOT-NEW-9"), "the English page");
    // A source limited to other sites exports nothing of S1.
    let none = HubDoses { db: &hub.db, sites: vec!["S2".into()] };
    let mut n = 0;
    none.each_dose("2021-01-01".parse().unwrap(), "2021-12-31".parse().unwrap(), Some("S1"), &mut |_, _| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn fixes_over_the_api_keep_the_pages_rules_and_scope() {
    let hub = TestHub::start();
    let (_, other, [p1, p2, p3], [rec1, rec2]) = clinic(&hub);
    let admin = hub.admin();
    // A coordinator of the other site sees none of S1's fixes.
    admin.post("/coordinators", json!({"username": "binh", "password": "long enough pw", "sites": ["S2"]})).ok();
    let mut s2 = hub.client();
    s2.login("binh", "long enough pw").ok();
    assert_eq!(s2.get("/duplicates").ok(), json!([]), "no pair of another site");
    assert_eq!(s2.get(&format!("/persons/{p3}")).refused(), (404, "not_found"));
    assert_eq!(s2.post(&format!("/doses/{rec1}/void"), json!({"reason": "thử"})).refused(), (404, "not_found"));

    let pairs = admin.get("/duplicates").ok();
    let pair = &pairs[0];
    assert_eq!((pair["site"].as_str(), pair["status"].as_str()), (Some("S1"), Some("open")), "{pairs}");
    let (a, b) = (pair["a"].as_str().unwrap().to_string(), pair["b"].as_str().unwrap().to_string());
    assert_eq!(s2.post(&format!("/duplicates/{a}/{b}/merge"), json!({"keep": p1})).refused(), (404, "not_found"));
    assert_eq!(admin.post(&format!("/duplicates/{a}/{b}/merge"), json!({"keep": "someone"})).refused(), (400, "duplicate.keep"));
    assert_eq!(admin.post(&format!("/duplicates/{a}/{b}/merge"), json!({"keep": p1})).status, 204);
    assert_eq!(admin.post(&format!("/duplicates/{a}/{b}/dismiss"), json!({})).refused(), (409, "duplicate.closed"));
    assert_eq!(hub.db.canonical_person(&p2).unwrap().as_deref(), Some(p1.as_str()));
    assert_eq!(admin.get("/duplicates").ok()[0]["resolved_by"], ADMIN.0);

    // The person's file: the latest record and the doses with their record ids.
    let file = admin.get(&format!("/persons/{p3}")).ok();
    assert_eq!((file["site"].as_str(), file["person"]["full_name"].as_str()), (Some("S1"), Some("Nguyễn Thị Hoa")));
    assert_eq!(file["doses"][0]["id"].as_str(), Some(rec2.as_str()));
    assert_eq!(admin.get(&format!("/persons/{}", uuid::Uuid::now_v7())).refused(), (404, "not_found"));

    // A void needs a reason; the rules' findings come back by field and code.
    let blank = admin.post(&format!("/doses/{rec1}/void"), json!({"reason": " "}));
    assert_eq!(blank.refused(), (422, "dose.refused"));
    assert_eq!(blank.body["findings"][0]["code"], "correction.reason_missing", "{}", blank.body);
    let voided = admin.post(&format!("/doses/{rec1}/void"), json!({"reason": "nhập nhầm người"})).ok();
    assert_eq!((voided["kind"].as_str(), voided["corrects"].as_str()), (Some("void"), Some(rec1.as_str())));
    assert_eq!(admin.post("/doses/not-a-record/void", json!({"reason": "x"})).refused(), (404, "not_found"));

    // An amend with an unknown lot warns until that warning's code is confirmed.
    let dose = json!({"vaccine": "AZ", "lot": "LOT-API-7", "dose_number": 1, "administered_at": "2021-10-05T09:15:00+07:00", "outcome": "vaccinated"});
    let warned = admin.post(&format!("/doses/{rec2}/amend"), json!({"dose": dose, "reason": "số lô sai"}));
    assert_eq!(warned.refused(), (422, "dose.refused"));
    let warning = warned.body["findings"].as_array().unwrap().iter().find(|f| f["code"] == "lot.unknown").expect("lot.unknown").clone();
    assert_eq!((warning["severity"].as_str(), warning["field"].as_str()), (Some("warning"), Some("lot")));
    let codes: Vec<&str> = warned.body["findings"].as_array().unwrap().iter().filter_map(|f| f["code"].as_str()).collect();
    let only_lot = admin.post(&format!("/doses/{rec2}/amend"), json!({"dose": dose, "reason": "số lô sai", "confirm": ["lot.unknown"]}));
    assert_eq!(only_lot.refused(), (422, "dose.refused"), "each warning needs its own confirmation: {codes:?}");
    assert!(only_lot.body["findings"].as_array().unwrap().iter().all(|f| f["code"] != "lot.unknown"));
    let amended = admin.post(&format!("/doses/{rec2}/amend"), json!({"dose": dose, "reason": "số lô sai", "confirm": codes})).ok();
    assert_eq!(amended["kind"], "amend");
    assert_eq!(admin.get(&format!("/persons/{p3}")).ok()["doses"][0]["dose"]["lot"], "LOT-API-7");
    let bad = admin.post(&format!("/doses/{rec2}/amend"), json!({"dose": {"vaccine": "AZ"}, "reason": "x"}));
    assert_eq!(bad.refused().0, 422, "a dose without its fields is refused by name: {}", bad.body);

    // The desks learn of all of it; the audit log has each step, by id.
    let kinds: Vec<String> = other.get("/changes").ok()["changes"].as_array().unwrap().iter()
        .filter_map(|c| c["event"]["event"]["kind"]["type"].as_str().map(str::to_string).or_else(|| (c["type"] == "person_merge").then(|| "merge".into())))
        .collect();
    assert!(kinds.ends_with(&["merge".to_string(), "void".into(), "amend".into()]), "{kinds:?}");
    let actions: Vec<String> = hub.db.audit_log(3).unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, vec!["dose.amend", "dose.void", "person.merge"]);
}

/// Lots are in the catalog every site shares (ADR 0011): a coordinator of
/// one site cannot add one, from the page or the API, and writes nothing;
/// the lot a coordinator of every site adds shows in the one-site
/// coordinator's audit log.
#[test]
fn only_a_coordinator_of_every_site_adds_a_lot_and_everyone_sees_it() {
    let hub = TestHub::start();
    let admin = hub.admin();
    assert_eq!(admin.post("/coordinators", json!({"username": "lan", "password": "long enough pw", "sites": ["S1"]})).status, 201);
    let version = |h: &Http| h.get("/catalog").ok()["version"].as_u64().unwrap();
    let before = version(&admin);

    let mut lan_api = hub.client();
    assert_eq!(lan_api.login("lan", "long enough pw").status, 200);
    assert_eq!(lan_api.post("/lots", json!({"number": "S1ONLY", "vaccine": "AZ", "expiry": "2022-06-30"})).refused(), (403, "auth.scope"));
    let mut lan = Browser::new(&hub.url);
    assert_eq!(lan.log_in("lan", "long enough pw"), 303);
    let (status, _, page) = lan.get("/catalog");
    assert_eq!(status, 200);
    assert!(page.contains("id=\"lot-note\"") && !page.contains("action=\"/catalog/lots\""), "no lot form for a one-site coordinator");
    let token = Browser::csrf(&page);
    let (status, _, _) = lan.post("/catalog/lots", &[("csrf", &token), ("vaccine", "AZ"), ("number", "S1FORM"), ("expiry", "2022-06-30")]);
    assert_eq!(status, 403);
    assert_eq!(version(&admin), before, "nothing published");

    // The coordinator of every site adds one: every coordinator sees it in the audit log.
    admin.post("/lots", json!({"number": "SHARED1", "vaccine": "AZ", "expiry": "2022-06-30"})).ok();
    assert_eq!(version(&admin), before + 1);
    let (_, _, audit) = lan.get("/audit");
    assert!(audit.contains("lot.add") && audit.contains("SHARED1"), "a shared change is shown to every coordinator");
}

/// Dates and site codes from a query string are checked at the edge: a 400
/// naming the field, never a dropped connection or a 500; an export of a site
/// that does not exist is a 404 with no audit row; the file name cannot add a
/// header parameter.
#[test]
fn bad_dates_and_export_parameters_are_refused_cleanly() {
    let hub = TestHub::start();
    let _admin = hub.admin();
    let mut b = Browser::new(&hub.url);
    assert_eq!(b.log_in(ADMIN.0, ADMIN.1), 303);
    for bad in ["-262143-01-01", "+262142-12-31", "9999-12-31", "2021-02-30", "yesterday"] {
        let (status, _, page) = b.get(&format!("/dashboard?site=S1&date={bad}"));
        assert_eq!(status, 400, "{bad}");
        assert!(page.contains("date"), "{bad}: the page names the field");
    }
    assert_eq!(b.get("/dashboard?site=S1&date=2021-09-14").0, 200);

    let audits = |hub: &TestHub| hub.db.audit_log(1000).unwrap().iter().filter(|e| e.action.starts_with("export")).count();
    for (site, want) in [("S1%0D%0AX-Evil:%201", 400), ("S1%22;%20filename=evil.exe", 400), ("NOPE", 404), ("..", 400)] {
        let (status, _, _) = b.get(&format!("/exports/download?site={site}&from=2021-09-01&to=2021-09-30&format=csv"));
        assert_eq!(status, want, "{site}");
    }
    assert_eq!(audits(&hub), 0, "a refused export writes no audit row");
    assert_eq!(b.get("/exports/download?site=S1&from=-262143-01-01&to=2021-09-30&format=csv").0, 400);
    let r = b.http.get(format!("{}/exports/download?site=S1&from=2021-09-01&to=2021-09-30&format=csv", hub.url)).header("cookie", b.cookie_header()).send().unwrap();
    assert_eq!(r.status(), 200);
    let cd = r.headers().get("content-disposition").unwrap().to_str().unwrap().to_string();
    assert_eq!(cd, "attachment; filename=\"vaxdesk-S1-2021-09-01-2021-09-30.csv\"; filename*=UTF-8''vaxdesk-S1-2021-09-01-2021-09-30.csv");
    assert_eq!(audits(&hub), 1);
}

/// A dose a desk typed as given elsewhere (no lot, a place): accepted, shown
/// on the person's page with its place, kept as given elsewhere through a
/// page amend, and exported without this site's facility code.
#[test]
fn a_dose_given_elsewhere_is_shown_kept_and_exported_as_such() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let desk = hub.device(&admin, "S1", "D1", "phone-a");
    let person = uuid::Uuid::now_v7().to_string();
    let mut dose = dose_event("phone-a", "S1", &person, "AB");
    dose["event"]["dose"] = json!({"vaccine": "AB", "dose_number": 1, "administered_at": "2021-08-10T00:00:00+07:00",
        "outcome": "vaccinated", "note": "giấy xác nhận", "given_elsewhere": {"place": "TYT Ninh Kiều, Cần Thơ"}});
    let record = dose["event"]["id"].as_str().unwrap().to_string();
    let r = desk.post("/events", json!({"events": [person_event("phone-a", &person, None, "Y Bình Ayun", "2004-03-01"), dose]})).ok();
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == "accepted"), "no lot, Abdala at 17: still accepted: {r}");

    let mut b = Browser::new(&hub.url);
    assert_eq!(b.log_in(ADMIN.0, ADMIN.1), 303);
    let (status, _, page) = b.get(&format!("/persons/{person}"));
    assert_eq!(status, 200);
    assert!(page.contains("tiêm ở nơi khác: TYT Ninh Kiều, Cần Thơ"), "{page}");
    // The page's amend form has no place or note field: both stay.
    let csrf = Browser::csrf(&page);
    let form = [("csrf", csrf.as_str()), ("vaccine", "AB"), ("dose_number", "1"), ("lot", ""), ("date", "2021-08-11"), ("time", "00:00"), ("outcome", "vaccinated"), ("reason", "ngày trên giấy là 11/8")];
    let (status, _, body) = b.post(&format!("/persons/{person}/doses/{record}/amend"), &form);
    assert_eq!(status, 303, "{body}");
    let file = admin.get(&format!("/persons/{person}")).ok();
    let d = &file["doses"][0]["dose"];
    assert_eq!((d["given_elsewhere"]["place"].as_str(), d["note"].as_str()), (Some("TYT Ninh Kiều, Cần Thơ"), Some("giấy xác nhận")), "{file}");
    assert!(d["administered_at"].as_str().unwrap().starts_with("2021-08-11"), "{file}");

    let rows = export_rows(&hub);
    let row = rows.iter().find(|r| r.contains("Y Bình Ayun")).expect("exported");
    assert!(row.contains(",,1,11/08/2021,00:00,") && row.ends_with(",\"TYT Ninh Kiều, Cần Thơ\""), "{row}");
}

/// A `multipart/form-data` body as a browser sends a file form.
fn multipart(fields: &[(&str, &str)], file: (&str, &[u8])) -> (String, Vec<u8>) {
    let boundary = format!("----vaxdesk{}", uuid::Uuid::now_v7().simple());
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: text/csv\r\n\r\n", file.0).as_bytes());
    body.extend_from_slice(file.1);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Browser {
    fn upload(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> (u16, String) {
        let (content_type, body) = multipart(fields, file);
        let r = self.http.post(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).header("content-type", content_type).body(body).send().unwrap();
        self.keep(&r);
        (r.status().as_u16(), r.text().unwrap())
    }
}

#[test]
fn a_registration_list_uploaded_on_the_page_shows_every_refusal_and_the_day_list() {
    let hub = TestHub::start();
    let admin = hub.admin();
    admin.post("/coordinators", json!({"username": "lan", "password": "long enough pw", "sites": ["S1"]})).ok();
    let day: chrono::NaiveDate = "2026-12-03".parse().unwrap();
    let mut list = String::from_utf8(vaxdesk_core::synth::registration_csv(61_000..61_020, day)).unwrap();
    // Row 8 (the 7th person) gets a CCCD one digit short.
    let seventh = vaxdesk_core::synth::registration_row(61_006, day);
    list = list.replacen(&seventh[3], &seventh[3][..11], 1);

    let mut b = Browser::new(&hub.url);
    b.log_in("lan", "long enough pw");
    let (status, _, page) = b.get("/registrations");
    assert_eq!(status, 200);
    assert!(page.contains("enctype=\"multipart/form-data\"") && page.contains("Ngày hẹn tiêm"), "the form names the columns");
    let csrf = Browser::csrf(&page);

    // Without the session's token: refused, nothing filed.
    assert_eq!(b.upload("/registrations", &[("csrf", &"0".repeat(64)), ("site", "S1")], ("ds.csv", list.as_bytes())).0, 403);
    assert!(b.get("/registrations").2.contains("Chưa có ai đăng ký"));
    // Another site's list: not this coordinator's.
    assert_eq!(b.upload("/registrations", &[("csrf", &csrf), ("site", "S2")], ("ds.csv", list.as_bytes())).0, 403);

    let (status, result) = b.upload("/registrations", &[("csrf", &csrf), ("site", "S1")], ("ds-3-12.csv", list.as_bytes()));
    assert_eq!(status, 200, "{result}");
    assert!(result.contains("data-row=\"8\" data-status=\"refused\""), "{result}");
    assert!(result.contains("Số CMND/CCCD"), "the refused column is named");
    assert_eq!(result.matches("data-status=\"added\"").count(), 19);

    let (_, _, page) = b.get("/registrations");
    assert!(page.contains("ds-3-12.csv") && page.contains("href=\"/registrations/S1/2026-12-03\""), "{page}");
    let (status, _, listed) = b.get("/registrations/S1/2026-12-03");
    assert_eq!(status, 200);
    let first = vaxdesk_core::synth::registration_row(61_000, day);
    assert!(listed.contains(&first[0]) && !listed.contains(&seventh[0]), "the refused row's person is not on the list");
    let upload = page.split("href=\"/registrations/uploads/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let (status, _, stored) = b.get(&format!("/registrations/uploads/{upload}"));
    assert_eq!(status, 200);
    assert!(stored.contains("data-row=\"8\""));

    // A list refused whole says why on the page.
    let (status, page) = b.upload("/registrations", &[("csrf", &csrf), ("site", "S1")], ("bad.csv", b"Ten,Ngay\nA,1\n"));
    assert_eq!(status, 422);
    assert!(page.contains("id=\"list-refused\"") && page.contains("Họ và tên"), "{page}");

    // S2's day list is not this coordinator's to see.
    assert_eq!(b.get("/registrations/S2/2026-12-03").0, 404);
}

/// A dose event from `(device, site, desk)` at a local time.
fn dose_at((device, site, desk): (&str, &str, &str), person: &str, vaccine: &str, n: u8, at: &str, outcome: &str) -> serde_json::Value {
    let mut e = dose_event(device, site, person, vaccine);
    e["event"]["desk"] = json!(desk);
    e["event"]["dose"]["dose_number"] = json!(n);
    e["event"]["dose"]["administered_at"] = json!(at);
    e["event"]["dose"]["outcome"] = json!(outcome);
    if outcome != "vaccinated" {
        e["event"]["dose"].as_object_mut().unwrap().remove("dose_number");
    }
    e
}

fn cell_text(c: &calamine::Data) -> String {
    match c {
        calamine::Data::Float(f) => format!("{f}"),
        calamine::Data::Int(i) => format!("{i}"),
        calamine::Data::String(s) => s.clone(),
        calamine::Data::Empty => String::new(),
        other => format!("{other:?}"),
    }
}

#[test]
fn a_clinic_day_adds_up_the_same_on_the_dashboard_its_charts_the_report_and_its_xlsx() {
    use calamine::Reader as _;
    let hub = TestHub::start();
    let admin = hub.admin();
    admin.post("/coordinators", json!({"username": "lan", "password": "long enough pw", "sites": ["S1"]})).ok();
    let d1 = hub.device(&admin, "S1", "D1", "phone-1");
    let d2 = hub.device(&admin, "S1", "D2", "phone-2");
    let s2 = hub.device(&admin, "S2", "D1", "phone-3");
    let day: chrono::NaiveDate = "2021-10-05".parse().unwrap();
    // Five registered for the day, from a seed no other test uses.
    admin.raw("/sites/S1/registrations", "text/csv", vaxdesk_core::synth::registration_csv(83_100..83_105, day)).ok();
    let mut reg = hub.db.registered_persons("S1", "2021-10-05").unwrap();
    reg.sort();
    assert_eq!(reg.len(), 5);
    let walk_in = uuid::Uuid::now_v7().to_string();
    let other_site = uuid::Uuid::now_v7().to_string();
    let voided = dose_at(("phone-1", "S1", "D1"), &reg[3], "AZ", 1, "2021-10-05T10:40:00+07:00", "vaccinated");
    let voided_id = voided["event"]["id"].as_str().unwrap().to_string();
    let r = d1
        .post("/events", json!({"events": [
            // reg[0] had dose 1 in August; dose 2 today completes the series.
            dose_at(("phone-1", "S1", "D1"), &reg[0], "AZ", 1, "2021-08-01T09:00:00+07:00", "vaccinated"),
            dose_at(("phone-1", "S1", "D1"), &reg[0], "AZ", 2, "2021-10-05T08:10:00+07:00", "vaccinated"),
            dose_at(("phone-1", "S1", "D1"), &reg[2], "AZ", 1, "2021-10-05T10:05:00+07:00", "deferred"),
            voided,
        ]}))
        .ok();
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == "accepted"), "{r}");
    let void = json!({"stream": "dose", "event": {
        "id": uuid::Uuid::now_v7().to_string(), "person_id": &reg[3], "site": "S1", "desk": "D1", "device": "phone-1",
        "kind": {"type": "void", "corrects": voided_id, "reason": "nhập nhầm người"}, "recorded_at": "2021-10-05T03:45:00Z"
    }});
    let r = d2
        .post("/events", json!({"events": [
            dose_at(("phone-2", "S1", "D2"), &reg[1], "PF", 1, "2021-10-05T09:20:00+07:00", "vaccinated"),
            person_event("phone-2", &walk_in, Some("079190001122"), "Võ Thị Sáu", "1990-01-02"),
            dose_at(("phone-2", "S1", "D2"), &walk_in, "PF", 1, "2021-10-05T10:30:00+07:00", "vaccinated"),
        ]}))
        .ok();
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == "accepted"), "{r}");
    assert!(d1.post("/events", json!({"events": [void]})).ok()["results"][0]["status"] == "accepted");
    s2.post("/events", json!({"events": [
        person_event("phone-3", &other_site, None, "Lý Văn Tám", "1970-03-04"),
        dose_at(("phone-3", "S2", "D1"), &other_site, "AZ", 1, "2021-10-05T09:00:00+07:00", "vaccinated"),
    ]}))
    .ok();
    // The phone fetches the certificate twice (the screen rebuilt): one certificate, one person.
    for _ in 0..2 {
        d1.get(&format!("/persons/{}/certificate", reg[0])).ok();
    }

    // Issued today (the hub's clock), so today's figures count them.
    let today = chrono::Utc::now().with_timezone(&vaxdesk_hub::report::vn()).date_naive();
    // Noted off the reply's path: give it a moment.
    let mut noted = (0, 0);
    for _ in 0..50 {
        let d = vaxdesk_hub::report::site_day(&hub.db, "S1", today).unwrap();
        noted = (d.certificates, d.certificate_persons);
        if noted.0 > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let d = vaxdesk_hub::report::site_day(&hub.db, "S1", today).unwrap();
    assert_eq!((d.certificates, d.certificate_persons), (1, 1), "{noted:?}");
    let d = vaxdesk_hub::report::site_day(&hub.db, "S1", day).unwrap();
    assert_eq!((d.total.given(), d.total.deferred, d.total.refused), (3, 1, 0));
    assert_eq!(d.total.doses.get(&("AZ".to_string(), 2)), Some(&1));
    assert_eq!(d.total.doses.get(&("PF".to_string(), 1)), Some(&2));
    assert_eq!((d.registered, d.served, d.not_yet_come(), d.walk_ins), (5, 3, 2, 1), "the voided dose's person has not come");
    // The province's list of sites counts the same in the database.
    assert_eq!(vaxdesk_hub::report::site_totals(&hub.db, "S1", day).unwrap(), vaxdesk_hub::report::SiteTotals::from(&d));
    assert_eq!((d.desks["D1"].by_hour[8], d.desks["D2"].by_hour[9], d.desks["D2"].by_hour[10]), (1, 1, 1));

    let mut b = Browser::new(&hub.url);
    assert_eq!(b.log_in("lan", "long enough pw"), 303);
    let (status, _, page) = b.get("/dashboard?site=S1&date=2021-10-05");
    assert_eq!(status, 200);
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 3, "three charts");
    for title in ["Mũi tiêm theo giờ, theo bàn", "Đã đến so với đăng ký, cộng dồn trong ngày", "Độ trễ đồng bộ theo giờ lưu trên điện thoại"] {
        assert!(page.contains(&format!("-t\">{title}</title>")), "{title}");
    }
    assert!(page.contains(r#"data-series="D2" data-hour="9" data-value="1""#), "D2's 09h bar");
    assert!(page.contains(r#"<td class="n registered">5</td><td class="n served">3</td><td class="n not-yet">2</td><td class="n walk-ins">1</td>"#), "{page}");
    assert!(!page.contains("id=\"sites-day\""), "one site: no table of sites");
    assert!(page.contains("href=\"/reports/daily?site=S1&amp;date=2021-10-05\""));

    let (status, _, report) = b.get("/reports/daily?site=S1&date=2021-10-05");
    assert_eq!(status, 200);
    assert!(report.contains("@page{size:A4") && report.contains("@media print"), "a print stylesheet");
    assert!(report.contains("<td class=\"n given\">3</td>"), "{report}");
    assert!(report.contains("AZ — ") && report.contains("PF — "), "vaccines by name");
    assert_eq!(report.matches("<svg class=\"chart\"").count(), 3);
    assert!(!report.contains("id=\"not-synced\""), "every phone sent everything");
    // A phone says it still holds records: the report warns its figures may be short.
    d2.post("/events", json!({"events": [], "pending": 2})).ok();
    let (_, _, report) = b.get("/reports/daily?site=S1&date=2021-10-05");
    assert!(report.contains("id=\"not-synced\"") && report.contains("<tr class=\"behind\">"), "{report}");
    // Every site of this coordinator: S1 only.
    let (_, _, all) = b.get("/reports/daily?date=2021-10-05");
    assert!(all.contains("data-site=\"S1\"") && !all.contains("data-site=\"S2\""));
    assert_eq!(b.get("/reports/daily?site=S2&date=2021-10-05").0, 404);
    assert_eq!(b.get("/reports/daily?site=S1&date=05-10-2021").0, 400);

    let r = b.http.get(format!("{}/reports/daily.xlsx?site=S1&date=2021-10-05", hub.url)).header("cookie", b.cookie_header()).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("bao-cao-ngay-S1-2021-10-05.xlsx"));
    let bytes = r.bytes().unwrap().to_vec();
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let rows = |wb: &mut calamine::Xlsx<_>, name: &str| -> Vec<Vec<String>> { wb.worksheet_range(name).unwrap().rows().map(|r| r.iter().map(cell_text).collect()).collect() };
    let summary = rows(&mut wb, "Tong hop");
    assert_eq!(summary[1], ["S1", "05/10/2021", "3", "1", "0", "5", "3", "2", "1", "0", "0"], "certificates were issued today, not on the 5th");
    assert_eq!(summary.len(), 2);
    let by_vaccine = rows(&mut wb, "Theo vac xin");
    assert_eq!(by_vaccine.len(), 3, "{by_vaccine:?}");
    assert!(by_vaccine[1][2].starts_with("AZ") && by_vaccine[1][3] == "2" && by_vaccine[1][4] == "1", "{by_vaccine:?}");
    let by_desk = rows(&mut wb, "Theo ban");
    assert_eq!(by_desk.iter().skip(1).map(|r| (r[2].as_str(), r[3].as_str(), r[4].as_str())).collect::<Vec<_>>(), [("D1", "1", "1"), ("D2", "2", "0")]);

    // A coordinator of every site sees both in the table of sites.
    let mut a = Browser::new(&hub.url);
    a.log_in(ADMIN.0, ADMIN.1);
    let (_, _, page) = a.get("/dashboard?site=S1&date=2021-10-05");
    assert!(page.contains("id=\"sites-day\"") && page.contains("<tr data-site=\"S2\">"), "{page}");
}
