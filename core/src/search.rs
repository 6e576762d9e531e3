//! Finding a person at the desk: by national id, by phone, or by name typed
//! without diacritics in any order (`an nguyen van` finds `Nguyễn Văn An`),
//! optionally narrowed by birth year. Results are ranked and paged.

use serde::{Deserialize, Serialize};

use crate::fold::fold_tokens;
use crate::model::Person;
use crate::store::{NameCandidate, Result, Store};
use crate::validate::normalize_phone;

/// How many index matches are ranked per search. Past this the result says
/// `truncated` and the volunteer should add a birth year or another word.
const CANDIDATES: u32 = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub text: String,
    #[serde(default)]
    pub birth_year: Option<i32>,
    #[serde(default)]
    pub page: u32,
    #[serde(default = "default_per_page")]
    pub per_page: u32,
}

fn default_per_page() -> u32 {
    20
}

impl SearchQuery {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), birth_year: None, page: 0, per_page: default_per_page() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    NationalId,
    Phone,
    Name,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub person: Person,
    pub matched_by: MatchedBy,
    /// Lower is better: 0 exact name, 1 whole words in order, 2 whole words,
    /// 3 prefixes in order, 4 prefixes.
    pub rank: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    pub page: u32,
    pub per_page: u32,
    /// Matches ranked (all of them unless `truncated`).
    pub total: u32,
    /// More matched than were ranked: narrow the search.
    pub truncated: bool,
}

enum Kind {
    NationalId(String),
    Phone(String),
    Name { tokens: Vec<String>, year: Option<i32> },
}

fn classify(q: &SearchQuery) -> Kind {
    let compact: String = q.text.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    let digits = !compact.is_empty() && compact.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit());
    if digits {
        if let Ok((phone, _)) = normalize_phone(&compact) {
            return Kind::Phone(phone);
        }
        return Kind::NationalId(compact);
    }
    let mut tokens = fold_tokens(&q.text);
    let mut year = q.birth_year;
    // "nguyen van an 1987": a four-digit word is the birth year.
    if year.is_none() {
        if let Some(pos) = tokens.iter().position(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit())) {
            year = tokens.remove(pos).parse().ok();
        }
    }
    Kind::Name { tokens, year }
}

pub fn search(store: &Store, q: &SearchQuery) -> Result<SearchPage> {
    let per_page = q.per_page.clamp(1, 200);
    let (hits, truncated) = match classify(q) {
        Kind::NationalId(n) => {
            let hits = store.person_by_national_id(&n)?.into_iter().map(|p| Hit { person: p, matched_by: MatchedBy::NationalId, rank: 0 });
            (hits.collect(), false)
        }
        Kind::Phone(p) => {
            let hits = store.persons_by_phone(&p)?.into_iter().map(|p| Hit { person: p, matched_by: MatchedBy::Phone, rank: 0 });
            (hits.collect(), false)
        }
        Kind::Name { tokens, year } => by_name(store, &tokens, year)?,
    };
    let total = u32::try_from(hits.len()).unwrap_or(u32::MAX);
    let hits = hits.into_iter().skip((q.page as usize).saturating_mul(per_page as usize)).take(per_page as usize).collect();
    Ok(SearchPage { hits, page: q.page, per_page, total, truncated })
}

fn by_name(store: &Store, tokens: &[String], year: Option<i32>) -> Result<(Vec<Hit>, bool)> {
    if tokens.is_empty() {
        return Ok((Vec::new(), false));
    }
    let key = tokens.join(" ");
    // Exact names first, then whole-word matches, then prefixes: each from
    // its own query so a broad prefix cannot crowd out a good match.
    let exact = store.exact_name(&key, year, CANDIDATES)?;
    let whole = store.name_candidates(tokens, year, false, CANDIDATES)?;
    let prefix = store.name_candidates(tokens, year, true, CANDIDATES)?;
    let truncated = prefix.len() as u32 >= CANDIDATES;
    let mut seen = std::collections::HashSet::new();
    let mut hits: Vec<Hit> = exact
        .into_iter()
        .chain(whole)
        .chain(prefix)
        .filter(|c| seen.insert(c.person.id))
        .map(|c| Hit { rank: rank(&c, tokens, &key), person: c.person, matched_by: MatchedBy::Name })
        .collect();
    hits.sort_by(|a, b| {
        (a.rank, a.person.name_key(), a.person.birth_date, a.person.id).cmp(&(b.rank, b.person.name_key(), b.person.birth_date, b.person.id))
    });
    Ok((hits, truncated))
}

fn rank(c: &NameCandidate, tokens: &[String], key: &str) -> u8 {
    if c.name_key == key {
        return 0;
    }
    let words: Vec<&str> = c.name_key.split(' ').collect();
    let whole = tokens.iter().all(|t| words.contains(&t.as_str()));
    let prefix_positions: Option<Vec<usize>> =
        tokens.iter().map(|t| words.iter().position(|w| w.starts_with(t.as_str()))).collect();
    let in_order = prefix_positions.is_some_and(|p| p.windows(2).all(|w| w[0] < w[1]));
    match (whole, in_order) {
        (true, true) => 1,
        (true, false) => 2,
        (false, true) => 3,
        (false, false) => 4,
    }
}
