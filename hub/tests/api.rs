//! Every endpoint, and every refusal: 4xx with a code and a message, never
//! 5xx, and nothing written by a refused request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;

#[test]
fn login_and_coordinator_scope() {
    let hub = TestHub::start();
    let mut anon = hub.client();
    assert_eq!(anon.login("admin", "wrong password!").refused(), (401, "auth.required"));
    assert_eq!(anon.get("/sites").refused(), (401, "auth.required"));
    let admin = hub.admin();
    let sites = admin.get("/sites").ok();
    assert_eq!(sites.as_array().unwrap().len(), 2);
    assert_eq!(sites[0]["name"], "Trạm y tế Hồng Hải");

    // A coordinator of S1 only.
    assert_eq!(admin.post("/coordinators", json!({"username": "lan", "password": "short", "sites": ["S1"]})).refused(), (400, "password.weak"));
    assert_eq!(admin.post("/coordinators", json!({"username": "lan", "password": "long enough pw", "sites": ["S9"]})).refused(), (400, "site.unknown"));
    assert_eq!(admin.post("/coordinators", json!({"username": "lan", "password": "long enough pw", "sites": ["S1"]})).status, 201);
    assert_eq!(admin.post("/coordinators", json!({"username": "lan", "password": "long enough pw", "sites": ["S1"]})).refused(), (409, "coordinator.exists"));
    let mut lan = hub.client();
    lan.login("lan", "long enough pw").ok();
    let seen: Vec<_> = lan.get("/sites").ok().as_array().unwrap().iter().map(|s| s["code"].as_str().unwrap().to_string()).collect();
    assert_eq!(seen, vec!["S1"]);
    assert_eq!(lan.get("/sites/S2/desks").refused(), (403, "auth.scope"));
    assert_eq!(lan.post("/sites/S2/desks/D1/enrollment-codes", json!({})).refused(), (403, "auth.scope"));
    assert_eq!(lan.post("/coordinators", json!({"username": "x", "password": "long enough pw"})).refused(), (403, "auth.scope"));
    assert_eq!(lan.put("/catalog", serde_json::to_value(vaxdesk_core::catalog::Catalog::builtin()).unwrap()).refused(), (403, "auth.scope"));
    assert_eq!(lan.get("/sites/S1/desks").ok().as_array().unwrap().len(), 2);
}

#[test]
fn sites_desks_lots_and_catalog() {
    let hub = TestHub::start();
    let admin = hub.admin();
    assert_eq!(admin.put("/sites", json!({"code": "bad code!", "name": "x"})).refused(), (400, "request.code"));
    assert_eq!(admin.put("/sites/S9/desks", json!({"code": "D1", "name": "x"})).refused(), (404, "not_found"));
    let v1 = admin.get("/catalog").ok()["version"].as_u64().unwrap();
    let c = admin.post("/lots", json!({"number": "AZ2201", "vaccine": "AZ", "expiry": "2022-01-31"})).ok();
    assert_eq!(c["version"].as_u64().unwrap(), v1 + 1);
    assert_eq!(admin.post("/lots", json!({"number": "AZ2201", "vaccine": "AZ", "expiry": "2022-01-31"})).refused(), (409, "lot.exists"));
    assert_eq!(admin.post("/lots", json!({"number": "X1", "vaccine": "ZZ", "expiry": "2022-01-31"})).refused(), (400, "lot.vaccine"));
    let mut old = admin.get("/catalog").ok();
    assert_eq!(admin.put("/catalog", old.clone()).refused(), (409, "catalog.not_newer"));
    old["version"] = json!(v1 + 5);
    old["vaccines"][0]["intervals"] = json!([]);
    assert_eq!(admin.put("/catalog", old.clone()).refused(), (400, "catalog.invalid"));
    old["vaccines"][0]["intervals"] = json!([{"min_days": 84}]);
    assert_eq!(admin.put("/catalog", old).ok()["version"].as_u64().unwrap(), v1 + 5);
}

#[test]
fn enrollment_codes_are_single_use_and_expire() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let code = admin.post("/sites/S1/desks/D1/enrollment-codes", json!({"ttl_minutes": 10})).ok();
    let text = code["text"].as_str().unwrap();
    let parsed = vaxdesk_core::qr::payload::parse_enroll(text).value.unwrap();
    assert_eq!((parsed.hub.as_str(), parsed.code.as_str()), (hub.url.as_str(), code["code"].as_str().unwrap()));
    assert_eq!(admin.post("/sites/S1/desks/D9/enrollment-codes", json!({})).refused(), (404, "not_found"));

    let anon = hub.client();
    let ok = anon.post("/enroll", json!({"code": code["code"], "device_id": "dev-a", "enroll_key": "dev-a's key"})).ok();
    assert_eq!((ok["site"]["code"].as_str(), ok["desk"]["code"].as_str()), (Some("S1"), Some("D1")));
    assert_eq!(ok["token"].as_str().unwrap().len(), 64);
    assert_eq!(anon.post("/enroll", json!({"code": code["code"], "device_id": "dev-b"})).refused(), (403, "enroll.code_used"));
    assert_eq!(anon.post("/enroll", json!({"code": "NOPE-NOPE-NOPE", "device_id": "dev-b"})).refused(), (403, "enroll.code_unknown"));
    // The same phone sending its code again (its reply was lost): the same enrollment, a fresh token.
    assert_eq!(anon.post("/enroll", json!({"code": code["code"], "device_id": "dev-a"})).refused(), (403, "enroll.code_used"), "not without the desk's key");
    let retried = anon.post("/enroll", json!({"code": code["code"], "device_id": "dev-a", "enroll_key": "dev-a's key"})).ok();
    assert_eq!((retried["site"]["code"].as_str(), retried["desk"]["code"].as_str()), (Some("S1"), Some("D1")));
    assert_ne!(retried["token"], ok["token"]);
    // Once the phone has used its enrollment, another code for the same device id is refused.
    let mut a = hub.client();
    a.token = retried["token"].as_str().map(str::to_string);
    a.get("/changes").ok();
    let again = admin.post("/sites/S1/desks/D1/enrollment-codes", json!({})).ok();
    assert_eq!(anon.post("/enroll", json!({"code": again["code"], "device_id": "dev-a", "enroll_key": "dev-a's key"})).refused(), (409, "enroll.device_exists"));
    assert_eq!(anon.post("/enroll", json!({"code": again["code"], "device_id": "bad id!"})).refused(), (400, "enroll.device_id"));
    // An expired code (made directly in the database with a past expiry).
    hub.db.create_enrollment_code(&vaxdesk_hub::auth::hash_token("OLD0-OLD0-OLD0"), "S1", "D1", 1, "2021-01-01T00:00:00.000Z").unwrap();
    assert_eq!(anon.post("/enroll", json!({"code": "OLD0-OLD0-OLD0", "device_id": "dev-c"})).refused(), (403, "enroll.code_expired"));
    // The hub keeps only a hash of the token: read the file and its
    // write-ahead log (where recent rows are until a checkpoint copies them
    // in, ADR 0026); the device's current hash must be there, so the bytes
    // read are the ones that hold the row.
    if !on_postgres() {
        let db = hub.dir.path().join("hub.db");
        let mut raw = std::fs::read(&db).unwrap();
        raw.extend(std::fs::read(format!("{}-wal", db.display())).unwrap_or_default());
        let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        let current = vaxdesk_hub::auth::hash_token(retried["token"].as_str().unwrap());
        assert!(has(current.as_bytes()), "the device's token hash is not in the bytes read");
        for token in [&ok["token"], &retried["token"]] {
            assert!(!has(token.as_str().unwrap().as_bytes()), "token stored in clear");
        }
    }
}

#[test]
fn push_accepts_deduplicates_and_rejects_per_event() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let person = uuid::Uuid::now_v7().to_string();
    let p = person_event("dev-a", &person, Some("022187001234"), "Nguyễn Thị Hoa", "1987-05-02");
    let d = dose_event("dev-a", "S1", &person, "AZ");
    let r = a.post("/events", json!({"events": [p.clone(), d.clone()]})).ok();
    let statuses: Vec<_> = r["results"].as_array().unwrap().iter().map(|x| x["status"].as_str().unwrap().to_string()).collect();
    assert_eq!(statuses, ["accepted", "accepted"]);

    // A retried push after a lost reply: duplicates, nothing doubled.
    let r = a.post("/events", json!({"events": [p.clone(), d.clone()]})).ok();
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == "duplicate"));
    assert_eq!(hub.db.event_count().unwrap(), 2);

    // One bad event among good ones: only it is rejected.
    let mut conflict = d.clone();
    conflict["event"]["dose"]["lot"] = json!("OTHER");
    let unknown_person = dose_event("dev-a", "S1", &uuid::Uuid::now_v7().to_string(), "AZ");
    let other_site = dose_event("dev-a", "S2", &person, "AZ");
    let bad_vaccine = dose_event("dev-a", "S1", &person, "ZZ");
    let bad_name = person_event("dev-a", &uuid::Uuid::now_v7().to_string(), None, "Nguyễn\u{7}", "1990");
    let forged = person_event("dev-x", &uuid::Uuid::now_v7().to_string(), None, "Trần Văn Nam", "1990");
    let good = dose_event("dev-a", "S1", &person, "PF");
    let r = a.post("/events", json!({"events": [conflict, unknown_person, other_site, bad_vaccine, bad_name, forged, good]})).ok();
    let got: Vec<_> = r["results"].as_array().unwrap().iter().map(|x| (x["status"].as_str().unwrap().to_string(), x["code"].as_str().unwrap_or("").to_string())).collect();
    let want = [
        ("rejected", "event.conflict"),
        ("rejected", "person.unknown"),
        ("rejected", "scope.site"),
        ("rejected", "vaccine.unknown"),
        ("rejected", "text.control_char"),
        ("rejected", "scope.device"),
        ("accepted", ""),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(hub.db.event_count().unwrap(), 3);

    // The same id twice in one batch (a desk bug): the second is a duplicate,
    // or a conflict if its content differs. The hub learns from its own batch.
    let twice = dose_event("dev-a", "S1", &person, "AZ");
    let mut changed = twice.clone();
    changed["event"]["dose"]["lot"] = json!("OTHER");
    let r = a.post("/events", json!({"events": [twice.clone(), twice, changed]})).ok();
    let got: Vec<_> = r["results"].as_array().unwrap().iter().map(|x| (x["status"].as_str().unwrap().to_string(), x["code"].as_str().unwrap_or("").to_string())).collect();
    assert_eq!(got, [("accepted", ""), ("duplicate", ""), ("rejected", "event.conflict")].map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(hub.db.event_count().unwrap(), 4);
}

#[test]
fn refused_requests_write_nothing_and_say_why() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let person = uuid::Uuid::now_v7().to_string();
    let p = person_event("dev-a", &person, None, "Lê Văn Tám", "1980");
    let too_many: Vec<_> = (0..501).map(|_| p.clone()).collect();
    assert_eq!(a.post("/events", json!({"events": too_many})).refused(), (413, "push.batch_too_large"));
    assert_eq!(a.raw("/events", "application/json", b"{\"events\": [".to_vec()).refused(), (400, "request.json"));
    assert_eq!(a.raw("/events", "text/plain", b"{\"events\": []}".to_vec()).refused(), (415, "request.content_type"));
    assert_eq!(a.post("/events", json!({"events": [{"stream": "person", "event": {"id": 5}}]})).refused(), (422, "request.fields"));
    assert_eq!(a.raw("/events", "application/json", vec![b' '; vaxdesk_hub::MAX_BODY + 10]).refused().0, 413);
    let mut nobody = hub.client();
    assert_eq!(nobody.post("/events", json!({"events": [p.clone()]})).refused(), (401, "auth.required"));
    nobody.token = Some("0".repeat(64));
    assert_eq!(nobody.post("/events", json!({"events": [p.clone()]})).refused(), (401, "auth.required"));
    assert_eq!(a.get("/changes?since=abc").refused(), (400, "changes.cursor"));
    assert_eq!(a.get("/nope").refused(), (404, "not_found"));
    assert_eq!(hub.db.event_count().unwrap(), 0);
}

#[test]
fn revoked_device_is_refused_at_once() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    assert_eq!(a.get("/changes").status, 200);
    let devices = admin.get("/devices").ok();
    assert_eq!(devices[0]["id"], "dev-a");
    assert!(devices[0]["last_seen_at"].is_string(), "a pull counts as the last sync");
    assert_eq!(admin.post("/devices/dev-a/revoke", json!({})).status, 204);
    assert_eq!(a.get("/changes").refused(), (401, "auth.required"));
    let p = person_event("dev-a", &uuid::Uuid::now_v7().to_string(), None, "Lê Văn Tám", "1980");
    assert_eq!(a.post("/events", json!({"events": [p]})).refused(), (401, "auth.required"));
    assert_eq!(admin.post("/devices/ghost/revoke", json!({})).refused(), (404, "not_found"));
    assert!(admin.get("/devices").ok()[0]["revoked_at"].is_string());
}

#[test]
fn changes_are_site_scoped_paged_and_resumable() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let b = hub.device(&admin, "S1", "D2", "dev-b");
    let c = hub.device(&admin, "S2", "D1", "dev-c");
    let mut events = Vec::new();
    for i in 0..10 {
        let id = uuid::Uuid::now_v7().to_string();
        events.push(person_event("dev-a", &id, Some(&format!("0221870012{i:02}")), "Nguyễn Thị Hoa", &format!("1987-05-{:02}", i + 1)));
        events.push(dose_event("dev-a", "S1", &id, "AZ"));
    }
    a.post("/events", json!({"events": events})).ok();

    // Desk B pulls in pages of 7 and resumes from each cursor.
    let mut cursor: Option<String> = None;
    let mut got = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/changes?since={c}&limit=7"),
            None => "/changes?limit=7".to_string(),
        };
        let page = b.get(&path).ok();
        got.extend(page["changes"].as_array().unwrap().iter().cloned());
        cursor = Some(page["cursor"].as_str().unwrap().to_string());
        if page["more"] == false {
            break;
        }
    }
    let kinds = |t: &str| got.iter().filter(|c| c["type"] == t).count();
    assert_eq!(kinds("event"), 20);
    assert!(kinds("catalog") >= 1 && kinds("desk") == 2 && kinds("site") == 1, "{got:?}");
    // Nothing new: an empty page with the same cursor.
    let again = b.get(&format!("/changes?since={}", cursor.as_ref().unwrap())).ok();
    assert_eq!((again["changes"].as_array().unwrap().len(), again["cursor"].as_str()), (0, cursor.as_deref()));

    // Desk A is not sent its own events; desk C at site S2 sees none of S1's.
    let own = a.get("/changes?limit=5000").ok();
    assert_eq!(own["changes"].as_array().unwrap().iter().filter(|c| c["type"] == "event").count(), 0);
    let other = c.get("/changes?limit=5000").ok();
    assert!(other["changes"].as_array().unwrap().iter().all(|c| c["type"] != "event" && c["type"] != "desk" || c["desk"]["site"] == "S2"));
    assert_eq!(other["changes"].as_array().unwrap().iter().filter(|c| c["type"] == "event").count(), 0);
}

#[test]
fn same_person_at_two_desks_is_merged_and_lookalikes_listed() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let b = hub.device(&admin, "S1", "D2", "dev-b");
    // Made offline at two desks: the first id (older UUIDv7) wins however
    // the pushes arrive.
    let older = uuid::Uuid::now_v7().to_string();
    let newer = uuid::Uuid::now_v7().to_string();
    b.post("/events", json!({"events": [person_event("dev-b", &newer, Some("022090004321"), "Trần Văn Nam", "1990-03-04")]})).ok();
    a.post("/events", json!({"events": [person_event("dev-a", &older, Some("022090004321"), "Trần Văn Nam", "1990-03-04")]})).ok();
    assert_eq!(hub.db.canonical_person(&newer).unwrap(), Some(older.clone()));
    assert_eq!(hub.db.canonical_person(&older).unwrap(), Some(older.clone()));
    let merges: Vec<_> = b.get("/changes?limit=5000").ok()["changes"].as_array().unwrap().iter().filter(|c| c["type"] == "person_merge").cloned().collect();
    assert_eq!(merges.len(), 1);
    assert_eq!((merges[0]["from"].as_str(), merges[0]["into"].as_str()), (Some(newer.as_str()), Some(older.as_str())));

    // Same folded name and birth date, no id: listed, not merged.
    let x = uuid::Uuid::now_v7().to_string();
    a.post("/events", json!({"events": [person_event("dev-a", &x, None, "TRẦN VĂN NAM", "1990-03-04")]})).ok();
    assert_eq!(hub.db.canonical_person(&x).unwrap(), Some(x.clone()));
    let dups = admin.get("/duplicates").ok();
    assert_eq!(dups.as_array().unwrap().len(), 1, "{dups}");
    assert_eq!(dups[0]["reason"], "same name and birth date");
}

#[test]
fn one_batch_keeps_arrival_order_through_merges_and_corrections() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let b = hub.device(&admin, "S1", "D2", "dev-b");
    let (p1, p2, p3) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
    let record = dose_event("dev-a", "S1", &p1, "AZ");
    let record_id = record["event"]["id"].as_str().unwrap().to_string();
    let mut amend = dose_event("dev-a", "S1", &p1, "AZ");
    amend["event"]["kind"] = json!({"type": "amend", "corrects": record_id, "reason": "số lô sai"});
    let mut void = dose_event("dev-a", "S1", &p1, "AZ");
    void["event"]["kind"] = json!({"type": "void", "corrects": uuid::Uuid::now_v7().to_string(), "reason": "nhầm"});
    void["event"]["dose"] = json!(null);
    // p2 has p1's CCCD: merged into p1 in the middle of the batch; p3 comes after.
    let batch = json!({"events": [
        person_event("dev-a", &p1, Some("022190004321"), "Trần Văn Nam", "1990-05-02"),
        record,
        person_event("dev-a", &p2, Some("022190004321"), "Trần Văn Nam", "1990-05-02"),
        person_event("dev-a", &p3, None, "Nguyễn Thị Hoa", "1987-03-12"),
        amend,
        void,
    ]});
    let r = a.post("/events", batch).ok();
    let got: Vec<(&str, &str)> = r["results"].as_array().unwrap().iter().map(|x| (x["status"].as_str().unwrap(), x["code"].as_str().unwrap_or(""))).collect();
    assert_eq!(got, [("accepted", ""), ("accepted", ""), ("accepted", ""), ("accepted", ""), ("accepted", ""), ("rejected", "correction.target_unknown")], "a correction may follow its record in one batch");
    assert_eq!(hub.db.canonical_person(&p2).unwrap(), Some(p1.clone()));

    // Another desk of the site pulls them in the order they arrived, the merge right after p2.
    let changes = b.get("/changes?limit=5000").ok();
    let order: Vec<String> = changes["changes"].as_array().unwrap().iter()
        .filter_map(|c| match c["type"].as_str() {
            Some("event") => c["event"]["event"]["id"].as_str().or(c["event"]["event"]["person"]["id"].as_str()).map(str::to_string),
            Some("person_merge") => Some(format!("merge {}", c["from"].as_str().unwrap_or(""))),
            _ => None,
        })
        .collect();
    let ids: Vec<String> = r["results"].as_array().unwrap().iter().take(5).map(|x| x["id"].as_str().unwrap().to_string()).collect();
    let expected = vec![ids[0].clone(), ids[1].clone(), ids[2].clone(), format!("merge {p2}"), ids[3].clone(), ids[4].clone()];
    assert_eq!(order, expected);
    assert_eq!(hub.db.event_count().unwrap(), 5);
}

/// A push files its persons together (two questions to the database for
/// the whole batch); the outcome must be the one of filing them one by one.
/// Small pools of ids, CCCD numbers, names and birth dates make persons of
/// one push meet each other and those of earlier pushes: the same person
/// twice under another number, a citizen at two desks, a namesake.
#[test]
fn a_push_files_its_persons_as_one_by_one_would() {
    use rand::{Rng, SeedableRng};
    let (batched, one_by_one) = (TestHub::start(), TestHub::start());
    let mut clients = Vec::new();
    for hub in [&batched, &one_by_one] {
        let admin = hub.admin();
        clients.push((hub.device(&admin, "S1", "D1", "dev-a"), hub.device(&admin, "S1", "D2", "dev-b")));
    }
    let names = ["Trần Văn Nam", "TRẦN VĂN NAM", "Nguyễn Thị Hoa", "Lê Văn Hà"];
    let name_key = [0, 0, 1, 2]; // the first two fold alike
    let (mut pushes_of_several, mut merges, mut alike) = (0, 0, 0);
    for seed in 0..24u64 {
        // Each seed its own persons, numbers and birth dates (born 1990, as the numbers say).
        let ids: Vec<String> = (0..9).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let births = [format!("1990-{:02}-{:02}", 1 + seed % 12, 1 + seed / 12 % 14), format!("1990-{:02}-{:02}", 1 + seed % 12, 15 + seed / 12 % 14)];
        let number = |x: u64| format!("022090{:06}", seed * 10 + x);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut events = Vec::new();
        let mut sent: Vec<&str> = Vec::new();
        // Each name and birth date given to at most five persons: the hub lists five alike at most.
        let mut per_name: std::collections::HashMap<(usize, usize), std::collections::HashSet<&str>> = Default::default();
        while events.len() < 14 {
            if !sent.is_empty() && rng.random_bool(0.2) {
                events.push(dose_event("dev-a", "S1", sent[rng.random_range(0..sent.len())], "AZ"));
                continue;
            }
            let id = ids[rng.random_range(0..ids.len())].as_str();
            let (n, b) = (rng.random_range(0..names.len()), rng.random_range(0..births.len()));
            let same_name = per_name.entry((name_key[n], b)).or_default();
            if same_name.len() >= 5 && !same_name.contains(id) {
                continue;
            }
            same_name.insert(id);
            let nid = rng.random_bool(0.8).then(|| number(rng.random_range(0..4)));
            events.push(person_event("dev-a", id, nid.as_deref(), names[n], &births[b]));
            sent.push(id);
        }
        let mut rest = &events[..];
        while !rest.is_empty() {
            let take = rng.random_range(1..=rest.len().min(8));
            pushes_of_several += usize::from(take > 1);
            let r = clients[0].0.post("/events", json!({"events": rest[..take]})).ok();
            assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == "accepted"), "seed {seed}: {r}");
            rest = &rest[take..];
        }
        for e in &events {
            let r = clients[1].0.post("/events", json!({"events": [e]})).ok();
            assert_eq!(r["results"][0]["status"], "accepted", "seed {seed}: {r}");
        }

        let canonical = |hub: &TestHub| ids.iter().map(|id| hub.db.canonical_person(id).unwrap()).collect::<Vec<_>>();
        assert_eq!(canonical(&batched), canonical(&one_by_one), "seed {seed}: who stands for whom");
        let listed = |hub: &TestHub| {
            let mut d: Vec<_> = hub.db.possible_duplicates().unwrap().into_iter().map(|d| (d.a, d.b, d.reason, d.status)).collect();
            d.sort();
            d
        };
        assert_eq!(listed(&batched), listed(&one_by_one), "seed {seed}: persons listed as alike");
        // What another desk of the site pulls: the same events and merges, in the same order.
        let pulled = |c: &Http| {
            c.get("/changes?limit=5000").ok()["changes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| match c["type"].as_str() {
                    Some("event") => Some(c["event"]["event"]["id"].to_string()),
                    Some("person_merge") => Some(format!("merge {} into {}", c["from"], c["into"])),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let (a, b) = (pulled(&clients[0].1), pulled(&clients[1].1));
        assert_eq!(a, b, "seed {seed}: the feed's order");
        (merges, alike) = (a.iter().filter(|c| c.starts_with("merge")).count(), listed(&batched).len());
    }
    // What was compared: enough of each kind to mean something.
    assert!(pushes_of_several >= 50 && merges >= 50 && alike >= 50, "{pushes_of_several} pushes of several, {merges} merges, {alike} alike");
}

#[test]
fn openapi_document_lists_every_route_and_each_answers() {
    let hub = TestHub::start();
    let doc = hub.client().get("/openapi.json").ok();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let documented: std::collections::BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| ops.as_object().unwrap().keys().filter(|k| *k != "parameters").map(move |m| (m.clone(), p.trim_start_matches("/api/v1").to_string())))
        .collect();
    let routed: std::collections::BTreeSet<(String, String)> = vaxdesk_hub::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, routed);
    // Every routed path answers (a refusal is fine; "no such endpoint" is not).
    let anon = hub.client();
    for (method, path) in vaxdesk_hub::ROUTES {
        let concrete = path.replace("{site}", "S1").replace("{desk}", "D1").replace("{id}", "x");
        let r = match *method {
            "get" => anon.get(&concrete),
            "post" => anon.post(&concrete, json!({})),
            _ => anon.put(&concrete, json!({})),
        };
        assert!(r.status < 500, "{method} {path}: {}", r.status);
        assert!(!(r.status == 404 && r.body["message"] == "no such endpoint"), "{method} {path} is not routed");
        assert_ne!(r.status, 405, "{method} {path}: method not allowed");
    }
}

#[test]
fn compressed_pushes_are_accepted() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let person = uuid::Uuid::now_v7().to_string();
    let batch = json!({"events": [person_event("dev-a", &person, None, "Lê Văn Tám", "1980"), dose_event("dev-a", "S1", &person, "AZ")]});
    let raw = serde_json::to_vec(&batch).unwrap();
    let zstd = zstd::encode_all(raw.as_slice(), 3).unwrap();
    let r = a.send_with(a.http.post(format!("{}/api/v1/events", a.base)).header("content-type", "application/json").header("content-encoding", "zstd").body(zstd));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["results"].as_array().unwrap().iter().all(|x| x["status"] == "accepted"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let r = a.send_with(a.http.post(format!("{}/api/v1/events", a.base)).header("content-type", "application/json").header("content-encoding", "gzip").body(gz.finish().unwrap()));
    assert!(r.body["results"].as_array().unwrap().iter().all(|x| x["status"] == "duplicate"), "{}", r.body);
    // A body that claims gzip but is not: refused, not a server error.
    let r = a.send_with(a.http.post(format!("{}/api/v1/events", a.base)).header("content-type", "application/json").header("content-encoding", "gzip").body(raw));
    assert!((400..500).contains(&r.status), "{}", r.status);
}

#[test]
fn two_hub_processes_share_one_database() {
    let hub = TestHub::start();
    let (url2, _rt2) = hub.second_server();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let mut b = hub.device(&admin, "S1", "D2", "dev-b");
    let mut c = hub.device(&admin, "S1", "D1", "dev-c");
    b.base = url2.clone(); // desk B talks to the second hub
    let batches = |dev: &'static str| -> Vec<serde_json::Value> {
        (0..15)
            .map(|_| {
                let mut events = Vec::new();
                for _ in 0..10 {
                    let p = uuid::Uuid::now_v7().to_string();
                    events.push(person_event(dev, &p, None, "Phạm Văn Đồng", "1950"));
                    events.push(dose_event(dev, "S1", &p, "VC"));
                }
                json!({"events": events})
            })
            .collect()
    };
    let (ba, bb) = (batches("dev-a"), batches("dev-b"));
    std::thread::scope(|s| {
        s.spawn(|| ba.iter().for_each(|x| assert!(a.post("/events", x.clone()).ok()["results"].as_array().unwrap().iter().all(|r| r["status"] == "accepted"))));
        s.spawn(|| bb.iter().for_each(|x| assert!(b.post("/events", x.clone()).ok()["results"].as_array().unwrap().iter().all(|r| r["status"] == "accepted"))));
    });
    // Desk C pulls in small pages, alternating between the two hubs: the
    // cursor means the same on both, and every event arrives exactly once.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    for i in 0.. {
        c.base = if i % 2 == 0 { hub.url.clone() } else { url2.clone() };
        let page = c.get(&format!("/changes?since={cursor}&limit=37")).ok();
        for ch in page["changes"].as_array().unwrap().iter().filter(|ch| ch["type"] == "event") {
            assert!(seen.insert(ch["event"]["event"]["id"].as_str().unwrap().to_string()), "event pulled twice");
        }
        cursor = page["cursor"].as_str().unwrap().to_string();
        if page["more"] == false {
            break;
        }
    }
    assert_eq!(seen.len(), 600);
    assert_eq!(hub.db.event_count().unwrap(), 600);
}

#[test]
fn a_completed_series_gets_a_signed_certificate_only_at_its_site() {
    use vaxdesk_core::cert::{trust_list, PublishedSigner};
    use vaxdesk_core::qr::payload::{parse_hc1, SignatureStatus};
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let person = uuid::Uuid::now_v7().to_string();
    let p = person_event("dev-a", &person, Some("022187001234"), "Nguyễn Thị Hoa", "1987-05-02");
    let mut first = dose_event("dev-a", "S1", &person, "AZ");
    first["event"]["dose"]["administered_at"] = json!("2021-08-01T09:00:00+07:00");
    a.post("/events", json!({"events": [p, first]})).ok();
    let path = format!("/persons/{person}/certificate");
    assert_eq!(a.get(&path).refused(), (409, "cert.not_eligible"));

    let mut second = dose_event("dev-a", "S1", &person, "AZ");
    second["event"]["dose"]["dose_number"] = json!(2);
    a.post("/events", json!({"events": [second]})).ok();
    let cert = a.get(&path).ok();
    assert_eq!((cert["dose_number"].as_u64(), cert["series_doses"].as_u64()), (Some(2), Some(2)));
    // The catalog every desk pulls lists the signer: the certificate verifies with it.
    let catalog = admin.get("/catalog").ok();
    let signers: Vec<PublishedSigner> = serde_json::from_value(catalog["signers"].clone()).unwrap();
    assert_eq!(signers.len(), 1);
    let parsed = parse_hc1(cert["text"].as_str().unwrap(), &trust_list(&signers)).value.unwrap();
    assert_eq!(parsed.signature, SignatureStatus::Verified);
    assert_eq!(parsed.dcc.v[0].dt, "2021-10-05");
    // A coordinator's new catalog keeps the signer.
    let mut next = catalog.clone();
    next["version"] = json!(catalog["version"].as_u64().unwrap() + 1);
    next.as_object_mut().unwrap().remove("signers");
    let published = admin.put("/catalog", next).ok();
    assert_eq!(published["signers"].as_array().map(Vec::len), Some(1));

    // Another site's desk learns nothing of this person.
    let b = hub.device(&admin, "S2", "D1", "dev-b");
    assert_eq!(b.get(&path).refused().0, 404);
    assert_eq!(b.get("/persons/not-a-person/certificate").refused().0, 404);
}

#[test]
fn log_in_and_enrollment_are_rate_limited() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let mut guesser = hub.client();
    // Ten tries a minute from one address (the admin's log-in was one).
    for _ in 0..9 {
        assert_eq!(guesser.login("admin", "guess guess guess").refused(), (401, "auth.required"));
    }
    assert_eq!(guesser.login("admin", "guess guess guess").refused(), (429, "rate_limited"));
    assert_eq!(guesser.login(ADMIN.0, ADMIN.1).refused(), (429, "rate_limited"), "even the right password waits");
    assert!(admin.get("/sites").ok().is_array(), "a session already open is not affected");
    // Twenty enrollment tries a minute from one address.
    let phone = hub.client();
    for i in 0..20 {
        assert_eq!(phone.post("/enroll", json!({"code": format!("AAAA-BBBB-{i:04}"), "device_id": "p1"})).refused(), (403, "enroll.code_unknown"));
    }
    assert_eq!(phone.post("/enroll", json!({"code": "AAAA-BBBB-CCCC", "device_id": "p1"})).refused(), (429, "rate_limited"));
}

#[test]
fn device_tokens_rotate_without_locking_out() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let mut desk = hub.device(&admin, "S1", "D1", "dev-r");
    let old = desk.token.clone().unwrap();
    let offered = desk.post("/token", json!({})).ok()["token"].as_str().unwrap().to_string();
    assert_eq!(desk.get("/changes").status, 200, "until the new token is used, the old one works");
    desk.token = Some(offered.clone());
    assert_eq!(desk.get("/changes").status, 200);
    desk.token = Some(old);
    assert_eq!(desk.get("/changes").refused(), (401, "auth.required"), "the first use of the new token retired the old");
    desk.token = Some(offered);
    assert_eq!(desk.get("/changes").status, 200);
    assert_eq!(admin.post("/token", json!({})).refused(), (401, "auth.required"), "a coordinator's session is not a device token");
}

/// Desks of two sites push at once (on PostgreSQL each batch on a server
/// process of its own, a site's batches taking turns) while a desk of each
/// site pulls in small pages: every event reaches the puller exactly once
/// (no feed row may appear below a cursor already passed, also while a
/// coordinator changes the site's desks), and a citizen
/// registered at two desks of a site at the same moment is still merged,
/// the merge fed after both persons.
#[test]
fn pushes_of_several_sites_at_once_lose_no_change_and_still_merge() {
    let hub = TestHub::start();
    let admin = hub.admin();
    let a = hub.device(&admin, "S1", "D1", "dev-a");
    let b = hub.device(&admin, "S1", "D2", "dev-b");
    let c = hub.device(&admin, "S2", "D1", "dev-c");
    let pull1 = hub.device(&admin, "S1", "D1", "dev-p1");
    let pull2 = hub.device(&admin, "S2", "D1", "dev-p2");
    const BATCHES: usize = 12;
    // Batch k of desks A and B each carries the same citizen (CCCD k) under
    // its own id, A's made first (the older, which the merge keeps).
    let mut pairs = Vec::new();
    let (mut ba, mut bb, mut bc) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..BATCHES {
        let (older, newer) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
        let cccd = format!("0221900{k:05}");
        let batch = |dev: &str, site: &str, first: Option<(&str, &str)>| {
            let mut events = Vec::new();
            if let Some((id, n)) = first {
                events.push(person_event(dev, id, Some(n), "Trần Văn Nam", "1990-05-02"));
                events.push(dose_event(dev, site, id, "AZ"));
            }
            for _ in 0..8 {
                let p = uuid::Uuid::now_v7().to_string();
                events.push(person_event(dev, &p, None, "Phạm Văn Đồng", "1950"));
                events.push(dose_event(dev, site, &p, "VC"));
            }
            json!({"events": events})
        };
        ba.push(batch("dev-a", "S1", Some((&older, &cccd))));
        bb.push(batch("dev-b", "S1", Some((&newer, &cccd))));
        bc.push(batch("dev-c", "S2", None));
        pairs.push((older, newer));
    }
    /// Counts a pusher through, even one that failed (the pullers stop).
    struct Through<'a>(&'a std::sync::atomic::AtomicUsize);
    impl Drop for Through<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let pushed = std::sync::atomic::AtomicUsize::new(0);
    // A and B send batch k together (the same citizen at both desks); one
    // that failed is not waited for long.
    let ready = std::sync::atomic::AtomicUsize::new(0);
    let together = |k: usize| {
        ready.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let since = std::time::Instant::now();
        while ready.load(std::sync::atomic::Ordering::SeqCst) < 2 * (k + 1) && since.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    };
    let push_all = |desk: &Http, batches: &[serde_json::Value], paired: bool| {
        let _through = Through(&pushed);
        for (k, x) in batches.iter().enumerate() {
            if paired {
                together(k);
            }
            let r = desk.post("/events", x.clone()).ok();
            assert!(r["results"].as_array().unwrap().iter().all(|r| r["status"] == "accepted"), "{r}");
        }
    };
    // Pull in small pages until the pushers are through and nothing is
    // left: the events (their ids) and the merges ("from > into"), in order.
    let pull_all = |desk: &Http| {
        let (mut seen, mut order, mut cursor) = (std::collections::HashSet::new(), Vec::new(), "0".to_string());
        loop {
            let through = pushed.load(std::sync::atomic::Ordering::SeqCst) == 3;
            let page = desk.get(&format!("/changes?since={cursor}&limit=13")).ok();
            for ch in page["changes"].as_array().unwrap() {
                match ch["type"].as_str() {
                    Some("event") => {
                        let e = &ch["event"]["event"];
                        assert!(seen.insert(e["id"].as_str().unwrap().to_string()), "an event pulled twice");
                        order.push(e["person"]["id"].as_str().unwrap_or("").to_string());
                    }
                    Some("person_merge") => order.push(format!("{} > {}", ch["from"].as_str().unwrap(), ch["into"].as_str().unwrap())),
                    _ => {}
                }
            }
            cursor = page["cursor"].as_str().unwrap().to_string();
            if through && page["more"] == false {
                return (seen, order);
            }
        }
    };
    let (s1, s2) = std::thread::scope(|s| {
        s.spawn(|| push_all(&a, &ba, true));
        s.spawn(|| push_all(&b, &bb, true));
        s.spawn(|| push_all(&c, &bc, false));
        // A coordinator renames a desk of S1 meanwhile: rows of the feed
        // written outside any push, which must not pass a push's rows by.
        s.spawn(|| {
            for i in 0.. {
                if pushed.load(std::sync::atomic::Ordering::SeqCst) == 3 {
                    break;
                }
                admin.put("/sites/S1/desks", json!({"code": "D2", "name": format!("Bàn 2 ({i})")})).ok();
            }
        });
        let p1 = s.spawn(|| pull_all(&pull1));
        let p2 = s.spawn(|| pull_all(&pull2));
        (p1.join().unwrap(), p2.join().unwrap())
    });
    let ((s1, order), (s2, _)) = (s1, s2);
    assert_eq!((s1.len(), s2.len()), (2 * BATCHES * 18, BATCHES * 16), "a desk pulling while pushes commit misses none");
    let at = |x: &str| order.iter().position(|o| o == x);
    for (older, newer) in &pairs {
        assert_eq!(hub.db.canonical_person(newer).unwrap().as_deref(), Some(older.as_str()), "the same citizen at two desks of S1 at once");
        assert_eq!(hub.db.canonical_person(older).unwrap().as_deref(), Some(older.as_str()));
        // The merge reaches the site's desks once, after both persons.
        let merge = format!("{newer} > {older}");
        assert_eq!(order.iter().filter(|o| **o == merge).count(), 1, "{order:?}");
        assert!(at(&merge) > at(older) && at(&merge) > at(newer), "{order:?}");
    }
    assert_eq!(hub.db.event_count().unwrap(), (3 * BATCHES * 16 + 2 * BATCHES * 2) as u64);
}
