//! Schema migrations, tracked by SQLite's `user_version`. Each step is SQL
//! applied in its own transaction (a numbered file; step 6 is three, its
//! fill of the word index shared with the restore after a first pull); a
//! database newer than the newest step is refused untouched.

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
            include_str!("migrations/fill_name_words.sql"),
            include_str!("migrations/0006_name_candidates_triggers.sql"),
        ),
    ),
];

/// Schema 6's fill of the word index from `persons`, in key order; run
/// again when a first pull has set the index aside (ADR 0023).
pub(crate) const FILL_NAME_WORDS: &str = include_str!("migrations/fill_name_words.sql");

pub const LATEST_VERSION: i64 = 6;

pub(crate) fn user_version(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Bring the database up to `target` (normally `LATEST_VERSION`; tests
/// stop early to build an old database).
pub(crate) fn migrate_to(c: &mut Connection, path: &std::path::Path, target: i64) -> Result<()> {
    let current = user_version(c).map_err(|e| StoreError::classify(e, path))?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current && *v <= target) {
        let tx = c
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| StoreError::classify(e, path))?;
        apply(&tx, *version, sql).map_err(|e| StoreError::classify(e, path))?;
        tx.commit().map_err(|e| StoreError::classify(e, path))?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
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
}
