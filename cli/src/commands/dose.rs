use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::{DoseEvent, DoseRecord, EventId, Outcome};

use super::{parse_date, person::resolve, with_confirmation};
use crate::args::{DoseCmd, DoseFields, OutcomeArg};
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(desk: &Desk, out: Out, c: DoseCmd) -> CliResult {
    match c {
        DoseCmd::Record { person, fields, confirm } => {
            let p = resolve(desk, &person)?;
            let mut draft = DoseDraft::vaccinated(p.id);
            apply(desk, &mut draft, &fields)?;
            let e = with_confirmation(out, &confirm, |codes| desk.record_dose(&draft, codes))?;
            out.show(&e, || saved(&e));
            Ok(())
        }
        DoseCmd::Amend { id, reason, fields, confirm } => {
            let id = event_id(&id)?;
            let event = desk.store().dose_event(id)?.ok_or_else(|| Failure::Input(format!("id: no dose event {id}")))?;
            let current = desk
                .history(event.person_id)?
                .into_iter()
                .find(|r| r.id == event.root())
                .ok_or_else(|| Failure::Input(format!("id: dose record {} was voided", event.root())))?;
            let d = &current.dose;
            let mut draft = DoseDraft {
                person: event.person_id,
                vaccine: Some(d.vaccine.clone()),
                lot: d.lot.clone(),
                lot_expiry: d.lot_expiry,
                dose_number: d.dose_number,
                administered_at: Some(d.administered_at),
                outcome: d.outcome,
                note: d.note.clone(),
            };
            apply(desk, &mut draft, &fields)?;
            let e = with_confirmation(out, &confirm, |codes| desk.amend_dose(id, &draft, &reason, codes))?;
            out.show(&e, || saved(&e));
            Ok(())
        }
        DoseCmd::Void { id, reason } => {
            let e = desk.void_dose(event_id(&id)?, &reason)?;
            out.show(&e, || saved(&e));
            Ok(())
        }
        DoseCmd::List { date, all_desks } => {
            let day = match date {
                Some(d) => parse_date("date", &d)?,
                None => desk.today(),
            };
            let desk_code = if all_desks { None } else { desk.config().desk };
            let list = desk.store().doses_on(day, desk_code.as_deref())?;
            out.show(&list, || listing(desk, &list));
            Ok(())
        }
    }
}

fn event_id(s: &str) -> CliResult<EventId> {
    s.parse().map_err(|_| Failure::Input(format!("id: a dose event id (UUID) expected, got {s:?}")))
}

fn apply(desk: &Desk, d: &mut DoseDraft, f: &DoseFields) -> CliResult {
    if f.vaccine.is_some() {
        d.vaccine.clone_from(&f.vaccine);
    }
    if f.lot.is_some() {
        d.lot.clone_from(&f.lot);
    }
    if let Some(e) = &f.lot_expiry {
        d.lot_expiry = Some(parse_date("lot_expiry", e)?);
    }
    if let Some(at) = &f.at {
        d.administered_at = Some(parse_time(desk, at)?);
    }
    if f.number.is_some() {
        d.dose_number = f.number;
    }
    if let Some(o) = f.outcome {
        d.outcome = match o {
            OutcomeArg::Vaccinated => Outcome::Vaccinated,
            OutcomeArg::Deferred => Outcome::Deferred,
            OutcomeArg::Refused => Outcome::Refused,
        };
    }
    if f.note.is_some() {
        d.note.clone_from(&f.note);
    }
    Ok(())
}

/// RFC 3339, or a local "YYYY-MM-DD HH:MM" in the desk's offset.
fn parse_time(desk: &Desk, s: &str) -> CliResult<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t);
    }
    let local = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M")
        .map_err(|_| Failure::Input(format!("at: RFC 3339 or \"YYYY-MM-DD HH:MM\" expected, got {s:?}")))?;
    desk.now()
        .offset()
        .from_local_datetime(&local)
        .single()
        .ok_or_else(|| Failure::Input(format!("at: {s:?} is not a valid local time")))
}

fn saved(e: &DoseEvent) -> String {
    let what = match &e.dose {
        Some(d) if d.outcome == Outcome::Vaccinated => {
            format!("dose {} of {} lot {}", d.dose_number.unwrap_or(0), d.vaccine, d.lot.as_deref().unwrap_or("-"))
        }
        Some(d) => format!("{} ({})", d.outcome.as_str(), d.vaccine),
        None => "void".to_string(),
    };
    format!("saved {} {what}  id {}", e.kind.as_str(), e.id)
}

fn listing(desk: &Desk, list: &[DoseRecord]) -> String {
    let mut s = String::new();
    for r in list {
        let name = desk.person(r.person_id).map(|p| p.full_name).unwrap_or_default();
        let d = &r.dose;
        s.push_str(&format!(
            "{}  {:<26} {:<10} {:<3} dose {}  lot {:<10} {}\n",
            d.administered_at.format("%H:%M"),
            name,
            d.outcome.as_str(),
            d.vaccine,
            d.dose_number.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            d.lot.as_deref().unwrap_or("-"),
            r.id
        ));
    }
    s.push_str(&format!("{} record(s)", list.len()));
    s
}
