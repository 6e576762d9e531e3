use chrono::{DateTime, FixedOffset};
use vaxdesk_core::dates;
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::{DoseEvent, DoseRecord, EventId, GivenElsewhere, Outcome};

use super::{parse_date, person::resolve, with_confirmation};
use crate::args::{DoseCmd, DoseFields, OutcomeArg};
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(desk: &Desk, out: Out, c: DoseCmd) -> CliResult {
    match c {
        DoseCmd::Record { person, fields, given_elsewhere, confirm } => {
            let p = resolve(desk, &person)?;
            let mut draft = DoseDraft::vaccinated(p.id);
            if given_elsewhere.is_some() {
                // Said in the flags' names: nothing of today fills these in.
                if fields.vaccine.is_none() {
                    return Err(Failure::Input("vaccine: a dose given elsewhere needs --vaccine (its code, e.g. AZ)".into()));
                }
                if fields.at.is_none() {
                    return Err(Failure::Input("at: a dose given elsewhere needs --at (the day it was given, e.g. 10/08/2021)".into()));
                }
            }
            draft.given_elsewhere = given_elsewhere.map(|place| GivenElsewhere { place });
            apply(desk, &mut draft, &fields)?;
            let e = with_confirmation(out, &confirm, |codes| desk.record_dose(&draft, codes))?;
            out.show(&e, || saved(&e));
            Ok(())
        }
        DoseCmd::Amend { id, reason, fields, confirm } => {
            let id = event_id(&id)?;
            let mut draft = desk.dose_draft_of(id)?;
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

/// RFC 3339, or a local day with an optional time in the desk's offset
/// (a bare day: time unknown, stored at midnight).
fn parse_time(desk: &Desk, s: &str) -> CliResult<DateTime<FixedOffset>> {
    Ok(dates::parse_moment("at", s, *desk.now().offset())?.at)
}

fn saved(e: &DoseEvent) -> String {
    let what = match &e.dose {
        Some(d) if d.given_elsewhere.is_some() => {
            let place = d.given_elsewhere.as_ref().map(|g| g.place.trim()).filter(|p| !p.is_empty()).unwrap_or("place not told");
            format!("dose {} of {} given elsewhere ({place}) on {}", d.dose_number.unwrap_or(0), d.vaccine, d.administered_at.format("%Y-%m-%d"))
        }
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
    s.push_str(&format!("{} record(s); times in UTC{}", list.len(), desk.now().format("%:z")));
    s
}
