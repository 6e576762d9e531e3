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

/// A query for `name` in one of three styles by `k`: the whole name, given
/// name first, two-letter prefixes; a page large enough to hold every match.
fn styled_query(k: usize, name: &str) -> SearchQuery {
    let words = fold_tokens(name);
    let text = match k % 3 {
        0 => words.join(" "),
        1 => format!("{} {}", words[words.len() - 1], words[0]),
        _ => words.iter().map(|w| &w[..w.len().min(2)]).collect::<Vec<_>>().join(" "),
    };
    SearchQuery { per_page: 500, ..SearchQuery::new(text) }
}

/// The definitions of the name-search indexes and triggers, as SQLite has them.
fn search_schema(path: &std::path::Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = c.prepare("SELECT name, sql FROM sqlite_schema WHERE tbl_name IN ('persons', 'name_words', 'name_word_counts') AND sql IS NOT NULL ORDER BY name").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<rusqlite::Result<_>>().unwrap()
}

#[test]
fn search_indexes_set_aside_for_a_first_pull_come_back_whole_even_after_the_app_is_killed() {
    // Two desks get the same persons: `plain` the usual way, `bulk` partly
    // while its search indexes are set aside (as a first pull does), then is
    // closed without restoring them (the app killed) and opened again.
    let plain = desk();
    let bulk = desk();
    let before = search_schema(&bulk.path());
    let first = 810_000;
    let mut people: Vec<_> = (first..first + 1_500).map(synth::person).collect();
    let events: Vec<_> = people.iter().map(synth::person_event).collect();
    let (early, late) = events.split_at(500);
    for t in [&plain, &bulk] {
        t.desk.store().append_batch(early, &[]).unwrap();
    }
    let one = SearchQuery::new(people[3].full_name.clone());
    assert!(!bulk.desk.find(&one).unwrap().hits.is_empty());

    assert!(bulk.desk.store().defer_search_index().unwrap());
    assert!(!bulk.desk.store().defer_search_index().unwrap(), "already set aside");
    assert!(bulk.desk.store().search_index_deferred().unwrap());
    // While set aside, a whole name is still found (a scan), words and
    // beginnings of words are not.
    assert!(!bulk.desk.find(&one).unwrap().hits.is_empty());
    let prefix: Vec<String> = fold_tokens(&people[3].full_name).iter().map(|w| w[..w.len().min(2)].to_string()).collect();
    assert!(!plain.desk.find(&SearchQuery::new(prefix.join(" "))).unwrap().hits.is_empty());
    let away = bulk.desk.find(&SearchQuery::new(prefix.join(" "))).unwrap();
    assert!(away.hits.is_empty(), "the word index is away");
    assert!(away.incomplete, "and the page says names may be missing");
    assert!(!plain.desk.find(&one).unwrap().incomplete);
    // Persons arrive; one of the early ones changes name (the update path).
    let mut renamed = people[7].clone();
    renamed.full_name = "Đặng Thị Ngọc Hân".into();
    let mut rename = synth::person_event(&renamed);
    rename.id = vaxdesk_core::model::EventId::new();
    people[7] = renamed;
    for t in [&plain, &bulk] {
        t.desk.store().append_batch(late, &[]).unwrap();
        t.desk.store().append_batch(std::slice::from_ref(&rename), &[]).unwrap();
    }
    let path = bulk.path();
    let TestDesk { dir: _keep, desk: killed } = bulk;
    drop(killed);
    let reopened = open_at(&path);
    assert!(!reopened.store().search_index_deferred().unwrap(), "opening a store left set aside builds the indexes again");
    assert!(!reopened.find(&one).unwrap().incomplete);
    assert_eq!(search_schema(&path), before, "the same indexes and triggers, word for word");

    // Every query answers the same on both desks.
    let mut rng = StdRng::seed_from_u64(0xB01C);
    for k in 0..200 {
        let p = &people[rng.random_range(0..people.len())];
        let q = styled_query(k, &p.full_name);
        let ids = |d: &vaxdesk_core::desk::Desk| d.find(&q).unwrap().hits.iter().map(|h| h.person.id.to_string()).collect::<BTreeSet<_>>();
        let want = ids(&plain.desk);
        assert!(!want.is_empty(), "{q:?} finds its own person");
        assert_eq!(ids(&reopened), want, "{q:?}");
    }
    let old_name = SearchQuery::new(fold_tokens(&synth::person(first + 7).full_name).join(" "));
    let ids = |d: &vaxdesk_core::desk::Desk| d.find(&old_name).unwrap().hits.iter().map(|h| h.person.id).collect::<Vec<_>>();
    assert!(!ids(&reopened).contains(&people[7].id), "a renamed person is not found under the old name");
    assert_eq!(ids(&reopened), ids(&plain.desk));
    // And the file is sound after the rebuild.
    assert_eq!(reopened.store().integrity_check().unwrap(), Ok(()));
}

#[test]
fn a_first_pull_cut_short_under_schema_6_is_made_whole_by_the_upgrade() {
    // A desk at schema 6 takes in persons, sets its search indexes aside for
    // a first pull, takes in more, and the app is killed; the new app opens
    // it. The store must come out as one made today: schema 7's padded
    // index and triggers (not the kept schema-6 ones), every person found.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v6.db");
    let first = 830_000;
    let mut people: Vec<_> = (first..first + 900).map(synth::person).collect();
    let events: Vec<_> = people.iter().map(synth::person_event).collect();
    // Written as the app of schema 6 wrote them (today's writer writes
    // schema 8's rows).
    let opts = vaxdesk_core::store::OpenOptions { target_version: 6, ..Default::default() };
    drop(vaxdesk_core::desk::Desk::open_with(&old, &opts).unwrap());
    write_before_schema_8(&old, &events[..300], &[]);
    {
        let desk = vaxdesk_core::desk::Desk::open_with(&old, &opts).unwrap();
        assert!(desk.store().defer_search_index().unwrap());
    }
    write_before_schema_8(&old, &events[300..], &[]);
    let today = desk();
    today.desk.store().append_batch(&events, &[]).unwrap();

    let upgraded = open_at(&old);
    assert_eq!(upgraded.store().schema_version().unwrap(), vaxdesk_core::store::LATEST_VERSION);
    assert!(!upgraded.store().search_index_deferred().unwrap());
    assert_eq!(search_schema(&old), search_schema(&today.path()), "the indexes and triggers of a store made today, word for word");

    // A rename after the upgrade goes through today's triggers.
    let mut renamed = people[11].clone();
    renamed.full_name = "Đặng Thị Ngọc Hân".into();
    let mut rename = synth::person_event(&renamed);
    rename.id = vaxdesk_core::model::EventId::new();
    let old_name = SearchQuery::new(fold_tokens(&people[11].full_name).join(" "));
    people[11] = renamed;
    for d in [&upgraded, &today.desk] {
        d.store().append_batch(std::slice::from_ref(&rename), &[]).unwrap();
    }
    let ids = |d: &vaxdesk_core::desk::Desk, q: &SearchQuery| d.find(q).unwrap().hits.iter().map(|h| h.person.id.to_string()).collect::<BTreeSet<_>>();
    assert!(!ids(&upgraded, &old_name).contains(&people[11].id.to_string()), "not found under the old name");
    let mut rng = StdRng::seed_from_u64(0x5C7);
    for k in 0..120 {
        let p = &people[rng.random_range(0..people.len())];
        let q = styled_query(k, &p.full_name);
        let want = ids(&today.desk, &q);
        assert!(want.contains(&p.id.to_string()), "{q:?} finds its own person");
        assert_eq!(ids(&upgraded, &q), want, "{q:?}");
    }
    assert_eq!(upgraded.store().integrity_check().unwrap(), Ok(()));
}
