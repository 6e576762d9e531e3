//! Vaccines, schedules, mixing and booster rules, and lots, as versioned data.
//! Rules changed mid-campaign (AstraZeneca's interval was shortened on
//! 20/9/2021), so no interval, age or mixing rule lives in code: the hub
//! publishes a newer catalog and desks pull it. A built-in default
//! (`data/catalog.json`, REFERENCE §3) lets a desk work before its first sync.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The catalog compiled into the binary.
pub const DEFAULT_CATALOG_JSON: &str = include_str!("../data/catalog.json");

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("catalog {field}: {message}")]
    Invalid { field: String, message: String },
    /// Not newer than the catalog in use: a stale file or a replayed
    /// publication must not roll the rules back.
    #[error("catalog.version: version {version} is not newer than the catalog in use (v{current})")]
    NotNewer { version: u32, current: u32 },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> CatalogError {
    CatalogError::Invalid { field: field.into(), message: message.into() }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Strictly increasing; a desk only replaces its catalog with a newer one.
    pub version: u32,
    #[serde(default)]
    pub name: String,
    /// A lot that expires within this many days of the dose date is a warning.
    pub near_expiry_days: u32,
    pub vaccines: Vec<Vaccine>,
    #[serde(default)]
    pub mixes: Vec<MixRule>,
    pub booster: BoosterRule,
    #[serde(default)]
    pub lots: Vec<Lot>,
    /// Who signs vaccination certificates: the desks' trust list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<crate::cert::PublishedSigner>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vaccine {
    /// Short code used on the desk and in records (`AZ`, `PF`, ...).
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub brands: Vec<String>,
    pub manufacturer: String,
    /// Manufacturer country as the national platform wants it.
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcc: Option<DccCodes>,
    /// Doses in the primary series.
    pub series_doses: u8,
    /// `intervals[i]` is the wait between dose `i+1` and dose `i+2`.
    pub intervals: Vec<Interval>,
    pub age: AgeRange,
    /// May be given as a booster after a completed primary series.
    #[serde(default)]
    pub booster: bool,
}

/// EU Digital COVID Certificate value-set codes (REFERENCE §1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DccCodes {
    pub mp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ma: Option<String>,
    pub vp: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    /// Shorter than this is a warning the volunteer must confirm.
    pub min_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeRange {
    pub min_years: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_years: Option<u32>,
}

/// After a dose of `first`, the next dose of the series may be any of `then`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixRule {
    pub first: String,
    pub then: Vec<String>,
    /// Overrides `first`'s interval when mixing, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoosterRule {
    /// The wait after the series where `after` names none for its product.
    pub min_days_after_series: u32,
    pub max_boosters: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_dose: Option<AdditionalDose>,
    /// Which products may boost a series of each primary product, and after
    /// how long. A primary product not named here may be boosted by every
    /// vaccine marked `booster`, after `min_days_after_series`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<BoosterAfter>,
}

/// The booster rule for series of the `primary` products (the product of
/// the series' first dose).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoosterAfter {
    pub primary: Vec<String>,
    pub products: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_days: Option<u32>,
}

/// A shorter wait for special groups (e.g. the immunocompromised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdditionalDose {
    pub min_days: u32,
    pub priority_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub number: String,
    pub vaccine: String,
    pub expiry: NaiveDate,
}

impl Catalog {
    /// The built-in catalog. It is compiled in and checked by a test, so a
    /// failure here is a build defect, not bad input.
    pub fn builtin() -> Catalog {
        match Catalog::from_json(DEFAULT_CATALOG_JSON) {
            Ok(c) => c,
            Err(e) => unreachable!("built-in catalog is invalid: {e}"),
        }
    }

    /// Parse and check a catalog: every reference resolves and every series
    /// has the right number of intervals.
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let c: Catalog = serde_json::from_str(text)?;
        c.check()?;
        Ok(c)
    }

    pub fn to_json(&self) -> String {
        // A Catalog has only string keys and plain values: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// May this catalog replace `current`? Valid in itself and of a newer
    /// version: the one succession rule of desks and the hub.
    pub fn may_follow(&self, current: Option<&Catalog>) -> Result<(), CatalogError> {
        self.check()?;
        match current {
            Some(cur) if self.version <= cur.version => Err(CatalogError::NotNewer { version: self.version, current: cur.version }),
            _ => Ok(()),
        }
    }

    pub fn check(&self) -> Result<(), CatalogError> {
        if self.vaccines.is_empty() {
            return Err(invalid("vaccines", "at least one vaccine expected"));
        }
        let mut codes = HashSet::new();
        for (i, v) in self.vaccines.iter().enumerate() {
            let at = format!("vaccines[{i}]");
            if v.code.trim().is_empty() {
                return Err(invalid(format!("{at}.code"), "empty"));
            }
            if !codes.insert(v.code.as_str()) {
                return Err(invalid(format!("{at}.code"), format!("duplicate code {:?}", v.code)));
            }
            if v.series_doses == 0 {
                return Err(invalid(format!("{at}.series_doses"), "must be at least 1"));
            }
            if v.intervals.len() != usize::from(v.series_doses) - 1 {
                return Err(invalid(
                    format!("{at}.intervals"),
                    format!("{} doses need {} intervals, got {}", v.series_doses, v.series_doses - 1, v.intervals.len()),
                ));
            }
            if let Some(max) = v.age.max_years {
                if max < v.age.min_years {
                    return Err(invalid(format!("{at}.age"), "max_years below min_years"));
                }
            }
        }
        for (i, m) in self.mixes.iter().enumerate() {
            for code in std::iter::once(&m.first).chain(&m.then) {
                if !codes.contains(code.as_str()) {
                    return Err(invalid(format!("mixes[{i}]"), format!("unknown vaccine {code:?}")));
                }
            }
        }
        let mut primaries = HashSet::new();
        for (i, b) in self.booster.after.iter().enumerate() {
            if b.products.is_empty() {
                return Err(invalid(format!("booster.after[{i}].products"), "at least one product expected"));
            }
            for code in b.primary.iter().chain(&b.products) {
                if !codes.contains(code.as_str()) {
                    return Err(invalid(format!("booster.after[{i}]"), format!("unknown vaccine {code:?}")));
                }
            }
            for code in &b.primary {
                if !primaries.insert(code.to_ascii_uppercase()) {
                    return Err(invalid(format!("booster.after[{i}].primary"), format!("{code:?} has a rule already")));
                }
            }
        }
        let mut lots = HashSet::new();
        for (i, l) in self.lots.iter().enumerate() {
            if !codes.contains(l.vaccine.as_str()) {
                return Err(invalid(format!("lots[{i}].vaccine"), format!("unknown vaccine {:?}", l.vaccine)));
            }
            if l.number.trim().is_empty() {
                return Err(invalid(format!("lots[{i}].number"), "empty"));
            }
            if !lots.insert((l.vaccine.as_str(), l.number.as_str())) {
                return Err(invalid(format!("lots[{i}].number"), format!("duplicate lot {:?}", l.number)));
            }
        }
        Ok(())
    }

    pub fn vaccine(&self, code: &str) -> Option<&Vaccine> {
        self.vaccines.iter().find(|v| v.code.eq_ignore_ascii_case(code))
    }

    /// Lots are looked up by number; a number may in principle be reused by
    /// two makers, so every match is returned.
    pub fn lots_numbered<'a>(&'a self, number: &'a str) -> impl Iterator<Item = &'a Lot> + 'a {
        self.lots.iter().filter(move |l| l.number.eq_ignore_ascii_case(number))
    }

    pub fn lots_of<'a>(&'a self, vaccine: &'a str) -> impl Iterator<Item = &'a Lot> + 'a {
        self.lots.iter().filter(move |l| l.vaccine.eq_ignore_ascii_case(vaccine))
    }

    /// The booster rule for a series begun with `primary`: the products that
    /// may boost it and the wait after the series (before any special
    /// group's shorter wait).
    pub fn booster_for(&self, primary: &str) -> (Vec<String>, u32) {
        match self.booster.after.iter().find(|b| b.primary.iter().any(|p| p.eq_ignore_ascii_case(primary))) {
            Some(b) => (b.products.clone(), b.min_days.unwrap_or(self.booster.min_days_after_series)),
            None => (
                self.vaccines.iter().filter(|v| v.booster).map(|v| v.code.clone()).collect(),
                self.booster.min_days_after_series,
            ),
        }
    }

    /// May `next` follow a dose of `prev` within one primary series, and if so
    /// after how many days at least.
    pub fn series_step(&self, prev: &Vaccine, dose_done: u8, next: &str) -> Option<u32> {
        let own = prev.intervals.get(usize::from(dose_done).saturating_sub(1)).map(|i| i.min_days)?;
        if prev.code.eq_ignore_ascii_case(next) {
            return Some(own);
        }
        self.mixes
            .iter()
            .find(|m| m.first.eq_ignore_ascii_case(&prev.code) && m.then.iter().any(|t| t.eq_ignore_ascii_case(next)))
            .map(|m| m.min_days.unwrap_or(own))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_valid_and_covers_reference_vaccines() {
        let c = Catalog::builtin();
        for code in ["AZ", "CS", "PF", "MD", "VC", "HV", "SP", "AB", "JJ"] {
            assert!(c.vaccine(code).is_some(), "{code} missing");
        }
        let ab = c.vaccine("AB").unwrap();
        assert_eq!((ab.series_doses, ab.age.min_years, ab.age.max_years), (3, 19, Some(65)));
        assert_eq!(c.vaccine("JJ").unwrap().series_doses, 1);
    }

    #[test]
    fn mixing_follows_the_rules() {
        let c = Catalog::builtin();
        let az = c.vaccine("AZ").unwrap();
        assert_eq!(c.series_step(az, 1, "AZ"), Some(28));
        assert_eq!(c.series_step(az, 1, "PF"), Some(28));
        assert_eq!(c.series_step(az, 1, "VC"), None);
        let pf = c.vaccine("PF").unwrap();
        assert_eq!(c.series_step(pf, 1, "MD"), Some(21));
        assert_eq!(c.series_step(pf, 1, "AZ"), None);
        // Beyond the series there is no next step.
        assert_eq!(c.series_step(pf, 2, "PF"), None);
    }

    #[test]
    fn boosters_follow_the_primary_product() {
        let c = Catalog::builtin();
        let (products, days) = c.booster_for("vc");
        assert_eq!((products, days), (vec!["AZ".to_string(), "PF".into(), "MD".into()], 180));
        // A product with no rule of its own: every vaccine marked booster.
        let mut c2 = c.clone();
        c2.booster.after.clear();
        assert_eq!(c2.booster_for("JJ").0, vec!["AZ".to_string(), "PF".into(), "MD".into()]);
        c2.booster.after.push(BoosterAfter { primary: vec!["JJ".into()], products: vec!["JJ".into(), "PF".into()], min_days: Some(60) });
        assert_eq!(c2.booster_for("JJ"), (vec!["JJ".to_string(), "PF".into()], 60));
        c2.check().unwrap();
        c2.booster.after.push(BoosterAfter { primary: vec!["JJ".into()], products: vec!["AZ".into()], min_days: None });
        assert!(c2.check().unwrap_err().to_string().contains("booster.after[1].primary"));
    }

    #[test]
    fn inconsistent_catalogs_are_refused_with_the_field() {
        let mut c = Catalog::builtin();
        c.vaccines[0].intervals.clear();
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("vaccines[0].intervals"), "{e}");

        let mut c = Catalog::builtin();
        c.lots.push(Lot { number: "X1".into(), vaccine: "NOPE".into(), expiry: NaiveDate::MAX });
        assert!(c.check().unwrap_err().to_string().contains("lots[0].vaccine"));

        let mut c = Catalog::builtin();
        c.mixes.push(MixRule { first: "AZ".into(), then: vec!["XX".into()], min_days: None });
        assert!(c.check().unwrap_err().to_string().contains("unknown vaccine \"XX\""));

        assert!(matches!(Catalog::from_json("{"), Err(CatalogError::Json(_))));
    }

    #[test]
    fn catalog_round_trips_through_json() {
        let c = Catalog::builtin();
        assert_eq!(Catalog::from_json(&c.to_json()).unwrap(), c);
    }
}
