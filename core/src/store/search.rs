//! The SQL side of name search: candidates from `name_words` (schema 6; its
//! names padded with a space each end since schema 7, ADR 0035), an
//! index of each word of each folded name that carries the name and birth
//! year, so that no row of `persons` is read until the page is shown.
//! Ranking and paging are `crate::search`'s job.

use std::collections::HashSet;

use rusqlite::{params, Connection};

use super::persons::{person_at_head, person_of_head, PERSON_AT_HEAD};
use super::{Result, Store};
use crate::model::Person;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCandidate {
    pub rowid: i64,
    pub name_key: String,
    pub birth_year: i32,
}

/// How a name's words must answer the tokens typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Words {
    /// Each token is a word of the name, in any order.
    Whole,
    /// Each token begins a word of the name, in any order.
    Prefix,
}

impl Store {
    /// Persons whose folded name has each of `tokens` as a word (or, with
    /// `prefix`, a word starting with it), in any order, optionally born in
    /// `birth_year`; at most `limit`. Tokens must already be folded.
    pub fn name_candidates(&self, tokens: &[String], birth_year: Option<i32>, prefix: bool, limit: u32) -> Result<Vec<NameCandidate>> {
        let how = if prefix { Words::Prefix } else { Words::Whole };
        self.read(|c| candidates(c, tokens, how, birth_year, limit))
    }

    /// Persons whose folded name is exactly `key`: one range of the name
    /// index on `persons`, which holds all ranking needs.
    pub fn exact_name(&self, key: &str, birth_year: Option<i32>, limit: u32) -> Result<Vec<NameCandidate>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT rowid, name_key, birth_year FROM persons WHERE name_key = ?1 AND (?2 IS NULL OR birth_year = ?2) LIMIT ?3")?;
            let rows = st.query_map(params![key, birth_year, limit], |r| Ok(NameCandidate { rowid: r.get(0)?, name_key: r.get(1)?, birth_year: r.get(2)? }))?;
            rows.collect()
        })
    }

    /// The persons of the given candidates, in the same order.
    pub fn persons_at(&self, rowids: &[i64]) -> Result<Vec<Person>> {
        self.read_with(|c| {
            let mut st = c.prepare_cached(&format!("{PERSON_AT_HEAD} WHERE p.rowid = ?1"))?;
            rowids
                .iter()
                .map(|id| {
                    person_of_head(st.query_row([id], person_at_head)?)
                })
                .collect()
        })
    }
}

/// A name as the word index holds it (a space at each end) as `persons`
/// holds it.
fn unpadded(mut name: String) -> String {
    if name.ends_with(' ') {
        name.pop();
    }
    if name.starts_with(' ') {
        name.remove(0);
    }
    name
}

/// The words of the index a token stands for, with how many persons have
/// each: the word itself, or every word it begins.
fn words_for(c: &Connection, token: &str, prefix: bool) -> rusqlite::Result<Vec<(String, i64)>> {
    // Every word starting with `token` sorts between it and `token` followed
    // by the highest character (binary order; fold never produces it).
    let upper = if prefix { format!("{token}\u{10ffff}") } else { token.to_string() };
    let mut st = c.prepare_cached("SELECT word, n FROM name_word_counts WHERE word >= ?1 AND word <= ?2")?;
    let rows = st.query_map(params![token, upper], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn candidates(c: &Connection, tokens: &[String], how: Words, birth_year: Option<i32>, limit: u32) -> rusqlite::Result<Vec<NameCandidate>> {
    if tokens.is_empty() || tokens.iter().any(String::is_empty) {
        return Ok(Vec::new());
    }
    let prefix = how == Words::Prefix;
    // The rarest token drives: its entries are read, the others checked on
    // the name each entry carries, rarest first (a check that fails ends
    // the entry's checks).
    let mut tokens_by_count = Vec::with_capacity(tokens.len());
    for t in tokens {
        let words = words_for(c, t, prefix)?;
        let persons: i64 = words.iter().map(|w| w.1).sum();
        if persons == 0 {
            return Ok(Vec::new());
        }
        tokens_by_count.push((persons, t, words));
    }
    tokens_by_count.sort_by_key(|(persons, _, _)| *persons);
    let mut tokens_by_count = tokens_by_count.into_iter();
    let Some((_, _, driving)) = tokens_by_count.next() else { return Ok(Vec::new()) };
    let words: Vec<String> = driving.into_iter().map(|w| w.0).collect();
    // The other tokens are checked by SQLite on the entry's name, in C: a
    // common word's range can hold 100,000 entries, most of them no match.
    // " word " (whole) or " prefix" found in the name, which the index
    // holds with a space at each end (schema 7).
    let others: Vec<String> = tokens_by_count.map(|(_, t, _)| if prefix { format!(" {t}") } else { format!(" {t} ") }).collect();
    let mut sql = String::from("SELECT name_key, birth_year, id FROM name_words WHERE word = ?");
    if birth_year.is_some() {
        sql.push_str(" AND birth_year = ?");
    }
    for _ in &others {
        sql.push_str(" AND instr(name_key, ?) > 0");
    }
    let mut st = c.prepare_cached(&sql)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for word in &words {
        // In the order of the placeholders.
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![word];
        if let Some(y) = &birth_year {
            values.push(y);
        }
        values.extend(others.iter().map(|o| o as &dyn rusqlite::ToSql));
        let mut rows = st.query(values.as_slice())?;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(2)?;
            // A name with two words the prefix begins is listed under both.
            if seen.insert(rowid) {
                out.push(NameCandidate { rowid, name_key: unpadded(r.get(0)?), birth_year: r.get(1)? });
                if out.len() as u32 >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}
