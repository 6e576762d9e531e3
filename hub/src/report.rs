//! A site's day in figures, computed once for everything that shows it: the
//! dashboard's tables and charts, the printable daily report, its XLSX and
//! `vaxdesk report daily`. Doses are counted as they stand (amends and voids
//! applied); a dose typed in as given elsewhere is history, not the day's work.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Offset as _, Timelike, Utc};
use serde::Serialize;
use vaxdesk_core::catalog::Catalog;
use vaxdesk_core::model::{derive_history, Dose, DoseEvent, DoseKind, EventId, Outcome};

use crate::day_records::{DayCounts, DayRow};
use crate::db::{self, HubDb, ReceivedEvent};

/// Vietnam's time: days and hours of the report are local.
pub fn vn() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(vaxdesk_core::desk::VIETNAM_OFFSET_SECONDS).unwrap_or_else(|| Utc.fix())
}

/// Midnight starting `day` in Vietnam, as the hub stores instants (UTC text).
pub fn day_start_utc(day: NaiveDate) -> String {
    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_local_timezone(vn()).single().map(|d| d.with_timezone(&Utc));
    start.unwrap_or_else(|| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One desk's day.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeskDay {
    /// (vaccine, dose number) → doses given.
    pub doses: BTreeMap<(String, u8), u32>,
    pub deferred: u32,
    pub refused: u32,
    /// Seconds from saving on the phone to arriving at the hub, per record.
    pub lags: Vec<i64>,
    /// Doses given in each local hour of the day.
    pub by_hour: [u32; 24],
}

impl DeskDay {
    pub fn given(&self) -> u32 {
        self.doses.values().sum()
    }

    /// The `q` quantile (0.5 median, 1.0 max) of the lags, in seconds.
    pub fn lag(&self, q: f64) -> Option<i64> {
        quantile(&self.lags, q)
    }

    fn add(&mut self, other: &DeskDay) {
        for (k, n) in &other.doses {
            *self.doses.entry(k.clone()).or_default() += n;
        }
        self.deferred += other.deferred;
        self.refused += other.refused;
        self.lags.extend(&other.lags);
        for (h, n) in other.by_hour.iter().enumerate() {
            self.by_hour[h] += n;
        }
    }
}

pub fn quantile(values: &[i64], q: f64) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
    v.get(i).copied()
}

/// A site's day.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SiteDay {
    pub site: String,
    pub day: NaiveDate,
    /// Desk code → its day (every desk that saved a record of the day).
    pub desks: BTreeMap<String, DeskDay>,
    /// The whole site.
    pub total: DeskDay,
    /// On the site's list for the day.
    pub registered: u32,
    /// Of those registered for the day, how many came: a record of any
    /// outcome (vaccinated, deferred, refused) at this site on the day.
    pub served: u32,
    /// Came without being on the day's list.
    pub walk_ins: u32,
    /// Persons by the local hour of their first record of the day:
    /// (registered for the day, walk-ins).
    pub arrivals: [(u32, u32); 24],
    /// Sync lags (seconds) by the local hour the record was saved.
    pub lags_by_hour: [Vec<i64>; 24],
    /// Certificates the hub signed for the site's desks that day, and for
    /// how many persons.
    pub certificates: i64,
    pub certificate_persons: i64,
}

impl SiteDay {
    pub fn not_yet_come(&self) -> u32 {
        self.registered.saturating_sub(self.served)
    }
}

/// Fold a site's dose events (arrival order; `since` a few days before `day`
/// so the day's records and their corrections are all there) into the day's
/// figures. `registered`: the day's list, as the ids persons now stand for.
///
/// This is the plain fold the day table replaced (ADR 0022): kept as the
/// reference the table is checked against and the baseline `bench hub`
/// measures it against. A record's lag counts on the day its dose stands
/// at, voided or not (when it synced does not change with a void).
pub fn fold_day(site: &str, day: NaiveDate, events: &[ReceivedEvent], registered: &HashSet<String>) -> SiteDay {
    let tz = vn();
    let mut out = SiteDay { site: site.to_string(), day, registered: registered.len() as u32, ..SiteDay::default() };
    let mut parsed: Vec<DoseEvent> = Vec::with_capacity(events.len());
    // The person each record's event is about now (a merge moves it).
    let mut person_of: HashMap<String, &str> = HashMap::new();
    // Each record's lag, in arrival order, and its dose as it stood when last
    // amended before any void.
    let mut lags: Vec<(EventId, String, i64, DateTime<chrono::FixedOffset>)> = Vec::new();
    let mut stands: HashMap<EventId, Dose> = HashMap::new();
    let mut voided: HashSet<EventId> = HashSet::new();
    for e in events {
        let Ok(d) = serde_json::from_str::<DoseEvent>(&e.body) else { continue };
        match (&d.kind, &d.dose) {
            (DoseKind::Record, Some(dose)) => {
                if let Ok(r) = DateTime::parse_from_rfc3339(&e.received_at) {
                    let lag = (r.with_timezone(&Utc) - d.recorded_at).num_seconds().max(0);
                    lags.push((d.id, d.desk.clone(), lag, d.recorded_at.with_timezone(&tz)));
                }
                stands.insert(d.id, dose.clone());
            }
            (DoseKind::Amend { corrects, .. }, Some(dose)) if !voided.contains(corrects) => {
                if let Some(s) = stands.get_mut(corrects) {
                    *s = dose.clone();
                }
            }
            (DoseKind::Void { corrects, .. }, _) => {
                voided.insert(*corrects);
            }
            _ => {}
        }
        person_of.insert(d.person_id.to_string(), &e.person);
        parsed.push(d);
    }
    for (id, desk, lag, saved) in lags {
        let Some(dose) = stands.get(&id) else { continue };
        if dose.administered_at.with_timezone(&tz).date_naive() != day || dose.given_elsewhere.is_some() {
            continue;
        }
        out.desks.entry(desk).or_default().lags.push(lag);
        // The chart's hours are the day's: a record typed in the next
        // morning counts in the desk's lag, not at 00h of this day.
        if saved.date_naive() == day {
            out.lags_by_hour[saved.hour() as usize].push(lag);
        }
    }
    // Each person's first hour of the day.
    let mut first_hour: HashMap<String, u32> = HashMap::new();
    for r in derive_history(&parsed) {
        let at = r.dose.administered_at.with_timezone(&tz);
        if at.date_naive() != day || r.dose.given_elsewhere.is_some() {
            continue;
        }
        let hour = at.hour();
        count(out.desks.entry(r.desk.clone()).or_default(), r.dose.outcome, &r.dose.vaccine, r.dose.dose_number.unwrap_or(0), hour);
        let id = r.person_id.to_string();
        let who = person_of.get(&id).map(|p| p.to_string()).unwrap_or(id);
        let first = first_hour.entry(who).or_insert(hour);
        *first = (*first).min(hour);
    }
    finish(&mut out, first_hour.iter().map(|(w, h)| (w.as_str(), *h)), registered);
    out
}

/// Fold a site's day from the day table's rows (`HubStore::day_records`:
/// the day's records as they stand, voided ones included for their lag,
/// persons followed through merges). The same figures as [`fold_day`].
pub fn fold_rows(site: &str, day: NaiveDate, rows: &[DayRow], registered: &HashSet<String>) -> SiteDay {
    let day_text = day.to_string();
    let mut out = SiteDay { site: site.to_string(), day, registered: registered.len() as u32, ..SiteDay::default() };
    let mut first_hour: HashMap<&str, u32> = HashMap::new();
    for r in rows {
        if r.dose.elsewhere || r.dose.day != day_text {
            continue;
        }
        if let Some(lag) = r.lag_s {
            out.desks.entry(r.desk.clone()).or_default().lags.push(lag);
            if r.saved_day == day_text {
                out.lags_by_hour[usize::from(r.saved_hour.min(23))].push(lag);
            }
        }
        if r.voided {
            continue;
        }
        let hour = u32::from(r.dose.hour.min(23));
        count(out.desks.entry(r.desk.clone()).or_default(), r.dose.outcome, &r.dose.vaccine, r.dose.dose_number, hour);
        let first = first_hour.entry(&r.person).or_insert(hour);
        *first = (*first).min(hour);
    }
    finish(&mut out, first_hour.into_iter(), registered);
    out
}

/// One record as it stands, counted in its desk's day.
fn count(desk: &mut DeskDay, outcome: Outcome, vaccine: &str, dose_number: u8, hour: u32) {
    match outcome {
        Outcome::Vaccinated => {
            *desk.doses.entry((vaccine.to_string(), dose_number)).or_default() += 1;
            desk.by_hour[hour as usize] += 1;
        }
        Outcome::Deferred => desk.deferred += 1,
        Outcome::Refused => desk.refused += 1,
    }
}

/// Arrivals (each person by the hour of their first record), served and
/// walk-ins against the day's list, and the site's total.
fn finish<'a>(out: &mut SiteDay, first_hour: impl Iterator<Item = (&'a str, u32)>, registered: &HashSet<String>) {
    for (who, hour) in first_hour {
        let slot = &mut out.arrivals[hour as usize];
        if registered.contains(who) {
            out.served += 1;
            slot.0 += 1;
        } else {
            out.walk_ins += 1;
            slot.1 += 1;
        }
    }
    let mut total = DeskDay::default();
    for d in out.desks.values() {
        total.add(d);
    }
    out.total = total;
}

/// Read a site's day from the hub's database (the day table).
pub fn site_day(db: &HubDb, site: &str, day: NaiveDate) -> db::Result<SiteDay> {
    let rows = db.day_records(site, &day.to_string())?;
    let registered: HashSet<String> = db.registered_persons(site, &day.to_string())?.into_iter().collect();
    let mut out = fold_rows(site, day, &rows, &registered);
    certificates(db, &mut out)?;
    Ok(out)
}

/// [`site_day`] the way it was done before the day table: every dose event
/// the site received from three days before the day (records of a day may
/// arrive days later from a phone that was offline), folded. The reference
/// and the baseline; nothing a coordinator sees reads it.
pub fn site_day_from_events(db: &HubDb, site: &str, day: NaiveDate) -> db::Result<SiteDay> {
    let since = day_start_utc(day - chrono::Duration::days(3));
    let events = db.recent_dose_events(site, &since)?;
    let registered: HashSet<String> = db.registered_persons(site, &day.to_string())?.into_iter().collect();
    let mut out = fold_day(site, day, &events, &registered);
    certificates(db, &mut out)?;
    Ok(out)
}

fn certificates(db: &HubDb, out: &mut SiteDay) -> db::Result<()> {
    let issued = db.certificates_issued(std::slice::from_ref(&out.site), &day_start_utc(out.day), &day_start_utc(out.day + chrono::Duration::days(1)))?;
    (out.certificates, out.certificate_persons) = issued.first().map_or((0, 0), |(_, n, persons)| (*n, *persons));
    Ok(())
}

/// A site's day in the few figures a list of sites shows (the province's
/// coordinator sees up to 30 sites beside the one they look at).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteTotals {
    pub site: String,
    pub day: NaiveDate,
    pub given: u32,
    pub deferred: u32,
    pub refused: u32,
    pub registered: u32,
    pub served: u32,
    pub walk_ins: u32,
    pub certificates: i64,
}

impl SiteTotals {
    pub fn not_yet_come(&self) -> u32 {
        self.registered.saturating_sub(self.served)
    }
}

impl From<&SiteDay> for SiteTotals {
    fn from(d: &SiteDay) -> SiteTotals {
        SiteTotals {
            site: d.site.clone(),
            day: d.day,
            given: d.total.given(),
            deferred: d.total.deferred,
            refused: d.total.refused,
            registered: d.registered,
            served: d.served,
            walk_ins: d.walk_ins,
            certificates: d.certificates,
        }
    }
}

/// [`SiteTotals`] of several sites' day counted by the database, no row
/// brought out, in the order asked (a site with nothing that day counts
/// zeros). The province's list of 30 sites took most of its page's time:
/// first reading every site's rows, then two reads a site, each statement
/// planned again on PostgreSQL (bench hub, 10M events); now one connection
/// and, on PostgreSQL, two statements whatever the number of sites (ADR
/// 0029). The same figures as
/// [`site_day`] (the day-table test checks it on every site and day).
pub fn sites_totals(db: &HubDb, sites: &[String], day: NaiveDate) -> db::Result<Vec<SiteTotals>> {
    let counts: HashMap<String, DayCounts> = db.day_totals(sites, &day.to_string())?.into_iter().collect();
    let issued: HashMap<String, i64> =
        db.certificates_issued(sites, &day_start_utc(day), &day_start_utc(day + chrono::Duration::days(1)))?.into_iter().map(|(site, n, _)| (site, n)).collect();
    Ok(sites
        .iter()
        .map(|site| {
            let t = counts.get(site).copied().unwrap_or_default();
            SiteTotals {
                site: site.clone(),
                day,
                given: t.given,
                deferred: t.deferred,
                refused: t.refused,
                registered: t.registered,
                served: t.served,
                walk_ins: t.came.saturating_sub(t.served),
                certificates: issued.get(site).copied().unwrap_or(0),
            }
        })
        .collect())
}

/// One site's [`sites_totals`].
pub fn site_totals(db: &HubDb, site: &str, day: NaiveDate) -> db::Result<SiteTotals> {
    let mut one = sites_totals(db, &[site.to_string()], day)?;
    Ok(one.pop().unwrap_or_else(|| SiteTotals { site: site.to_string(), day, ..SiteTotals::default() }))
}

/// The figures of a day as JSON (for `vaxdesk --json report daily`).
#[derive(Debug, Serialize)]
pub struct Figures<'a> {
    pub site: &'a str,
    pub day: String,
    pub vaccinated: u32,
    pub deferred: u32,
    pub refused: u32,
    pub doses: Vec<VaccineDoses>,
    pub registered: u32,
    pub served: u32,
    pub not_yet_come: u32,
    pub walk_ins: u32,
    pub certificates: i64,
    pub certificate_persons: i64,
    pub desks: Vec<DeskFigures<'a>>,
}

#[derive(Debug, Serialize)]
pub struct VaccineDoses {
    pub vaccine: String,
    pub dose_number: u8,
    pub doses: u32,
}

#[derive(Debug, Serialize)]
pub struct DeskFigures<'a> {
    pub desk: &'a str,
    pub vaccinated: u32,
    pub deferred: u32,
    pub refused: u32,
    pub lag_median_s: Option<i64>,
    pub lag_max_s: Option<i64>,
}

impl SiteDay {
    pub fn figures(&self) -> Figures<'_> {
        Figures {
            site: &self.site,
            day: self.day.to_string(),
            vaccinated: self.total.given(),
            deferred: self.total.deferred,
            refused: self.total.refused,
            doses: self.total.doses.iter().map(|((v, n), d)| VaccineDoses { vaccine: v.clone(), dose_number: *n, doses: *d }).collect(),
            registered: self.registered,
            served: self.served,
            not_yet_come: self.not_yet_come(),
            walk_ins: self.walk_ins,
            certificates: self.certificates,
            certificate_persons: self.certificate_persons,
            desks: self
                .desks
                .iter()
                .map(|(k, d)| DeskFigures { desk: k, vaccinated: d.given(), deferred: d.deferred, refused: d.refused, lag_median_s: d.lag(0.5), lag_max_s: d.lag(1.0) })
                .collect(),
        }
    }
}

/// "AZ — AstraZeneca" when the catalog knows the code.
pub fn vaccine_label(catalog: &Catalog, code: &str) -> String {
    match catalog.vaccine(code) {
        Some(v) if v.name != code => format!("{code} — {}", v.name),
        _ => code.to_string(),
    }
}

const SUMMARY_HEADER: [&str; 11] =
    ["Điểm tiêm", "Ngày", "Mũi đã tiêm", "Hoãn tiêm", "Từ chối tiêm", "Đăng ký", "Đã đến (trong danh sách)", "Chưa đến", "Không đăng ký", "Chứng nhận đã cấp", "Số người được cấp"];
const VACCINE_HEADER: [&str; 5] = ["Điểm tiêm", "Ngày", "Vắc xin", "Mũi số", "Số mũi"];
const DESK_HEADER: [&str; 8] = ["Điểm tiêm", "Ngày", "Bàn", "Mũi đã tiêm", "Hoãn tiêm", "Từ chối tiêm", "Độ trễ đồng bộ trung vị (giây)", "Độ trễ đồng bộ tối đa (giây)"];

/// The daily report as an XLSX workbook: a summary row per site (and a
/// total when there are several), doses by vaccine and dose number, and
/// each desk's figures. Headers in Vietnamese, the steering committee's.
pub fn daily_xlsx(days: &[SiteDay], catalog: &Catalog) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let date = |d: NaiveDate| d.format("%d/%m/%Y").to_string();

    let ws = wb.add_worksheet();
    ws.set_name("Tong hop")?;
    ws.write_row_with_format(0, 0, SUMMARY_HEADER, &bold)?;
    let mut row = 1;
    let mut sum = [0f64; 9];
    for d in days {
        let values = [
            f64::from(d.total.given()),
            f64::from(d.total.deferred),
            f64::from(d.total.refused),
            f64::from(d.registered),
            f64::from(d.served),
            f64::from(d.not_yet_come()),
            f64::from(d.walk_ins),
            d.certificates as f64,
            d.certificate_persons as f64,
        ];
        ws.write_string(row, 0, &d.site)?;
        ws.write_string(row, 1, date(d.day))?;
        for (c, v) in values.iter().enumerate() {
            ws.write_number(row, 2 + c as u16, *v)?;
            sum[c] += v;
        }
        row += 1;
    }
    if days.len() > 1 {
        ws.write_string_with_format(row, 0, "Tổng", &bold)?;
        for (c, v) in sum.iter().enumerate() {
            ws.write_number_with_format(row, 2 + c as u16, *v, &bold)?;
        }
    }
    ws.set_column_width(0, 14)?;
    ws.set_column_width(1, 12)?;
    ws.set_column_range_width(2, 10, 14)?;

    let ws = wb.add_worksheet();
    ws.set_name("Theo vac xin")?;
    ws.write_row_with_format(0, 0, VACCINE_HEADER, &bold)?;
    let mut row = 1;
    for d in days {
        for ((vaccine, n), count) in &d.total.doses {
            ws.write_string(row, 0, &d.site)?;
            ws.write_string(row, 1, date(d.day))?;
            ws.write_string(row, 2, vaccine_label(catalog, vaccine))?;
            // A dose recorded without its number: the cell stays empty.
            if *n > 0 {
                ws.write_number(row, 3, f64::from(*n))?;
            }
            ws.write_number(row, 4, f64::from(*count))?;
            row += 1;
        }
    }
    ws.set_column_width(1, 12)?;
    ws.set_column_width(2, 28)?;

    let ws = wb.add_worksheet();
    ws.set_name("Theo ban")?;
    ws.write_row_with_format(0, 0, DESK_HEADER, &bold)?;
    let mut row = 1;
    for d in days {
        for (desk, x) in &d.desks {
            ws.write_string(row, 0, &d.site)?;
            ws.write_string(row, 1, date(d.day))?;
            ws.write_string(row, 2, desk)?;
            ws.write_number(row, 3, f64::from(x.given()))?;
            ws.write_number(row, 4, f64::from(x.deferred))?;
            ws.write_number(row, 5, f64::from(x.refused))?;
            for (c, q) in [(6u16, 0.5), (7, 1.0)] {
                if let Some(s) = x.lag(q) {
                    ws.write_number(row, c, s as f64)?;
                }
            }
            row += 1;
        }
    }
    ws.set_column_width(1, 12)?;
    ws.set_column_range_width(6, 7, 30)?;
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxdesk_core::model::{Dose, EventId, GivenElsewhere, PersonId};

    struct Made {
        event: DoseEvent,
        received: String,
        person: String,
    }

    fn made(person: PersonId, desk: &str, kind: DoseKind, outcome: Outcome, vaccine: &str, n: Option<u8>, at: &str) -> Made {
        let administered_at = DateTime::parse_from_rfc3339(at).unwrap();
        let event = DoseEvent {
            id: EventId::new(),
            person_id: person,
            site: "S".into(),
            desk: desk.into(),
            device: "d".into(),
            kind: kind.clone(),
            dose: (!matches!(kind, DoseKind::Void { .. })).then(|| Dose {
                vaccine: vaccine.into(),
                lot: None,
                lot_expiry: None,
                dose_number: n,
                administered_at,
                outcome,
                note: None,
                given_elsewhere: None,
            }),
            confirmed: vec![],
            recorded_at: administered_at.with_timezone(&Utc),
        };
        let received = (event.recorded_at + chrono::Duration::seconds(90)).to_rfc3339();
        Made { person: person.to_string(), event, received }
    }

    fn received(list: &[&Made]) -> Vec<ReceivedEvent> {
        list.iter().map(|m| ReceivedEvent { device: "d".into(), body: serde_json::to_string(&m.event).unwrap(), received_at: m.received.clone(), person: m.person.clone() }).collect()
    }

    #[test]
    fn doses_by_desk_with_corrections_applied() {
        let day: NaiveDate = "2021-09-14".parse().unwrap();
        let p = PersonId::new;
        let a = made(p(), "D1", DoseKind::Record, Outcome::Vaccinated, "AZ", Some(1), "2021-09-14T08:00:00+07:00");
        let b = made(p(), "D1", DoseKind::Record, Outcome::Vaccinated, "AZ", Some(2), "2021-09-14T08:05:00+07:00");
        let c = made(p(), "D2", DoseKind::Record, Outcome::Deferred, "PF", None, "2021-09-14T09:00:00+07:00");
        let other_day = made(p(), "D2", DoseKind::Record, Outcome::Vaccinated, "PF", Some(1), "2021-09-13T09:00:00+07:00");
        let amend = made(b.event.person_id, "D1", DoseKind::Amend { corrects: b.event.id, reason: "số mũi".into() }, Outcome::Vaccinated, "AZ", Some(1), "2021-09-14T08:05:00+07:00");
        let void = made(a.event.person_id, "D1", DoseKind::Void { corrects: a.event.id, reason: "nhập nhầm".into() }, Outcome::Vaccinated, "AZ", None, "2021-09-14T10:00:00+07:00");
        let mut elsewhere = made(p(), "D1", DoseKind::Record, Outcome::Vaccinated, "AB", Some(1), "2021-09-14T07:00:00+07:00");
        if let Some(d) = elsewhere.event.dose.as_mut() {
            d.given_elsewhere = Some(GivenElsewhere { place: "Cần Thơ".into() });
        }
        // Late evening UTC is the next morning in Vietnam.
        let utc_evening = made(p(), "D2", DoseKind::Record, Outcome::Vaccinated, "PF", Some(2), "2021-09-13T23:30:00+00:00");
        let board = fold_day("S", day, &received(&[&a, &b, &c, &other_day, &amend, &void, &elsewhere, &utc_evening]), &HashSet::new());
        let d1 = &board.desks["D1"];
        assert_eq!(d1.given(), 1, "one voided, one amended to dose 1");
        assert_eq!(d1.doses.get(&("AZ".to_string(), 1)), Some(&1));
        assert_eq!(d1.doses.get(&("AZ".to_string(), 2)), None);
        assert_eq!(d1.doses.get(&("AB".to_string(), 1)), None, "a dose given elsewhere is not the desk's work");
        assert_eq!(d1.lags, vec![90, 90]);
        assert_eq!(d1.by_hour[8], 1);
        assert_eq!(board.desks["D2"].deferred, 1);
        assert_eq!(board.desks["D2"].given(), 1, "the dose of the day before is not today's; 06:30 local is");
        assert_eq!(board.desks["D2"].by_hour[6], 1);
        assert_eq!(board.total.given(), 2);
        assert_eq!(board.total.deferred, 1);
        assert_eq!(d1.lag(0.5), Some(90));
        assert_eq!(board.lags_by_hour[8], vec![90, 90]);
        assert_eq!(board.walk_ins, 3, "b (amended), c (deferred) and the early dose; a's only record was voided");
    }

    #[test]
    fn registered_served_and_not_yet_come() {
        let day: NaiveDate = "2021-09-14".parse().unwrap();
        let (hoa, nam, lan, walk_in) = (PersonId::new(), PersonId::new(), PersonId::new(), PersonId::new());
        // Lan was registered, then typed again at the desk as a new person;
        // a coordinator merged the new one into her: the record counts for her.
        let lan_typed_again = PersonId::new();
        let registered: HashSet<String> = [hoa, nam, lan].iter().map(|p| p.to_string()).collect();
        let r1 = made(hoa, "D1", DoseKind::Record, Outcome::Vaccinated, "AZ", Some(1), "2021-09-14T07:40:00+07:00");
        let r2 = made(hoa, "D1", DoseKind::Record, Outcome::Vaccinated, "AZ", Some(2), "2021-09-14T09:10:00+07:00");
        let mut r3 = made(lan_typed_again, "D2", DoseKind::Record, Outcome::Refused, "PF", None, "2021-09-14T10:15:00+07:00");
        r3.person = lan.to_string();
        let r4 = made(walk_in, "D2", DoseKind::Record, Outcome::Vaccinated, "PF", Some(1), "2021-09-14T10:20:00+07:00");
        let d = fold_day("S", day, &received(&[&r1, &r2, &r3, &r4]), &registered);
        assert_eq!((d.registered, d.served, d.not_yet_come(), d.walk_ins), (3, 2, 1, 1));
        assert_eq!(d.arrivals[7], (1, 0), "Hoa counted once, at her first hour");
        assert_eq!(d.arrivals[9], (0, 0));
        assert_eq!(d.arrivals[10], (1, 1));
        let f = d.figures();
        assert_eq!((f.vaccinated, f.refused, f.not_yet_come), (3, 1, 1));
        assert_eq!(f.desks.len(), 2);
    }

    #[test]
    fn the_workbook_has_a_summary_a_vaccine_and_a_desk_sheet() {
        let day: NaiveDate = "2021-09-14".parse().unwrap();
        let r = made(PersonId::new(), "D1", DoseKind::Record, Outcome::Vaccinated, "AZ", Some(1), "2021-09-14T07:40:00+07:00");
        let d = fold_day("S", day, &received(&[&r]), &HashSet::new());
        let bytes = daily_xlsx(&[d.clone(), SiteDay { site: "T".into(), ..d }], &Catalog::builtin()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = zip.file_names().map(str::to_string).collect();
        for sheet in ["xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml"] {
            assert!(names.iter().any(|n| n == sheet), "{sheet} in {names:?}");
        }
        let mut wb = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut wb).unwrap();
        assert!(wb.contains("Tong hop") && wb.contains("Theo vac xin") && wb.contains("Theo ban"), "{wb}");
    }
}
