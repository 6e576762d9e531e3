use serde::Serialize;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::model::{DoseRecord, IdKind, Person, PersonId, Sex};
use vaxdesk_core::search::SearchQuery;
use vaxdesk_core::validate::{NextDose, NextDoseKind, PersonDraft};

use super::with_confirmation;
use crate::args::{PersonAddArgs, PersonCmd, SexArg};
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(desk: &Desk, out: Out, c: PersonCmd) -> CliResult {
    match c {
        PersonCmd::Add(a) => add(desk, out, &a),
        PersonCmd::Find { query, year, page, per_page } => {
            let q = SearchQuery { text: query.join(" "), birth_year: year, page, per_page };
            let r = desk.find(&q)?;
            out.show(&r, || {
                let mut s = String::new();
                for h in &r.hits {
                    s.push_str(&line(&h.person));
                    if let Some(day) = h.appointment {
                        s.push_str(&format!("  {}", registered(day)));
                    }
                    s.push('\n');
                }
                s.push_str(&format!("{} match(es){}", r.total, if r.truncated { ", more not shown: add a birth year or a word" } else { "" }));
                s
            });
            Ok(())
        }
        PersonCmd::Show { person } => {
            let p = resolve(desk, &person)?;
            let view = PersonView { history: desk.history(p.id)?, next: desk.next_dose(p.id)?, appointment: desk.store().appointment(p.id)?, person: p };
            out.show(&view, || show(&view));
            Ok(())
        }
    }
}

/// A person by id (UUID, or its first characters), by national id, or by
/// a name query that finds exactly one person (else the candidates are
/// listed: someone without a CCCD need not copy a 36-character id).
pub fn resolve(desk: &Desk, s: &str) -> CliResult<Person> {
    let t = s.trim();
    if let Ok(id) = t.parse::<PersonId>() {
        return Ok(desk.person(id)?);
    }
    if t.len() >= 4 && t.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(p) = desk.store().person_by_national_id(t)? {
            return Ok(p);
        }
    }
    let listed = |people: &[Person]| people.iter().map(|p| format!("\n  {}", line(p))).collect::<String>();
    if t.len() >= 6 {
        match desk.store().persons_by_id_prefix(t, 11)?.as_slice() {
            [] => {}
            [one] => return Ok(one.clone()),
            many => {
                let more = if many.len() > 10 { "more than 10" } else { "several" };
                return Err(Failure::Input(format!("person: {more} ids start with {t:?}; type more of it:{}", listed(&many[..many.len().min(10)]))));
            }
        }
    }
    let found = desk.find(&SearchQuery { per_page: 10, ..SearchQuery::new(t.to_string()) })?;
    match found.hits.as_slice() {
        [] => Err(Failure::Input(format!("person: nobody with id, national id or name {s:?} (`vaxdesk person find` searches)"))),
        [one] if found.total == 1 => Ok(one.person.clone()),
        hits => {
            let people: Vec<Person> = hits.iter().map(|h| h.person.clone()).collect();
            Err(Failure::Input(format!(
                "person: {s:?} matches {} persons; give the id (its first characters are enough) or the national id:{}",
                found.total,
                listed(&people)
            )))
        }
    }
}

/// As the visit screen says it: "registered, expected on …".
pub fn registered(day: chrono::NaiveDate) -> String {
    format!("Đã đăng ký, hẹn ngày {}", day.format("%d/%m/%Y"))
}

fn line(p: &Person) -> String {
    let id = p.national_id.as_ref().map(|n| n.number.as_str()).unwrap_or("-");
    let sex = p.sex.map(Sex::vietnamese).unwrap_or("-");
    format!("{}  {:<28} {}  {:<3}  {:<12}  {}", p.id, p.full_name, p.birth_date, sex, id, p.phone.as_deref().unwrap_or(""))
}

#[derive(Serialize)]
struct PersonView {
    person: Person,
    /// On the site's registration list, expected this day.
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment: Option<chrono::NaiveDate>,
    history: Vec<DoseRecord>,
    next: NextDose,
}

fn show(v: &PersonView) -> String {
    let mut s = line(&v.person);
    if let Some(day) = v.appointment {
        s.push_str(&format!("\n  {}", registered(day)));
    }
    for r in &v.history {
        let d = &r.dose;
        s.push_str(&format!(
            "\n  {}  dose {}  {}  lot {}  {}  {}{}{}",
            d.administered_at.format("%Y-%m-%d %H:%M %:z"),
            d.dose_number.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            d.vaccine,
            d.lot.as_deref().unwrap_or("-"),
            d.outcome.as_str(),
            r.id,
            match &d.given_elsewhere {
                Some(g) if g.place.trim().is_empty() => " (given elsewhere)".to_string(),
                Some(g) => format!(" (given elsewhere: {})", g.place),
                None => String::new(),
            },
            if r.amended { " (corrected)" } else { "" }
        ));
    }
    let n = &v.next;
    let due = match n.kind {
        NextDoseKind::Complete => "series and boosters complete".to_string(),
        _ => format!(
            "next: dose {} ({}) from {} with {}",
            n.dose_number,
            if n.kind == NextDoseKind::Booster { "booster" } else { "primary" },
            n.earliest.map(|d| d.to_string()).unwrap_or_else(|| "today".into()),
            n.vaccines.join("/")
        ),
    };
    s.push_str(&format!("\n  {due}"));
    s
}

fn add(desk: &Desk, out: Out, a: &PersonAddArgs) -> CliResult {
    let mut draft = match &a.qr {
        Some(text) => {
            use vaxdesk_core::qr::payload::Payload;
            let payload = vaxdesk_core::qr::payload::parse(text);
            if let Payload::Unknown { .. } = payload {
                return Err(Failure::NotValid("qr: not a CCCD or PC-Covid code (nothing was saved)".into()));
            }
            if let Some(e) = payload.errors().first() {
                return Err(Failure::NotValid(format!("qr: the {} code has an error: {e} (nothing was saved)", payload.kind())));
            }
            payload.person_draft().ok_or_else(|| Failure::NotValid(format!("qr: a {} code carries no person (nothing was saved)", payload.kind())))?
        }
        None => PersonDraft::default(),
    };
    let set = |slot: &mut Option<String>, v: &Option<String>| {
        if v.is_some() {
            slot.clone_from(v);
        }
    };
    if let Some(n) = &a.name {
        draft.full_name.clone_from(n);
    }
    if let Some(b) = &a.birth {
        draft.birth_date.clone_from(b);
    }
    set(&mut draft.national_id, &a.national_id);
    set(&mut draft.phone, &a.phone);
    set(&mut draft.health_insurance, &a.insurance);
    set(&mut draft.priority_group, &a.priority_group);
    set(&mut draft.address.line, &a.address);
    set(&mut draft.address.province_code, &a.province);
    set(&mut draft.address.district_code, &a.district);
    set(&mut draft.address.ward_code, &a.ward);
    if a.cmnd {
        draft.id_kind = Some(IdKind::Cmnd);
    }
    if let Some(s) = a.sex {
        draft.sex = Some(match s {
            SexArg::Male => Sex::Male,
            SexArg::Female => Sex::Female,
        });
    }
    let p = with_confirmation(out, &a.confirm, |codes| desk.save_person(&draft, codes))?;
    out.show(&p, || format!("saved {}", line(&p)));
    Ok(())
}
