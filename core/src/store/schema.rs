//! Schema migrations, tracked by SQLite's `user_version`. Each step is SQL
//! applied in its own transaction (a numbered file; steps 6 and 7 are three,
//! 7's fill of the word index shared with the restore after a first pull,
//! 8 is two, 7's triggers made again on the `persons` it makes again); a
//! database newer than the newest step is refused untouched, and a step runs
//! on a whole store (a first pull's set-aside indexes come back first).

use rusqlite::{Connection, Transaction};

use super::error::{Result, StoreError};

/// `(version it brings the database to, SQL)`, in order.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_events.sql")),
    (2, include_str!("migrations/0002_name_search.sql")),
    (3, include_str!("migrations/0003_sync.sql")),
    (4, include_str!("migrations/0004_withdrawn.sql")),
    (5, include_str!("migrations/0005_registrations.sql")),
    (
        6,
        concat!(
            include_str!("migrations/0006_name_candidates.sql"),
            include_str!("migrations/0006_fill_name_words.sql"),
            include_str!("migrations/0006_name_candidates_triggers.sql"),
        ),
    ),
    (
        7,
        concat!(
            include_str!("migrations/0007_padded_name_words.sql"),
            include_str!("migrations/fill_name_words.sql"),
            include_str!("migrations/0007_name_words_triggers.sql"),
        ),
    ),
    (
        8,
        concat!(
            include_str!("migrations/0008_projections_point_at_their_head_event.sql"),
            // `persons` made again: its triggers with it, as schema 7 had them.
            include_str!("migrations/0007_name_words_triggers.sql"),
        ),
    ),
];

/// Today's fill of the word index from `persons` (schema 7), in key order;
/// run again when a first pull has set the index aside (ADR 0023).
pub(crate) const FILL_NAME_WORDS: &str = include_str!("migrations/fill_name_words.sql");

pub const LATEST_VERSION: i64 = 8;

pub(crate) fn user_version(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Bring the database up to `target` (normally `LATEST_VERSION`; tests
/// stop early to build an old database).
pub(crate) fn migrate_to(c: &mut Connection, path: &std::path::Path, target: i64) -> Result<()> {
    // A step may make a table again (8 does): SQLite's way asks for foreign
    // keys off meanwhile, or dropping the old table would count its rows'
    // children as orphans. The steps keep every key, and each is checked
    // not to leave any. Changed outside any transaction, and set back
    // whatever the outcome.
    c.pragma_update(None, "foreign_keys", "OFF").map_err(|e| StoreError::classify(e, path))?;
    let migrated = steps(c, path, target);
    let restored = c.pragma_update(None, "foreign_keys", "ON").map_err(|e| StoreError::classify(e, path));
    migrated.and(restored)
}

fn steps(c: &mut Connection, path: &std::path::Path, target: i64) -> Result<()> {
    let current = user_version(c).map_err(|e| StoreError::classify(e, path))?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current && *v <= target) {
        let tx = c
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| StoreError::classify(e, path))?;
        // A step may rewrite what a first pull set aside (7 remakes the
        // word index's triggers and fills the index with today's fill):
        // the store is made whole first, in the step's transaction, or the
        // step does not run (ADR 0035).
        let whole = |e: StoreError| match e {
            StoreError::Sqlite(e) => StoreError::classify(e, path),
            other => other,
        };
        if super::search_index::set_aside(&tx).map_err(whole)? {
            super::search_index::restore(&tx).map_err(whole)?;
        }
        let before = orphans(&tx).map_err(|e| StoreError::classify(e, path))?;
        apply(&tx, *version, sql).map_err(|e| StoreError::classify(e, path))?;
        // With foreign keys off a step could leave rows pointing at nothing
        // (SQLite's procedure for a table made again ends with this check).
        // Only what the step itself would leave stops it: a store is not
        // locked out by rows its older app left.
        let after = orphans(&tx).map_err(|e| StoreError::classify(e, path))?;
        if after > before {
            return Err(StoreError::BadRow {
                table: "foreign keys",
                detail: format!("migration step {version} would leave {} rows pointing at a missing row; the store was not changed", after - before),
            });
        }
        tx.commit().map_err(|e| StoreError::classify(e, path))?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
}

/// Rows whose foreign key points at no row.
fn orphans(tx: &Transaction<'_>) -> rusqlite::Result<i64> {
    tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
}

fn apply(tx: &Transaction<'_>, version: i64, sql: &str) -> rusqlite::Result<()> {
    tx.execute_batch(sql)?;
    tx.pragma_update(None, "user_version", version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_latest() {
        for (i, (v, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(LATEST_VERSION));
    }

    #[test]
    fn a_step_runs_on_a_whole_store_even_when_a_first_pull_left_the_search_indexes_aside() {
        // Schema 6 (whose next step remakes the word index) and schema 7
        // (whose next step makes `persons` again) with persons, their search
        // indexes set aside by a first pull that never ended, then migrated
        // as the open does (which leaves an older store's restore to the
        // first step).
        for version in [6, 7] {
            a_store_left_aside_at(version);
        }
    }

    fn a_store_left_aside_at(version: i64) {
        use crate::store::{OpenOptions, Store};
        use crate::synth;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("v{version}.db"));
        let people: Vec<_> = (500..800).map(synth::person).collect();
        // Persons as the app before schema 8 wrote them: each row a copy of
        // its event (today's writer writes schema 8's rows).
        let write = |people: &[crate::model::Person]| {
            let c = Connection::open(&path).unwrap();
            for p in people {
                let e = synth::person_event(p);
                c.execute(
                    "INSERT INTO person_events (id, person_id, body, recorded_at) VALUES (?1, ?2, ?3, '2021-10-05T02:00:00Z')",
                    (e.id.to_string(), p.id.to_string(), crate::store::json(&e)),
                )
                .unwrap();
                c.execute(
                    "INSERT INTO persons (id, name_key, birth_year, head_event, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    (p.id.to_string(), p.name_key(), p.birth_date.year(), e.id.to_string(), crate::store::json(p)),
                )
                .unwrap();
            }
        };
        {
            let store = Store::open_with(&path, &OpenOptions { target_version: version, ..Default::default() }).unwrap();
            write(&people[..100]);
            assert!(store.defer_search_index().unwrap());
            write(&people[100..]);
        }
        let mut c = Connection::open(&path).unwrap();
        assert!(crate::store::search_index::set_aside(&c).unwrap());
        migrate_to(&mut c, &path, LATEST_VERSION).unwrap();
        assert_eq!(user_version(&c).unwrap(), LATEST_VERSION);
        assert!(!crate::store::search_index::set_aside(&c).unwrap(), "from {version}: the indexes are back");
        let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(DISTINCT id) FROM name_words"), people.len() as i64, "from {version}: every person indexed");
        assert_eq!(count("SELECT count(*) FROM name_words w LEFT JOIN persons p ON p.rowid = w.id WHERE p.rowid IS NULL OR ' ' || p.name_key || ' ' <> w.name_key"), 0, "from {version}: every entry names its person's row");
        assert_eq!(count("SELECT count(*) FROM name_words WHERE name_key NOT LIKE ' % '"), 0, "from {version}: every name held with a space each end");
        assert_eq!(count("SELECT count(*) FROM sqlite_schema WHERE name IN ('persons_phone', 'persons_name_key', 'name_words_insert', 'name_words_delete', 'name_words_update')"), 5);
        drop(c);
        // And the store searches as a desk made today does: by any word,
        // and a renamed person by their new name only.
        let store = Store::open(&path).unwrap();
        let p = &people[650 - 500];
        let tokens = crate::fold::fold_tokens(&p.full_name);
        let found = store.name_candidates(&tokens, None, false, 2000).unwrap();
        assert!(found.iter().any(|f| f.name_key == tokens.join(" ")), "from {version}: {tokens:?} found by its words, its name unpadded");
        let mut renamed = p.clone();
        renamed.full_name = "Đặng Thị Ngọc Hân".into();
        let mut rename = synth::person_event(&renamed);
        rename.id = crate::model::EventId::new();
        store.append_person_event(&rename).unwrap();
        let han = crate::fold::fold_tokens(&renamed.full_name);
        let found = store.name_candidates(&han, None, false, 2000).unwrap();
        let named = store.persons_at(&found.iter().map(|f| f.rowid).collect::<Vec<_>>()).unwrap();
        assert!(named.contains(&renamed), "from {version}: found by the new name");
        let old = store.name_candidates(&tokens, None, false, 2000).unwrap();
        assert!(old.iter().all(|f| f.name_key != tokens.join(" ") || store.persons_at(&[f.rowid]).unwrap()[0].id != p.id), "from {version}: not by the old one");
    }
}
