//! Exports from the hub's database: the same rows and resources as a desk's
//! export (`vaxdesk_core::export`), built from the events the hub holds.
//! A site's events are read person by person (merges followed), so memory
//! holds one person at a time whatever the size of the site.

use chrono::NaiveDate;
use vaxdesk_core::export::DoseSource;
use vaxdesk_core::model::{DoseRecord, Person};

use crate::actions::fold_person;
use crate::db::HubDb;

/// The doses of the hub's database, as an export source. `sites` limits
/// what a coordinator may export when no site is named.
#[derive(Debug)]
pub struct HubDoses<'a> {
    pub db: &'a HubDb,
    pub sites: Vec<String>,
}

impl DoseSource for HubDoses<'_> {
    fn each_dose(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        site: Option<&str>,
        f: &mut dyn FnMut(&Person, &DoseRecord) -> vaxdesk_core::Result<()>,
    ) -> vaxdesk_core::Result<()> {
        let sites: Vec<&str> = match site {
            Some(s) => self.sites.iter().map(String::as_str).filter(|x| *x == s).collect(),
            None => self.sites.iter().map(String::as_str).collect(),
        };
        for site in sites {
            let mut current: Option<String> = None;
            let mut rows: Vec<(String, String)> = Vec::new();
            let mut failed: Option<vaxdesk_core::Error> = None;
            let mut flush = |who: &str, rows: &mut Vec<(String, String)>| -> vaxdesk_core::Result<()> {
                let file = fold_person(who, site.to_string(), rows.iter().map(|(s, b)| (s.as_str(), b.as_str())));
                rows.clear();
                let Some(file) = file else { return Ok(()) };
                for d in file.doses.iter().filter(|d| (from..=to).contains(&d.dose.administered_at.date_naive())) {
                    f(&file.person, d)?;
                }
                Ok(())
            };
            let walked = self.db.for_each_site_event(site, &mut |who, stream, body| {
                if current.as_deref() != Some(who) {
                    if let Some(prev) = current.take() {
                        if let Err(e) = flush(&prev, &mut rows) {
                            failed = Some(e);
                            return Err(crate::db::DbError::Abandoned);
                        }
                    }
                    current = Some(who.to_string());
                }
                rows.push((stream.to_string(), body.to_string()));
                Ok(())
            });
            if let Some(e) = failed {
                return Err(e);
            }
            walked.map_err(|e| vaxdesk_core::Error::Source { what: "the hub's database", detail: e.to_string() })?;
            if let Some(prev) = current {
                flush(&prev, &mut rows)?;
            }
        }
        Ok(())
    }
}
