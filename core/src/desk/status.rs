//! Where the desk stands, the same for the phone's queue, the settings
//! screen and `vaxdesk status`: who it is, its hub, what waits to go, and
//! what the hub refused that still needs the volunteer; and the verdict on
//! a certificate shown to it.

use serde::Serialize;

use super::Desk;
use crate::error::Result;
use crate::store::{OutboxCounts, ToFixItem};
use crate::sync::engine::{META_DESK_NAME, META_HUB, META_LAST_SYNC, META_SITE_NAME};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskStatus {
    pub device_id: String,
    pub site: Option<String>,
    pub desk: Option<String>,
    pub site_name: Option<String>,
    pub desk_name: Option<String>,
    /// The hub this desk is enrolled with, if any.
    pub hub: Option<String>,
    pub last_sync: Option<String>,
    /// Events by state. `queue.to_fix` counts every refusal ever recorded,
    /// corrected ones too; `to_fix` lists only those still open.
    pub queue: OutboxCounts,
    /// Refusals that still need the volunteer, oldest first (at most 500):
    /// one corrected since, or covered by its record's own refusal, is not
    /// listed.
    pub to_fix: Vec<ToFixItem>,
}

impl Desk {
    /// Read and judge a certificate (`HC1:` text) against the signers this
    /// desk's catalog trusts, at this desk's now: the one verdict the phone
    /// and the CLI show.
    pub fn certificate_verdict(&self, text: &str) -> Result<crate::cert::CertVerdict> {
        let parsed = crate::qr::payload::parse_hc1(text, &crate::cert::trust_list(&self.catalog().signers));
        match parsed.value {
            Some(c) => Ok(crate::cert::verdict(&c, (self.clock)().timestamp())),
            None => Err(crate::Error::input("certificate", parsed.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))),
        }
    }

    pub fn status(&self) -> Result<DeskStatus> {
        let s = &self.store;
        let c = self.config();
        Ok(DeskStatus {
            device_id: c.device_id,
            site: c.site,
            desk: c.desk,
            site_name: s.meta(META_SITE_NAME)?,
            desk_name: s.meta(META_DESK_NAME)?,
            hub: s.meta(META_HUB)?,
            last_sync: s.meta(META_LAST_SYNC)?,
            queue: s.outbox_counts()?,
            to_fix: s.to_fix_open(500)?,
        })
    }
}
