//! The store's promises: migrations from an older file, refusal of files it
//! must not touch, append-only events, and one transaction per save.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use rusqlite::Connection;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::search::SearchQuery;
use vaxdesk_core::store::{OpenOptions, Store, StoreError, LATEST_VERSION};
use vaxdesk_core::Error;

fn sha(path: &std::path::Path) -> Vec<u8> {
    fs::read(path).unwrap()
}

#[test]
fn fresh_database_is_at_latest_version_in_wal_mode() {
    let t = desk();
    assert_eq!(t.desk.store().schema_version().unwrap(), LATEST_VERSION);
    let c = Connection::open(t.path()).unwrap();
    let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn upgrades_a_version_1_database_and_indexes_existing_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let opts = OpenOptions { target_version: 1, ..Default::default() };
        let desk = Desk::open_with(&path, &opts).unwrap().with_clock(clinic_now);
        desk.set_up("S1", "D1", None).unwrap();
        assert_eq!(desk.store().schema_version().unwrap(), 1);
    }
    let made = desk();
    let hoa = add(&made.desk, &hoa());
    let (persons, _) = events_of(&made.desk, &[hoa.id]);
    write_before_schema_8(&path, &persons, &[]);
    let desk = open_at(&path);
    assert_eq!(desk.store().schema_version().unwrap(), LATEST_VERSION);
    let page = desk.find(&SearchQuery::new("hoa nguyen")).unwrap();
    assert_eq!(page.hits.len(), 1, "person saved before the search index existed is found");
    assert_eq!(page.hits[0].person.full_name, "Nguyễn Thị Hoa");
}

#[test]
fn the_registrations_update_pulls_the_site_again_from_the_start() {
    // A desk of the app before registration lists: the hub never sent it
    // the site's lists, and its cursor is past them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    {
        let opts = OpenOptions { target_version: 4, ..Default::default() };
        let desk = Desk::open_with(&path, &opts).unwrap().with_clock(clinic_now);
        desk.set_up("S1", "D1", None).unwrap();
        desk.store().set_meta("pull_cursor", "1234").unwrap();
        desk.store().set_meta("site", "S1").unwrap();
    }
    let desk = open_at(&path);
    assert_eq!(desk.store().pull_cursor().unwrap(), None, "the next pull starts from the beginning");
    assert_eq!(desk.store().meta("site").unwrap().as_deref(), Some("S1"), "nothing else is forgotten");
}

#[test]
fn the_word_index_is_filled_on_upgrade_and_follows_every_change() {
    // Persons saved by the app before schema 6, their names indexed then.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    {
        let opts = OpenOptions { target_version: 5, ..Default::default() };
        let desk = Desk::open_with(&path, &opts).unwrap().with_clock(clinic_now);
        desk.set_up("S1", "D1", None).unwrap();
    }
    let made = desk();
    let hoa_id = add(&made.desk, &hoa()).id;
    let nam = add(&made.desk, &draft("Trần Văn Nam", "001090004321", "1990-05-02", vaxdesk_core::model::Sex::Male)).id;
    let (persons, _) = events_of(&made.desk, &[hoa_id, nam]);
    write_before_schema_8(&path, &persons, &[]);
    let desk = open_at(&path);
    assert_eq!(desk.store().schema_version().unwrap(), LATEST_VERSION);
    let names = |q: &str| desk.find(&SearchQuery::new(q)).unwrap().hits.into_iter().map(|h| h.person.full_name).collect::<Vec<_>>();
    assert_eq!(names("hoa nguyen"), ["Nguyễn Thị Hoa"], "names saved before the upgrade are found, given name first");
    assert_eq!(names("tr va na"), ["Trần Văn Nam"], "and by prefixes");
    // A name corrected after the upgrade: found under the new name only.
    let mut fixed = hoa();
    fixed.id = Some(hoa_id);
    fixed.full_name = "Nguyễn Thị Hòa Bình".into();
    desk.save_person(&fixed, &[]).unwrap();
    assert_eq!(names("binh hoa"), ["Nguyễn Thị Hòa Bình"]);
    assert!(names("nguyen thi hoa").iter().all(|n| n != "Nguyễn Thị Hoa"), "the old name is gone from the index");
    // A person added after the upgrade.
    add(&desk, &draft("Lê Minh Đức", "001085002222", "1985-11-20", vaxdesk_core::model::Sex::Male));
    assert_eq!(names("duc le"), ["Lê Minh Đức"]);
    // Names that repeat a word once accents are gone, changed through the
    // same upsert a sync applies: saved, found, counted once.
    let le = add(&desk, &draft("Lê Thị Lệ", "001185003333", "1985-02-03", vaxdesk_core::model::Sex::Female));
    let mut older = draft("Lê Thị Lệ", "001185003333", "1984-02-03", vaxdesk_core::model::Sex::Female);
    older.id = Some(le.id);
    desk.save_person(&older, &["national_id.birth_year_mismatch".to_string()]).unwrap();
    let mut renamed = hoa();
    renamed.id = Some(hoa_id);
    renamed.full_name = "Nguyễn Thị Nguyên".into();
    desk.save_person(&renamed, &[]).unwrap();
    assert_eq!(names("nguyen thi nguyen"), ["Nguyễn Thị Nguyên"]);
    assert_eq!(desk.find(&SearchQuery { birth_year: Some(1984), ..SearchQuery::new("le le") }).unwrap().hits.len(), 1);
    let c = Connection::open(&path).unwrap();
    // The word index holds every person, and its counts are the persons per word.
    let (indexed, persons): (i64, i64) = c.query_row("SELECT (SELECT count(DISTINCT id) FROM name_words), (SELECT count(*) FROM persons)", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(indexed, persons);
    let off: i64 = c
        .query_row(
            "SELECT count(*) FROM name_word_counts w FULL JOIN (SELECT word, count(DISTINCT id) AS n FROM name_words GROUP BY word) x ON x.word = w.word WHERE w.n IS NOT x.n",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(off, 0, "every word's count is its persons");
    let hoa_words: i64 = c.query_row("SELECT count(*) FROM name_words WHERE word = 'hoa'", [], |r| r.get(0)).unwrap();
    assert_eq!(hoa_words, 0, "nobody is called Hoa any more");
}

/// What a desk reads of its persons and doses, to compare across an upgrade.
fn readings(desk: &Desk, persons: &[vaxdesk_core::model::PersonId], day: chrono::NaiveDate) -> String {
    let store = desk.store();
    let mut out = Vec::new();
    for id in persons {
        let p = store.person(*id).unwrap().unwrap();
        out.push(format!("{p:?}"));
        out.push(format!("{:?}", store.person_by_national_id(&p.national_id.as_ref().unwrap().number).unwrap()));
        if let Some(phone) = &p.phone {
            out.push(format!("{:?}", store.persons_by_phone(phone).unwrap()));
        }
        out.push(format!("{:?}", store.doses_of(*id).unwrap()));
    }
    out.push(format!("{:?}", store.doses_on(day, None).unwrap()));
    let mut streamed = Vec::new();
    store.for_each_dose(day, day, None, |r| {
        streamed.push(r);
        Ok(())
    })
    .unwrap();
    assert!(!streamed.is_empty(), "the day's doses are read");
    out.push(format!("{streamed:?}"));
    out.push(format!("{:?}", store.persons_page(0, 10).unwrap()));
    out.push(format!("{:?}", desk.find(&SearchQuery::new("binh hoa")).unwrap().hits));
    out.join("\n")
}

/// A record event like `person`'s first dose, under a new id.
fn second_dose_event(desk: &Desk, person: vaxdesk_core::model::PersonId) -> vaxdesk_core::model::DoseEvent {
    let mut e = desk.store().dose_events_of(person).unwrap().remove(0);
    e.id = vaxdesk_core::model::EventId::new();
    e.kind = vaxdesk_core::model::DoseKind::Record;
    e
}

#[test]
fn the_projections_upgrade_keeps_every_person_and_dose_as_it_stood() {
    // A desk's persons and doses: a person renamed, a dose amended twice, a
    // dose voided. The same events written into a store of schema 7, whose
    // rows copied their latest event, then upgraded: it must read as the
    // desk that made them does.
    let made = desk();
    let day = clinic_now().with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap()).date_naive();
    let hoa_id = add(&made.desk, &hoa()).id;
    let mut renamed = hoa();
    renamed.id = Some(hoa_id);
    renamed.full_name = "Nguyễn Thị Hòa Bình".into();
    renamed.phone = Some("0912345678".into());
    made.desk.save_person(&renamed, &[]).unwrap();
    let nam = add(&made.desk, &draft("Trần Văn Nam", "001090004321", "1990-05-02", vaxdesk_core::model::Sex::Male)).id;
    let first = made.desk.record_dose(&az_dose(hoa_id), &[]).unwrap();
    let mut fixed = az_dose(hoa_id);
    fixed.note = Some("lot checked on the vial".into());
    let amend = made.desk.amend_dose(first.id, &fixed, "note added", &[]).unwrap();
    fixed.note = Some("arm: left".into());
    let amended = made.desk.amend_dose(amend.id, &fixed, "arm noted", &[]).unwrap();
    let twice = made.desk.record_dose(&az_dose(nam), &[]).unwrap();
    made.desk.void_dose(twice.id, "entered twice").unwrap();
    let ids = [hoa_id, nam];
    let (persons, doses) = events_of(&made.desk, &ids);
    assert_eq!((persons.len(), doses.len()), (3, 5));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v7.db");
    {
        let opts = OpenOptions { target_version: 7, ..Default::default() };
        let desk = Desk::open_with(&path, &opts).unwrap().with_clock(clinic_now);
        desk.set_up("QN-HL-01", "D1", None).unwrap();
        desk.load_catalog(catalog_with_lots()).unwrap();
    }
    write_before_schema_8(&path, &persons, &doses);
    let copies: i64 = Connection::open(&path).unwrap().query_row("SELECT (SELECT count(body) FROM persons) + (SELECT count(body) FROM doses)", [], |r| r.get(0)).unwrap();
    assert_eq!(copies, 4, "schema 7's rows hold copies of their content");

    let desk = open_at(&path);
    assert_eq!(desk.store().schema_version().unwrap(), LATEST_VERSION);
    assert_eq!(readings(&desk, &ids, day), readings(&made.desk, &ids, day), "every reading as on the desk that made them");
    let record = &desk.history(hoa_id).unwrap()[0];
    assert_eq!((record.id, record.head, record.dose.note.as_deref()), (first.id, amended.id, Some("arm: left")), "the record stands as its last amend");
    assert!(record.amended);
    assert_eq!(desk.person(hoa_id).unwrap().full_name, "Nguyễn Thị Hòa Bình");
    assert!(desk.history(nam).unwrap().is_empty(), "the voided dose stays voided");
    assert!(desk.store().verify_dose_projection(hoa_id).unwrap());
    let c = Connection::open(&path).unwrap();
    for table in ["persons", "doses"] {
        let columns: Vec<String> =
            c.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert!(columns.contains(&"head_seq".to_string()) && !columns.iter().any(|c| c == "body" || c == "head_event"), "{table}: {columns:?}");
    }
    let schema = |c: &Connection| -> Vec<(String, String, Option<String>)> {
        let mut st = c.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY name").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(schema(&c), schema(&Connection::open(made.path()).unwrap()), "tables, indexes and triggers as a store made today has them");
    let orphans: i64 = c.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(orphans, 0);
    let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap();
    assert!(free > 0, "the old tables' pages are free for the next writes");
    drop(c);
    // Foreign keys are on again once the upgrade is done: a dose of a
    // person nobody recorded is refused.
    let mut stray = second_dose_event(&made.desk, hoa_id);
    stray.person_id = vaxdesk_core::model::PersonId::new();
    let refused = desk.store().append_dose_event(&stray).unwrap_err().to_string();
    assert!(refused.contains("FOREIGN KEY"), "{refused}");
    // Saves after the upgrade read back through their events too.
    let mut again = hoa();
    again.id = Some(hoa_id);
    again.full_name = "Nguyễn Thị Hòa".into();
    desk.save_person(&again, &[]).unwrap();
    assert_eq!(desk.person(hoa_id).unwrap().full_name, "Nguyễn Thị Hòa");
    let second = desk.record_dose(&az_dose(nam), &[]).unwrap();
    assert_eq!(desk.history(nam).unwrap().iter().map(|r| (r.id, r.head)).collect::<Vec<_>>(), [(second.id, second.id)]);
    assert_eq!(desk.store().integrity_check().unwrap(), Ok(()));
}

#[test]
fn a_row_an_older_app_left_pointing_at_nothing_does_not_lock_the_desk_out_of_the_upgrade() {
    // The upgrade runs with foreign keys off and refuses a step that would
    // leave rows pointing at nothing; one that was there before is not the
    // step's doing.
    let made = desk();
    let hoa_id = add(&made.desk, &hoa()).id;
    made.desk.record_dose(&az_dose(hoa_id), &[]).unwrap();
    let (persons, doses) = events_of(&made.desk, &[hoa_id]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v7.db");
    drop(Desk::open_with(&path, &OpenOptions { target_version: 7, ..Default::default() }).unwrap());
    write_before_schema_8(&path, &persons, &doses);
    let c = Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA foreign_keys = OFF; UPDATE doses SET person_id = 'nobody';").unwrap();
    drop(c);
    let desk = open_at(&path);
    assert_eq!(desk.store().schema_version().unwrap(), LATEST_VERSION);
    assert_eq!(desk.person(hoa_id).unwrap().full_name, "Nguyễn Thị Hoa");
    let orphans: i64 = Connection::open(&path).unwrap().query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(orphans, 1, "the row is kept as it was");
}

#[test]
fn a_row_whose_latest_event_is_missing_is_named_not_skipped_or_panicked_on() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    t.desk.record_dose(&az_dose(p.id), &[]).unwrap();
    let c = Connection::open(t.path()).unwrap();
    c.execute_batch("UPDATE persons SET head_seq = 0; UPDATE doses SET head_seq = 0;").unwrap();
    drop(c);
    match t.desk.store().person(p.id) {
        Err(StoreError::BadRow { table: "persons", detail }) => assert!(detail.contains(&format!("latest event of person {}", p.id)), "{detail}"),
        other => panic!("expected a bad persons row, got {other:?}"),
    }
    match t.desk.store().doses_of(p.id) {
        Err(StoreError::BadRow { table: "doses", detail }) => assert!(detail.contains("latest event of record"), "{detail}"),
        other => panic!("expected a bad doses row, got {other:?}"),
    }
}

#[test]
fn newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE x (a); PRAGMA user_version = 99;").unwrap();
    }
    let before = sha(&path);
    match Store::open(&path) {
        Err(StoreError::NewerSchema { found: 99, supported, .. }) => assert_eq!(supported, LATEST_VERSION),
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert_eq!(sha(&path), before);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path).unwrap_err();
    // Whole pages of random-looking bytes are what an encrypted database
    // looks like without its key: either answer is honest.
    assert!(matches!(err, StoreError::Corrupt { .. } | StoreError::NeedsKey { .. }), "{err:?}");
    assert!(err.to_string().contains("not modified"), "{err}");
    assert!(sha(&path) == garbage, "untouched");
    fs::write(&path, b"shopping list: rice, fish sauce, eggs\n").unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::Corrupt { .. })), "text is not mistaken for an encrypted database");
}

#[test]
fn a_damaged_database_is_reported_not_panicked_on() {
    let t = desk();
    for i in 0..50 {
        add(&t.desk, &draft(&format!("Người Thứ {}", "Một Hai Ba Bốn Năm".split(' ').nth(i % 5).unwrap()), &format!("022187{:06}", i), "1987", vaxdesk_core::model::Sex::Female));
    }
    let path = t.path();
    drop(t.desk);
    // Overwrite a page in the middle with zeros, as a bad flash sector would.
    let mut bytes = fs::read(&path).unwrap();
    let mid = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[mid..mid + 4096] {
        *b = 0xAA;
    }
    fs::write(&path, &bytes).unwrap();
    let _ = fs::remove_file(path.with_extension("db-wal"));
    match Store::open(&path) {
        Err(e) => assert!(matches!(e, StoreError::Corrupt { .. } | StoreError::BadRow { .. }), "{e:?}"),
        Ok(s) => match s.integrity_check() {
            Ok(report) => assert!(report.is_err(), "damage must show in the integrity check"),
            Err(e) => assert!(matches!(e, StoreError::Corrupt { .. } | StoreError::BadRow { .. }), "{e:?}"),
        },
    }
}

#[test]
fn an_empty_file_is_refused_not_made_into_a_fresh_desk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.db");
    fs::write(&path, b"").unwrap();
    match Desk::open(&path) {
        Err(Error::Store(StoreError::Corrupt { detail, .. })) => assert!(detail.contains("empty"), "{detail}"),
        other => panic!("an emptied desk must not become a new one: {other:?}"),
    }
    assert_eq!(fs::metadata(&path).unwrap().len(), 0, "nothing written");
    assert!(!dir.path().join("desk.db-wal").exists());
}

/// A desk killed with its WAL not yet checkpointed, whose file then took
/// damage: at the next open the pages are checked (the WAL says the last
/// close was not clean) and the damage is reported at once, not when a
/// save or a search first reads the bad page. The same crash without damage
/// opens with everything saved.
#[test]
fn after_an_unclean_shutdown_the_pages_are_checked_at_open() {
    let t = desk();
    for i in 0..300 {
        add(&t.desk, &draft(&format!("Người Thứ {}", "Một Hai Ba Bốn Năm".split(' ').nth(i % 5).unwrap()), &format!("022187{:06}", i), "1987", vaxdesk_core::model::Sex::Female));
    }
    // Checkpoint the first saves into the file, then save more so the WAL is
    // not empty; then copy the files as they are, as a kill -9 leaves them.
    t.desk.store().integrity_check().unwrap().unwrap();
    {
        let c = Connection::open(t.path()).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
    add(&t.desk, &draft("Người Sau Cùng", "022187999999", "1987", vaxdesk_core::model::Sex::Female));
    let crashed = |name: &str| {
        let to = t.path().with_file_name(name);
        fs::copy(t.path(), &to).unwrap();
        fs::copy(t.path().with_extension("db-wal"), to.with_extension("db-wal")).unwrap();
        to
    };
    let clean = crashed("clean.db");
    let damaged = crashed("damaged.db");
    assert!(fs::metadata(clean.with_extension("db-wal")).unwrap().len() > 0, "the crash left a WAL");

    let back = Desk::open(&clean).unwrap();
    assert_eq!(back.find(&SearchQuery { text: "022187999999".into(), birth_year: None, page: 0, per_page: 20 }).unwrap().hits.len(), 1, "the last save survived");
    drop(back);

    let mut bytes = fs::read(&damaged).unwrap();
    let mid = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[mid..mid + 4096] {
        *b = 0xAA;
    }
    fs::write(&damaged, &bytes).unwrap();
    match Store::open(&damaged) {
        Err(StoreError::Corrupt { detail, .. }) => assert!(detail.contains("unclean shutdown") || detail.contains("malformed"), "{detail}"),
        Err(other) => panic!("expected the damage as Corrupt, got {other:?}"),
        Ok(_) => panic!("a damaged page after a crash must be found at open"),
    }
}

#[test]
fn read_only_file_can_be_read_but_not_written() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let path = t.path();
    drop(t.desk);
    // Checkpoint so the read-only open needs nothing from the WAL.
    Connection::open(&path).unwrap().execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    let before = sha(&path);
    let desk = open_at(&path);
    assert_eq!(desk.person(p.id).unwrap().full_name, "Nguyễn Thị Hoa");
    let err = desk.save_person(&draft("Trần Văn Nam", "022090000001", "1990", vaxdesk_core::model::Sex::Male), &[]).unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::ReadOnly { .. })), "{err:?}");
    assert_eq!(sha(&path), before);
}

#[test]
fn locked_database_gives_locked_and_writes_nothing() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let other = Connection::open(t.path()).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let opts = OpenOptions { busy_timeout: Duration::from_millis(200), ..Default::default() };
    let desk = Desk::open_with(t.path(), &opts).unwrap().with_clock(clinic_now);
    let d = az_dose(p.id);
    let err = desk.record_dose(&d, &[]).unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Locked { .. })), "{err:?}");
    other.execute_batch("ROLLBACK").unwrap();
    assert!(desk.history(p.id).unwrap().is_empty());
    assert_eq!(desk.queue().unwrap().pending, 1, "only the person event is queued");
    // Once the lock is gone the same save goes through.
    desk.record_dose(&d, &[]).unwrap();
}

#[test]
fn events_are_append_only_even_to_raw_sql() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let d = az_dose(p.id);
    t.desk.record_dose(&d, &[]).unwrap();
    let c = Connection::open(t.path()).unwrap();
    for sql in ["UPDATE dose_events SET body = '{}'", "DELETE FROM dose_events", "UPDATE person_events SET body = '{}'", "DELETE FROM person_events"] {
        let e = c.execute(sql, []).unwrap_err().to_string();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
}

#[test]
fn save_writes_event_projection_and_outbox_together() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let d = az_dose(p.id);
    let e = t.desk.record_dose(&d, &[]).unwrap();
    let c = Connection::open(t.path()).unwrap();
    let n = |sql: &str| -> i64 { c.query_row(sql, [e.id.to_string()], |r| r.get(0)).unwrap() };
    assert_eq!(n("SELECT count(*) FROM dose_events WHERE id = ?1"), 1);
    assert_eq!(n("SELECT count(*) FROM doses WHERE id = ?1"), 1);
    assert_eq!(n("SELECT count(*) FROM outbox WHERE event_id = ?1 AND state = 'pending'"), 1);
    assert!(t.desk.store().verify_dose_projection(p.id).unwrap());
    assert_eq!(t.desk.store().integrity_check().unwrap(), Ok(()));
}

#[test]
fn a_failed_transaction_leaves_no_trace() {
    let t = desk();
    let p = add(&t.desk, &hoa());
    let d = az_dose(p.id);
    let e = t.desk.record_dose(&d, &[]).unwrap();
    // The same event again: the event insert is refused, and with it the
    // projection and outbox writes of that transaction.
    let err = t.desk.store().append_dose_event(&e).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { what: "event", .. }), "{err:?}");
    assert_eq!(t.desk.store().dose_event_count().unwrap(), 1);
    assert_eq!(t.desk.queue().unwrap().pending, 2);
}

/// A desk encrypted by the previous build (SQLCipher over OpenSSL, the file
/// kept in tests/fixtures) opens with this one (SQLCipher over RustCrypto,
/// ADR 0014) under the same passphrase, reads, takes a new save and a
/// re-key: phones updated from that build keep their data.
#[test]
fn a_desk_encrypted_by_the_openssl_build_opens_with_the_rust_crypto_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.db");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    fs::copy(fixtures.join("desk-openssl.db"), &path).unwrap();
    fs::copy(fixtures.join("desk-openssl.db-salt"), dir.path().join("desk.db-salt")).unwrap();
    let query = |text: &str| SearchQuery { text: text.into(), birth_year: None, page: 0, per_page: 20 };
    {
        let desk = Desk::open_encrypted(&path, "mật khẩu 2021").unwrap();
        let hits = desk.find(&query("nguyen thi hoa")).unwrap().hits;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].person.full_name, "Nguyễn Thị Hoa");
        assert!(desk.store().integrity_check().unwrap().is_ok(), "every page decrypts and checks out");
        add(&desk, &draft("Phạm Thị Lan", "022190001111", "1990", vaxdesk_core::model::Sex::Female));
    }
    assert!(matches!(Desk::open_encrypted(&path, "wrong"), Err(Error::Store(StoreError::WrongKey { .. }))));
    Desk::change_secret(&path, "mật khẩu 2021", "mới 2468").unwrap();
    let desk = Desk::open_encrypted(&path, "mới 2468").unwrap();
    assert_eq!(desk.find(&query("pham thi lan")).unwrap().hits.len(), 1);
    assert_eq!(desk.find(&query("022187001234")).unwrap().hits.len(), 1);
    let raw = fs::read(&path).unwrap();
    assert!(!raw.windows(12).any(|w| w == b"022190001111"), "the new save is encrypted too");
}
