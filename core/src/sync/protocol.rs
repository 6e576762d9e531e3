//! The desk ↔ hub protocol, versioned under `/api/v1`. These types are the
//! wire format: the hub and the desk's sync client both use them, so neither
//! restates the other.

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::model::{DoseEvent, EventId, PersonEvent, PersonId, Registration, Site, SiteDesk};

pub const API: &str = "/api/v1";
/// Kinds of `Change` added after the first protocol, which this desk applies
/// and names in its pulls (`kinds=`): a hub sends them only to desks that
/// name them.
pub const NEWER_KINDS: &[&str] = &["registration"];
/// A push carries at most this many events; the hub refuses bigger batches.
pub const MAX_BATCH: usize = 500;

/// One event on the wire, tagged with its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stream", content = "event", rename_all = "snake_case")]
pub enum WireEvent {
    Person(PersonEvent),
    Dose(DoseEvent),
}

impl WireEvent {
    pub fn id(&self) -> EventId {
        match self {
            WireEvent::Person(e) => e.id,
            WireEvent::Dose(e) => e.id,
        }
    }

    pub fn person_id(&self) -> PersonId {
        match self {
            WireEvent::Person(e) => e.person.id,
            WireEvent::Dose(e) => e.person_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushBatch {
    pub events: Vec<WireEvent>,
    /// Events the desk still holds after this batch, so coordinators see
    /// who is behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    Accepted,
    /// The hub already had this event with the same content.
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResult {
    pub id: EventId,
    pub status: PushStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReply {
    /// One result per event, in the order sent.
    pub results: Vec<EventResult>,
}

/// What a desk pulls: the catalog, its site's desks, and its site's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Catalog { catalog: Catalog },
    Site { site: Site },
    Desk { desk: SiteDesk },
    Event { event: WireEvent },
    /// Two person records were found to be one person (same national id):
    /// `from` now means `into`.
    PersonMerge { from: PersonId, into: PersonId },
    /// A citizen expected at the site (the registration list).
    Registration { registration: Registration },
    /// A kind of change a newer hub sends that this desk does not know:
    /// skipped, so an older app keeps syncing what it does know.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// Pass as `since` for the next page.
    pub cursor: String,
    /// More changes are waiting beyond this page.
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    /// The desk's own device id (made on the phone at first start).
    pub device_id: String,
    #[serde(default)]
    pub device_name: Option<String>,
    /// The desk's enrollment key (random, made once, kept on the desk): a
    /// code sent again after a lost reply, or a new code after an
    /// enrollment that never completed, is answered only for the desk that
    /// sends the same key (ADR 0013).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enroll_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollReply {
    pub device_id: String,
    /// Shown once; the hub keeps only its hash.
    pub token: String,
    pub site: Site,
    pub desk: SiteDesk,
}

/// Every refusal from the hub has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_of_an_unknown_kind_is_skipped_not_refused() {
        let page: ChangesPage = serde_json::from_str(r#"{"changes":[{"type":"shift_roster","nurses":3},{"type":"person_merge","from":"0190c5a1-0000-7000-8000-000000000001","into":"0190c5a1-0000-7000-8000-000000000002"}],"cursor":"9","more":false}"#).unwrap();
        assert_eq!(page.changes[0], Change::Unknown);
        assert!(matches!(page.changes[1], Change::PersonMerge { .. }));
    }

    #[test]
    fn wire_event_is_tagged_by_stream() {
        let e = crate::model::DoseEvent {
            id: EventId::new(),
            person_id: PersonId::new(),
            site: "S".into(),
            desk: "D".into(),
            device: "dev".into(),
            kind: crate::model::DoseKind::Record,
            dose: None,
            confirmed: vec![],
            recorded_at: chrono::Utc::now(),
        };
        let json = serde_json::to_value(WireEvent::Dose(e.clone())).unwrap();
        assert_eq!(json["stream"], "dose");
        assert_eq!(serde_json::from_value::<WireEvent>(json).unwrap(), WireEvent::Dose(e));
    }
}

/// `GET /persons/{id}/certificate`: an EU-DCC certificate the hub signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateReply {
    /// The `HC1:` text the QR carries.
    pub text: String,
    pub dose_number: u32,
    pub series_doses: u32,
    /// Hex kid of the signer (first 8 bytes of the SHA-256 of its certificate).
    pub kid: String,
}
