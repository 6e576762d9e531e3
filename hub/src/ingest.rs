//! Taking events from a desk. Each event is accepted, recognised as a
//! duplicate (same id, same content: a retried push), or rejected with a code
//! and a message; a rejection never blocks the rest of the batch. Persons with
//! the same national id at one site are merged deterministically (the older
//! id wins, whichever arrived first); persons who only look alike are listed
//! for a coordinator, never merged. The rules are written once here; each
//! database backend supplies the primitives (`IngestTx`).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{DoseKind, Person, PersonId};
use vaxdesk_core::sync::protocol::{EventResult, PushStatus, WireEvent};
use vaxdesk_core::validate::{check_dose_content, check_person, Code, PersonDraft, Severity};

use crate::day_records::DayChange;
use crate::db::{Device, Result};
use crate::persons::{file_persons, PersonKeys};

/// An event as received: parsed, with its canonical JSON and that JSON's hash.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub event: WireEvent,
    pub body: String,
    pub content_hash: String,
}

impl Incoming {
    pub fn new(event: WireEvent) -> Incoming {
        // Re-serialising the parsed event gives one canonical form, so the
        // same event sent twice hashes the same whatever its whitespace.
        let body = match &event {
            WireEvent::Person(e) => serde_json::to_string(e),
            WireEvent::Dose(e) => serde_json::to_string(e),
        }
        .unwrap_or_default();
        let content_hash = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        Incoming { event, body, content_hash }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Merge {
    pub from: PersonId,
    pub into: PersonId,
}

/// A row for `events`.
#[derive(Debug)]
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub stream: &'a str,
    pub site: &'a str,
    pub device: &'a str,
    pub person_id: &'a str,
    pub content_hash: &'a str,
    pub body: &'a str,
    pub now: &'a str,
}

/// A row for `persons`.
#[derive(Debug)]
pub struct PersonRow<'a> {
    pub id: &'a str,
    pub site: &'a str,
    pub national_id: Option<&'a str>,
    pub name_key: &'a str,
    pub birth: &'a str,
}

/// A row a pushed batch adds to its site's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEntry {
    /// An accepted event (its sequence number), for the site's other desks.
    Event(i64),
    /// A merge (its JSON), for every desk of the site.
    Merge(String),
}

/// Who a person just written may be: the same (by national id) or alike.
#[derive(Debug, Default)]
pub struct PersonMatches {
    pub same_national_id: Vec<String>,
    /// (id, national id) of a few alike.
    pub alike: Vec<(String, Option<String>)>,
}

/// What the rules need from a database transaction (and what a
/// coordinator's changes, in `crate::actions`, are made of).
pub trait IngestTx {
    fn event_hash(&mut self, id: &str) -> Result<Option<String>>;
    fn person_at_site(&mut self, id: &str, site: &str) -> Result<bool>;
    /// The content hashes of those of `ids` already on the hub. A database
    /// across a network answers in one query: a batch then costs one round
    /// trip here, not one per event.
    fn event_hashes(&mut self, ids: &[String]) -> Result<HashMap<String, String>> {
        let mut found = HashMap::new();
        for id in ids {
            if let Some(h) = self.event_hash(id)? {
                found.insert(id.clone(), h);
            }
        }
        Ok(found)
    }
    /// Those of `ids` that are persons of `site` (one query where it pays).
    fn persons_at_site(&mut self, ids: &[String], site: &str) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for id in ids {
            if self.person_at_site(id, site)? {
                found.insert(id.clone());
            }
        }
        Ok(found)
    }
    fn dose_event_at_site(&mut self, id: &str, site: &str) -> Result<bool>;
    /// Insert an event; returns its sequence number.
    fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<i64>;
    fn feed(&mut self, site: Option<&str>, device: Option<&str>, kind: &str, event_seq: Option<i64>, body: Option<&str>) -> Result<()>;
    /// Insert accepted events, in order, without feed rows; their sequence
    /// numbers, in the same order. One statement where it pays.
    fn insert_events(&mut self, events: &[NewEvent<'_>]) -> Result<Vec<i64>> {
        events.iter().map(|e| self.insert_event(e)).collect()
    }
    /// Append a pushed batch's feed rows, in order, once the rest of it is
    /// written: events from `device` (not sent back to it) and merges (sent
    /// to every desk of `site`). The feed's order is the order desks apply
    /// changes in, so a database that takes several batches at once orders
    /// them here, at the end of each, not for the whole batch.
    fn append_feed(&mut self, site: &str, device: &str, entries: &[FeedEntry]) -> Result<()> {
        entries.iter().try_for_each(|e| match e {
            FeedEntry::Event(seq) => self.feed(Some(site), Some(device), "event", Some(*seq), None),
            FeedEntry::Merge(body) => self.feed(Some(site), None, "merge", None, Some(body)),
        })
    }
    fn reject(&mut self, event_id: &str, device: &str, site: &str, code: &str, message: &str, now: &str) -> Result<()>;
    fn upsert_person(&mut self, id: &str, site: &str, national_id: Option<&str>, name_key: &str, birth: &str) -> Result<()>;
    /// Who each of `rows` may be in the table as it stands, before any of
    /// them is written: unmerged persons of its site with the same national
    /// id (when it has one) and a few unmerged ones alike (folded name and
    /// birth date), its own id left out. One statement where it pays.
    fn person_matches(&mut self, rows: &[PersonRow<'_>]) -> Result<Vec<PersonMatches>> {
        rows.iter()
            .map(|p| {
                let same_national_id = match p.national_id {
                    Some(n) => self.same_national_id(n, p.site, p.id)?,
                    None => Vec::new(),
                };
                Ok(PersonMatches { same_national_id, alike: self.alike(p.name_key, p.birth, p.site, p.id)? })
            })
            .collect()
    }
    /// Write persons' rows in order (an id twice: its last row stands). One
    /// statement where it pays.
    fn upsert_persons(&mut self, rows: &[PersonRow<'_>]) -> Result<()> {
        rows.iter().try_for_each(|p| self.upsert_person(p.id, p.site, p.national_id, p.name_key, p.birth))
    }
    /// Unmerged persons of `site` with this national id, other than `except`.
    fn same_national_id(&mut self, national_id: &str, site: &str, except: &str) -> Result<Vec<String>>;
    /// `from` (and whatever was merged into it) now stands for `into`.
    fn merge(&mut self, from: &str, into: &str) -> Result<()>;
    /// A few (five) unmerged persons of `site` with this folded name and
    /// birth date: enough to raise the question; a very common name with a
    /// year-only birth date must not cost a scan of every namesake.
    fn alike(&mut self, name_key: &str, birth: &str, site: &str, except: &str) -> Result<Vec<(String, Option<String>)>>;
    fn add_duplicate(&mut self, a: &str, b: &str, reason: &str, now: &str) -> Result<()>;
    /// Close an open possible duplicate; `false` if it was not open.
    fn resolve_duplicate(&mut self, a: &str, b: &str, status: &str, by: &str, now: &str) -> Result<bool>;
    /// A person's site and the id they were merged into.
    fn person(&mut self, id: &str) -> Result<Option<(String, Option<String>)>>;
    /// A dose event's site and body.
    fn dose_event(&mut self, id: &str) -> Result<Option<(String, String)>>;
    fn audit(&mut self, e: &crate::db::AuditEntry) -> Result<()>;
    /// The latest person event's body of exactly this id.
    fn latest_person_body(&mut self, id: &str) -> Result<Option<String>>;
    /// The person a registration-list row was filed under at this site, and
    /// their appointment.
    fn registered(&mut self, site: &str, match_key: &str) -> Result<Option<(String, String)>>;
    /// File a person's registration (one per person and site; a row under
    /// the same match key for someone else gives way).
    fn put_registration(&mut self, r: &crate::registrations::RegistrationRow<'_>) -> Result<()>;
    /// The key a person's registration at a site was filed under.
    fn registration_key(&mut self, site: &str, person_id: &str) -> Result<Option<String>>;
    /// `registered` for many keys at once: key → (person, appointment).
    fn registered_many(&mut self, site: &str, keys: &[String]) -> Result<HashMap<String, (String, String)>> {
        let mut found = HashMap::new();
        for k in keys {
            if let Some(v) = self.registered(site, k)? {
                found.insert(k.clone(), v);
            }
        }
        Ok(found)
    }
    /// National id → the site's unmerged person with it (the oldest id when several).
    fn unmerged_by_national_id(&mut self, site: &str, national_ids: &[String]) -> Result<HashMap<String, String>> {
        let mut found = HashMap::new();
        for n in national_ids {
            if let Some(id) = self.same_national_id(n, site, "")?.into_iter().min() {
                found.insert(n.clone(), id);
            }
        }
        Ok(found)
    }
    /// Those of `ids` merged into another: id → the id it stands for now.
    fn merged_into_many(&mut self, ids: &[String]) -> Result<HashMap<String, String>> {
        let mut found = HashMap::new();
        for id in ids {
            if let Some((_, Some(into))) = self.person(id)? {
                found.insert(id.clone(), into);
            }
        }
        Ok(found)
    }
    /// The latest person event's body of each of `ids` that has one, from
    /// whichever site it came (as `latest_person_body`).
    fn latest_person_bodies(&mut self, ids: &[String]) -> Result<HashMap<String, String>> {
        let mut found = HashMap::new();
        for id in ids {
            if let Some(b) = self.latest_person_body(id)? {
                found.insert(id.clone(), b);
            }
        }
        Ok(found)
    }
    /// `put_registration` for many (distinct persons) whose keys no other
    /// person holds. One statement where it pays.
    fn put_registrations(&mut self, rows: &[&crate::registrations::RegistrationRow<'_>]) -> Result<()> {
        rows.iter().try_for_each(|r| self.put_registration(r))
    }
    /// Feed rows of one kind for a site's desks, bodies in order.
    fn feed_many(&mut self, site: &str, kind: &str, bodies: &[String]) -> Result<()> {
        bodies.iter().try_for_each(|b| self.feed(Some(site), None, kind, None, Some(b)))
    }
    /// Dose events after `seq`, in arrival order, at most `limit` (the day
    /// table's backfill).
    fn dose_events_after(&mut self, seq: i64, limit: u32) -> Result<Vec<crate::day_records::StoredDoseEvent>>;
    /// Bring the day table up to date with accepted dose events, in their order.
    fn apply_day_changes(&mut self, changes: &[crate::day_records::DayChange]) -> Result<()>;
    /// Start an upload's record; its id.
    fn begin_upload(&mut self, site: &str, file_name: Option<&str>, by: &str, now: &str) -> Result<i64>;
    /// Its counts and refused rows, once every row is through.
    fn finish_upload(&mut self, id: i64, t: &crate::registrations::Tally, refusals: &str) -> Result<()>;
}

struct Reject(&'static str, String);

pub(crate) fn ingest(tx: &mut dyn IngestTx, device: &Device, catalog: &Catalog, events: &[Incoming], now: &str) -> Result<Vec<EventResult>> {
    let mut results = Vec::with_capacity(events.len());
    // What the batch needs to know of the hub, asked once for the whole
    // batch, then kept up to date as its own events are accepted (a person
    // and their dose often arrive in the same batch; so may an id twice, or
    // a record and its correction).
    let ids: Vec<String> = events.iter().map(|inc| inc.event.id().to_string()).collect();
    let mut hashes = tx.event_hashes(&ids)?;
    let mut dose_persons: Vec<String> = events
        .iter()
        .filter_map(|inc| match &inc.event {
            WireEvent::Dose(d) => Some(d.person_id.to_string()),
            WireEvent::Person(_) => None,
        })
        .collect();
    dose_persons.sort_unstable();
    dose_persons.dedup();
    let mut known = Known { persons: tx.persons_at_site(&dose_persons, &device.site)?, doses: HashSet::new() };
    let mut accepted: Vec<usize> = Vec::new();
    // The accepted persons' rows, filed together after the checks (which
    // need only `known`): (index into `events`, the person's filing keys).
    let mut persons: Vec<(usize, PersonKeys)> = Vec::new();
    for (i, (inc, id_text)) in events.iter().zip(&ids).enumerate() {
        let id = inc.event.id();
        let result = match hashes.get(id_text) {
            Some(h) if *h == inc.content_hash => EventResult { id, status: PushStatus::Duplicate, code: None, message: None },
            Some(_) => reject(tx, device, inc, now, Reject("event.conflict", "an event with this id but different content is already on the hub".into()))?,
            None => match check(tx, device, catalog, &inc.event, &known)? {
                Err(r) => reject(tx, device, inc, now, r)?,
                Ok(()) => {
                    accepted.push(i);
                    hashes.insert(id_text.clone(), inc.content_hash.clone());
                    match &inc.event {
                        WireEvent::Person(p) => {
                            known.persons.insert(p.person.id.to_string());
                            persons.push((i, PersonKeys::of(&p.person)));
                        }
                        WireEvent::Dose(_) => {
                            known.doses.insert(id_text.clone());
                        }
                    }
                    EventResult { id, status: PushStatus::Accepted, code: None, message: None }
                }
            },
        };
        results.push(result);
    }
    let rows: Vec<PersonRow<'_>> = persons.iter().map(|(_, keys)| keys.row(&device.site)).collect();
    let mut merges: HashMap<usize, Vec<Merge>> =
        persons.iter().zip(file_persons(tx, &rows, now)?).filter(|(_, m)| !m.is_empty()).map(|((i, _), m)| (*i, m)).collect();
    // Accepted events are written in arrival order and fed in that order,
    // a person's merges right after the person, so a desk that pulls them
    // sees that order. The feed rows go last, together.
    let batch = Rows { device, events, ids: &ids, person_ids: events.iter().map(|inc| inc.event.person_id().to_string()).collect(), now };
    let seqs = batch.write(tx, &accepted)?;
    let mut feed: Vec<FeedEntry> = Vec::with_capacity(accepted.len());
    for (i, seq) in accepted.iter().zip(seqs) {
        feed.push(FeedEntry::Event(seq));
        if let Some(ms) = merges.remove(i) {
            feed.extend(ms.iter().map(|m| FeedEntry::Merge(serde_json::to_string(m).unwrap_or_default())));
        }
    }
    if !feed.is_empty() {
        tx.append_feed(&device.site, &device.id, &feed)?;
    }
    Ok(results)
}

/// What this batch has accepted so far, beside what the hub had before it.
struct Known {
    /// Persons of the device's site the batch's doses may name.
    persons: HashSet<String>,
    /// Dose events accepted in this batch (a correction may follow its record).
    doses: HashSet<String>,
}

/// The batch as its rows will be written.
struct Rows<'a> {
    device: &'a Device,
    events: &'a [Incoming],
    ids: &'a [String],
    person_ids: Vec<String>,
    now: &'a str,
}

impl Rows<'_> {
    /// Write the accepted events (indexes into `events`) and their day
    /// table rows; the events' sequence numbers, in the same order.
    fn write(&self, tx: &mut dyn IngestTx, accepted: &[usize]) -> Result<Vec<i64>> {
        if accepted.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<NewEvent<'_>> = accepted
            .iter()
            .map(|&i| NewEvent {
                id: &self.ids[i],
                stream: match self.events[i].event {
                    WireEvent::Person(_) => "person",
                    WireEvent::Dose(_) => "dose",
                },
                site: &self.device.site,
                device: &self.device.id,
                person_id: &self.person_ids[i],
                content_hash: &self.events[i].content_hash,
                body: &self.events[i].body,
                now: self.now,
            })
            .collect();
        let seqs = tx.insert_events(&rows)?;
        let days: Vec<DayChange> = accepted
            .iter()
            .filter_map(|&i| match &self.events[i].event {
                WireEvent::Dose(d) => DayChange::of(d, &self.device.site, self.now),
                WireEvent::Person(_) => None,
            })
            .collect();
        tx.apply_day_changes(&days)?;
        Ok(seqs)
    }
}

fn reject(tx: &mut dyn IngestTx, device: &Device, inc: &Incoming, now: &str, r: Reject) -> Result<EventResult> {
    tx.reject(&inc.event.id().to_string(), &device.id, &device.site, r.0, &r.1, now)?;
    Ok(EventResult { id: inc.event.id(), status: PushStatus::Rejected, code: Some(r.0.to_string()), message: Some(r.1) })
}

/// The checks an event must pass. The desk validated it already; these catch
/// a desk with another catalog, a bug, or a forged request.
fn check(tx: &mut dyn IngestTx, device: &Device, catalog: &Catalog, e: &WireEvent, known: &Known) -> Result<std::result::Result<(), Reject>> {
    let sender = match e {
        WireEvent::Person(p) => &p.device,
        WireEvent::Dose(d) => &d.device,
    };
    if sender != &device.id {
        return Ok(Err(Reject("scope.device", format!("device: sent by {} but recorded as from another device", device.id))));
    }
    match e {
        WireEvent::Person(p) => Ok(check_person_record(&p.person, p.recorded_at.date_naive())),
        WireEvent::Dose(d) => {
            if d.site != device.site {
                return Ok(Err(Reject("scope.site", format!("site: this device belongs to {}, the event to {}", device.site, d.site))));
            }
            if !known.persons.contains(&d.person_id.to_string()) {
                return Ok(Err(Reject("person.unknown", format!("person_id: {} is not a person of site {}", d.person_id, device.site))));
            }
            match (&d.kind, &d.dose) {
                (DoseKind::Record | DoseKind::Amend { .. }, None) => return Ok(Err(Reject("dose.missing", "dose: a record or amend needs its content".into()))),
                (_, Some(dose)) => {
                    if let Err(r) = check_dose_record(catalog, dose, &d.confirmed) {
                        return Ok(Err(r));
                    }
                }
                _ => {}
            }
            if let DoseKind::Amend { corrects, .. } | DoseKind::Void { corrects, .. } = &d.kind {
                let target = corrects.to_string();
                if !known.doses.contains(&target) && !tx.dose_event_at_site(&target, &device.site)? {
                    return Ok(Err(Reject("correction.target_unknown", format!("corrects: no dose record {corrects} at this site"))));
                }
            }
            Ok(Ok(()))
        }
    }
}

/// How far ahead of the hub's clock a dose may be dated: phones' clocks run
/// fast by minutes or hours; a day more is a wrong date, not a wrong clock.
const PHONE_CLOCK_SKEW_HOURS: i64 = 24;

/// A dose's content must pass the desk's own checks that need no desk
/// state (the core's [`check_dose_content`]: time bounds, dose number,
/// vaccine, lot), by the hub's catalog and clock. Errors refuse it; a lot
/// the hub's catalog does not know passes only if the volunteer confirmed
/// it (`lot.unknown` among the event's confirmations), as the desk asked.
fn check_dose_record(catalog: &Catalog, dose: &vaxdesk_core::model::Dose, confirmed: &[String]) -> std::result::Result<(), Reject> {
    let now = chrono::Utc::now().fixed_offset();
    let findings = check_dose_content(catalog, dose, now, chrono::Duration::hours(PHONE_CLOCK_SKEW_HOURS));
    let refused = findings.iter().find(|f| {
        f.severity == Severity::Error || f.code == Code::LotUnknown && !confirmed.iter().any(|c| c == Code::LotUnknown.as_str())
    });
    match refused {
        Some(f) => Err(Reject(f.code.as_str(), f.message.clone())),
        None => Ok(()),
    }
}

/// A person record must pass the desk's own checks (errors only: warnings
/// were the volunteer's to confirm).
fn check_person_record(p: &Person, on: chrono::NaiveDate) -> std::result::Result<(), Reject> {
    let (findings, _) = check_person(&PersonDraft::from(p), on);
    let first_error = findings.iter().find(|f| f.severity == Severity::Error).map(|f| Reject(f.code.as_str(), f.message.clone()));
    match first_error {
        Some(r) => Err(r),
        None => Ok(()),
    }
}
