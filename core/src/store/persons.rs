//! Person events and the `persons` projection.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::sync::Origin;
use super::{from_json, json, outbox, Result, Store, StoreError};
use crate::model::{Person, PersonEvent, PersonId};

impl Store {
    /// Append a person event, update the person's current state and queue
    /// the event for the hub, in one transaction.
    pub fn append_person_event(&self, e: &PersonEvent) -> Result<()> {
        self.write(|tx| insert_person_event(tx, e))
    }

    pub fn person(&self, id: PersonId) -> Result<Option<Person>> {
        self.read_with(|c| person_where(c, "p.id = ?1", &id.to_string()))
    }

    pub fn person_by_national_id(&self, number: &str) -> Result<Option<Person>> {
        self.read_with(|c| person_where(c, "p.national_id = ?1", number))
    }

    /// Persons whose id starts with `prefix` (lower-case hex and dashes),
    /// at most `limit`: a tester may type the first characters of an id.
    /// The id is the primary key, so this is a range scan.
    pub fn persons_by_id_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<Person>> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Ok(Vec::new());
        }
        // Every id character sorts below '~': [prefix, prefix + "~") is the range.
        let end = format!("{prefix}~");
        self.read_with(|c| {
            let mut st = c.prepare_cached(&format!("{PERSON_AT_HEAD} WHERE p.id >= ?1 AND p.id < ?2 ORDER BY p.id LIMIT ?3"))?;
            let bodies = st.query_map(params![prefix, end, limit], person_at_head)?.collect::<rusqlite::Result<Vec<_>>>()?;
            bodies.into_iter().map(person_of_head).collect()
        })
    }

    pub fn persons_by_phone(&self, phone: &str) -> Result<Vec<Person>> {
        self.read_with(|c| {
            let mut st = c.prepare_cached(&format!("{PERSON_AT_HEAD} WHERE p.phone = ?1 ORDER BY p.name_key LIMIT 50"))?;
            let bodies = st.query_map([phone], person_at_head)?.collect::<rusqlite::Result<Vec<_>>>()?;
            bodies.into_iter().map(person_of_head).collect()
        })
    }

    /// Every event about a person, oldest first.
    pub fn person_events(&self, id: PersonId) -> Result<Vec<PersonEvent>> {
        self.read_with(|c| {
            let mut st = c.prepare_cached("SELECT body FROM person_events WHERE person_id = ?1 ORDER BY seq")?;
            let bodies = st.query_map([id.to_string()], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            bodies.iter().map(|b| from_json("person_events", b)).collect()
        })
    }

    pub fn person_count(&self) -> Result<u64> {
        self.read(|c| super::count(c, "SELECT count(*) FROM persons"))
    }

    /// Person and dose events held (saved here or pulled from the site).
    pub fn event_count(&self) -> Result<u64> {
        self.read(|c| super::count(c, "SELECT (SELECT count(*) FROM person_events) + (SELECT count(*) FROM dose_events)"))
    }

    /// The persons on record, oldest first, a page at a time.
    pub fn persons_page(&self, offset: u64, limit: u32) -> Result<Vec<Person>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!("{PERSON_AT_HEAD} ORDER BY p.rowid LIMIT ?1 OFFSET ?2"))?;
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            let rows = st.query_map(params![limit, offset], person_at_head)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?
        .into_iter()
        .map(person_of_head)
        .collect()
    }
}

/// A person as their latest event left them. The projection row keeps that
/// event's `seq`, not a copy of its content (schema 8, ADR 0039); the left
/// join keeps a row whose event is missing, to be reported, not skipped.
pub(super) const PERSON_AT_HEAD: &str = "SELECT p.id, e.body FROM persons p LEFT JOIN person_events e ON e.seq = p.head_seq";

/// A row read by [`PERSON_AT_HEAD`]: the person's id and their latest event.
pub(super) type PersonAtHead = (String, Option<String>);

pub(super) fn person_at_head(r: &rusqlite::Row<'_>) -> rusqlite::Result<PersonAtHead> {
    Ok((r.get(0)?, r.get(1)?))
}

/// The person of a row read by [`PERSON_AT_HEAD`].
pub(super) fn person_of_head((id, body): PersonAtHead) -> Result<Person> {
    let body = body.ok_or_else(|| StoreError::BadRow { table: "persons", detail: format!("the latest event of person {id} is missing") })?;
    Ok(from_json::<PersonEvent>("person_events", &body)?.person)
}

fn person_where(c: &Connection, cond: &str, value: &str) -> Result<Option<Person>> {
    let sql = format!("{PERSON_AT_HEAD} WHERE {cond}");
    let row = c.prepare_cached(&sql)?.query_row([value], person_at_head).optional()?;
    row.map(person_of_head).transpose()
}

pub(super) fn insert_person_event(tx: &Transaction<'_>, e: &PersonEvent) -> Result<()> {
    insert_person_event_from(tx, e, Origin::Local)
}

/// Write a person event and its projection; queue it for the hub only when
/// it was made here.
pub(super) fn insert_person_event_from(tx: &Transaction<'_>, e: &PersonEvent, origin: Origin) -> Result<()> {
    let p = &e.person;
    let id = p.id.to_string();
    let event_id = e.id.to_string();
    let national_id = p.national_id.as_ref().map(|n| n.number.clone());
    if let Some(n) = &national_id {
        let holder: Option<String> =
            tx.prepare_cached("SELECT id FROM persons WHERE national_id = ?1")?.query_row([n], |r| r.get(0)).optional()?;
        if holder.is_some_and(|h| h != id) {
            return Err(StoreError::Duplicate { what: "national_id", value: n.clone() });
        }
    }
    let seq: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO person_events (id, person_id, body, recorded_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING RETURNING seq",
        )?
        .query_row(params![event_id, id, json(e), e.recorded_at.to_rfc3339()], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else {
        return Err(StoreError::Duplicate { what: "event", value: event_id });
    };
    tx.prepare_cached(
        "INSERT INTO persons (id, national_id, phone, name_key, birth_year, head_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET national_id = excluded.national_id, phone = excluded.phone,
             name_key = excluded.name_key, birth_year = excluded.birth_year, head_seq = excluded.head_seq",
    )?
    .execute(params![id, national_id, p.phone, p.name_key(), p.birth_date.year(), seq])?;
    match origin {
        Origin::Local => outbox::enqueue(tx, &event_id, outbox::Stream::Person),
        Origin::Hub => Ok(()),
    }
}
