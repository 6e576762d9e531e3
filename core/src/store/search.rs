//! The SQL side of name search: candidates from the FTS5 index over folded
//! names. Ranking and paging are `crate::search`'s job; candidates carry only
//! what ranking needs, and persons are read for the page shown.

use rusqlite::params;

use super::{from_json, Result, Store};
use crate::model::Person;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCandidate {
    pub rowid: i64,
    pub name_key: String,
    pub birth_year: i32,
}

fn candidate(r: &rusqlite::Row<'_>) -> rusqlite::Result<NameCandidate> {
    Ok(NameCandidate { rowid: r.get(0)?, name_key: r.get(1)?, birth_year: r.get(2)? })
}

impl Store {
    /// Persons whose folded name has each of `tokens` as a word (or, with
    /// `prefix`, a word starting with it), in any order, optionally born in
    /// `birth_year`; at most `limit`. Tokens must already be folded.
    pub fn name_candidates(&self, tokens: &[String], birth_year: Option<i32>, prefix: bool, limit: u32) -> Result<Vec<NameCandidate>> {
        let star = if prefix { "*" } else { "" };
        let words: Vec<String> = tokens
            .iter()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(|t| format!("\"{t}\"{star}"))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = format!("name_key : ({})", words.join(" AND "));
        if let Some(y) = birth_year {
            query.push_str(&format!(" AND birth_year : \"{y}\""));
        }
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT p.rowid, p.name_key, p.birth_year FROM person_search s JOIN persons p ON p.rowid = s.rowid
                 WHERE person_search MATCH ?1 LIMIT ?2",
            )?;
            let rows = st.query_map(params![query, limit], candidate)?;
            rows.collect()
        })
    }

    /// Persons whose folded name is exactly `key`.
    pub fn exact_name(&self, key: &str, birth_year: Option<i32>, limit: u32) -> Result<Vec<NameCandidate>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT rowid, name_key, birth_year FROM persons WHERE name_key = ?1 AND (?2 IS NULL OR birth_year = ?2) LIMIT ?3",
            )?;
            let rows = st.query_map(params![key, birth_year, limit], candidate)?;
            rows.collect()
        })
    }

    /// The persons of the given candidates, in the same order.
    pub fn persons_at(&self, rowids: &[i64]) -> Result<Vec<Person>> {
        self.read_with(|c| {
            let mut st = c.prepare_cached("SELECT body FROM persons WHERE rowid = ?1")?;
            rowids
                .iter()
                .map(|id| {
                    let body: String = st.query_row([id], |r| r.get(0))?;
                    from_json("persons", &body)
                })
                .collect()
        })
    }
}
