//! Name search against a brute-force reading of the same persons: for
//! queries drawn from a seed (whole names, given name first, prefixes, with
//! and without a birth year, words no one has), every person whose name
//! answers the query is found, nobody else is, and the best kinds of match
//! come first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vaxdesk_core::fold::fold_tokens;
use vaxdesk_core::search::SearchQuery;
use vaxdesk_core::synth;

const PERSONS: u64 = 4_000;

#[test]
fn every_query_finds_exactly_the_persons_whose_names_answer_it() {
    let t = desk();
    // Persons from a stretch of the generator no other test uses.
    let first = 770_000;
    let people: Vec<_> = (first..first + PERSONS).map(synth::person).collect();
    let events: Vec<_> = people.iter().map(synth::person_event).collect();
    t.desk.store().append_batch(&events, &[]).unwrap();
    let folded: Vec<(Vec<String>, i32, String)> = people.iter().map(|p| (fold_tokens(&p.full_name), p.birth_date.year(), p.id.to_string())).collect();

    let mut rng = StdRng::seed_from_u64(0x5EA_4C4);
    let mut compared = 0;
    for k in 0..300 {
        let p = &people[rng.random_range(0..people.len())];
        let words = fold_tokens(&p.full_name);
        let cut = |w: &String, n: usize| w[..w.len().min(n)].to_string();
        let tokens: Vec<String> = match k % 6 {
            0 => words.clone(),
            1 => vec![words[words.len() - 1].clone(), words[0].clone()],
            2 => words.iter().map(|w| cut(w, 3)).collect(),
            3 => vec![cut(&words[words.len() - 1], 2)],
            4 => vec![words[words.len() - 1].clone(), "zzq".into()],
            _ => words.iter().rev().map(|w| cut(w, 1 + k % 3)).collect(),
        };
        let year = (k % 4 == 2).then(|| p.birth_date.year());
        let q = SearchQuery { birth_year: year, per_page: 200, ..SearchQuery::new(tokens.join(" ")) };
        let page = t.desk.find(&q).unwrap();
        // Every token begins some word of the name (a whole word or an
        // exact name begins it too), in any order; the year if given.
        let expected: BTreeSet<&str> = folded
            .iter()
            .filter(|(w, y, _)| year.is_none_or(|yy| yy == *y) && tokens.iter().all(|t| w.iter().any(|x| x.starts_with(t.as_str()))))
            .map(|(_, _, id)| id.as_str())
            .collect();
        let got: Vec<String> = page.hits.iter().map(|h| h.person.id.to_string()).collect();
        assert!(page.hits.windows(2).all(|h| h[0].rank <= h[1].rank), "best kinds of match first for {q:?}");
        if page.truncated {
            // The page is all matches, of the best kinds.
            assert!(got.iter().all(|id| expected.contains(id.as_str())), "{q:?}: a person who does not answer it");
            assert_eq!(got.len(), 200.min(expected.len()), "{q:?}");
            continue;
        }
        compared += 1;
        // Every page of it.
        let mut got = got;
        for n in 1..=(page.total / 200) {
            let more = t.desk.find(&SearchQuery { page: n, ..q.clone() }).unwrap();
            got.extend(more.hits.iter().map(|h| h.person.id.to_string()));
        }
        assert_eq!(got.len(), page.total as usize, "{q:?}: pages hold every match once");
        let got: BTreeSet<&str> = got.iter().map(String::as_str).collect();
        assert_eq!(page.total as usize, expected.len(), "{q:?}");
        assert_eq!(got, expected, "{q:?}");
        if k % 6 == 0 && year.is_none() {
            assert!(got.contains(p.id.to_string().as_str()), "the person the name was taken from");
        }
    }
    assert!(compared > 150, "most queries were compared in full: {compared}");
}
