//! Exports for the national platform. The CSV carries the dose import fields
//! (REFERENCE §4), one row per dose as it stands after corrections, in UTF-8
//! with a byte-order mark so that Excel shows Vietnamese names correctly.

use std::io::Write;

use chrono::NaiveDate;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::model::Outcome;
use crate::store::{Store, StoreError};

pub const CSV_HEADER: [&str; 18] = [
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Số CMND/CCCD",
    "Số điện thoại",
    "Số thẻ BHYT",
    "Nhóm ưu tiên",
    "Mã tỉnh",
    "Mã huyện",
    "Mã xã",
    "Mã cơ sở tiêm",
    "Mũi tiêm",
    "Ngày tiêm",
    "Giờ tiêm",
    "Tên vắc xin",
    "Nước sản xuất",
    "Số lô",
    "Hạn sử dụng",
];

/// Write the doses given between `from` and `to` (inclusive), optionally of
/// one site. Deferrals and refusals are not doses and are left out.
/// Returns the number of rows written.
pub fn doses_csv(store: &Store, catalog: &Catalog, from: NaiveDate, to: NaiveDate, site: Option<&str>, out: impl Write) -> Result<u64> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes()).map_err(io)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER).map_err(csv_err)?;
    let mut n = 0u64;
    store.for_each_dose(from, to, site, |r| {
        if r.dose.outcome != Outcome::Vaccinated {
            return Ok(());
        }
        let p = store.person(r.person_id)?.ok_or_else(|| StoreError::NotFound { what: "person", id: r.person_id.to_string() })?;
        let vaccine = catalog.vaccine(&r.dose.vaccine);
        let d = &r.dose;
        let birth = match p.birth_date {
            crate::model::BirthDate::Full(b) => b.format("%d/%m/%Y").to_string(),
            crate::model::BirthDate::Year(y) => y.to_string(),
        };
        let row = [
            p.full_name.clone(),
            birth,
            p.sex.map(|s| s.vietnamese().to_string()).unwrap_or_default(),
            p.national_id.as_ref().map(|n| n.number.clone()).unwrap_or_default(),
            p.phone.clone().unwrap_or_default(),
            p.health_insurance.clone().unwrap_or_default(),
            p.priority_group.clone().unwrap_or_default(),
            p.address.province_code.clone().unwrap_or_default(),
            p.address.district_code.clone().unwrap_or_default(),
            p.address.ward_code.clone().unwrap_or_default(),
            r.site.clone(),
            d.dose_number.map(|n| n.to_string()).unwrap_or_default(),
            d.administered_at.format("%d/%m/%Y").to_string(),
            d.administered_at.format("%H:%M").to_string(),
            vaccine.map(|v| v.name.clone()).unwrap_or_else(|| d.vaccine.clone()),
            vaccine.map(|v| v.country.clone()).unwrap_or_default(),
            d.lot.clone().unwrap_or_default(),
            d.lot_expiry.map(|e| e.format("%d/%m/%Y").to_string()).unwrap_or_default(),
        ];
        w.write_record(&row).map_err(|e| StoreError::BadRow { table: "export", detail: e.to_string() })?;
        n += 1;
        Ok(())
    })?;
    w.flush().map_err(io)?;
    Ok(n)
}

fn io(e: std::io::Error) -> crate::Error {
    crate::Error::input("output", e.to_string())
}

fn csv_err(e: csv::Error) -> crate::Error {
    crate::Error::input("output", e.to_string())
}
