//! Filing the persons of a batch (a desk's push, a chunk of a registration
//! list): each person's row written, then who they are at their site — the
//! same national id as another unmerged person: merged, the smallest id
//! kept (normally the earliest: desks mint UUIDv7 ids); the same folded
//! name and birth date: listed for a coordinator.
//!
//! The outcome is the one of filing them one by one, in order, but the
//! database is asked twice for the whole batch (what the table held before
//! it, then the rows written), not once a person: on PostgreSQL each
//! question is a round trip, and a person a round trip was most of a push's
//! time. What the table cannot know — the batch's own earlier persons, and
//! those this batch merged — is followed here.

use std::collections::{HashMap, HashSet};

use vaxdesk_core::model::{Person, PersonId};

use crate::db::Result;
use crate::ingest::{IngestTx, Merge, PersonMatches, PersonRow};

/// How many alike persons a new one is listed beside at most (as the
/// table's own look-up, `IngestTx::alike`).
const ALIKE_LISTED: usize = 5;

/// What a person is filed by (id, national id, folded name, birth date),
/// owned: a push and a registration list take them from their persons, and
/// lend them to the rows `file_persons` writes.
pub(crate) struct PersonKeys {
    id: String,
    national_id: Option<String>,
    name_key: String,
    birth: String,
}

impl PersonKeys {
    pub(crate) fn of(p: &Person) -> PersonKeys {
        PersonKeys { id: p.id.to_string(), national_id: p.national_id.as_ref().map(|n| n.number.clone()), name_key: p.name_key(), birth: p.birth_date.to_string() }
    }

    /// The person's row, filed at `site`.
    pub(crate) fn row<'a>(&'a self, site: &'a str) -> PersonRow<'a> {
        PersonRow { id: &self.id, site, national_id: self.national_id.as_deref(), name_key: &self.name_key, birth: &self.birth }
    }
}

/// Write `rows` (in order; an id twice: the last row stands) and merge or
/// list each as filing them one by one would. Returns each row's merges, in
/// order, for the feed that hands them to the site's desks.
pub(crate) fn file_persons(tx: &mut dyn IngestTx, rows: &[PersonRow<'_>], now: &str) -> Result<Vec<Vec<Merge>>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let before = tx.person_matches(rows)?;
    tx.upsert_persons(rows)?;
    let mut earlier = Earlier::default();
    // Merged into another by this batch: no longer anyone's match.
    let mut merged: HashSet<String> = HashSet::new();
    // Those of the batch already merged before it came; asked only when two
    // of the batch meet (rare: one person's record and its correction, or
    // the same citizen at two desks between two pushes).
    let mut merged_before: Option<HashSet<String>> = None;
    let mut out = Vec::with_capacity(rows.len());
    for (row, table) in rows.iter().zip(before) {
        let mut found = earlier.matches(row);
        if !(found.same_national_id.is_empty() && found.alike.is_empty()) && merged_before.is_none() {
            let mut ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
            ids.sort_unstable();
            ids.dedup();
            merged_before = Some(tx.merged_into_many(&ids)?.into_keys().collect());
        }
        let gone = |id: &str| merged.contains(id) || merged_before.as_ref().is_some_and(|m| m.contains(id));
        found.same_national_id.retain(|id| !gone(id));
        found.alike.retain(|(id, _)| !gone(id));
        // The table's answer stands for those the batch has not written yet;
        // for the earlier ones it is out of date (their own rows answered above).
        let current = |id: &str| !earlier.latest.contains_key(id) && !merged.contains(id);
        found.same_national_id.extend(table.same_national_id.into_iter().filter(|id| current(id)));
        found.alike.extend(table.alike.into_iter().filter(|(id, _)| current(id)));
        found.alike.truncate(ALIKE_LISTED);
        let merges = settle(tx, row, found, now)?;
        merged.extend(merges.iter().map(|m| m.from.to_string()));
        out.push(merges);
        earlier.add(row);
    }
    Ok(out)
}

/// Merge `row` with the same national id (the smallest id kept, normally
/// the earliest UUIDv7, so every hub and every order of arrival agrees)
/// and list the alike with a different or missing id for a coordinator to
/// decide.
fn settle(tx: &mut dyn IngestTx, row: &PersonRow<'_>, found: PersonMatches, now: &str) -> Result<Vec<Merge>> {
    let id = row.id;
    let mut merges = Vec::new();
    for other in found.same_national_id {
        let (from, into) = if other.as_str() < id { (id.to_string(), other) } else { (other, id.to_string()) };
        tx.merge(&from, &into)?;
        let (Ok(f), Ok(t)) = (from.parse::<PersonId>(), into.parse::<PersonId>()) else { continue };
        merges.push(Merge { from: f, into: t });
    }
    for (other, other_nid) in found.alike {
        if other_nid.is_some() && other_nid.as_deref() == row.national_id {
            continue;
        }
        let (a, b) = if other.as_str() < id { (other, id.to_string()) } else { (id.to_string(), other) };
        tx.add_duplicate(&a, &b, "same name and birth date", now)?;
    }
    Ok(merges)
}

/// The batch's persons filed so far, each as its last row stands, found by
/// national id and by folded name and birth date.
#[derive(Default)]
struct Earlier<'r> {
    latest: HashMap<&'r str, &'r PersonRow<'r>>,
    by_national_id: HashMap<&'r str, Vec<&'r str>>,
    by_name: HashMap<(&'r str, &'r str), Vec<&'r str>>,
}

impl<'r> Earlier<'r> {
    fn add(&mut self, row: &'r PersonRow<'r>) {
        self.latest.insert(row.id, row);
        if let Some(n) = row.national_id {
            self.by_national_id.entry(n).or_default().push(row.id);
        }
        self.by_name.entry((row.name_key, row.birth)).or_default().push(row.id);
    }

    /// Who of the earlier ones `row` may be, as their rows stand now (an
    /// id filed again under another number or name is found by the new one
    /// only).
    fn matches(&self, row: &PersonRow<'_>) -> PersonMatches {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut found = PersonMatches::default();
        let candidates = row.national_id.and_then(|n| self.by_national_id.get(n)).into_iter().flatten();
        for &id in candidates {
            let Some(r) = self.latest.get(id) else { continue };
            if id != row.id && r.site == row.site && r.national_id == row.national_id && seen.insert(id) {
                found.same_national_id.push(id.to_string());
            }
        }
        seen.clear();
        for &id in self.by_name.get(&(row.name_key, row.birth)).into_iter().flatten() {
            let Some(r) = self.latest.get(id) else { continue };
            if id != row.id && r.site == row.site && r.name_key == row.name_key && r.birth == row.birth && seen.insert(id) {
                found.alike.push((id.to_string(), r.national_id.map(str::to_string)));
            }
        }
        found
    }
}
