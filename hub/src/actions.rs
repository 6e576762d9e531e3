//! What a coordinator changes by hand: merging or dismissing a possible
//! duplicate, correcting a dose, and the audit entry each of them leaves.
//! Each change is one transaction over the same primitives ingest uses, and
//! each goes into the feed, so desks of the site learn of it at their next
//! pull. Blocking: call from the blocking pool.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{derive_history, Dose, DoseEvent, DoseKind, DoseRecord, EventId, Person, PersonEvent, PersonId};
use vaxdesk_core::sync::protocol::WireEvent;
use vaxdesk_core::correction::{self, CorrectionContext, CorrectionPlan};
use vaxdesk_core::validate::{CorrectionTarget, Findings};

use crate::db::{now_text, AuditEntry, Coordinator, DbError, HubDb, PossibleDuplicate};
use crate::error::{HubError, HubResult};
use crate::ingest::{Incoming, IngestTx, Merge, NewEvent};

/// The device name hub-made events carry (no desk has it).
pub const HUB_DEVICE: &str = "hub";

/// Run a database call (one of these actions, say) on the blocking pool.
pub async fn blocking<T: Send + 'static>(s: &crate::AppState, f: impl FnOnce(&HubDb) -> HubResult<T> + Send + 'static) -> HubResult<T> {
    let db = s.db.clone();
    tokio::task::spawn_blocking(move || f(&db)).await?
}

/// Record what a coordinator did, outside any other change.
pub fn audit(db: &HubDb, who: &Coordinator, action: &str, site: Option<&str>, subject: &str, detail: &str) -> HubResult<()> {
    let e = entry(who, action, site, subject, detail);
    change(db, |tx| Ok(tx.audit(&e)?))
}

fn entry(who: &Coordinator, action: &str, site: Option<&str>, subject: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        at: now_text(),
        coordinator: who.username.clone(),
        action: action.into(),
        site: site.map(Into::into),
        subject: subject.into(),
        detail: detail.into(),
    }
}

/// A person as the hub knows them: their latest record and their doses as
/// they stand (merged persons' included).
#[derive(Debug, Clone)]
pub struct PersonFile {
    pub site: String,
    pub person: Person,
    pub doses: Vec<DoseRecord>,
    /// Every dose event, for the record ids a correction may point at.
    pub events: Vec<DoseEvent>,
}

/// Read a person's file; `None` if the hub does not know them.
pub fn person_file(db: &HubDb, id: &str) -> HubResult<Option<PersonFile>> {
    let canonical = db.canonical_person(id)?.unwrap_or_else(|| id.to_string());
    let Some((site, rows)) = db.person_events(&canonical)? else { return Ok(None) };
    Ok(fold_person(&canonical, site, rows.iter().map(|(s, b)| (s.as_str(), b.as_str()))))
}

/// Fold `(stream, body)` rows of one person into their file. The latest
/// record of the canonical id wins; a merged id's record is used only when
/// the canonical one has none.
pub fn fold_person<'a>(canonical: &str, site: String, rows: impl Iterator<Item = (&'a str, &'a str)>) -> Option<PersonFile> {
    let (mut own, mut other): (Option<Person>, Option<Person>) = (None, None);
    let mut events = Vec::new();
    for (stream, body) in rows {
        if stream == "person" {
            let Ok(e) = serde_json::from_str::<PersonEvent>(body) else { continue };
            if e.person.id.to_string() == canonical { own = Some(e.person) } else { other = Some(e.person) }
        } else if let Ok(e) = serde_json::from_str::<DoseEvent>(body) {
            events.push(e);
        }
    }
    let mut person = own.or(other)?;
    if let Ok(id) = canonical.parse::<PersonId>() {
        person.id = id;
    }
    let mut doses = derive_history(&events);
    for d in &mut doses {
        d.person_id = person.id;
    }
    Some(PersonFile { site, person, doses, events })
}

/// Run `f` as one transaction; a refusal from `f` rolls it all back.
fn change<T>(db: &HubDb, mut f: impl FnMut(&mut dyn IngestTx) -> HubResult<T>) -> HubResult<T> {
    let mut out = None;
    let done = db.in_tx(&mut |tx| match f(tx) {
        Ok(v) => {
            out = Some(Ok(v));
            Ok(())
        }
        Err(e) => {
            out = Some(Err(e));
            Err(DbError::Abandoned)
        }
    });
    match (done, out) {
        (Ok(()), Some(v)) | (Err(DbError::Abandoned), Some(v)) => v,
        (Err(e), _) => Err(e.into()),
        (Ok(()), None) => Err(HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "hub.internal", "change ran no step")),
    }
}

/// A possible duplicate with the two persons' files as far as the hub has them.
#[derive(Debug, Clone)]
pub struct DuplicatePair {
    pub pair: PossibleDuplicate,
    pub a: Option<PersonFile>,
    pub b: Option<PersonFile>,
}

/// The possible duplicates a coordinator may see: those of their sites.
pub fn duplicates_for(db: &HubDb, who: &Coordinator) -> HubResult<Vec<PossibleDuplicate>> {
    Ok(db.possible_duplicates()?.into_iter().filter(|d| who.may_see(d.site.as_deref().unwrap_or_default())).collect())
}

/// [`duplicates_for`], each with the two persons' files (for the page).
pub fn visible_duplicates(db: &HubDb, who: &Coordinator) -> HubResult<Vec<DuplicatePair>> {
    duplicates_for(db, who)?
        .into_iter()
        .map(|pair| Ok(DuplicatePair { a: person_file(db, &pair.a)?, b: person_file(db, &pair.b)?, pair }))
        .collect()
}

/// Merge two persons listed as possible duplicates: `keep` stays, the
/// other becomes an alias of it everywhere (hub and desks).
pub fn merge_duplicate(db: &HubDb, who: &Coordinator, a: &str, b: &str, keep: &str) -> HubResult<()> {
    if keep != a && keep != b {
        return Err(HubError::bad_request("duplicate.keep", "keep: must be one of the two persons"));
    }
    let from = if keep == a { b } else { a };
    let (Ok(f), Ok(k)) = (from.parse::<PersonId>(), keep.parse::<PersonId>()) else {
        return Err(HubError::bad_request("duplicate.id", "person ids must be UUIDs"));
    };
    change(db, |tx| {
        let site = open_pair(tx, who, a, b)?;
        if !tx.resolve_duplicate(a, b, "merged", &who.username, &now_text())? {
            return Err(HubError::new(StatusCode::CONFLICT, "duplicate.closed", "this pair was already decided"));
        }
        tx.merge(from, keep)?;
        let body = serde_json::to_string(&Merge { from: f, into: k }).unwrap_or_default();
        tx.feed(Some(&site), None, "merge", None, Some(&body))?;
        tx.audit(&entry(who, "person.merge", Some(&site), &format!("{from} -> {keep}"), "possible duplicate merged"))?;
        Ok(())
    })
}

/// Close a possible duplicate as two different people.
pub fn dismiss_duplicate(db: &HubDb, who: &Coordinator, a: &str, b: &str) -> HubResult<()> {
    change(db, |tx| {
        let site = open_pair(tx, who, a, b)?;
        if !tx.resolve_duplicate(a, b, "dismissed", &who.username, &now_text())? {
            return Err(HubError::new(StatusCode::CONFLICT, "duplicate.closed", "this pair was already decided"));
        }
        tx.audit(&entry(who, "person.dismiss_duplicate", Some(&site), &format!("{a} / {b}"), "not the same person"))?;
        Ok(())
    })
}

/// Both persons exist at one site the coordinator may see; returns it.
fn open_pair(tx: &mut dyn IngestTx, who: &Coordinator, a: &str, b: &str) -> HubResult<String> {
    let (Some((sa, _)), Some((sb, _))) = (tx.person(a)?, tx.person(b)?) else { return Err(HubError::not_found("person")) };
    if sa != sb || !who.may_see(&sa) {
        return Err(HubError::not_found("person"));
    }
    Ok(sa)
}

/// What a coordinator does to a dose record.
#[derive(Debug, Clone)]
pub enum Correction {
    Amend(Dose),
    Void,
}

/// A coordinator's correction of one record, at the time `now` (passed in so
/// tests choose the clock).
#[derive(Debug, Clone)]
pub struct CorrectionRequest {
    pub record: EventId,
    pub correction: Correction,
    pub reason: String,
    pub confirmed: Vec<String>,
    pub now: DateTime<Utc>,
}

/// Amend or void a dose record from the hub. Checked like a desk's
/// correction (reason, live target, and for an amend the dose rules against
/// the person's other doses); warnings pass only when `confirmed`. Returns
/// the new event, or the findings that refused it.
pub fn correct_dose(db: &HubDb, catalog: &Catalog, who: &Coordinator, req: CorrectionRequest) -> HubResult<Result<DoseEvent, Findings>> {
    let CorrectionRequest { record, correction, reason, confirmed, now } = req;
    let (reason, confirmed) = (reason.as_str(), confirmed.as_slice());
    let root_event = find_dose_event(db, record)?;
    let root = root_event.root();
    let original = if root == root_event.id { root_event } else { find_dose_event(db, root)? };
    if !who.may_see(&original.site) {
        return Err(HubError::not_found("dose"));
    }
    let file = person_file(db, &original.person_id.to_string())?.ok_or_else(|| HubError::not_found("person"))?;
    let target = if file.doses.iter().any(|d| d.id == root) {
        CorrectionTarget::Live { person: file.person.id }
    } else {
        CorrectionTarget::Voided
    };
    let amended = match correction {
        Correction::Void => None,
        Correction::Amend(d) => Some(d),
    };
    // "Now" in the dose's own offset, as a desk sees it.
    let tz = amended.as_ref().map_or_else(crate::web::vn, |d| d.administered_at.timezone());
    let ctx = CorrectionContext { catalog, person: &file.person, doses: &file.doses, root, target, now: now.with_timezone(&tz) };
    let CorrectionPlan { kind, dose, findings } = correction::plan(ctx, amended, reason);
    let blocking = findings.blocking(confirmed);
    if !blocking.is_empty() {
        return Ok(Err(blocking));
    }
    let event = DoseEvent {
        id: EventId::new(),
        person_id: original.person_id,
        site: original.site.clone(),
        desk: original.desk.clone(),
        device: HUB_DEVICE.into(),
        kind,
        dose,
        confirmed: findings.confirmed_codes(confirmed),
        recorded_at: now,
    };
    let inc = Incoming::new(WireEvent::Dose(event.clone()));
    let (id, person, now) = (event.id.to_string(), event.person_id.to_string(), now_text());
    let audit = entry(who, &format!("dose.{}", event.kind.as_str()), Some(&event.site), &root.to_string(), event_reason(&event));
    change(db, |tx| {
        let seq = tx.insert_event(&NewEvent {
            id: &id,
            stream: "dose",
            site: &event.site,
            device: HUB_DEVICE,
            person_id: &person,
            content_hash: &inc.content_hash,
            body: &inc.body,
            now: &now,
        })?;
        tx.feed(Some(&event.site), None, "event", Some(seq), None)?;
        let day: Vec<_> = crate::day_records::DayChange::of(&event, &event.site, &now).into_iter().collect();
        tx.apply_day_changes(&day)?;
        Ok(tx.audit(&audit)?)
    })?;
    Ok(Ok(event))
}

fn event_reason(e: &DoseEvent) -> &str {
    match &e.kind {
        DoseKind::Amend { reason, .. } | DoseKind::Void { reason, .. } => reason,
        DoseKind::Record => "",
    }
}

fn find_dose_event(db: &HubDb, id: EventId) -> HubResult<DoseEvent> {
    let (_, body) = change(db, |tx| Ok(tx.dose_event(&id.to_string())?))?.ok_or_else(|| HubError::not_found("dose"))?;
    serde_json::from_str(&body).map_err(|e| HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "hub.corrupt", format!("stored dose event: {e}")))
}
