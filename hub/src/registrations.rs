//! A site's registration list: who registered (on the national health app,
//! or with their commune) to come on which day. A coordinator uploads the
//! platform's CSV or XLSX; every row is checked by the core's person rules
//! and answered (accepted, or refused with its row, column and reason); each
//! accepted row files the person — new, updated, or unchanged — and their
//! appointment, and both go into the site's feed, so its desks find a
//! registered citizen before anything is typed. The same list uploaded
//! again adds nobody twice (rows are recognised by `match_key`). Blocking:
//! call from the blocking pool.

use std::collections::HashMap;
use std::io::Cursor;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use vaxdesk_core::fold::fold;
use vaxdesk_core::model::{BirthDate, EventId, Person, PersonEvent, PersonId, PersonSource, Registration, Sex};
use vaxdesk_core::sync::protocol::WireEvent;
use vaxdesk_core::validate::{check_person, PersonDraft, Severity};

use crate::actions::HUB_DEVICE;
use crate::db::{now_text, Coordinator, HubDb};
use crate::error::{HubError, HubResult};
use crate::ingest::{FeedEntry, Incoming, IngestTx, NewEvent, PersonRow};
use crate::persons::{file_persons, PersonKeys};

/// Rows filed per transaction: a failure (or a restart) mid-list keeps the
/// rows before it, and the desks' pulls are not held up behind one huge
/// transaction. A list sent again after a failure files only what is missing.
const CHUNK: usize = 500;
/// The most rows one upload takes (a district's list is tens of thousands).
pub const MAX_ROWS: usize = 200_000;

/// The platform's columns. `required` ones must be present in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Birth,
    Sex,
    NationalId,
    Phone,
    HealthInsurance,
    PriorityGroup,
    Appointment,
}

const COLUMNS: [(Column, &str, bool); 8] = [
    (Column::Name, "Họ và tên", true),
    (Column::Birth, "Ngày sinh", true),
    (Column::Sex, "Giới tính", false),
    (Column::NationalId, "Số CMND/CCCD", false),
    (Column::Phone, "Số điện thoại", false),
    (Column::HealthInsurance, "Số thẻ BHYT", false),
    (Column::PriorityGroup, "Nhóm ưu tiên", false),
    (Column::Appointment, "Ngày hẹn tiêm", true),
];

impl Column {
    fn header(self) -> &'static str {
        COLUMNS.iter().find(|c| c.0 == self).map_or("", |c| c.1)
    }

    /// The column a finding of the core's person rules is about.
    fn of_field(field: &str) -> Option<Column> {
        Some(match field {
            "full_name" => Column::Name,
            "birth_date" => Column::Birth,
            "sex" => Column::Sex,
            "national_id" => Column::NationalId,
            "phone" => Column::Phone,
            "health_insurance" => Column::HealthInsurance,
            "priority_group" => Column::PriorityGroup,
            _ => return None,
        })
    }
}

/// Why a whole list was refused (a row's problems are its own result).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the list is empty: a header row with the platform's column names is needed")]
    Empty,
    #[error("the list is not UTF-8 at byte {byte} (line {line}): save it as \"CSV UTF-8\" or as XLSX")]
    NotUtf8 { byte: usize, line: usize },
    #[error("column {0:?} is missing from the header row (found: {1})")]
    MissingColumn(&'static str, String),
    #[error("column {0:?} appears twice in the header row")]
    DuplicateColumn(&'static str),
    #[error("line {line}: {detail}")]
    Csv { line: u64, detail: String },
    #[error("the XLSX file could not be read: {0}")]
    Xlsx(String),
    #[error("at most {MAX_ROWS} rows in one list, this one has more: split it by day or commune")]
    TooManyRows,
}

/// One cell as read: text, and whether a spreadsheet stored it as a number
/// (which loses an id's or a phone's leading zero).
#[derive(Debug, Clone, Default, PartialEq)]
struct Cell {
    text: String,
    numeric: bool,
}

/// A row of the list: its number as the coordinator's spreadsheet shows it
/// (the header is row 1) and its cells.
struct RawRow {
    number: u64,
    cells: Vec<Cell>,
}

/// What one row came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowResult {
    pub row: u64,
    pub status: RowStatus,
    /// The row's name as the list has it, to find the row by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// The column refused (its header as in the list) and the core's field name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Accepted, but worth a look (an unknown phone prefix, a leading zero restored, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// A person the site did not have.
    Added,
    /// A person (or their appointment) the row changed.
    Updated,
    /// Already filed exactly so (the same list again).
    Unchanged,
    Refused,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub rows: u64,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub refused: u64,
}

impl Tally {
    fn count(&mut self, s: RowStatus) {
        self.rows += 1;
        match s {
            RowStatus::Added => self.added += 1,
            RowStatus::Updated => self.updated += 1,
            RowStatus::Unchanged => self.unchanged += 1,
            RowStatus::Refused => self.refused += 1,
        }
    }
}

/// The answer to an upload.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub upload: i64,
    pub site: String,
    #[serde(flatten)]
    pub tally: Tally,
    /// Header cells that are none of the platform's columns (kept out).
    pub ignored_columns: Vec<String>,
    pub results: Vec<RowResult>,
}

/// A row for `registrations`.
#[derive(Debug)]
pub struct RegistrationRow<'a> {
    pub site: &'a str,
    pub person_id: &'a str,
    pub match_key: &'a str,
    pub appointment: &'a str,
    pub upload: i64,
    pub now: &'a str,
}

/// A row that passed the checks: the person as the list has them.
struct Checked {
    person: Person,
    appointment: NaiveDate,
    warnings: Vec<String>,
}

impl Checked {
    /// What the row is known by when the list comes again: the national id;
    /// without one, the folded name, birth date and phone.
    fn match_key(&self) -> String {
        match &self.person.national_id {
            Some(n) => format!("id:{}", n.number),
            None => format!("nb:{}|{}|{}", self.person.name_key(), self.person.birth_date, self.person.phone.as_deref().unwrap_or("")),
        }
    }
}

/// Read, check and file a list for `site`. A list refused as a whole files
/// nothing; otherwise every row has its result, in order.
pub fn import(db: &HubDb, who: &Coordinator, site: &str, file_name: Option<&str>, bytes: &[u8], today: NaiveDate) -> HubResult<Result<ImportReport, ListError>> {
    if !who.may_see(site) {
        return Err(HubError::forbidden(format!("site {site} is not one of yours")));
    }
    if db.site(site)?.is_none() {
        return Err(HubError::not_found("site"));
    }
    let (header, mut rows) = match read_rows(bytes) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let layout = match Layout::of(&header) {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    let now = now_text();
    let mut upload = 0i64;
    in_tx(db, |tx| {
        upload = tx.begin_upload(site, file_name, &who.username, &now)?;
        Ok(())
    })?;
    let mut tally = Tally::default();
    let mut results: Vec<RowResult> = Vec::new();
    // Person → the row key that claimed them in this upload.
    let mut claimed: HashMap<String, String> = HashMap::new();
    let mut chunk: Vec<RawRow> = Vec::with_capacity(CHUNK);
    loop {
        chunk.clear();
        for row in rows.by_ref().take(CHUNK) {
            match row {
                Ok(r) => chunk.push(r),
                // Not reached after `read_rows`' first pass; the rows filed so far stay.
                Err(e) => return Ok(Err(e)),
            }
        }
        if chunk.is_empty() {
            break;
        }
        let checked: Vec<(u64, Result<Checked, Box<RowResult>>)> = chunk.iter().map(|r| (r.number, layout.check(r, today))).collect();
        let mut filed: Vec<RowResult> = Vec::with_capacity(checked.len());
        let good: Vec<&Checked> = checked.iter().filter_map(|(_, c)| c.as_ref().ok()).collect();
        in_tx(db, |tx| {
            filed.clear();
            let mut done = file_chunk(tx, site, upload, &good, &mut claimed, &now)?.into_iter();
            for (number, c) in &checked {
                filed.push(match c {
                    Err(refused) => (**refused).clone(),
                    Ok(c) => done.next().map_or_else(|| refused_internally(*number), |f| f.into_result(*number, c)),
                });
            }
            Ok(())
        })?;
        for r in filed {
            tally.count(r.status);
            results.push(r);
        }
    }
    // A big list changes the tables' shape: let the planner know (PostgreSQL).
    if tally.added + tally.updated >= 2_000 {
        db.after_bulk_load()?;
    }
    let refusals: Vec<&RowResult> = results.iter().filter(|r| r.status == RowStatus::Refused).take(1000).collect();
    let refusals = serde_json::to_string(&refusals).unwrap_or_else(|_| "[]".into());
    in_tx(db, |tx| {
        tx.finish_upload(upload, &tally, &refusals)?;
        tx.audit(&crate::db::AuditEntry {
            at: now.clone(),
            coordinator: who.username.clone(),
            action: "registrations.upload".into(),
            site: Some(site.into()),
            subject: upload.to_string(),
            detail: format!("{} rows: {} added, {} updated, {} unchanged, {} refused", tally.rows, tally.added, tally.updated, tally.unchanged, tally.refused),
        })
    })?;
    let ignored_columns = layout.ignored;
    Ok(Ok(ImportReport { upload, site: site.into(), tally, ignored_columns, results }))
}

/// Never expected: `file_chunk` answers every row it is given.
fn refused_internally(row: u64) -> RowResult {
    RowResult { row, status: RowStatus::Refused, name: None, person_id: None, column: None, field: None, reason: Some("not filed (internal error)".into()), warnings: Vec::new() }
}

fn in_tx(db: &HubDb, mut f: impl FnMut(&mut dyn IngestTx) -> crate::db::Result<()>) -> HubResult<()> {
    db.in_tx(&mut |tx| f(tx)).map_err(Into::into)
}

/// What filing a row did.
struct Filed {
    status: RowStatus,
    person_id: PersonId,
    kept: Vec<String>,
    /// Refused when filed: the column, the field and why.
    refused: Option<(Column, &'static str, String)>,
}

impl Filed {
    fn refuse(col: Column, field: &'static str, reason: String) -> Filed {
        Filed { status: RowStatus::Refused, person_id: PersonId(uuid::Uuid::nil()), kept: Vec::new(), refused: Some((col, field, reason)) }
    }

    fn into_result(self, row: u64, c: &Checked) -> RowResult {
        if let Some((col, field, reason)) = self.refused {
            return RowResult { row, status: RowStatus::Refused, name: Some(c.person.full_name.clone()), person_id: None, column: Some(col.header().into()), field: Some(field.into()), reason: Some(reason), warnings: Vec::new() };
        }
        let mut warnings = c.warnings.clone();
        warnings.extend(self.kept);
        RowResult { row, status: self.status, name: Some(c.person.full_name.clone()), person_id: Some(self.person_id.to_string()), column: None, field: None, reason: None, warnings }
    }
}

/// File a chunk of checked rows in one transaction. For each row: find the
/// person (filed before under the same key, else the site's person with
/// this national id, else the one person alike without one), write their
/// record when new or changed, then their appointment; each change goes
/// into the site's feed. The look-ups and writes are one statement per kind
/// for the whole chunk where the database is across a socket (PostgreSQL):
/// a round trip per row made 100,000 rows take minutes.
fn file_chunk(tx: &mut dyn IngestTx, site: &str, upload: i64, rows: &[&Checked], claimed: &mut HashMap<String, String>, now: &str) -> crate::db::Result<Vec<Filed>> {
    let keys: Vec<String> = rows.iter().map(|c| c.match_key()).collect();
    let before = tx.registered_many(site, &keys)?;
    let national_ids: Vec<String> = rows.iter().zip(&keys).filter(|(_, k)| !before.contains_key(*k)).filter_map(|(c, _)| c.person.national_id.as_ref().map(|n| n.number.clone())).collect();
    let by_national_id = tx.unmerged_by_national_id(site, &national_ids)?;
    // The person each row is about, as far as the hub knew before this chunk.
    let mut found: Vec<Option<String>> = Vec::with_capacity(rows.len());
    for (c, key) in rows.iter().zip(&keys) {
        found.push(match (before.get(key), &c.person.national_id) {
            (Some((id, _)), _) => Some(id.clone()),
            (None, Some(n)) => by_national_id.get(&n.number).cloned(),
            // Looked for in order below, once the rows before have claimed theirs.
            (None, None) => None,
        });
    }
    // Follow merges to the person an id now stands for.
    let ids: Vec<String> = found.iter().flatten().cloned().collect();
    let merged = tx.merged_into_many(&ids)?;
    for f in found.iter_mut().flatten() {
        if let Some(into) = merged.get(f) {
            *f = into.clone();
        }
    }
    let ids: Vec<String> = found.iter().flatten().cloned().collect();
    let mut on_file: HashMap<String, Person> = tx
        .latest_person_bodies(&ids)?
        .into_iter()
        .filter_map(|(id, body)| serde_json::from_str::<PersonEvent>(&body).ok().map(|e| (id, e.person)))
        .collect();

    // Rows decided in order; a person twice in the chunk (a list with a row
    // repeated) is found by the later row under the id the earlier one gave.
    let mut given: HashMap<String, String> = HashMap::new();
    let mut filed = Vec::with_capacity(rows.len());
    let mut persons: Vec<Person> = Vec::new();
    let mut registrations: Vec<(usize, Registration)> = Vec::new();
    for (i, (c, key)) in rows.iter().zip(&keys).enumerate() {
        let id_key = c.person.national_id.as_ref().map(|n| format!("id:{}", n.number)).unwrap_or_else(|| key.clone());
        let mut found = found[i].clone().or_else(|| given.get(key).or_else(|| given.get(&id_key)).cloned());
        if found.is_none() && c.person.national_id.is_none() {
            found = alike_unclaimed(tx, site, c, key, claimed)?;
            if let Some(id) = &found {
                if let Some(body) = tx.latest_person_body(id)? {
                    if let Ok(e) = serde_json::from_str::<PersonEvent>(&body) {
                        on_file.insert(id.clone(), e.person);
                    }
                }
            }
        }
        let old = found.as_ref().and_then(|id| on_file.get(id));
        if found.is_some() && old.is_none() {
            filed.push(Filed::refuse(Column::Name, "full_name", "the person on record for this row could not be read on the hub: nothing was changed".into()));
            continue;
        }
        // The same number on record for someone else entirely: a typing
        // slip in the list, or in the record. Not for the hub to decide.
        if let (Some(old), Some(n)) = (old, &c.person.national_id) {
            if old.name_key() != c.person.name_key() && old.birth_date != c.person.birth_date {
                filed.push(Filed::refuse(
                    Column::NationalId,
                    "national_id",
                    format!("{} is on record at this site for a person with another name and birth date: check the row, or the record", n.number),
                ));
                continue;
            }
        }
        let (person, kept) = match old {
            Some(old) => {
                let (mut p, kept) = updated(old, &c.person);
                p.id = old.id;
                (p, kept)
            }
            None => {
                let id = found.as_ref().and_then(|id| id.parse().ok()).unwrap_or_default(); // a new UUIDv7
                (Person { id, ..c.person.clone() }, Vec::new())
            }
        };
        let person_id = person.id.to_string();
        given.insert(key.clone(), person_id.clone());
        given.insert(id_key, person_id.clone());
        claimed.insert(person_id.clone(), key.clone());
        let changed = on_file.get(&person_id) != Some(&person);
        if changed {
            on_file.insert(person_id.clone(), person.clone());
            persons.retain(|p| p.id != person.id);
            persons.push(person.clone());
        }
        let appointment = c.appointment.to_string();
        let same_registration = before.get(key).is_some_and(|(id, day)| *id == person_id && *day == appointment);
        if !same_registration {
            registrations.retain(|(_, r)| r.person_id != person.id);
            registrations.push((i, Registration { person_id: person.id, site: site.into(), appointment: c.appointment }));
        }
        let status = if found.is_none() {
            RowStatus::Added
        } else if changed || !same_registration {
            RowStatus::Updated
        } else {
            RowStatus::Unchanged
        };
        filed.push(Filed { status, person_id: person.id, kept, refused: None });
    }

    // The persons' rows (and who each may be: the same national id, or alike).
    let person_keys: Vec<PersonKeys> = persons.iter().map(PersonKeys::of).collect();
    let rows_for_db: Vec<PersonRow<'_>> = person_keys.iter().map(|keys| keys.row(site)).collect();
    let merges = file_persons(tx, &rows_for_db, now)?;
    // Their events, and the feed rows that hand them to the site's desks.
    let events: Vec<(String, String, Incoming)> = persons
        .iter()
        .map(|p| {
            let e = PersonEvent { id: EventId::new(), person: p.clone(), device: HUB_DEVICE.into(), confirmed: Vec::new(), recorded_at: Utc::now() };
            (e.id.to_string(), p.id.to_string(), Incoming::new(WireEvent::Person(e)))
        })
        .collect();
    let new_events: Vec<NewEvent<'_>> = events
        .iter()
        .map(|(id, person_id, inc)| NewEvent { id, stream: "person", site, device: HUB_DEVICE, person_id, content_hash: &inc.content_hash, body: &inc.body, now })
        .collect();
    let seqs = tx.insert_events(&new_events)?;
    // Same national id: one person (the smallest id kept, as ingest
    // does), fed to the desks after the persons' events.
    let feed: Vec<FeedEntry> = seqs
        .into_iter()
        .map(FeedEntry::Event)
        .chain(merges.into_iter().flatten().map(|m| FeedEntry::Merge(serde_json::to_string(&m).unwrap_or_default())))
        .collect();
    if !feed.is_empty() {
        tx.append_feed(site, HUB_DEVICE, &feed)?;
    }
    // The appointments, then their feed rows.
    let texts: Vec<(String, String, String)> = registrations.iter().map(|(i, r)| (r.person_id.to_string(), keys[*i].clone(), r.appointment.to_string())).collect();
    let regs: Vec<RegistrationRow<'_>> = texts.iter().map(|(p, k, d)| RegistrationRow { site, person_id: p, match_key: k, appointment: d, upload, now }).collect();
    // A key held by someone else (a row that now names another person) gives
    // way one row at a time; the rest, the usual case, go in one statement.
    let (displacing, plain): (Vec<&RegistrationRow<'_>>, Vec<&RegistrationRow<'_>>) =
        regs.iter().partition(|r| before.get(r.match_key).is_some_and(|(holder, _)| holder != r.person_id));
    for r in displacing {
        tx.put_registration(r)?;
    }
    tx.put_registrations(&plain)?;
    let bodies: Vec<String> = registrations.iter().map(|(_, r)| serde_json::to_string(r).unwrap_or_default()).collect();
    tx.feed_many(site, "registration", &bodies)?;
    Ok(filed)
}

/// For a row without a national id and not filed before: the one person of
/// the site alike (same folded name and birth date) without a national id,
/// unless they already stand for another row of a list (filed under another
/// key before, or claimed by another row of this upload) — then the row is
/// someone new (the pair lands among possible duplicates), not a guess that
/// would fold two namesakes into one.
fn alike_unclaimed(tx: &mut dyn IngestTx, site: &str, c: &Checked, key: &str, claimed: &HashMap<String, String>) -> crate::db::Result<Option<String>> {
    let mut free = Vec::new();
    for (id, national_id) in tx.alike(&c.person.name_key(), &c.person.birth_date.to_string(), site, "")? {
        if national_id.is_some() || claimed.get(&id).is_some_and(|k| k != key) {
            continue;
        }
        if tx.registration_key(site, &id)?.is_some_and(|k| k != key) {
            continue;
        }
        free.push(id);
    }
    // Namesakes born the same day: which one is meant is not for the hub to guess.
    Ok(if free.len() == 1 { free.pop() } else { None })
}

/// The person on file updated by a list's row. The list is typed by a
/// commune; a record from a scanned card is trusted more, so its name,
/// birth date, sex and id stay (said in the row's warnings when they
/// differ); contact details and the rest come from the list when it has them.
fn updated(old: &Person, row: &Person) -> (Person, Vec<String>) {
    let mut p = old.clone();
    let mut kept = Vec::new();
    if old.source == PersonSource::Manual {
        p.full_name = row.full_name.clone();
        p.birth_date = row.birth_date;
        p.sex = row.sex.or(old.sex);
        p.national_id = row.national_id.clone().or_else(|| old.national_id.clone());
    } else {
        let scanned = "kept from the scanned card";
        if old.full_name != row.full_name {
            kept.push(format!("{}: {:?} {scanned} (the list says {:?})", Column::Name.header(), old.full_name, row.full_name));
        }
        if old.birth_date != row.birth_date {
            kept.push(format!("{}: {} {scanned} (the list says {})", Column::Birth.header(), old.birth_date, row.birth_date));
        }
        p.sex = old.sex.or(row.sex);
        p.national_id = old.national_id.clone().or_else(|| row.national_id.clone());
    }
    p.phone = row.phone.clone().or_else(|| old.phone.clone());
    p.health_insurance = row.health_insurance.clone().or_else(|| old.health_insurance.clone());
    p.priority_group = row.priority_group.clone().or_else(|| old.priority_group.clone());
    (p, kept)
}

/// Where each of the platform's columns is in this list.
struct Layout {
    at: Vec<(Column, usize)>,
    ignored: Vec<String>,
}

impl Layout {
    fn of(header: &[Cell]) -> Result<Layout, ListError> {
        let mut at = Vec::new();
        let mut ignored = Vec::new();
        for (i, cell) in header.iter().enumerate() {
            let name = cell.text.trim();
            if name.is_empty() {
                continue;
            }
            // Accents, case and spacing vary between exports ("Ho va ten", "SỐ CMND/CCCD").
            let key = header_key(name);
            match COLUMNS.iter().find(|c| header_key(c.1) == key) {
                Some((col, label, _)) => {
                    if at.iter().any(|(c, _)| c == col) {
                        return Err(ListError::DuplicateColumn(label));
                    }
                    at.push((*col, i));
                }
                None => ignored.push(name.to_string()),
            }
        }
        for (col, label, required) in COLUMNS {
            if required && !at.iter().any(|(c, _)| *c == col) {
                let found = header.iter().map(|c| c.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(", ");
                return Err(ListError::MissingColumn(label, if found.is_empty() { "nothing".into() } else { found }));
            }
        }
        Ok(Layout { at, ignored })
    }

    fn cell<'a>(&self, row: &'a RawRow, col: Column) -> Option<&'a Cell> {
        let i = self.at.iter().find(|(c, _)| *c == col)?.1;
        row.cells.get(i).filter(|c| !c.text.trim().is_empty())
    }

    /// Check one row by the core's rules; a refusal names the first column at fault.
    fn check(&self, row: &RawRow, today: NaiveDate) -> Result<Checked, Box<RowResult>> {
        let refuse = |col: Column, field: &str, reason: String| Box::new(RowResult {
            row: row.number,
            status: RowStatus::Refused,
            name: self.cell(row, Column::Name).map(|c| c.text.trim().chars().take(80).collect()),
            person_id: None,
            column: Some(col.header().into()),
            field: Some(field.into()),
            reason: Some(reason),
            warnings: Vec::new(),
        });
        let mut warnings = Vec::new();
        let text = |col: Column| self.cell(row, col).map(|c| c.text.trim().to_string());

        let birth = match self.cell(row, Column::Birth) {
            None => return Err(refuse(Column::Birth, "birth_date", "a birth date is required".into())),
            Some(c) => match day_or_year(&c.text) {
                Some(b) => b,
                None => return Err(refuse(Column::Birth, "birth_date", format!("dd/mm/yyyy, yyyy-mm-dd or yyyy expected, got {:?}", c.text.trim()))),
            },
        };
        let appointment = match self.cell(row, Column::Appointment) {
            None => return Err(refuse(Column::Appointment, "appointment", "an appointment day is required".into())),
            Some(c) => match day_or_year(&c.text) {
                Some(BirthDate::Full(d)) => d,
                _ => return Err(refuse(Column::Appointment, "appointment", format!("dd/mm/yyyy or yyyy-mm-dd expected, got {:?}", c.text.trim()))),
            },
        };
        let sex = match text(Column::Sex).map(|s| fold(&s)) {
            None => None,
            Some(s) if s == "nam" || s == "male" || s == "m" => Some(Sex::Male),
            Some(s) if s == "nu" || s == "female" || s == "f" => Some(Sex::Female),
            Some(_) => return Err(refuse(Column::Sex, "sex", format!("Nam or Nữ expected, got {:?}", text(Column::Sex).unwrap_or_default()))),
        };
        // A spreadsheet that stored an id or a phone as a number dropped its
        // leading zero: a CCCD is 12 digits and starts with 0 (the province),
        // a mobile number is 10 and starts with 0.
        let restore = |col: Column, lengths: &[(usize, usize)], warnings: &mut Vec<String>| {
            let c = self.cell(row, col)?;
            let t = c.text.trim().to_string();
            if c.numeric && t.bytes().all(|b| b.is_ascii_digit()) {
                if let Some((_, want)) = lengths.iter().find(|(have, _)| *have == t.len()) {
                    let padded = format!("{t:0>want$}");
                    warnings.push(format!("{}: stored as a number, leading zero restored ({padded})", col.header()));
                    return Some(padded);
                }
            }
            Some(t)
        };
        let national_id = restore(Column::NationalId, &[(11, 12), (10, 12), (8, 9)], &mut warnings);
        let phone = restore(Column::Phone, &[(9, 10)], &mut warnings);
        let draft = PersonDraft {
            national_id,
            full_name: text(Column::Name).unwrap_or_default(),
            birth_date: birth.to_string(),
            sex,
            phone,
            health_insurance: text(Column::HealthInsurance),
            priority_group: text(Column::PriorityGroup),
            source: PersonSource::Manual,
            ..PersonDraft::default()
        };
        let (findings, person) = check_person(&draft, today);
        if let Some(f) = findings.iter().find(|f| f.severity == Severity::Error) {
            let col = Column::of_field(&f.field).unwrap_or(Column::Name);
            return Err(refuse(col, &f.field, f.message.clone()));
        }
        warnings.extend(findings.iter().filter(|f| f.severity == Severity::Warning).map(|f| f.message.clone()));
        let Some(person) = person else { return Err(refuse(Column::Name, "full_name", "the person could not be read".into())) };
        Ok(Checked { person, appointment, warnings })
    }
}

fn header_key(s: &str) -> String {
    fold(s).chars().filter(|c| c.is_alphanumeric()).collect()
}

/// `dd/mm/yyyy` (also `d/m/yyyy`, `dd-mm-yyyy`, `dd.mm.yyyy`), ISO
/// `yyyy-mm-dd`, or a year alone; a spreadsheet's date cell arrives as ISO.
fn day_or_year(s: &str) -> Option<BirthDate> {
    let s = s.trim();
    let s = s.split_once(['T', ' ']).map_or(s, |(d, _)| d);
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(BirthDate::Full(d));
    }
    for sep in ['/', '-', '.'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if let [d, m, y] = parts[..] {
            if y.len() == 4 && d.len() <= 2 && m.len() <= 2 {
                let (d, m, y) = (d.parse().ok()?, m.parse().ok()?, y.parse().ok()?);
                return NaiveDate::from_ymd_opt(y, m, d).map(BirthDate::Full);
            }
        }
    }
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().map(BirthDate::Year);
    }
    None
}

/// The data rows of a list (blank rows dropped), read as they are filed: a
/// CSV a row at a time, so a long list is never held whole beside its bytes;
/// a spreadsheet as calamine reads it, whole.
enum Rows<'a> {
    Csv { reader: csv::Reader<&'a [u8]>, record: csv::StringRecord, number: u64 },
    Sheet(std::vec::IntoIter<RawRow>),
}

impl Iterator for Rows<'_> {
    type Item = Result<RawRow, ListError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let row = match self {
                Rows::Sheet(rows) => rows.next()?,
                Rows::Csv { reader, record, number } => {
                    match reader.read_record(record) {
                        Ok(false) => return None,
                        Ok(true) => {}
                        Err(e) => return Some(Err(ListError::Csv { line: e.position().map_or(0, |p| p.line()), detail: e.to_string() })),
                    }
                    // The row as a spreadsheet numbers it (a quoted cell over two lines is still one row).
                    *number += 1;
                    RawRow { number: *number, cells: record.iter().map(|t| Cell { text: t.to_string(), numeric: false }).collect() }
                }
            };
            if row.cells.iter().any(|c| !c.text.trim().is_empty()) {
                return Some(Ok(row));
            }
        }
    }
}

/// The header and the data rows of a CSV or an XLSX file. A list too long,
/// or with a CSV syntax error anywhere, is refused here, before any row is filed.
fn read_rows(bytes: &[u8]) -> Result<(Vec<Cell>, Rows<'_>), ListError> {
    // An XLSX file is a zip archive.
    if bytes.starts_with(b"PK\x03\x04") {
        let (header, rows) = read_xlsx(bytes)?;
        return Ok((header.ok_or(ListError::Empty)?, Rows::Sheet(rows.into_iter())));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let byte = e.valid_up_to();
        let line = bytes[..byte].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(ListError::NotUtf8 { byte, line });
    }
    // Excel in a Vietnamese locale separates with ';' (the comma is the
    // decimal mark there): the header line says which.
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t'].into_iter().max_by_key(|d| first_line.iter().filter(|b| *b == d).count()).unwrap_or(b',');
    let reader = || csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(bytes);
    // A first pass counts the rows and finds any syntax error, keeping nothing.
    let mut check = reader();
    let mut record = csv::ByteRecord::new();
    let mut count = 0usize;
    loop {
        match check.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => count += 1,
            Err(e) => return Err(ListError::Csv { line: e.position().map_or(0, |p| p.line()), detail: e.to_string() }),
        }
        if record.len() > MAX_COLUMNS as usize {
            return Err(ListError::Csv { line: record.position().map_or(0, |p| p.line()), detail: format!("{} cells in a row: at most {MAX_COLUMNS}", record.len()) });
        }
        if count > MAX_ROWS + 1 {
            return Err(ListError::TooManyRows);
        }
    }
    let mut reader = reader();
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Err(ListError::Empty),
        Err(e) => return Err(ListError::Csv { line: 1, detail: e.to_string() }),
    }
    let header = record.iter().map(|t| Cell { text: t.to_string(), numeric: false }).collect();
    Ok((header, Rows::Csv { reader, record, number: 1 }))
}

/// A sheet's columns beyond this are refused: the platform's list has eight.
const MAX_COLUMNS: u32 = 64;
/// What a list's XLSX archive may hold once inflated, in all (a 40 MB upload of
/// text compresses about tenfold) and per byte of the upload.
const MAX_INFLATED: u64 = 512 * 1024 * 1024;
const MAX_RATIO: u64 = 200;

/// A refusal before calamine inflates anything: an archive whose entries
/// would grow past the limits (a zip bomb) never reaches it.
fn check_archive(bytes: &[u8]) -> Result<(), ListError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ListError::Xlsx(e.to_string()))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| ListError::Xlsx(e.to_string()))?;
        total = total.saturating_add(entry.size());
    }
    if total > MAX_INFLATED || total > (bytes.len() as u64).saturating_mul(MAX_RATIO) {
        return Err(ListError::Xlsx(format!("the archive would inflate to {total} bytes from {}: refused", bytes.len())));
    }
    Ok(())
}

fn read_xlsx(bytes: &[u8]) -> Result<(Option<Vec<Cell>>, Vec<RawRow>), ListError> {
    use calamine::{DataRef, Reader, Xlsx};
    check_archive(bytes)?;
    let bad = |e: calamine::XlsxError| ListError::Xlsx(e.to_string());
    let mut book: Xlsx<Cursor<&[u8]>> = calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(bad)?;
    let first = book.sheet_names().first().cloned().ok_or_else(|| ListError::Xlsx("the workbook has no sheet".into()))?;
    // Cell by cell, not calamine's whole-sheet grid: a sheet with a cell at
    // A1 and one at XFD1048576 would make that grid 17 billion cells.
    let mut cells = book.worksheet_cells_reader(&first).map_err(bad)?;
    let mut rows: Vec<(u32, Vec<Cell>)> = Vec::new();
    while let Some(c) = cells.next_cell().map_err(bad)? {
        let (r, col) = c.get_position();
        if col >= MAX_COLUMNS {
            return Err(ListError::Xlsx(format!("a cell in column {} (row {}): at most {MAX_COLUMNS} columns", col + 1, r + 1)));
        }
        if r as usize > MAX_ROWS + 1 {
            return Err(ListError::TooManyRows);
        }
        let cell = match c.get_value() {
            DataRef::Empty => continue,
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell { text: s.clone(), numeric: false },
            DataRef::SharedString(s) => Cell { text: (*s).to_string(), numeric: false },
            DataRef::Int(n) => Cell { text: n.to_string(), numeric: true },
            // Whole numbers (ids, phones) arrive as floats: no ".0".
            DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Cell { text: format!("{}", *f as i64), numeric: true },
            DataRef::Float(f) => Cell { text: f.to_string(), numeric: true },
            DataRef::Bool(b) => Cell { text: b.to_string(), numeric: false },
            DataRef::DateTime(d) => Cell { text: d.as_datetime().map(|t| t.date().to_string()).unwrap_or_else(|| d.to_string()), numeric: false },
            DataRef::Error(e) => Cell { text: format!("#{e:?}"), numeric: false },
        };
        // Cells come row by row, left to right.
        if rows.last().is_none_or(|(last, _)| *last != r) {
            rows.push((r, Vec::new()));
        }
        if let Some((_, row)) = rows.last_mut() {
            let col = col as usize;
            if col >= row.len() {
                row.resize(col + 1, Cell::default());
            }
            row[col] = cell;
        }
    }
    let mut rows = rows.into_iter();
    let header = rows.next().map(|(_, h)| h);
    // Rows as the spreadsheet numbers them (from 1).
    Ok((header, rows.map(|(r, cells)| RawRow { number: u64::from(r) + 1, cells }).collect()))
}

impl From<ListError> for HubError {
    fn from(e: ListError) -> Self {
        HubError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "registrations.list", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[&str]) -> Vec<Cell> {
        v.iter().map(|t| Cell { text: (*t).into(), numeric: false }).collect()
    }

    #[test]
    fn headers_match_without_accents_case_or_spacing_and_missing_ones_are_named() {
        let l = Layout::of(&cells(&["STT", "HO VA TEN", "ngày sinh", "Số CMND / CCCD", "Ngày hẹn tiêm"])).unwrap();
        assert_eq!(l.ignored, vec!["STT".to_string()]);
        assert!(l.at.contains(&(Column::NationalId, 3)));
        let e = Layout::of(&cells(&["Họ và tên", "Ngày sinh"])).err().unwrap();
        assert!(matches!(e, ListError::MissingColumn("Ngày hẹn tiêm", _)), "{e}");
        assert!(matches!(Layout::of(&cells(&["Họ và tên", "Ho va ten", "Ngày sinh", "Ngày hẹn tiêm"])), Err(ListError::DuplicateColumn("Họ và tên"))));
    }

    #[test]
    fn days_read_in_the_platforms_forms_and_nonsense_is_none() {
        let d = |y, m, dd| Some(BirthDate::Full(NaiveDate::from_ymd_opt(y, m, dd).unwrap()));
        assert_eq!(day_or_year("05/03/1990"), d(1990, 3, 5));
        assert_eq!(day_or_year("5/3/1990"), d(1990, 3, 5));
        assert_eq!(day_or_year("1990-03-05"), d(1990, 3, 5));
        assert_eq!(day_or_year("1990-03-05T00:00:00"), d(1990, 3, 5));
        assert_eq!(day_or_year("1990"), Some(BirthDate::Year(1990)));
        assert_eq!(day_or_year("31/02/1990"), None);
        assert_eq!(day_or_year("03/05/90"), None);
        assert_eq!(day_or_year("hôm qua"), None);
    }

    #[test]
    fn a_csv_not_in_utf8_is_refused_naming_the_byte_and_line() {
        let mut bytes = "Họ và tên,Ngày sinh,Ngày hẹn tiêm\nL".as_bytes().to_vec();
        bytes.push(0xEA); // "ê" in Windows-1258
        bytes.extend_from_slice(b" Van A,01/01/1990,02/12/2026\n");
        match read_rows(&bytes) {
            Err(ListError::NotUtf8 { byte, line }) => assert_eq!((byte, line), (bytes.iter().position(|&b| b == 0xEA).unwrap(), 2)),
            other => panic!("{:?}", other.map(|(h, r)| (h, r.count()))),
        }
    }

    #[test]
    fn an_unclosed_quote_is_one_cell_and_too_many_rows_refuse_the_list_before_any_row() {
        // An unclosed quote runs to the end of the file as one cell: that row
        // is then refused for its missing dates, the rows before it are filed.
        let bad = "Họ và tên,Ngày sinh,Ngày hẹn tiêm\nA,1990,02/12/2026\n\"B,1990,02/12/2026\n";
        let (_, rows) = read_rows(bad.as_bytes()).unwrap();
        let rows: Vec<RawRow> = rows.collect::<Result<_, _>>().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].number, rows[1].cells.len()), (3, 1));
        let mut long = String::from("Họ và tên,Ngày sinh,Ngày hẹn tiêm\n");
        for _ in 0..=MAX_ROWS {
            long.push_str("A,1990,02/12/2026\n");
        }
        assert!(matches!(read_rows(long.as_bytes()), Err(ListError::TooManyRows)));
    }

    #[test]
    fn a_sheet_too_wide_or_an_archive_that_inflates_too_far_is_refused_before_it_is_read() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "Họ và tên").unwrap();
        // One cell far to the right: calamine's grid would hold every cell between.
        sheet.write_string(5, 16_000, "x").unwrap();
        let wide = book.save_to_buffer().unwrap();
        match read_rows(&wide) {
            Err(ListError::Xlsx(m)) => assert!(m.contains("column 16001"), "{m}"),
            other => panic!("{:?}", other.map(|(h, _)| h)),
        }
        // An entry of 300 MB of zeros compresses to ~300 kB.
        let mut zipped = Vec::new();
        {
            let mut w = zip_writer(&mut zipped);
            w.start_file("xl/sharedStrings.xml", zip::write::SimpleFileOptions::default()).unwrap();
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..300 {
                std::io::Write::write_all(&mut w, &zeros).unwrap();
            }
            w.finish().unwrap();
        }
        match check_archive(&zipped) {
            Err(ListError::Xlsx(m)) => assert!(m.contains("inflate"), "{m}"),
            other => panic!("{other:?} ({} bytes)", zipped.len()),
        }
        // A real list passes.
        assert!(check_archive(&wide).is_ok());
    }

    fn zip_writer(out: &mut Vec<u8>) -> zip::ZipWriter<Cursor<&mut Vec<u8>>> {
        zip::ZipWriter::new(Cursor::new(out))
    }

    #[test]
    fn semicolons_and_a_byte_order_mark_are_read() {
        let (header, rows) = read_rows("\u{FEFF}Họ và tên;Ngày sinh;Ngày hẹn tiêm\r\nLê Văn Hà;01/01/1990;02/12/2026\r\n;;\r\n".as_bytes()).unwrap();
        let rows: Vec<RawRow> = rows.collect::<Result<_, _>>().unwrap();
        assert_eq!(header[0].text, "Họ và tên");
        assert_eq!(rows.len(), 1, "the blank row is dropped");
        assert_eq!((rows[0].number, rows[0].cells[0].text.as_str()), (2, "Lê Văn Hà"));
    }
}
