//! Taking events from a desk. Each event is accepted, recognised as a
//! duplicate (same id, same content: a retried push), or rejected with a code
//! and a message; a rejection never blocks the rest of the batch. Persons with
//! the same national id at one site are merged deterministically (the older
//! id wins, whichever arrived first); persons who only look alike are listed
//! for a coordinator, never merged.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{DoseKind, Person, PersonId};
use vaxdesk_core::sync::protocol::{EventResult, PushStatus, WireEvent};
use vaxdesk_core::validate::{check_person, PersonDraft, Severity};

use crate::db::{feed, now_text, Device, Result};

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

struct Reject(&'static str, String);

pub(crate) fn ingest(tx: &Transaction<'_>, device: &Device, catalog: &Catalog, events: &[Incoming]) -> Result<Vec<EventResult>> {
    let mut results = Vec::with_capacity(events.len());
    let now = now_text();
    for inc in events {
        let id = inc.event.id();
        let existing: Option<String> =
            tx.prepare_cached("SELECT content_hash FROM events WHERE id = ?1")?.query_row([id.to_string()], |r| r.get(0)).optional()?;
        let result = match existing {
            Some(h) if h == inc.content_hash => EventResult { id, status: PushStatus::Duplicate, code: None, message: None },
            Some(_) => reject(tx, device, inc, &now, Reject("event.conflict", "an event with this id but different content is already on the hub".into()))?,
            None => match check(tx, device, catalog, &inc.event)? {
                Err(r) => reject(tx, device, inc, &now, r)?,
                Ok(()) => {
                    accept(tx, device, inc, &now)?;
                    EventResult { id, status: PushStatus::Accepted, code: None, message: None }
                }
            },
        };
        results.push(result);
    }
    Ok(results)
}

fn reject(tx: &Transaction<'_>, device: &Device, inc: &Incoming, now: &str, r: Reject) -> Result<EventResult> {
    tx.prepare_cached("INSERT INTO rejections (event_id, device, site, code, message, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![inc.event.id().to_string(), device.id, device.site, r.0, r.1, now])?;
    Ok(EventResult { id: inc.event.id(), status: PushStatus::Rejected, code: Some(r.0.to_string()), message: Some(r.1) })
}

/// The checks an event must pass. The desk validated it already; these catch
/// a desk with another catalog, a bug, or a forged request.
fn check(tx: &Transaction<'_>, device: &Device, catalog: &Catalog, e: &WireEvent) -> Result<std::result::Result<(), Reject>> {
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
            let person_known: bool = tx
                .prepare_cached("SELECT count(*) > 0 FROM persons WHERE id = ?1 AND site = ?2")?
                .query_row(params![d.person_id.to_string(), device.site], |r| r.get(0))?;
            if !person_known {
                return Ok(Err(Reject("person.unknown", format!("person_id: {} is not a person of site {}", d.person_id, device.site))));
            }
            match (&d.kind, &d.dose) {
                (DoseKind::Record | DoseKind::Amend { .. }, None) => return Ok(Err(Reject("dose.missing", "dose: a record or amend needs its content".into()))),
                (_, Some(dose)) if catalog.vaccine(&dose.vaccine).is_none() => {
                    return Ok(Err(Reject("vaccine.unknown", format!("vaccine: {:?} is not in the hub's catalog v{}", dose.vaccine, catalog.version))));
                }
                _ => {}
            }
            if let DoseKind::Amend { corrects, .. } | DoseKind::Void { corrects, .. } = &d.kind {
                let target: bool = tx
                    .prepare_cached("SELECT count(*) > 0 FROM events WHERE id = ?1 AND stream = 'dose' AND site = ?2")?
                    .query_row(params![corrects.to_string(), device.site], |r| r.get(0))?;
                if !target {
                    return Ok(Err(Reject("correction.target_unknown", format!("corrects: no dose record {corrects} at this site"))));
                }
            }
            Ok(Ok(()))
        }
    }
}

/// A person record must pass the desk's own checks (errors only: warnings
/// were the volunteer's to confirm).
fn check_person_record(p: &Person, on: chrono::NaiveDate) -> std::result::Result<(), Reject> {
    let draft = PersonDraft {
        id: Some(p.id),
        national_id: p.national_id.as_ref().map(|n| n.number.clone()),
        id_kind: p.national_id.as_ref().map(|n| n.kind),
        full_name: p.full_name.clone(),
        birth_date: p.birth_date.to_string(),
        sex: p.sex,
        phone: p.phone.clone(),
        address: p.address.clone(),
        health_insurance: p.health_insurance.clone(),
        priority_group: p.priority_group.clone(),
        source: p.source,
    };
    let (findings, _) = check_person(&draft, on);
    let first_error = findings.iter().find(|f| f.severity == Severity::Error).map(|f| Reject(f.code.as_str(), f.message.clone()));
    match first_error {
        Some(r) => Err(r),
        None => Ok(()),
    }
}

fn accept(tx: &Transaction<'_>, device: &Device, inc: &Incoming, now: &str) -> Result<()> {
    let (stream, person_id) = match &inc.event {
        WireEvent::Person(p) => ("person", p.person.id),
        WireEvent::Dose(d) => ("dose", d.person_id),
    };
    tx.prepare_cached(
        "INSERT INTO events (id, stream, site, device, person_id, content_hash, body, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![inc.event.id().to_string(), stream, device.site, device.id, person_id.to_string(), inc.content_hash, inc.body, now])?;
    let seq = tx.last_insert_rowid();
    feed(tx, Some(&device.site), Some(&device.id), "event", Some(seq), None)?;
    if let WireEvent::Person(p) = &inc.event {
        upsert_person(tx, &device.site, &p.person, now)?;
    }
    Ok(())
}

fn upsert_person(tx: &Transaction<'_>, site: &str, p: &Person, now: &str) -> Result<()> {
    let id = p.id.to_string();
    let national_id = p.national_id.as_ref().map(|n| n.number.clone());
    let birth = p.birth_date.to_string();
    let name_key = p.name_key();
    tx.prepare_cached(
        "INSERT INTO persons (id, site, national_id, name_key, birth_date) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET national_id = excluded.national_id, name_key = excluded.name_key, birth_date = excluded.birth_date",
    )?
    .execute(params![id, site, national_id, name_key, birth])?;

    if let Some(n) = &national_id {
        // Same national id at this site: one person. The smallest id (the
        // earliest UUIDv7) is kept, so every hub and every order of arrival
        // agrees.
        let mut st = tx.prepare_cached("SELECT id FROM persons WHERE national_id = ?1 AND site = ?2 AND merged_into IS NULL AND id <> ?3")?;
        let others = st.query_map(params![n, site, id], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        for other in others {
            let (from, into) = if other < id { (id.clone(), other) } else { (other, id.clone()) };
            tx.execute("UPDATE persons SET merged_into = ?2 WHERE id = ?1", params![from, into])?;
            tx.execute("UPDATE persons SET merged_into = ?2 WHERE merged_into = ?1", params![from, into])?;
            let (Ok(f), Ok(t)) = (from.parse::<PersonId>(), into.parse::<PersonId>()) else { continue };
            let body = serde_json::to_string(&Merge { from: f, into: t }).unwrap_or_default();
            feed(tx, Some(site), None, "merge", None, Some(&body))?;
        }
    }
    // Same folded name and birth date, but a different or missing id: maybe
    // one person typed twice, maybe namesakes. A coordinator decides. A few
    // candidates are enough to raise the question; a very common name with a
    // year-only birth date must not cost a scan of every namesake.
    let mut st = tx.prepare_cached(
        "SELECT id, national_id FROM persons WHERE name_key = ?1 AND birth_date = ?2 AND site = ?3 AND id <> ?4 AND merged_into IS NULL LIMIT 5",
    )?;
    let alike = st.query_map(params![name_key, birth, site, id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    for (other, other_nid) in alike {
        if other_nid.is_some() && other_nid == national_id {
            continue;
        }
        let (a, b) = if other < id { (other, id.clone()) } else { (id.clone(), other) };
        tx.prepare_cached("INSERT OR IGNORE INTO possible_duplicates (a, b, reason, found_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![a, b, "same name and birth date", now])?;
    }
    Ok(())
}

/// Follow merges to the person an id now stands for.
pub(crate) fn canonical(c: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    let row: Option<Option<String>> = c.query_row("SELECT merged_into FROM persons WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    Ok(row.map(|m| m.unwrap_or_else(|| id.to_string())))
}
