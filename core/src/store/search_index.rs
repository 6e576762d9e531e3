//! The name-search indexes set aside while a new desk takes in its site.
//!
//! A person written one at a time lands in five places ordered by name or
//! phone (`persons_phone`, `persons_name_key` and three or four entries of
//! `name_words`), each at a random spot: at a few hundred thousand persons
//! nearly every one dirties its own page of each, and the commit writes
//! them all. A new desk's first pull of a 1,000,000-event site spent more
//! than half its time there (ADR 0023). So a first pull sets these indexes
//! aside and builds them again once, sorted, when it ends.
//!
//! Their definitions are kept in `meta` as SQLite had them (so what comes
//! back is exactly what went, whatever migration made it; the word index
//! is filled by today's fill, so a store of an older schema is restored
//! inside its first migration step, which then remakes what changed), and
//! the same key says they are away: a store opened with it set (the app
//! killed during a first pull) builds them again before anything else.
//! The unique index of national ids stays: pulling needs it to find a
//! person already here under another id.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::schema::FILL_NAME_WORDS;
use super::{Result, Store, StoreError};

const META_DEFERRED: &str = "search_index_deferred";

/// What is set aside (kept with its type: indexes are made again before
/// the word index is filled, triggers after).
const SET_ASIDE: &[&str] = &["persons_phone", "persons_name_key", "name_words_insert", "name_words_delete", "name_words_update"];

impl Store {
    /// Set the name-search indexes aside for a bulk load. `false` when they
    /// already were. Until [`Store::restore_search_index`] runs, a search
    /// by words or their beginnings finds nobody, and whole names and phone
    /// numbers are found by a scan.
    pub fn defer_search_index(&self) -> Result<bool> {
        self.write(|tx| {
            if deferred(tx)? {
                return Ok(false);
            }
            let mut kept: Vec<(String, String)> = Vec::with_capacity(SET_ASIDE.len());
            for name in SET_ASIDE {
                let found: Option<(String, String)> = tx
                    .prepare_cached("SELECT type, sql FROM sqlite_schema WHERE name = ?1")?
                    .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let Some((kind, sql)) = found else {
                    return Err(StoreError::BadRow { table: "sqlite_schema", detail: format!("{name} is missing: the store's schema is not the one this app knows") });
                };
                tx.execute_batch(&format!("DROP {} {name}", kind.to_uppercase()))?;
                kept.push((kind, sql));
            }
            tx.execute_batch("DELETE FROM name_words; DELETE FROM name_word_counts;")?;
            tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2)")?.execute(params![META_DEFERRED, super::json(&kept)])?;
            Ok(true)
        })
    }

    /// Build the set-aside indexes again from every person (nothing to do
    /// when none are away). One transaction: after it, search is whole.
    pub fn restore_search_index(&self) -> Result<()> {
        self.write(restore)
    }

    pub fn search_index_deferred(&self) -> Result<bool> {
        self.read_with(deferred)
    }
}

/// Whether the indexes are away, on a store of any version (an empty file
/// has no `meta` yet).
pub(crate) fn set_aside(c: &Connection) -> Result<bool> {
    let has_meta: bool = c.query_row("SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'", [], |r| r.get(0))?;
    Ok(has_meta && deferred(c)?)
}

fn deferred(c: &Connection) -> Result<bool> {
    Ok(c.prepare_cached("SELECT count(*) > 0 FROM meta WHERE key = ?1")?.query_row([META_DEFERRED], |r| r.get(0))?)
}

/// The restore, inside a caller's transaction (the store's open runs it
/// before anything else when a first pull was cut short).
pub(crate) fn restore(tx: &Transaction<'_>) -> Result<()> {
    let kept: Option<String> = tx.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([META_DEFERRED], |r| r.get(0)).optional()?;
    let Some(kept) = kept else { return Ok(()) };
    let kept: Vec<(String, String)> = super::from_json("meta", &kept)?;
    // Indexes first, then the word index filled, then the triggers that
    // keep it (made before the fill, they would fill it twice).
    for (_, sql) in kept.iter().filter(|(kind, _)| kind != "trigger") {
        tx.execute_batch(sql)?;
    }
    tx.execute_batch("DELETE FROM name_words; DELETE FROM name_word_counts;")?;
    tx.execute_batch(FILL_NAME_WORDS)?;
    for (_, sql) in kept.iter().filter(|(kind, _)| kind == "trigger") {
        tx.execute_batch(sql)?;
    }
    tx.prepare_cached("DELETE FROM meta WHERE key = ?1")?.execute([META_DEFERRED])?;
    Ok(())
}

/// At open, on a store already at the version wanted (an older one is made
/// whole by its first migration step instead, ADR 0035): a store left with
/// its indexes away (the app killed during a first pull) gets them back
/// first. Best effort: a store that cannot rebuild them now (a full disk)
/// still opens, its searches say they are incomplete, and the next sync
/// tries again.
pub(crate) fn restore_on_open(c: &mut Connection, path: &std::path::Path) {
    let attempt = |c: &mut Connection| -> Result<bool> {
        let classify = |e: rusqlite::Error| StoreError::classify(e, path);
        if !set_aside(c)? {
            return Ok(false);
        }
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(classify)?;
        restore(&tx)?;
        tx.commit().map_err(classify)?;
        Ok(true)
    };
    match attempt(c) {
        Ok(true) => tracing::info!("name-search indexes rebuilt (a first pull had been cut short)"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "name-search indexes still set aside; the next sync tries again"),
    }
}
