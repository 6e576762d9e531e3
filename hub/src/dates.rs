//! Dates from outside the hub (query strings, forms) are parsed here, at
//! the edge, and only within bounds any vaccination record can have: a date
//! far outside them is a mistake or a probe, and arithmetic on it (a day
//! before, three days before) must never overflow deeper in.

use chrono::NaiveDate;

use crate::error::HubError;

/// The first and last days any page, export or form accepts.
pub fn bounds() -> (NaiveDate, NaiveDate) {
    (NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN), NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or(NaiveDate::MAX))
}

/// `YYYY-MM-DD` between [`bounds`], or a 400 that names the field and says
/// what was expected. `code` is the error's machine code.
pub fn day(code: &'static str, field: &str, text: &str) -> Result<NaiveDate, HubError> {
    let text = text.trim();
    let shown: String = text.chars().take(40).collect();
    let (first, last) = bounds();
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) if d >= first && d <= last => Ok(d),
        Ok(_) => Err(HubError::bad_request(code, format!("{field}: a date between {first} and {last} expected, got {shown:?}"))),
        Err(_) => Err(HubError::bad_request(code, format!("{field}: a date as YYYY-MM-DD expected, got {shown:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_out_of_bounds_or_malformed_are_refused_naming_the_field() {
        assert_eq!(day("x", "date", "2021-09-14").ok(), NaiveDate::from_ymd_opt(2021, 9, 14));
        for bad in ["-262143-01-01", "+262142-12-31", "9999-12-31", "1899-12-31", "2021-02-30", "14/09/2021", "", "2021-9-14x"] {
            let e = day("dashboard.date", "date", bad).err().map(|e| e.message).unwrap_or_default();
            assert!(e.contains("date: a date"), "{bad}: {e}");
        }
    }
}
