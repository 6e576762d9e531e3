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
        self.read_with(|c| person_where(c, "id = ?1", &id.to_string()))
    }

    pub fn person_by_national_id(&self, number: &str) -> Result<Option<Person>> {
        self.read_with(|c| person_where(c, "national_id = ?1", number))
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
            let mut st = c.prepare_cached("SELECT body FROM persons WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3")?;
            let bodies = st.query_map(params![prefix, end, limit], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            bodies.iter().map(|b| from_json("persons", b)).collect()
        })
    }

    pub fn persons_by_phone(&self, phone: &str) -> Result<Vec<Person>> {
        self.read_with(|c| {
            let mut st = c.prepare_cached("SELECT body FROM persons WHERE phone = ?1 ORDER BY name_key LIMIT 50")?;
            let bodies = st.query_map([phone], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            bodies.iter().map(|b| from_json("persons", b)).collect()
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
            let mut st = c.prepare_cached("SELECT body FROM persons ORDER BY rowid LIMIT ?1 OFFSET ?2")?;
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            let rows = st.query_map(params![limit, offset], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?
        .iter()
        .map(|b| from_json("persons", b))
        .collect()
    }
}

fn person_where(c: &Connection, cond: &str, value: &str) -> Result<Option<Person>> {
    let sql = format!("SELECT body FROM persons WHERE {cond}");
    let body: Option<String> = c.prepare_cached(&sql)?.query_row([value], |r| r.get(0)).optional()?;
    body.map(|b| from_json("persons", &b)).transpose()
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
    let inserted = tx
        .prepare_cached(
            "INSERT INTO person_events (id, person_id, body, recorded_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![event_id, id, json(e), e.recorded_at.to_rfc3339()])?;
    if inserted == 0 {
        return Err(StoreError::Duplicate { what: "event", value: event_id });
    }
    tx.prepare_cached(
        "INSERT INTO persons (id, national_id, phone, name_key, birth_year, head_event, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET national_id = excluded.national_id, phone = excluded.phone,
             name_key = excluded.name_key, birth_year = excluded.birth_year,
             head_event = excluded.head_event, body = excluded.body",
    )?
    .execute(params![id, national_id, p.phone, p.name_key(), p.birth_date.year(), event_id, json(p)])?;
    match origin {
        Origin::Local => outbox::enqueue(tx, &event_id, outbox::Stream::Person),
        Origin::Hub => Ok(()),
    }
}
