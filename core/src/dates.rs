//! Days and times as people type them: ISO (`2021-09-14`) or the Vietnamese
//! order (`14/09/2021`), with or without a time. One parser for the CLI, the
//! hub's forms and the bindings, so every front end accepts the same text
//! and says the same thing about a date that is not on the calendar.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

use crate::error::Error;

/// A moment typed by a person: the time may be unknown (a bare date), in
/// which case it stands at midnight in the desk's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub at: DateTime<FixedOffset>,
    pub time_known: bool,
}

/// A calendar day: `YYYY-MM-DD` or `DD/MM/YYYY`.
pub fn parse_day(field: &str, s: &str) -> Result<NaiveDate, Error> {
    let t = s.trim();
    let (y, m, d) = day_parts(t).ok_or_else(|| Error::input(field, format!("YYYY-MM-DD or DD/MM/YYYY expected, got {s:?}")))?;
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| Error::input(field, format!("{t:?} is not a calendar date")))
}

/// A moment: RFC 3339, or a day (as [`parse_day`]) with an optional
/// `HH:MM` in `offset` (the desk's).
pub fn parse_moment(field: &str, s: &str, offset: FixedOffset) -> Result<Moment, Error> {
    let t = s.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(Moment { at, time_known: true });
    }
    let expected = || {
        Error::input(field, format!("a day (YYYY-MM-DD or DD/MM/YYYY), a day and time (\"YYYY-MM-DD HH:MM\") or RFC 3339 expected, got {s:?}"))
    };
    let (day_text, time_text) = match t.split_once([' ', 'T']) {
        Some((d, tm)) => (d, Some(tm.trim())),
        None => (t, None),
    };
    if day_parts(day_text).is_none() {
        return Err(expected());
    }
    let day = parse_day(field, day_text)?;
    let time = match time_text {
        None => None,
        Some(tm) => Some(NaiveTime::parse_from_str(tm, "%H:%M").map_err(|_| Error::input(field, format!("{tm:?} is not a time of day (HH:MM)")))?),
    };
    let local = NaiveDateTime::new(day, time.unwrap_or(NaiveTime::MIN));
    let at = offset.from_local_datetime(&local).single().ok_or_else(|| Error::input(field, format!("{t:?} is not a valid local time")))?;
    Ok(Moment { at, time_known: time.is_some() })
}

/// Year, month and day by shape alone (digits in the right places), so a
/// well-formed but impossible day can be told from a badly typed one.
fn day_parts(t: &str) -> Option<(i32, u32, u32)> {
    let digits = |p: &str, min: usize, max: usize| (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = t.split(['-', '/']).collect();
    if parts.len() != 3 {
        return None;
    }
    if t.contains('-') && !t.contains('/') && digits(parts[0], 4, 4) && digits(parts[1], 1, 2) && digits(parts[2], 1, 2) {
        return Some((parts[0].parse().ok()?, parts[1].parse().ok()?, parts[2].parse().ok()?));
    }
    if t.contains('/') && !t.contains('-') && digits(parts[0], 1, 2) && digits(parts[1], 1, 2) && digits(parts[2], 4, 4) {
        return Some((parts[2].parse().ok()?, parts[1].parse().ok()?, parts[0].parse().ok()?));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vn() -> FixedOffset {
        FixedOffset::east_opt(7 * 3600).unwrap()
    }

    #[test]
    fn days_in_both_orders_and_impossible_days_named() {
        let d = NaiveDate::from_ymd_opt(2021, 9, 14).unwrap();
        assert_eq!(parse_day("date", "2021-09-14").unwrap(), d);
        assert_eq!(parse_day("date", " 14/09/2021 ").unwrap(), d);
        assert_eq!(parse_day("date", "14/9/2021").unwrap(), d);
        let e = parse_day("date", "2021-02-30").unwrap_err().to_string();
        assert_eq!(e, "date: \"2021-02-30\" is not a calendar date");
        let e = parse_day("date", "31/04/2021").unwrap_err().to_string();
        assert!(e.contains("not a calendar date"), "{e}");
        for bad in ["", "2021/09/14", "14-09-2021", "21-09-14", "hôm nay", "2021-09-14-1"] {
            let e = parse_day("date", bad).unwrap_err().to_string();
            assert!(e.starts_with("date: YYYY-MM-DD or DD/MM/YYYY expected"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn moments_with_and_without_a_time() {
        let m = parse_moment("at", "2021-09-14", vn()).unwrap();
        assert!(!m.time_known);
        assert_eq!(m.at.to_rfc3339(), "2021-09-14T00:00:00+07:00");
        let m = parse_moment("at", "14/09/2021 08:30", vn()).unwrap();
        assert!(m.time_known);
        assert_eq!(m.at.to_rfc3339(), "2021-09-14T08:30:00+07:00");
        let m = parse_moment("at", "2021-09-14T08:30:00+02:00", vn()).unwrap();
        assert_eq!(m.at.offset().local_minus_utc(), 7200);
        let e = parse_moment("at", "2021-02-30 10:00", vn()).unwrap_err().to_string();
        assert_eq!(e, "at: \"2021-02-30\" is not a calendar date");
        let e = parse_moment("at", "2021-09-14 25:00", vn()).unwrap_err().to_string();
        assert_eq!(e, "at: \"25:00\" is not a time of day (HH:MM)");
        let e = parse_moment("at", "yesterday", vn()).unwrap_err().to_string();
        assert!(e.starts_with("at: a day (YYYY-MM-DD or DD/MM/YYYY)"), "{e}");
    }
}
