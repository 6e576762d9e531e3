//! The outbox: every event written locally gets a row here in the same
//! transaction, and keeps it until the hub accepts it. A rejected event stays
//! as `to_fix` with the hub's reason; it never blocks the rest.

use rusqlite::{params, Transaction};
use serde::{Deserialize, Serialize};

use super::{now_text, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Person,
    Dose,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Person => "person",
            Stream::Dose => "dose",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sent,
    Accepted,
    ToFix,
    /// Never to be sent: a record the hub refused, and its void, once the
    /// record was corrected by recording it afresh.
    Withdrawn,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub accepted: u64,
    pub to_fix: u64,
    #[serde(default)]
    pub withdrawn: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub event_id: String,
    pub stream: String,
    pub state: OutboxState,
    pub attempts: u32,
    pub reject_code: Option<String>,
    pub reject_message: Option<String>,
}

pub(super) fn enqueue(tx: &Transaction<'_>, event_id: &str, stream: Stream) -> Result<()> {
    tx.prepare_cached("INSERT INTO outbox (event_id, stream, updated_at) VALUES (?1, ?2, ?3)")?
        .execute(params![event_id, stream.as_str(), now_text()])?;
    Ok(())
}

fn state_of(s: &str) -> OutboxState {
    match s {
        "sent" => OutboxState::Sent,
        "accepted" => OutboxState::Accepted,
        "to_fix" => OutboxState::ToFix,
        "withdrawn" => OutboxState::Withdrawn,
        _ => OutboxState::Pending,
    }
}

/// An entry from the first seven columns: seq, event_id, stream, state,
/// attempts, reject_code, reject_message.
fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        seq: r.get(0)?,
        event_id: r.get(1)?,
        stream: r.get(2)?,
        state: state_of(&r.get::<_, String>(3)?),
        attempts: r.get(4)?,
        reject_code: r.get(5)?,
        reject_message: r.get(6)?,
    })
}

impl Store {
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT state, count(*) FROM outbox GROUP BY state")?;
            let mut counts = OutboxCounts::default();
            for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0))))? {
                let (state, n) = row?;
                match state_of(&state) {
                    OutboxState::Pending => counts.pending = n,
                    OutboxState::Sent => counts.sent = n,
                    OutboxState::Accepted => counts.accepted = n,
                    OutboxState::ToFix => counts.to_fix = n,
                    OutboxState::Withdrawn => counts.withdrawn = n,
                }
            }
            Ok(counts)
        })
    }

    /// Entries in a state, oldest first.
    pub fn outbox_entries(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEntry>> {
        let state = match state {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Accepted => "accepted",
            OutboxState::ToFix => "to_fix",
            OutboxState::Withdrawn => "withdrawn",
        };
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, event_id, stream, state, attempts, reject_code, reject_message
                 FROM outbox WHERE state = ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = st.query_map(params![state, limit], entry_from_row)?;
            rows.collect()
        })
    }
}

/// A refusal the volunteer still has to deal with, with what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToFixItem {
    pub entry: OutboxEntry,
    pub person_id: Option<String>,
    /// For a dose event: the record it belongs to (its first event's id).
    pub record_id: Option<String>,
}

impl Store {
    /// Refused events that still need the volunteer, oldest first. A refusal
    /// stops needing them once a later event about the same person or dose
    /// record was written (the correction), and a correction refused only
    /// because the record it corrects was itself refused is not listed on its
    /// own: the record's own refusal covers it.
    pub fn to_fix_open(&self, limit: u32) -> Result<Vec<ToFixItem>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT o.seq, o.event_id, o.stream, o.state, o.attempts, o.reject_code, o.reject_message,
                        COALESCE(d.person_id, p.person_id), d.root_id
                 FROM outbox o
                 LEFT JOIN dose_events d ON o.stream = 'dose' AND d.id = o.event_id
                 LEFT JOIN person_events p ON o.stream = 'person' AND p.id = o.event_id
                 WHERE o.state = 'to_fix'
                   AND NOT EXISTS (SELECT 1 FROM dose_events later WHERE d.root_id IS NOT NULL AND later.root_id = d.root_id AND later.seq > d.seq)
                   AND NOT EXISTS (SELECT 1 FROM person_events later WHERE p.person_id IS NOT NULL AND later.person_id = p.person_id AND later.seq > p.seq)
                   AND NOT (d.kind IN ('amend', 'void') AND EXISTS (
                        SELECT 1 FROM outbox ro WHERE ro.event_id = d.root_id AND ro.state = 'to_fix'))
                 ORDER BY o.seq LIMIT ?1",
            )?;
            let rows = st.query_map(params![limit], |r| {
                Ok(ToFixItem {
                    entry: entry_from_row(r)?,
                    person_id: r.get(7)?,
                    record_id: r.get(8)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Whether the hub refused this event (so it never had it).
    pub fn is_refused(&self, event_id: &str) -> Result<bool> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT count(*) FROM outbox WHERE event_id = ?1 AND state = 'to_fix'")?
                .query_row([event_id], |r| r.get(0))?;
            Ok(n > 0)
        })
    }
}
