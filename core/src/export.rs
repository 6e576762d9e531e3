//! Exports for the national platform. The CSV carries the dose import fields
//! (REFERENCE §4), one row per dose as it stands after corrections, in UTF-8
//! with a byte-order mark so that Excel shows Vietnamese names correctly.

use std::io::Write;

use chrono::NaiveDate;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::model::{DoseRecord, Outcome, Person};
use crate::store::{Store, StoreError};

/// Where exported doses come from: a desk's store, or the hub's database.
pub trait DoseSource {
    /// Call `f` with each dose as it stands after corrections, given
    /// between `from` and `to` (inclusive, local date), optionally of one
    /// site, with its person. Deferrals and refusals come too.
    fn each_dose(&self, from: NaiveDate, to: NaiveDate, site: Option<&str>, f: &mut dyn FnMut(&Person, &DoseRecord) -> Result<()>) -> Result<()>;
}

impl DoseSource for Store {
    fn each_dose(&self, from: NaiveDate, to: NaiveDate, site: Option<&str>, f: &mut dyn FnMut(&Person, &DoseRecord) -> Result<()>) -> Result<()> {
        // The store's loop speaks StoreError; an error of `f` is kept aside
        // and the loop stopped with a marker.
        let mut failed = None;
        let walked = self.for_each_dose(from, to, site, |r| {
            let p = self.person(r.person_id)?.ok_or_else(|| StoreError::NotFound { what: "person", id: r.person_id.to_string() })?;
            f(&p, &r).map_err(|e| {
                failed = Some(e);
                StoreError::BadRow { table: "export", detail: "stopped".into() }
            })
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(walked?),
        }
    }
}

pub const CSV_HEADER: [&str; COLUMNS] = [
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
    "Nơi tiêm khác",
];

/// The platform's 18 dose fields, then where a dose given elsewhere was
/// given (empty for a dose given at a vaxdesk site).
pub const COLUMNS: usize = 19;

/// What the "Nơi tiêm khác" column says when the place was not told.
pub const ELSEWHERE_UNKNOWN: &str = "không rõ";

/// One dose's row of the national platform's import fields, or `None` for
/// a deferral or refusal (not doses). A dose given elsewhere has no
/// facility code (the site only typed it in) and names its place.
pub fn dose_row(p: &Person, catalog: &Catalog, r: &DoseRecord) -> Option<[String; COLUMNS]> {
    if r.dose.outcome != Outcome::Vaccinated {
        return None;
    }
    let vaccine = catalog.vaccine(&r.dose.vaccine);
    let d = &r.dose;
    let birth = match p.birth_date {
        crate::model::BirthDate::Full(b) => b.format("%d/%m/%Y").to_string(),
        crate::model::BirthDate::Year(y) => y.to_string(),
    };
    Some([
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
        if d.given_elsewhere.is_some() { String::new() } else { r.site.clone() },
        d.dose_number.map(|n| n.to_string()).unwrap_or_default(),
        d.administered_at.format("%d/%m/%Y").to_string(),
        d.administered_at.format("%H:%M").to_string(),
        vaccine.map(|v| v.name.clone()).unwrap_or_else(|| d.vaccine.clone()),
        vaccine.map(|v| v.country.clone()).unwrap_or_default(),
        d.lot.clone().unwrap_or_default(),
        d.lot_expiry.map(|e| e.format("%d/%m/%Y").to_string()).unwrap_or_default(),
        match &d.given_elsewhere {
            Some(g) if g.place.trim().is_empty() => ELSEWHERE_UNKNOWN.to_string(),
            Some(g) => g.place.clone(),
            None => String::new(),
        },
    ])
}

/// Write the doses given between `from` and `to` (inclusive), optionally of
/// one site. Deferrals and refusals are not doses and are left out.
/// Returns the number of rows written.
pub fn doses_csv(source: &dyn DoseSource, catalog: &Catalog, from: NaiveDate, to: NaiveDate, site: Option<&str>, out: impl Write) -> Result<u64> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes()).map_err(io)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER).map_err(csv_err)?;
    let mut n = 0u64;
    source.each_dose(from, to, site, &mut |p, r| {
        if let Some(row) = dose_row(p, catalog, r) {
            w.write_record(&row).map_err(csv_err)?;
            n += 1;
        }
        Ok(())
    })?;
    w.flush().map_err(io)?;
    Ok(n)
}

/// The same rows as an Excel workbook, written in constant memory (rows go
/// to a temporary file as they come, not into a table in memory), so a
/// million doses fit a small machine. `progress` is called every 10,000 rows.
pub fn doses_xlsx(
    source: &dyn DoseSource,
    catalog: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    site: Option<&str>,
    path: &std::path::Path,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let xl = |e: rust_xlsxwriter::XlsxError| crate::Error::input("output", e.to_string());
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory();
    ws.set_name("Mui tiem").map_err(xl)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in CSV_HEADER.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold).map_err(xl)?;
    }
    let mut n = 0u64;
    source.each_dose(from, to, site, &mut |p, r| {
        if let Some(row) = dose_row(p, catalog, r) {
            n += 1;
            for (c, v) in row.iter().enumerate() {
                // Ids and phone numbers stay text: Excel would drop their leading zeros.
                ws.write_string(n as u32, c as u16, v).map_err(xl)?;
            }
            if n % 10_000 == 0 {
                progress(n);
            }
        }
        Ok(())
    })?;
    wb.save(path).map_err(xl)?;
    progress(n);
    Ok(n)
}

/// FHIR R4 bulk data: `Patient.ndjson` and `Immunization.ndjson` in `dir`,
/// one resource per line, for the doses given between `from` and `to`.
/// Each person is written once (a set of the ids written so far is the only
/// memory that grows: 16 bytes a person). Returns (patients, immunizations).
pub fn doses_fhir(
    source: &dyn DoseSource,
    catalog: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    site: Option<&str>,
    dir: &std::path::Path,
    mut progress: impl FnMut(u64),
) -> Result<(u64, u64)> {
    let create = |name: &str| std::fs::File::create(dir.join(name)).map(std::io::BufWriter::new).map_err(io);
    let (mut patients, mut immunizations) = (create("Patient.ndjson")?, create("Immunization.ndjson")?);
    let mut seen = std::collections::HashSet::new();
    let (mut np, mut ni) = (0u64, 0u64);
    source.each_dose(from, to, site, &mut |p, r| {
        if r.dose.outcome != Outcome::Vaccinated {
            return Ok(());
        }
        if seen.insert(r.person_id) {
            serde_json::to_writer(&mut patients, &fhir::patient(p)).map_err(|e| io(e.into()))?;
            patients.write_all(b"\n").map_err(io)?;
            np += 1;
        }
        serde_json::to_writer(&mut immunizations, &fhir::immunization(r, catalog)).map_err(|e| io(e.into()))?;
        immunizations.write_all(b"\n").map_err(io)?;
        ni += 1;
        if ni % 10_000 == 0 {
            progress(ni);
        }
        Ok(())
    })?;
    patients.flush().map_err(io)?;
    immunizations.flush().map_err(io)?;
    progress(ni);
    Ok((np, ni))
}

/// The same resources as one FHIR R4 `Bundle` (type `collection`), written
/// as a stream: entries go out as they are read, Patient before the first
/// Immunization that refers to it. Returns (patients, immunizations).
pub fn doses_fhir_bundle(
    source: &dyn DoseSource,
    catalog: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
    site: Option<&str>,
    out: impl Write,
    mut progress: impl FnMut(u64),
) -> Result<(u64, u64)> {
    let mut out = std::io::BufWriter::new(out);
    let bundle_id = uuid::Uuid::now_v7();
    write!(out, r#"{{"resourceType":"Bundle","id":"{bundle_id}","type":"collection","entry":["#).map_err(io)?;
    let mut seen = std::collections::HashSet::new();
    let (mut np, mut ni) = (0u64, 0u64);
    let mut first = true;
    source.each_dose(from, to, site, &mut |p, r| {
        if r.dose.outcome != Outcome::Vaccinated {
            return Ok(());
        }
        let mut entry = |resource: serde_json::Value, id: String, out: &mut std::io::BufWriter<_>| -> std::io::Result<()> {
            if !std::mem::take(&mut first) {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &serde_json::json!({"fullUrl": format!("urn:uuid:{id}"), "resource": resource}))?;
            Ok(())
        };
        if seen.insert(r.person_id) {
            entry(fhir::patient(p), p.id.to_string(), &mut out).map_err(io)?;
            np += 1;
        }
        entry(fhir::immunization(r, catalog), r.id.to_string(), &mut out).map_err(io)?;
        ni += 1;
        if ni % 10_000 == 0 {
            progress(ni);
        }
        Ok(())
    })?;
    out.write_all(b"]}").map_err(io)?;
    out.flush().map_err(io)?;
    progress(ni);
    Ok((np, ni))
}

/// FHIR R4 resources for a person and a dose.
pub mod fhir {
    use serde_json::{json, Value};

    use crate::catalog::Catalog;
    use crate::model::{BirthDate, DoseRecord, Person, Sex};

    /// Identifier systems of this deployment (no national FHIR naming exists
    /// for CCCD numbers; these are stable URNs an importer can map).
    pub const CCCD_SYSTEM: &str = "urn:vaxdesk:vn:cccd";
    pub const PERSON_SYSTEM: &str = "urn:vaxdesk:person";
    pub const DOSE_SYSTEM: &str = "urn:vaxdesk:dose";

    pub fn patient(p: &Person) -> Value {
        let mut words = p.full_name.split_whitespace();
        let family = words.next().unwrap_or_default();
        let given: Vec<&str> = words.collect();
        let mut identifier = vec![json!({"system": PERSON_SYSTEM, "value": p.id.to_string()})];
        if let Some(n) = &p.national_id {
            identifier.push(json!({"system": CCCD_SYSTEM, "value": n.number}));
        }
        let mut r = json!({
            "resourceType": "Patient",
            "id": p.id.to_string(),
            "identifier": identifier,
            "name": [{"text": p.full_name, "family": family, "given": given}],
            "gender": match p.sex { Some(Sex::Male) => "male", Some(Sex::Female) => "female", None => "unknown" },
            "birthDate": match p.birth_date { BirthDate::Full(d) => d.format("%Y-%m-%d").to_string(), BirthDate::Year(y) => format!("{y:04}") },
        });
        if let Some(phone) = &p.phone {
            r["telecom"] = json!([{"system": "phone", "value": phone}]);
        }
        if let Some(line) = &p.address.line {
            r["address"] = json!([{"text": line, "country": "VN"}]);
        }
        r
    }

    pub fn immunization(r: &DoseRecord, catalog: &Catalog) -> Value {
        let d = &r.dose;
        let vaccine = catalog.vaccine(&d.vaccine);
        let mut coding = vec![json!({"system": "urn:vaxdesk:vaccine", "code": d.vaccine, "display": vaccine.map(|v| v.name.as_str()).unwrap_or(&d.vaccine)})];
        if let Some(codes) = vaccine.and_then(|v| v.dcc.as_ref()) {
            coding.push(json!({"system": "http://snomed.info/sct", "code": codes.vp}));
        }
        let mut out = json!({
            "resourceType": "Immunization",
            "id": r.id.to_string(),
            "identifier": [{"system": DOSE_SYSTEM, "value": r.id.to_string()}],
            "status": "completed",
            "vaccineCode": {"coding": coding},
            "patient": {"reference": format!("Patient/{}", r.person_id)},
            "occurrenceDateTime": d.administered_at.to_rfc3339(),
            "primarySource": d.given_elsewhere.is_none(),
        });
        match &d.given_elsewhere {
            None => out["location"] = json!({"display": r.site}),
            Some(g) => {
                // Told by the person or read from their papers, typed at a
                // vaxdesk site: a secondary report, from a written record.
                out["reportOrigin"] = json!({
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/immunization-origin", "code": "record"}],
                    "text": "Tiêm ở nơi khác",
                });
                if !g.place.trim().is_empty() {
                    out["location"] = json!({"display": g.place});
                }
            }
        }
        if let Some(lot) = &d.lot {
            out["lotNumber"] = json!(lot);
        }
        if let Some(e) = d.lot_expiry {
            out["expirationDate"] = json!(e.format("%Y-%m-%d").to_string());
        }
        if let Some(n) = d.dose_number {
            let mut applied = json!({"doseNumberPositiveInt": n});
            if let Some(v) = vaccine {
                applied["seriesDosesPositiveInt"] = json!(v.series_doses.max(n));
            }
            out["protocolApplied"] = json!([applied]);
        }
        out
    }
}

fn io(e: std::io::Error) -> crate::Error {
    crate::Error::input("output", e.to_string())
}

fn csv_err(e: csv::Error) -> crate::Error {
    crate::Error::input("output", e.to_string())
}
