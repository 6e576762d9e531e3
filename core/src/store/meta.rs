//! Small settings (device id, site, desk, time zone) and the catalog in use.

use rusqlite::{params, OptionalExtension};

use super::{from_json, now_text, Result, Store};
use crate::catalog::Catalog;

impl Store {
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional())
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
                .execute(params![key, value])?;
            Ok(())
        })
    }

    /// Several settings in one transaction: all of them, or none (an
    /// enrollment's hub, token, site and desk). `None` removes a key.
    pub fn set_metas(&self, pairs: &[(&str, Option<&str>)]) -> Result<()> {
        self.write(|tx| {
            let mut put = tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?;
            let mut remove = tx.prepare_cached("DELETE FROM meta WHERE key = ?1")?;
            for (k, v) in pairs {
                match v {
                    Some(v) => put.execute(params![k, v])?,
                    None => remove.execute(params![k])?,
                };
            }
            Ok(())
        })
    }

    /// The newest catalog loaded, if any was (the built-in one is not stored).
    pub fn catalog(&self) -> Result<Option<Catalog>> {
        let body: Option<String> =
            self.read(|c| c.query_row("SELECT body FROM catalog ORDER BY version DESC LIMIT 1", [], |r| r.get(0)).optional())?;
        body.map(|b| from_json("catalog", &b)).transpose()
    }

    /// Keep a catalog. Older versions stay for the record; the newest wins.
    pub fn save_catalog(&self, c: &Catalog) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO catalog (version, body, loaded_at) VALUES (?1, ?2, ?3)")?
                .execute(params![c.version, super::json(c), now_text()])?;
            Ok(())
        })
    }
}
