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
    /// On the site's registration list, expected on this day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    pub page: u32,
    pub per_page: u32,
    /// Matches found and ranked.
    pub total: u32,
    /// More may match than `total` (lower-ranked kinds of match were not
    /// looked for once the page was full, or a kind hit the candidate
    /// limit): add a birth year or a word to narrow the search.
    pub truncated: bool,
    /// The desk does not hold its whole site yet (enrolled, and no pull has
    /// reached the hub's last page), or a first pull has its name index set
    /// aside (ADR 0023): a person not found may yet be on record.
    #[serde(default)]
    pub incomplete: bool,
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
    // A desk enrolled with a hub holds its site once a pull has reached the
    // hub's last page; until then, and while a first pull has the name
    // index set aside, a person not found may yet be on record.
    use crate::sync::engine::{META_HUB, META_PULLED_TO_END};
    let incomplete = store.search_index_deferred()? || (store.meta(META_HUB)?.is_some() && store.meta(META_PULLED_TO_END)?.is_none());
    let per_page = q.per_page.clamp(1, 200);
    let skip = (q.page as usize).saturating_mul(per_page as usize);
    let page = |hits: Vec<Hit>, total: usize, truncated: bool| SearchPage {
        hits,
        page: q.page,
        per_page,
        total: u32::try_from(total).unwrap_or(u32::MAX),
        truncated,
        incomplete,
    };
    let direct = |persons: Vec<Person>, by: MatchedBy| {
        let total = persons.len();
        let hits = persons.into_iter().skip(skip).take(per_page as usize).map(|p| Hit { person: p, matched_by: by, rank: 0, appointment: None }).collect();
        page(hits, total, false)
    };
    let mut found = match classify(q) {
        Kind::NationalId(n) => direct(store.person_by_national_id(&n)?.into_iter().collect(), MatchedBy::NationalId),
        Kind::Phone(p) => direct(store.persons_by_phone(&p)?, MatchedBy::Phone),
        Kind::Name { tokens, year } => {
            let (ranked, truncated) = by_name(store, &tokens, year, skip + per_page as usize)?;
            let shown: Vec<_> = ranked.iter().skip(skip).take(per_page as usize).collect();
            let persons = store.persons_at(&shown.iter().map(|c| c.1.rowid).collect::<Vec<_>>())?;
            let hits = persons.into_iter().zip(&shown).map(|(p, (rank, _))| Hit { person: p, matched_by: MatchedBy::Name, rank: *rank, appointment: None }).collect();
            page(hits, ranked.len(), truncated)
        }
    };
    // Only the page shown: one primary-key look-up per hit.
    for h in &mut found.hits {
        h.appointment = store.appointment(h.person.id)?;
    }
    Ok(found)
}

/// Every candidate found with its rank, best first, and whether more may
/// match. Kinds of match are looked up best first, each only while the page
/// asked for is not yet full: exact names (one index range: a common full
/// name ends here), then names with every word whole (ranks 1–2, which no
/// prefix-only match can outrank: when they fill the page or the candidate
/// limit, prefixes are not looked up), then every prefix match.
fn by_name(store: &Store, tokens: &[String], year: Option<i32>, wanted: usize) -> Result<(Vec<(u8, NameCandidate)>, bool)> {
    if tokens.is_empty() {
        return Ok((Vec::new(), false));
    }
    let key = tokens.join(" ");
    let mut seen = std::collections::HashSet::new();
    let mut found: Vec<NameCandidate> = Vec::new();
    let mut keep = |batch: Vec<NameCandidate>, found: &mut Vec<NameCandidate>| {
        let full = batch.len() as u32 >= CANDIDATES;
        found.extend(batch.into_iter().filter(|c| seen.insert(c.rowid)));
        full
    };
    let mut truncated = keep(store.exact_name(&key, year, CANDIDATES)?, &mut found) || found.len() >= wanted;
    if !truncated {
        truncated = keep(store.name_candidates(tokens, year, false, CANDIDATES)?, &mut found) || found.len() >= wanted;
    }
    if !truncated {
        truncated = keep(store.name_candidates(tokens, year, true, CANDIDATES)?, &mut found);
    }
    let mut ranked: Vec<(u8, NameCandidate)> = found.into_iter().map(|c| (rank(&c, tokens, &key), c)).collect();
    ranked.sort_by(|(ra, a), (rb, b)| (ra, &a.name_key, a.birth_year, a.rowid).cmp(&(rb, &b.name_key, b.birth_year, b.rowid)));
    Ok((ranked, truncated))
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
