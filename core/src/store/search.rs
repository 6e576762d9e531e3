//! The SQL side of name search: candidates from the FTS5 index over folded
//! names. Ranking and paging are `crate::search`'s job.

use rusqlite::params;

use super::{from_json, Result, Store};
use crate::model::Person;

#[derive(Debug, Clone)]
pub struct NameCandidate {
    pub name_key: String,
    pub person: Person,
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
        let rows = self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT p.name_key, p.body FROM person_search s JOIN persons p ON p.rowid = s.rowid
                 WHERE person_search MATCH ?1 LIMIT ?2",
            )?;
            let rows = st.query_map(params![query, limit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter().map(|(name_key, body)| Ok(NameCandidate { name_key, person: from_json("persons", &body)? })).collect()
    }

    /// Persons whose folded name is exactly `key`.
    pub fn exact_name(&self, key: &str, birth_year: Option<i32>, limit: u32) -> Result<Vec<NameCandidate>> {
        let rows = self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT name_key, body FROM persons WHERE name_key = ?1 AND (?2 IS NULL OR birth_year = ?2) LIMIT ?3",
            )?;
            let rows = st.query_map(params![key, birth_year, limit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter().map(|(name_key, body)| Ok(NameCandidate { name_key, person: from_json("persons", &body)? })).collect()
    }
}
