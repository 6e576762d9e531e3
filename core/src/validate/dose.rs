//! Dose rules: which dose is due, from when, with which vaccine, and whether
//! the lot may be used. Every number comes from the catalog.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{check_text, Code, Findings};
use crate::catalog::{Catalog, Vaccine};
use crate::model::{Dose, DoseRecord, Outcome, Person, PersonId};

/// How far a device clock may run behind the real time before a dose
/// "in the future" is refused.
const CLOCK_SKEW_MINUTES: i64 = 10;
/// Entering a dose older than this is allowed (back-entry of paper records)
/// but needs a confirmation.
const BACK_ENTRY_DAYS: i64 = 365;
/// No COVID-19 vaccine was given before 2020 (the first, in trials, that
/// summer): an older date is a typing or clock mistake.
const FIRST_POSSIBLE_YEAR: i32 = 2020;
/// The highest dose number a record may carry (primary series and boosters).
const MAX_DOSE_NUMBER: u8 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextDoseKind {
    /// Dose `n` of the primary series.
    Primary,
    Booster,
    /// Primary series and every allowed booster are done.
    Complete,
}

/// What the desk shows after a match: the dose due, from when, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextDose {
    pub kind: NextDoseKind,
    pub dose_number: u8,
    /// `None` for a first dose.
    pub earliest: Option<NaiveDate>,
    /// The catalog's recommended date, where it has one.
    pub recommended: Option<NaiveDate>,
    /// Vaccine codes that may be given.
    pub vaccines: Vec<String>,
}

/// Everything the dose rules need to know.
#[derive(Debug, Clone, Copy)]
pub struct DoseContext<'a> {
    pub catalog: &'a Catalog,
    pub person: &'a Person,
    /// The person's doses as they stand, without the one being amended.
    pub history: &'a [DoseRecord],
    pub now: DateTime<FixedOffset>,
}

fn given(history: &[DoseRecord]) -> Vec<&DoseRecord> {
    let mut v: Vec<_> = history.iter().filter(|r| r.dose.outcome == Outcome::Vaccinated).collect();
    v.sort_by_key(|r| r.dose.administered_at);
    v
}

fn day(r: &DoseRecord) -> NaiveDate {
    r.dose.administered_at.date_naive()
}

fn plus_days(d: NaiveDate, days: u32) -> NaiveDate {
    d.checked_add_signed(Duration::days(i64::from(days))).unwrap_or(NaiveDate::MAX)
}

/// Length of the primary series a history started on (from its first dose's
/// vaccine). An unknown vaccine (dropped from a newer catalog) counts as a
/// 2-dose series only so that a history stays readable; saving still needs a
/// known vaccine.
fn series_len(c: &Catalog, history: &[&DoseRecord]) -> usize {
    history.first().and_then(|r| c.vaccine(&r.dose.vaccine)).map_or(2, |v| usize::from(v.series_doses))
}

/// The dose due for a person, given the doses they had before.
pub fn next_dose(c: &Catalog, person: &Person, history: &[DoseRecord]) -> NextDose {
    let given = given(history);
    let n = series_len(c, &given);
    let done = given.len();
    let Some(last) = given.last() else {
        return NextDose {
            kind: NextDoseKind::Primary,
            dose_number: 1,
            earliest: None,
            recommended: None,
            vaccines: c.vaccines.iter().map(|v| v.code.clone()).collect(),
        };
    };
    let number = u8::try_from(done + 1).unwrap_or(u8::MAX);
    if done < n {
        let Some(prev) = c.vaccine(&last.dose.vaccine) else {
            return NextDose { kind: NextDoseKind::Primary, dose_number: number, earliest: None, recommended: None, vaccines: vec![last.dose.vaccine.clone()] };
        };
        let step = u8::try_from(done).unwrap_or(u8::MAX);
        let vaccines: Vec<String> = c.vaccines.iter().filter(|v| c.series_step(prev, step, &v.code).is_some()).map(|v| v.code.clone()).collect();
        let interval = prev.intervals.get(done - 1);
        return NextDose {
            kind: NextDoseKind::Primary,
            dose_number: number,
            earliest: interval.map(|i| plus_days(day(last), i.min_days)),
            recommended: interval.and_then(|i| i.recommended_days).map(|d| plus_days(day(last), d)),
            vaccines,
        };
    }
    let boosters = done - n;
    if boosters >= usize::from(c.booster.max_boosters) {
        return NextDose { kind: NextDoseKind::Complete, dose_number: number, earliest: None, recommended: None, vaccines: vec![] };
    }
    let primary = given.first().map_or("", |r| r.dose.vaccine.as_str());
    let (vaccines, wait) = c.booster_for(primary);
    NextDose {
        kind: NextDoseKind::Booster,
        dose_number: number,
        earliest: Some(plus_days(day(last), booster_wait(c, person, wait))),
        recommended: None,
        vaccines,
    }
}

/// The catalog's wait for a booster, or a special group's shorter one.
fn booster_wait(c: &Catalog, person: &Person, wait: u32) -> u32 {
    let special = c.booster.additional_dose.as_ref().filter(|a| {
        person.priority_group.as_deref().is_some_and(|g| a.priority_groups.iter().any(|x| x.eq_ignore_ascii_case(g)))
    });
    special.map_or(wait, |a| a.min_days.min(wait))
}

/// Check a dose about to be saved. Returns the findings and the dose as it
/// will be stored (dose number and lot expiry filled in from the rules and the
/// catalog).
pub fn check_dose(ctx: DoseContext<'_>, dose: &Dose) -> (Findings, Dose) {
    let mut out = Findings::default();
    let mut dose = dose.clone();
    let c = ctx.catalog;
    let on = dose.administered_at.date_naive();

    if let Some(note) = dose.note.as_deref() {
        dose.note = Some(check_text(&mut out, "note", note, 500)).filter(|n| !n.is_empty());
    }
    check_time(&mut out, &ctx, &dose);

    let Some(vaccine) = c.vaccine(&dose.vaccine) else {
        unknown_vaccine(&mut out, c, &dose.vaccine);
        return (out, dose);
    };
    dose.vaccine = vaccine.code.clone();

    if dose.outcome != Outcome::Vaccinated {
        if dose.given_elsewhere.is_some() {
            out.error(Code::ElsewhereNotGiven, "given_elsewhere", format!("a dose given elsewhere is a dose given, not {}", dose.outcome.as_str()));
        }
        // A deferral or refusal gives no dose: no lot, no number.
        dose.dose_number = None;
        return (out, dose);
    }
    if dose.given_elsewhere.is_some() {
        check_elsewhere(&mut out, &ctx, c, vaccine, &mut dose, on);
        return (out, dose);
    }

    check_lot(&mut out, c, vaccine, &mut dose, on);
    check_age(&mut out, ctx.person, vaccine, on);

    let before: Vec<DoseRecord> = ctx.history.iter().filter(|r| day(r) < on).cloned().collect();
    if let Some(same) = given(ctx.history).into_iter().find(|r| day(r) == on) {
        out.error(
            Code::SameDay,
            "administered_at",
            format!("a dose ({}, {}) is already recorded for {on}", same.dose.vaccine, same.id),
        );
    }
    let next = next_dose(c, ctx.person, &before);
    check_schedule(&mut out, c, &next, &before, vaccine, on);

    let computed = next.dose_number;
    dose.dose_number = match dose.dose_number {
        None => Some(computed),
        Some(n) if n == 0 || n > MAX_DOSE_NUMBER => {
            out.error(Code::DoseNumberInvalid, "dose_number", format!("1 to {MAX_DOSE_NUMBER} expected, got {n}"));
            Some(n)
        }
        Some(n) if n != computed => {
            out.warn(
                Code::DoseNumberDiffers,
                "dose_number",
                format!("records here make this dose {computed}, entered as {n} (doses given elsewhere?)"),
            );
            Some(n)
        }
        Some(n) => Some(n),
    };
    (out, dose)
}

/// A dose given elsewhere: only what is impossible is an error (the same
/// day twice, a dose number out of range, a lot of another vaccine); no
/// schedule, age, interval or lot-expiry rule applies, because the dose was
/// given already and the desk only records it. The place is tidied; a lot is
/// optional and its expiry filled in when the catalog knows it.
fn check_elsewhere(out: &mut Findings, ctx: &DoseContext<'_>, c: &Catalog, vaccine: &Vaccine, dose: &mut Dose, on: NaiveDate) {
    if let Some(g) = dose.given_elsewhere.as_mut() {
        g.place = check_text(out, "given_elsewhere", &g.place, 200);
    }
    dose.lot = dose.lot.as_deref().map(|l| check_text(out, "lot", l, 40)).filter(|l| !l.is_empty());
    if let Some(number) = dose.lot.clone() {
        match c.lots_numbered(&number).find(|l| l.vaccine.eq_ignore_ascii_case(&vaccine.code)) {
            Some(lot) => {
                dose.lot = Some(lot.number.clone());
                dose.lot_expiry = Some(lot.expiry);
            }
            None => {
                if let Some(other) = c.lots_numbered(&number).next() {
                    out.error(Code::LotVaccineMismatch, "lot", format!("{number} is a {} lot, not {}", other.vaccine, vaccine.code));
                }
            }
        }
    }
    if let Some(same) = given(ctx.history).into_iter().find(|r| day(r) == on) {
        out.error(Code::SameDay, "administered_at", format!("a dose ({}, {}) is already recorded for {on}", same.dose.vaccine, same.id));
    }
    let before: Vec<DoseRecord> = ctx.history.iter().filter(|r| day(r) < on).cloned().collect();
    let computed = next_dose(c, ctx.person, &before).dose_number;
    match dose.dose_number {
        Some(n) if n == 0 || n > MAX_DOSE_NUMBER => {
            out.error(Code::DoseNumberInvalid, "dose_number", format!("1 to {MAX_DOSE_NUMBER} expected, got {n}"));
        }
        Some(_) => {}
        None => dose.dose_number = Some(computed),
    }
}

/// The checks of a dose's own content that need no desk state (no person,
/// no history): the time within bounds, the vaccine, the dose number and the
/// lot against the catalog. The desk runs them inside [`check_dose`]; the hub
/// runs this on every dose pushed to it, so a desk with another catalog, a
/// bug or a forged request cannot store what a desk would refuse. `skew` is
/// how far ahead of `now` a dose time may be (a phone's clock runs fast).
pub fn check_dose_content(c: &Catalog, dose: &Dose, now: DateTime<FixedOffset>, skew: Duration) -> Findings {
    let mut out = Findings::default();
    check_time_bounds(&mut out, dose.administered_at, now, skew);
    let Some(vaccine) = c.vaccine(&dose.vaccine) else {
        unknown_vaccine(&mut out, c, &dose.vaccine);
        return out;
    };
    if dose.outcome != Outcome::Vaccinated {
        if dose.given_elsewhere.is_some() {
            out.error(Code::ElsewhereNotGiven, "given_elsewhere", format!("a dose given elsewhere is a dose given, not {}", dose.outcome.as_str()));
        }
        return out;
    }
    if let Some(n) = dose.dose_number.filter(|n| *n == 0 || *n > MAX_DOSE_NUMBER) {
        out.error(Code::DoseNumberInvalid, "dose_number", format!("1 to {MAX_DOSE_NUMBER} expected, got {n}"));
    }
    let mut d = dose.clone();
    if let Some(g) = &dose.given_elsewhere {
        // Given already, elsewhere: no lot rule applies; text stays bounded.
        check_text(&mut out, "given_elsewhere", &g.place, 200);
        if let Some(l) = &dose.lot {
            check_text(&mut out, "lot", l, 40);
        }
        return out;
    }
    check_lot(&mut out, c, vaccine, &mut d, dose.administered_at.date_naive());
    out
}

fn unknown_vaccine(out: &mut Findings, c: &Catalog, code: &str) {
    let known: Vec<_> = c.vaccines.iter().map(|v| v.code.as_str()).collect();
    out.error(Code::VaccineUnknown, "vaccine", format!("{code:?} is not in catalog v{} (known: {})", c.version, known.join(", ")));
}

/// Not in the future (beyond `skew`), not before vaccines existed.
fn check_time_bounds(out: &mut Findings, at: DateTime<FixedOffset>, now: DateTime<FixedOffset>, skew: Duration) {
    if at > now + skew {
        out.error(Code::AdministeredFuture, "administered_at", format!("{} is in the future (now {})", at.to_rfc3339(), now.to_rfc3339()));
    } else if at.year() < FIRST_POSSIBLE_YEAR {
        out.error(Code::AdministeredTooEarly, "administered_at", format!("{} is before any COVID-19 vaccine was given ({FIRST_POSSIBLE_YEAR})", at.date_naive()));
    }
}

fn check_time(out: &mut Findings, ctx: &DoseContext<'_>, dose: &Dose) {
    let at = dose.administered_at;
    let mut bounds = Findings::default();
    check_time_bounds(&mut bounds, at, ctx.now, Duration::minutes(CLOCK_SKEW_MINUTES));
    let out_of_bounds = !bounds.0.is_empty();
    out.0.extend(bounds.0);
    if !out_of_bounds && dose.given_elsewhere.is_none() && at < ctx.now - Duration::days(BACK_ENTRY_DAYS) {
        out.warn(Code::AdministeredLongAgo, "administered_at", format!("{} is more than {BACK_ENTRY_DAYS} days ago", at.date_naive()));
    }
    if ctx.person.birth_date.earliest().is_some_and(|b| at.date_naive() < b) {
        out.error(Code::AdministeredBeforeBirth, "administered_at", format!("{} is before the birth date {}", at.date_naive(), ctx.person.birth_date));
    }
}

fn check_lot(out: &mut Findings, c: &Catalog, vaccine: &Vaccine, dose: &mut Dose, on: NaiveDate) {
    let Some(number) = dose.lot.as_deref().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string) else {
        out.error(Code::LotMissing, "lot", format!("a lot number is required for a {} dose", vaccine.name));
        return;
    };
    if number.chars().count() > 40 || number.chars().any(|ch| ch.is_control()) {
        out.error(Code::TextTooLong, "lot", format!("at most 40 printable characters, got {number:?}"));
        return;
    }
    let lots: Vec<_> = c.lots_numbered(&number).collect();
    let expiry = if lots.is_empty() {
        out.warn(Code::LotUnknown, "lot", format!("{number} is not in catalog v{}: check the vial", c.version));
        dose.lot_expiry
    } else if let Some(lot) = lots.iter().find(|l| l.vaccine.eq_ignore_ascii_case(&vaccine.code)) {
        dose.lot = Some(lot.number.clone());
        Some(lot.expiry)
    } else {
        out.error(Code::LotVaccineMismatch, "lot", format!("{number} is a {} lot, not {}", lots[0].vaccine, vaccine.code));
        return;
    };
    dose.lot_expiry = expiry;
    let Some(expiry) = expiry else { return };
    if expiry < on {
        out.error(Code::LotExpired, "lot", format!("{number} expired on {expiry}, dose date {on}"));
    } else if (expiry - on).num_days() < i64::from(c.near_expiry_days) {
        out.warn(Code::LotNearExpiry, "lot", format!("{number} expires on {expiry}, {} days after the dose", (expiry - on).num_days()));
    }
}

fn check_age(out: &mut Findings, p: &Person, v: &Vaccine, on: NaiveDate) {
    let (lo, hi) = p.birth_date.age_range_on(on);
    let min = i64::from(v.age.min_years);
    let max = v.age.max_years.map(i64::from);
    let (lo, hi) = (i64::from(lo), i64::from(hi));
    if hi < 0 {
        return; // before birth: reported by the time check
    }
    let range = match max {
        Some(m) => format!("{min}-{m}"),
        None => format!("{min}+"),
    };
    if hi < min || max.is_some_and(|m| lo > m) {
        // The doctor may decide otherwise (a trial, a new licence): confirmed, stored.
        let age = if hi < min { hi } else { lo };
        out.warn(Code::AgeOutOfRange, "birth_date", format!("{} is for ages {range}, the person is {age}", v.name));
    } else if lo < min || max.is_some_and(|m| hi > m) {
        out.warn(Code::AgeUncertain, "birth_date", format!("{} is for ages {range}; with birth year only the person is {lo} or {hi}", v.name));
    }
}

fn check_schedule(out: &mut Findings, c: &Catalog, next: &NextDose, before: &[DoseRecord], vaccine: &Vaccine, on: NaiveDate) {
    let given = given(before);
    let Some(last) = given.last() else { return };
    match next.kind {
        // What follows are the catalog's advice; the doctor may decide
        // otherwise, so each is a warning to confirm, stored with the dose.
        NextDoseKind::Complete => out.warn(
            Code::SeriesComplete,
            "vaccine",
            format!("primary series and {} booster(s) are complete", c.booster.max_boosters),
        ),
        NextDoseKind::Primary => {
            let Some(prev) = c.vaccine(&last.dose.vaccine) else { return };
            let step = u8::try_from(given.len()).unwrap_or(u8::MAX);
            match c.series_step(prev, step, &vaccine.code) {
                None => out.warn(
                    Code::MixNotAllowed,
                    "vaccine",
                    format!("dose {} after {} must be one of {}, got {}", next.dose_number, prev.code, next.vaccines.join(", "), vaccine.code),
                ),
                Some(min_days) => interval(out, day(last), on, min_days, next.dose_number),
            }
        }
        NextDoseKind::Booster => {
            if !next.vaccines.iter().any(|v| v.eq_ignore_ascii_case(&vaccine.code)) {
                let primary = given.first().map_or("?", |r| r.dose.vaccine.as_str());
                out.warn(
                    Code::NotABooster,
                    "vaccine",
                    format!("dose {} is a booster; after a {primary} series the catalog lists {}, got {}", next.dose_number, next.vaccines.join(", "), vaccine.code),
                );
            }
            if let Some(earliest) = next.earliest {
                interval(out, day(last), on, u32::try_from((earliest - day(last)).num_days()).unwrap_or(0), next.dose_number);
            }
        }
    }
}

fn interval(out: &mut Findings, last: NaiveDate, on: NaiveDate, min_days: u32, number: u8) {
    let gap = (on - last).num_days();
    if gap < i64::from(min_days) {
        out.warn(
            Code::IntervalShort,
            "administered_at",
            format!("dose {number} is {gap} days after the previous dose ({last}); the catalog asks for at least {min_days}"),
        );
    }
}

/// The state of the record a correction points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrectionTarget {
    Unknown,
    Voided,
    Live { person: PersonId },
}

/// Check an amend or void: it needs a reason, and a live record of the same
/// person to correct.
pub fn check_correction(target: CorrectionTarget, person: PersonId, reason: &str) -> Findings {
    let mut out = Findings::default();
    let reason = check_text(&mut out, "reason", reason, 300);
    if reason.is_empty() {
        out.error(Code::ReasonMissing, "reason", "a correction needs a reason");
    }
    match target {
        CorrectionTarget::Unknown => out.error(Code::CorrectionTargetUnknown, "corrects", "no dose record with this id"),
        CorrectionTarget::Voided => out.error(Code::CorrectionTargetVoided, "corrects", "this dose record was already voided"),
        CorrectionTarget::Live { person: p } if p != person => {
            out.error(Code::CorrectionOtherPerson, "corrects", "this dose record belongs to another person")
        }
        CorrectionTarget::Live { .. } => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Lot;
    use crate::model::{BirthDate, EventId, PersonSource};

    fn at(date: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(&format!("{date}T09:00:00+07:00")).unwrap()
    }

    fn person(birth: BirthDate) -> Person {
        Person {
            id: PersonId::new(),
            national_id: None,
            full_name: "Trần Văn Bình".into(),
            birth_date: birth,
            sex: None,
            phone: None,
            address: Default::default(),
            health_insurance: None,
            priority_group: None,
            source: PersonSource::Manual,
        }
    }

    fn adult() -> Person {
        person(BirthDate::Year(1980))
    }

    fn catalog() -> Catalog {
        let mut c = Catalog::builtin();
        for v in c.vaccines.clone() {
            c.lots.push(Lot { number: format!("{}-LOT", v.code), vaccine: v.code.clone(), expiry: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() });
        }
        c.lots.push(Lot { number: "OLD".into(), vaccine: "AZ".into(), expiry: NaiveDate::from_ymd_opt(2021, 8, 31).unwrap() });
        c.lots.push(Lot { number: "SOON".into(), vaccine: "AZ".into(), expiry: NaiveDate::from_ymd_opt(2021, 9, 5).unwrap() });
        c
    }

    fn dose(vaccine: &str, date: &str) -> Dose {
        Dose {
            vaccine: vaccine.into(),
            lot: Some(format!("{vaccine}-LOT")),
            lot_expiry: None,
            dose_number: None,
            administered_at: at(date),
            outcome: Outcome::Vaccinated,
            note: None,
            given_elsewhere: None,
        }
    }

    fn elsewhere(vaccine: &str, date: &str, place: &str) -> Dose {
        Dose { lot: None, given_elsewhere: Some(crate::model::GivenElsewhere { place: place.into() }), ..dose(vaccine, date) }
    }

    fn record(p: &Person, d: Dose) -> DoseRecord {
        let id = EventId::new();
        DoseRecord { id, person_id: p.id, site: "S".into(), desk: "D".into(), dose: d, head: id, amended: false }
    }

    /// Give the doses one after another, each checked (and entered an hour
    /// after it was given) against the ones before; return the findings of the last.
    fn run(p: &Person, c: &Catalog, doses: &[Dose]) -> (Findings, Dose) {
        run_at(p, c, doses, None)
    }

    fn run_at(p: &Person, c: &Catalog, doses: &[Dose], now: Option<DateTime<FixedOffset>>) -> (Findings, Dose) {
        let mut history = Vec::new();
        let mut last = None;
        for d in doses {
            let now = now.unwrap_or(d.administered_at + Duration::hours(1));
            let ctx = DoseContext { catalog: c, person: p, history: &history, now };
            let (f, stored) = check_dose(ctx, d);
            history.push(record(p, stored.clone()));
            last = Some((f, stored));
        }
        last.unwrap()
    }

    #[test]
    fn every_vaccine_series_runs_clean_at_its_minimum_interval() {
        let c = catalog();
        let p = adult();
        for v in &c.vaccines {
            let mut date = NaiveDate::from_ymd_opt(2021, 9, 1).unwrap();
            let mut doses = vec![dose(&v.code, &date.to_string())];
            for i in &v.intervals {
                date = plus_days(date, i.min_days);
                doses.push(dose(&v.code, &date.to_string()));
            }
            let (f, stored) = run(&p, &c, &doses);
            assert!(f.is_empty(), "{}: {f}", v.code);
            assert_eq!(stored.dose_number, Some(v.series_doses), "{}", v.code);
        }
    }

    #[test]
    fn every_vaccine_warns_one_day_short_of_its_interval() {
        let c = catalog();
        let p = adult();
        for v in c.vaccines.iter().filter(|v| !v.intervals.is_empty()) {
            let d2 = plus_days(NaiveDate::from_ymd_opt(2021, 9, 1).unwrap(), v.intervals[0].min_days - 1);
            let (f, _) = run(&p, &c, &[dose(&v.code, "2021-09-01"), dose(&v.code, &d2.to_string())]);
            assert!(f.has(Code::IntervalShort), "{}: {f}", v.code);
            assert_eq!(f.errors().count(), 0, "{}: {f}", v.code);
        }
    }

    #[test]
    fn abdala_needs_three_doses_fourteen_days_apart() {
        let c = catalog();
        let p = adult();
        let (f, d) = run(&p, &c, &[dose("AB", "2021-09-01"), dose("AB", "2021-09-15"), dose("AB", "2021-09-28")]);
        assert!(f.has(Code::IntervalShort), "{f}");
        assert_eq!(d.dose_number, Some(3));
        let n = next_dose(&c, &p, &[record(&p, dose("AB", "2021-09-01")), record(&p, dose("AB", "2021-09-15"))]);
        assert_eq!((n.kind, n.dose_number, n.earliest), (NextDoseKind::Primary, 3, NaiveDate::from_ymd_opt(2021, 9, 29)));
    }

    #[test]
    fn abdala_age_range_is_a_warning() {
        let c = catalog();
        let young = person(BirthDate::Full(NaiveDate::from_ymd_opt(2003, 6, 1).unwrap()));
        let (f, _) = run(&young, &c, &[dose("AB", "2021-09-01")]);
        assert!(f.has(Code::AgeOutOfRange) && f.errors().count() == 0, "{f}");
        assert!(f.to_string().contains("the person is 18"), "{f}");
        let old = person(BirthDate::Year(1950));
        assert!(run(&old, &c, &[dose("AB", "2021-09-01")]).0.has(Code::AgeOutOfRange));
        let borderline = person(BirthDate::Year(2002));
        let (f, _) = run(&borderline, &c, &[dose("AB", "2021-09-01")]);
        assert!(f.has(Code::AgeUncertain) && f.errors().count() == 0, "{f}");
    }

    #[test]
    fn allowed_and_forbidden_mixes() {
        let c = catalog();
        let p = adult();
        for (first, second, ok) in [("AZ", "PF", true), ("AZ", "MD", true), ("PF", "MD", true), ("MD", "PF", true), ("VC", "HV", true), ("PF", "AZ", false), ("VC", "PF", false), ("AZ", "SP", false)] {
            let (f, _) = run(&p, &c, &[dose(first, "2021-06-01"), dose(second, "2021-09-01")]);
            assert_eq!(!f.has(Code::MixNotAllowed), ok, "{first}->{second}: {f}");
        }
    }

    #[test]
    fn booster_after_six_months_with_booster_vaccines_only() {
        let c = catalog();
        let p = adult();
        let series = [dose("VC", "2021-06-01"), dose("VC", "2021-06-29")];
        let early = [&series[..], &[dose("PF", "2021-09-01")]].concat();
        let (f, d) = run(&p, &c, &early);
        assert!(f.has(Code::IntervalShort), "{f}");
        assert_eq!(d.dose_number, Some(3));
        let ok = [&series[..], &[dose("PF", "2022-01-10")]].concat();
        assert!(run(&p, &c, &ok).0.is_empty());
        let wrong = [&series[..], &[dose("VC", "2022-01-10")]].concat();
        let (f, _) = run(&p, &c, &wrong);
        assert!(f.has(Code::NotABooster) && f.errors().count() == 0, "{f}");
        assert!(f.to_string().contains("after a VC series"), "{f}");
        // Janssen is done after one dose: next is a booster.
        let n = next_dose(&c, &p, &[record(&p, dose("JJ", "2021-06-01"))]);
        assert_eq!((n.kind, n.dose_number), (NextDoseKind::Booster, 2));
    }

    #[test]
    fn special_groups_get_their_additional_dose_sooner() {
        let c = catalog();
        let mut p = adult();
        p.priority_group = Some("immunocompromised".into());
        let (f, _) = run(&p, &c, &[dose("PF", "2021-06-01"), dose("PF", "2021-06-22"), dose("PF", "2021-07-20")]);
        assert!(f.is_empty(), "{f}");
    }

    #[test]
    fn series_complete_after_max_boosters() {
        let c = catalog();
        let p = adult();
        let (f, _) = run(&p, &c, &[dose("PF", "2021-01-01"), dose("PF", "2021-02-01"), dose("PF", "2021-09-01"), dose("PF", "2022-04-01"), dose("PF", "2022-11-01")]);
        assert!(f.has(Code::SeriesComplete), "{f}");
    }

    #[test]
    fn lot_rules() {
        let c = catalog();
        let p = adult();
        let with_lot = |lot: &str| Dose { lot: Some(lot.into()), ..dose("AZ", "2021-09-01") };
        let (f, d) = run(&p, &c, &[with_lot("az-lot")]);
        assert!(f.is_empty(), "{f}");
        assert_eq!((d.lot.as_deref(), d.lot_expiry), (Some("AZ-LOT"), NaiveDate::from_ymd_opt(2023, 1, 1)));
        assert!(run(&p, &c, &[with_lot("OLD")]).0.has(Code::LotExpired));
        let (f, _) = run(&p, &c, &[with_lot("SOON")]);
        assert!(f.has(Code::LotNearExpiry) && f.errors().count() == 0);
        assert!(run(&p, &c, &[with_lot("PF-LOT")]).0.has(Code::LotVaccineMismatch));
        assert!(run(&p, &c, &[with_lot("NEW-1")]).0.has(Code::LotUnknown));
        assert!(run(&p, &c, &[with_lot(" ")]).0.has(Code::LotMissing));
        let unknown_but_expired = Dose { lot_expiry: NaiveDate::from_ymd_opt(2021, 1, 1), ..with_lot("NEW-2") };
        assert!(run(&p, &c, &[unknown_but_expired]).0.has(Code::LotExpired));
    }

    #[test]
    fn dates_and_numbers() {
        let c = catalog();
        let p = adult();
        let now = Some(at("2022-12-01"));
        assert!(run_at(&p, &c, &[dose("AZ", "2023-01-01")], now).0.has(Code::AdministeredFuture));
        assert!(!run_at(&p, &c, &[dose("AZ", "2022-12-01")], now).0.has(Code::AdministeredFuture));
        assert!(run_at(&p, &c, &[dose("AZ", "2021-06-01")], now).0.has(Code::AdministeredLongAgo));
        let baby = person(BirthDate::Full(NaiveDate::from_ymd_opt(2022, 6, 1).unwrap()));
        assert!(run(&baby, &c, &[dose("PF", "2022-01-01")]).0.has(Code::AdministeredBeforeBirth));
        let (f, d) = run(&p, &c, &[Dose { dose_number: Some(2), ..dose("AZ", "2022-09-01") }]);
        assert!(f.has(Code::DoseNumberDiffers));
        assert_eq!(d.dose_number, Some(2));
        assert!(run(&p, &c, &[Dose { dose_number: Some(0), ..dose("AZ", "2022-09-01") }]).0.has(Code::DoseNumberInvalid));
        assert!(run(&p, &c, &[dose("AZ", "2022-09-01"), dose("AZ", "2022-09-01")]).0.has(Code::SameDay));
        assert!(run(&p, &c, &[dose("XX", "2022-09-01")]).0.has(Code::VaccineUnknown));
    }

    #[test]
    fn deferral_needs_no_lot_and_gets_no_number() {
        let c = catalog();
        let p = adult();
        let d = Dose { lot: None, outcome: Outcome::Deferred, dose_number: Some(1), ..dose("AZ", "2022-09-01") };
        let (f, stored) = run(&p, &c, &[d]);
        assert!(f.is_empty(), "{f}");
        assert_eq!(stored.dose_number, None);
        // And it does not count as a dose.
        let next = next_dose(&c, &p, &[record(&p, stored)]);
        assert_eq!(next.dose_number, 1);
    }

    #[test]
    fn back_entry_of_an_earlier_dose_is_numbered_by_date() {
        let c = catalog();
        let p = adult();
        let later = record(&p, Dose { dose_number: Some(2), ..dose("AZ", "2022-10-01") });
        let history = [later];
        let ctx = DoseContext { catalog: &c, person: &p, history: &history, now: at("2022-12-01") };
        let (f, d) = check_dose(ctx, &dose("AZ", "2022-08-01"));
        assert_eq!(d.dose_number, Some(1));
        assert!(f.errors().count() == 0, "{f}");
    }

    #[test]
    fn booster_products_and_wait_come_from_the_primary_products_rule() {
        let mut c = catalog();
        c.booster.after = vec![crate::catalog::BoosterAfter { primary: vec!["JJ".into()], products: vec!["JJ".into(), "PF".into()], min_days: Some(60) }];
        let p = adult();
        let n = next_dose(&c, &p, &[record(&p, dose("JJ", "2021-06-01"))]);
        assert_eq!((n.vaccines.clone(), n.earliest), (vec!["JJ".to_string(), "PF".into()], NaiveDate::from_ymd_opt(2021, 7, 31)));
        // Janssen after Janssen is now on the list: no finding at all.
        assert!(run(&p, &c, &[dose("JJ", "2021-06-01"), dose("JJ", "2021-08-01")]).0.is_empty());
        // AZ is not on the JJ list: a warning, never a wall.
        let (f, _) = run(&p, &c, &[dose("JJ", "2021-06-01"), dose("AZ", "2021-08-01")]);
        assert!(f.has(Code::NotABooster) && f.errors().count() == 0, "{f}");
        // A special group's shorter wait still applies, never a longer one.
        let mut frail = adult();
        frail.priority_group = Some("immunocompromised".into());
        let n = next_dose(&c, &frail, &[record(&frail, dose("JJ", "2021-06-01"))]);
        assert_eq!(n.earliest, NaiveDate::from_ymd_opt(2021, 6, 29));
    }

    /// What is an error, what a warning, and what a dose given elsewhere
    /// escapes: one row per rule, each checked for its severity and for
    /// being the only blocking finding of its kind.
    #[test]
    fn errors_warnings_and_doses_given_elsewhere() {
        use crate::validate::Severity::{self, Error as E, Warning as W};
        let c = catalog();
        let adult = adult();
        let seventeen = person(BirthDate::Full(NaiveDate::from_ymd_opt(2004, 3, 1).unwrap()));
        let baby = person(BirthDate::Full(NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()));
        let (seventy_one, eleven) = (adult_born(1950), adult_born(2010));
        let two_vc = [dose("VC", "2021-06-01"), dose("VC", "2021-06-29")];
        let full = [dose("PF", "2021-01-01"), dose("PF", "2021-02-01"), dose("PF", "2021-09-01"), dose("PF", "2022-04-01")];
        // (what, person, history, the dose, the finding expected or None for a clean save)
        type Case<'a> = (&'a str, &'a Person, Vec<Dose>, Dose, Option<(Code, Severity)>);
        let cases: Vec<Case> = vec![
            ("future date", &adult, vec![], dose("AZ", "2030-01-01"), Some((Code::AdministeredFuture, E))),
            ("expired lot", &adult, vec![], Dose { lot: Some("OLD".into()), ..dose("AZ", "2021-09-10") }, Some((Code::LotExpired, E))),
            ("same dose twice in a day", &adult, vec![dose("AZ", "2021-09-10")], dose("AZ", "2021-09-10"), Some((Code::SameDay, E))),
            ("unknown vaccine", &adult, vec![], dose("XX", "2021-09-10"), Some((Code::VaccineUnknown, E))),
            ("before vaccines existed", &adult, vec![], dose("PF", "2019-06-01"), Some((Code::AdministeredTooEarly, E))),
            ("before birth", &baby, vec![], dose("PF", "2021-02-01"), Some((Code::AdministeredBeforeBirth, E))),
            ("lot of another vaccine", &adult, vec![], Dose { lot: Some("PF-LOT".into()), ..dose("AZ", "2021-09-10") }, Some((Code::LotVaccineMismatch, E))),
            ("no lot", &adult, vec![], Dose { lot: None, ..dose("AZ", "2021-09-10") }, Some((Code::LotMissing, E))),
            ("Abdala at 17", &seventeen, vec![], dose("AB", "2021-09-10"), Some((Code::AgeOutOfRange, W))),
            ("Abdala at 71", &seventy_one, vec![], dose("AB", "2021-09-10"), Some((Code::AgeOutOfRange, W))),
            ("Pfizer at 11", &eleven, vec![], dose("PF", "2021-11-10"), Some((Code::AgeOutOfRange, W))),
            ("interval short", &adult, vec![dose("AZ", "2021-08-01")], dose("AZ", "2021-08-20"), Some((Code::IntervalShort, W))),
            ("mix outside the list", &adult, vec![dose("PF", "2021-06-01")], dose("AZ", "2021-07-01"), Some((Code::MixNotAllowed, W))),
            ("Vero Cell after two Vero Cell", &adult, two_vc.to_vec(), dose("VC", "2022-01-10"), Some((Code::NotABooster, W))),
            ("Janssen after Janssen", &adult, vec![dose("JJ", "2021-06-01")], dose("JJ", "2022-01-10"), Some((Code::NotABooster, W))),
            ("Abdala after Abdala", &adult, vec![dose("AB", "2021-06-01"), dose("AB", "2021-06-15"), dose("AB", "2021-06-29")], dose("AB", "2022-01-10"), Some((Code::NotABooster, W))),
            ("a third booster", &adult, full.to_vec(), dose("PF", "2022-11-01"), Some((Code::SeriesComplete, W))),
            ("near expiry", &adult, vec![], Dose { lot: Some("SOON".into()), ..dose("AZ", "2021-09-01") }, Some((Code::LotNearExpiry, W))),
            ("Pfizer booster after Vero Cell", &adult, two_vc.to_vec(), dose("PF", "2022-01-10"), None),
            // Given elsewhere: today's schedule never applies.
            ("elsewhere: Abdala at 17", &seventeen, vec![], elsewhere("AB", "2021-09-10", "La Habana"), None),
            ("elsewhere: a mix outside the list", &adult, vec![dose("PF", "2021-06-01")], elsewhere("AZ", "2021-06-10", "Singapore"), None),
            ("elsewhere: no lot, long ago", &adult, vec![], elsewhere("SP", "2021-03-01", ""), None),
            ("elsewhere: an expired lot", &adult, vec![], Dose { lot: Some("OLD".into()), ..elsewhere("AZ", "2021-09-10", "Hà Nội") }, None),
            ("elsewhere: a third booster", &adult, full.to_vec(), elsewhere("MD", "2022-11-01", "Tokyo"), None),
            ("elsewhere: future date", &adult, vec![], elsewhere("AZ", "2030-01-01", "Huế"), Some((Code::AdministeredFuture, E))),
            ("elsewhere: unknown vaccine", &adult, vec![], elsewhere("XX", "2021-09-10", "Huế"), Some((Code::VaccineUnknown, E))),
            ("elsewhere: same day as a dose", &adult, vec![dose("AZ", "2021-09-10")], elsewhere("AZ", "2021-09-10", "Huế"), Some((Code::SameDay, E))),
            ("elsewhere: a deferral", &adult, vec![], Dose { outcome: Outcome::Deferred, ..elsewhere("AZ", "2021-09-10", "Huế") }, Some((Code::ElsewhereNotGiven, E))),
            ("elsewhere: dose 0", &adult, vec![], Dose { dose_number: Some(0), ..elsewhere("AZ", "2021-09-10", "Huế") }, Some((Code::DoseNumberInvalid, E))),
            ("elsewhere: lot of another vaccine", &adult, vec![], Dose { lot: Some("PF-LOT".into()), ..elsewhere("AZ", "2021-09-10", "Huế") }, Some((Code::LotVaccineMismatch, E))),
        ];
        let now = at("2022-12-01");
        for (what, p, history, d, expected) in cases {
            let mut doses = history;
            doses.push(d);
            let (f, _) = run_at(p, &c, &doses, Some(now));
            // Back-entry is normal in this table: the long-ago reminder is not what is tested.
            let f = Findings(f.0.into_iter().filter(|x| x.code != Code::AdministeredLongAgo).collect());
            match expected {
                None => assert!(f.is_empty(), "{what}: expected a clean save, got {f}"),
                Some((code, severity)) => {
                    let hit = f.0.iter().find(|x| x.code == code);
                    assert_eq!(hit.map(|x| x.severity), Some(severity), "{what}: expected {code} as {severity:?}, got {f}");
                    if severity == W {
                        assert_eq!(f.errors().count(), 0, "{what}: a doctor's call must not be an error: {f}");
                    }
                }
            }
        }
    }

    fn adult_born(year: i32) -> Person {
        person(BirthDate::Full(NaiveDate::from_ymd_opt(year, 1, 15).unwrap()))
    }

    #[test]
    fn a_dose_given_elsewhere_counts_in_the_series() {
        let c = catalog();
        let p = adult();
        let (f, first) = run(&p, &c, &[elsewhere("AZ", "2021-07-01", "Đà Nẵng")]);
        assert!(f.is_empty(), "{f}");
        assert_eq!(first.dose_number, Some(1));
        let history = [record(&p, first)];
        let n = next_dose(&c, &p, &history);
        assert_eq!((n.dose_number, n.earliest), (2, NaiveDate::from_ymd_opt(2021, 7, 29)));
        // The dose given here next is dose 2, checked against the one given elsewhere.
        let ctx = DoseContext { catalog: &c, person: &p, history: &history, now: at("2021-08-02") };
        let (f, second) = check_dose(ctx, &dose("AZ", "2021-07-20"));
        assert!(f.has(Code::IntervalShort), "{f}");
        assert_eq!(second.dose_number, Some(2));
        // A place is tidied and bounded.
        let (f, d) = run(&p, &c, &[elsewhere("AZ", "2021-07-01", "  Bệnh  viện Bạch Mai ")]);
        assert!(f.is_empty(), "{f}");
        assert_eq!(d.given_elsewhere.unwrap().place, "Bệnh viện Bạch Mai");
        let (f, _) = run(&p, &c, &[elsewhere("AZ", "2021-07-01", &"x".repeat(201))]);
        assert!(f.has(Code::TextTooLong), "{f}");
    }

    #[test]
    fn the_hub_takes_a_dose_given_elsewhere_without_a_lot() {
        let c = catalog();
        let now = at("2022-12-01");
        let skew = Duration::hours(24);
        assert!(check_dose_content(&c, &elsewhere("AZ", "2021-07-01", "Huế"), now, skew).is_empty());
        assert!(check_dose_content(&c, &Dose { lot: None, ..dose("AZ", "2021-07-01") }, now, skew).has(Code::LotMissing));
        let deferred = Dose { outcome: Outcome::Deferred, ..elsewhere("AZ", "2021-07-01", "Huế") };
        assert!(check_dose_content(&c, &deferred, now, skew).has(Code::ElsewhereNotGiven));
        assert!(check_dose_content(&c, &elsewhere("AZ", "2030-07-01", "Huế"), now, skew).has(Code::AdministeredFuture));
    }

    #[test]
    fn corrections_need_a_reason_and_a_live_target() {
        let p = PersonId::new();
        assert!(check_correction(CorrectionTarget::Live { person: p }, p, "wrong lot").is_empty());
        assert!(check_correction(CorrectionTarget::Live { person: p }, p, "  ").has(Code::ReasonMissing));
        assert!(check_correction(CorrectionTarget::Unknown, p, "x").has(Code::CorrectionTargetUnknown));
        assert!(check_correction(CorrectionTarget::Voided, p, "x").has(Code::CorrectionTargetVoided));
        assert!(check_correction(CorrectionTarget::Live { person: PersonId::new() }, p, "x").has(Code::CorrectionOtherPerson));
    }
}
