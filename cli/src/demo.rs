//! `vaxdesk demo`: one scripted clinic day at a desk in Hạ Long, on a
//! temporary database. Citizens arrive with a chip-ID card (its QR text),
//! a PC-Covid code, or are already on record from their first dose; the
//! volunteer matches them, records doses, corrects one, has one save refused
//! and one deferral. The clock replays 5 October 2021 so the catalog's lots
//! are in date.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use vaxdesk_core::catalog::{Catalog, Lot};
use vaxdesk_core::desk::{Desk, DoseDraft};
use vaxdesk_core::model::{Outcome, Person};
use vaxdesk_core::qr::payload::{self, Payload};
use vaxdesk_core::search::SearchQuery;
use vaxdesk_core::Error;

use crate::args::DemoArgs;
use crate::output::Out;
use vaxdesk_core::synth;
use crate::{CliResult, Failure};

/// What citizens' cards say, as the desk's scanner reads them.
const CCCD_QR: &[&str] = &[
    "022187001234|100234567|Nguyễn Thị Hoa|02051987|Nữ|Tổ 5, khu 3, phường Hồng Hải, Hạ Long, Quảng Ninh|15042021",
    "022090004321||Trần Văn Nam|04031990|Nam|Phường Bãi Cháy, Hạ Long, Quảng Ninh|20032021",
    "022195007788|Lê Ngọc Ánh|19111995|Nữ|Phường Cao Xanh, Hạ Long, Quảng Ninh|09042021",
    "001078002468|011223344|Phạm Đức Thắng|30081978|Nam|Phường Hà Khẩu, Hạ Long, Quảng Ninh|11012021",
    "022166005511|Đặng Thị Hương|12121966|Nữ|Phường Hồng Gai, Hạ Long, Quảng Ninh|02022021",
    "031201009900||Vũ Minh Đức|07072001|Nam|Phường Giếng Đáy, Hạ Long, Quảng Ninh|28052021",
];
/// A PC-Covid code with the number and birth day masked: the volunteer
/// completes it from the card.
const HEALTH_QR: &str = "******003355|HOANG THI LAN|1972-**-**|0|162979388586171100|16297938858617<0<<<";

#[derive(Debug, Default, Serialize)]
pub struct DemoSummary {
    pub database: String,
    /// The clinic day (the desk's date).
    pub date: String,
    pub images_decoded: u64,
    pub decode_ms: Vec<f64>,
    pub persons: u64,
    pub doses_by_vaccine: BTreeMap<String, u64>,
    pub second_doses: u64,
    pub deferrals: u64,
    pub corrections: u64,
    pub refused: Vec<String>,
    pub confirmed_warnings: Vec<String>,
    pub queued_for_hub: u64,
    pub hub_url: String,
    pub hub_events: u64,
    pub hub_merged: bool,
    /// The coordinator's registration list for the day: rows added and refused.
    pub registered: u64,
    pub registration_refused: u64,
    /// Registered citizens the desk found on the list and vaccinated.
    pub registered_served: u64,
    pub events_pushed: u64,
    pub bytes_sent: u64,
    pub sync_retries: u64,
    pub connections: u64,
    pub faulted_connections: u64,
    pub to_fix: u64,
    pub export_rows: u64,
    pub export_file: String,
    /// The hub's daily report of the site's day, as XLSX.
    pub report_file: String,
    /// The certificate the hub signed for a citizen whose series completed
    /// today: drawn, read back from the picture, verified offline.
    pub certificate: Option<DemoCertificate>,
}

#[derive(Debug, Default, Serialize)]
pub struct DemoCertificate {
    pub person: String,
    pub dose: String,
    pub file: String,
    pub read_back: bool,
    pub signature: String,
}

pub fn run(out: Out, a: &DemoArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(|e| Failure::Storage(e.to_string()))?;
    let dir = a.keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| Failure::Storage(format!("{}: {e}", dir.display())))?;
    let path = dir.join("demo-desk.db");
    if path.exists() {
        return Err(Failure::Input(format!("keep: {} already exists; pick an empty directory", path.display())));
    }
    let say = |s: String| {
        if !out.json {
            println!("{s}");
        }
    };

    // 08:00 in Hạ Long; every citizen takes about three minutes.
    let start: DateTime<Utc> = "2021-10-05T01:00:00Z".parse().unwrap_or_default();
    let minutes = Arc::new(AtomicI64::new(0));
    let clock = minutes.clone();
    let desk = Desk::open(&path)?.with_clock(move || start + Duration::minutes(clock.load(Ordering::Relaxed)));
    let tick = || minutes.fetch_add(3, Ordering::Relaxed);

    // The hub: an embedded server on a loopback port, and in front of it a
    // proxy that drops, delays, cuts, resets and replays connections, as a
    // congested site network does.
    let hub = DemoHub::start(&dir)?;
    hub.setup(&demo_catalog())?;
    say(format!("hub at {} (desks reach it through a faulty network at {})", hub.url, hub.proxy_url));
    let mut s = DemoSummary { database: path.display().to_string(), hub_url: hub.url.clone(), ..Default::default() };

    // Yesterday's desk, D2, gave first doses in August; it syncs them to the hub.
    let desk2 = Desk::open(dir.join("demo-desk2.db"))?.with_clock(move || start);
    hub.enroll(&desk2, "D2")?;
    let returning: Vec<Person> = (0..4).map(synth::person).collect();
    let device2 = desk2.config().device_id;
    let mut persons2 = Vec::new();
    let mut first = Vec::new();
    for (i, p) in returning.iter().enumerate() {
        let mut pe = synth::person_event(p);
        pe.device.clone_from(&device2);
        persons2.push(pe);
        let mut e = synth::first_dose(i as u64, p);
        e.device.clone_from(&device2);
        e.desk = "D2".into();
        if let Some(d) = e.dose.as_mut() {
            d.vaccine = "AZ".into();
            d.lot = Some("AZ21031".into());
        }
        first.push(e);
    }
    desk2.store().append_batch(&persons2, &first)?;
    hub.sync(&desk2, &mut s)?;
    say(format!("  desk D2 synced {} citizens given a first dose in August", returning.len()));

    // The coordinator uploads the site's registration list for the day (the
    // commune's, as the platform exports it); one row has a day that does not
    // exist and is refused, the rest reach the desks with their next pull.
    let today = desk2.today();
    let mut list = synth::registration_csv(REGISTERED.clone(), today);
    list.extend_from_slice(format!("Đỗ Văn Sai,31/02/1990,Nam,,0912000111,,1,{}\n", today.format("%d/%m/%Y")).as_bytes());
    let coordinator = vaxdesk_hub::db::Coordinator { id: 0, username: "demo-coordinator".into(), all_sites: true, sites: Vec::new() };
    let report = vaxdesk_hub::registrations::import(&hub.db, &coordinator, synth::SITE, Some("danh-sach.csv"), &list, today)
        .map_err(|e| Failure::Storage(e.message))?
        .map_err(|e| Failure::Input(e.to_string()))?;
    s.registered = report.tally.added;
    s.registration_refused = report.tally.refused;
    let refused = report.results.iter().find(|r| r.reason.is_some());
    say(format!(
        "coordinator uploaded the site's registration list: {} rows, {} added, {} refused{}",
        report.tally.rows,
        report.tally.added,
        report.tally.refused,
        refused.map(|r| format!(" (row {}, {}: {})", r.row, r.column.as_deref().unwrap_or(""), r.reason.as_deref().unwrap_or(""))).unwrap_or_default()
    ));

    // This desk, D1: enrolled from the coordinator's code, it pulls the
    // catalog, what D2 recorded and the registration list.
    hub.enroll(&desk, "D1")?;
    hub.sync(&desk, &mut s)?;
    let session = desk.start_session("AZ", &["AZ21092".into()])?;
    say(format!(
        "vaxdesk demo — {} at site {} desk {}, giving {} lot {} (catalog v{} from the hub, {} persons pulled)",
        session.date,
        session.site,
        session.desk,
        session.vaccine,
        session.lots.join(", "),
        desk.catalog().version,
        desk.store().person_count()?
    ));

    // New citizens: the desk's camera sees their chip-ID card (pictures made
    // here, then read back through the decoder), the volunteer matches or
    // creates the person and records dose 1.
    for (i, text) in CCCD_QR.iter().enumerate() {
        tick();
        let picture = dir.join(format!("cccd-{}.png", i + 1));
        crate::qrimage::photo(text, 4, 640, 480, 12)
            .map_err(Failure::Input)?
            .save(&picture)
            .map_err(|e| Failure::Storage(format!("{}: {e}", picture.display())))?;
        let frame = crate::commands::qr::load(&picture).map_err(Failure::Input)?;
        let (codes, ms) = crate::commands::qr::decode_image(&frame).map_err(Failure::Input)?;
        let Some(code) = codes.first() else {
            return Err(Failure::Input(format!("demo: no code found in {}", picture.display())));
        };
        s.images_decoded += 1;
        s.decode_ms.push((ms * 100.0).round() / 100.0);
        let Payload::Cccd(parsed) = payload::parse(&code.text) else {
            return Err(Failure::Input(format!("demo: {} not read as a CCCD card", picture.display())));
        };
        let card = parsed.value.ok_or_else(|| Failure::Input(format!("demo: {:?}", parsed.errors)))?;
        let person = match desk.store().person_by_national_id(&card.number)? {
            Some(p) => p,
            None => desk.save_person(&card.person_draft(), &[])?,
        };
        let next = desk.next_dose(person.id)?;
        let e = desk.record_dose(&DoseDraft::vaccinated(person.id), &[])?;
        say(format!("  scan cccd-{}.png ({ms:.1} ms) → {:<22} dose {} AZ saved ({})", i + 1, person.full_name, next.dose_number, short(&e.id.to_string())));
    }

    // A PC-Covid code on a phone in dark mode (light modules on black):
    // masked fields are completed from the card.
    tick();
    let picture = dir.join("pc-covid.png");
    let mut screen = crate::qrimage::photo(HEALTH_QR, 4, 480, 480, 8).map_err(Failure::Input)?;
    image::imageops::invert(&mut screen);
    screen.save(&picture).map_err(|e| Failure::Storage(format!("{}: {e}", picture.display())))?;
    let (codes, ms) = crate::commands::qr::decode_image(&crate::commands::qr::load(&picture).map_err(Failure::Input)?).map_err(Failure::Input)?;
    let text = codes.first().map(|c| c.text.clone()).ok_or_else(|| Failure::Input("demo: PC-Covid picture not decoded".into()))?;
    s.images_decoded += 1;
    s.decode_ms.push((ms * 100.0).round() / 100.0);
    if let Payload::Health(h) = payload::parse(&text) {
        let code = h.value.ok_or_else(|| Failure::Input("demo: health code did not parse".into()))?;
        let mut draft = code.person_draft();
        say(format!("  scan pc-covid.png, dark-mode screen ({ms:.1} ms, step {}) → {} (masked: {})", codes[0].step, code.full_name, code.masked_fields().join(", ")));
        draft.national_id = Some("022172003355".into());
        draft.birth_date = "1972-03-14".into();
        draft.full_name = "Hoàng Thị Lan".into();
        draft.sex = Some(vaxdesk_core::model::Sex::Female);
        let p = desk.save_person(&draft, &[])?;
        desk.record_dose(&DoseDraft::vaccinated(p.id), &[])?;
        say(format!("    completed from the card: {}, dose 1 saved", p.full_name));
    }

    // Returning citizens are found by name typed without diacritics.
    for p in &returning {
        tick();
        let typed = vaxdesk_core::fold::fold(&p.full_name);
        let hit = desk.find(&SearchQuery { birth_year: Some(p.birth_date.year()), ..SearchQuery::new(typed.clone()) })?;
        let found = hit.hits.iter().find(|h| h.person.id == p.id).map(|h| h.person.clone());
        let Some(found) = found else { continue };
        let next = desk.next_dose(found.id)?;
        let e = desk.record_dose(&DoseDraft::vaccinated(found.id), &[])?;
        s.second_doses += u64::from(next.dose_number == 2);
        say(format!("  search \"{typed}\" → {:<22} dose {} due since {}, saved ({})", found.full_name, next.dose_number, next.earliest.map(|d| d.to_string()).unwrap_or_default(), short(&e.id.to_string())));
    }

    // Registered citizens: found on the list by a name typed without
    // accents, the appointment shown, dose 1 given.
    for i in REGISTERED.clone().take(3) {
        tick();
        let p = synth::person(i);
        let typed = vaxdesk_core::fold::fold(&p.full_name);
        let hits = desk.find(&SearchQuery { birth_year: Some(p.birth_date.year()), ..SearchQuery::new(typed.clone()) })?;
        let Some(hit) = hits.hits.iter().find(|h| h.person.national_id == p.national_id) else { continue };
        let Some(day) = hit.appointment else { continue };
        desk.record_dose(&DoseDraft::vaccinated(hit.person.id), &[])?;
        s.registered_served += 1;
        say(format!("  search \"{typed}\" → {:<22} Đã đăng ký, hẹn ngày {}; dose 1 saved", hit.person.full_name, day.format("%d/%m/%Y")));
    }

    // A save refused: the volunteer picked an expired lot.
    tick();
    let late = desk.save_person(&payload::parse("022085006677||Ngô Văn Tài|21061985|Nam|Hạ Long|10052021").person_draft().unwrap_or_default(), &[])?;
    let mut d = DoseDraft::vaccinated(late.id);
    d.lot = Some("AZ2105X".into());
    match desk.record_dose(&d, &[]) {
        Err(Error::Refused(f)) => {
            for x in f.iter() {
                say(format!("  refused for {}: {x}", late.full_name));
                s.refused.push(x.code.as_str().to_string());
            }
        }
        other => return Err(Failure::Input(format!("demo: the expired lot was not refused: {other:?}"))),
    }
    // ... then the right lot, which is close to expiry: confirmed.
    d.lot = Some("AZ2110S".into());
    let e = desk.record_dose(&d, &["lot.near_expiry".into()])?;
    s.confirmed_warnings.extend(e.confirmed.clone());
    say(format!("  {} saved with lot AZ2110S after confirming {}", late.full_name, e.confirmed.join(", ")));

    // A deferral: fever at screening.
    tick();
    let feverish = desk.save_person(&payload::parse("022199001122||Bùi Thu Trang|05051999|Nữ|Hạ Long|12052021").person_draft().unwrap_or_default(), &[])?;
    desk.record_dose(&DoseDraft { outcome: Outcome::Deferred, note: Some("sốt 38,2°C, hẹn lại sau 7 ngày".into()), ..DoseDraft::vaccinated(feverish.id) }, &[])?;
    s.deferrals += 1;
    say(format!("  {} deferred (fever)", feverish.full_name));

    // A correction: the first dose of the morning was entered with the wrong lot.
    tick();
    let hoa = desk.store().person_by_national_id("022187001234")?.ok_or_else(|| Failure::Storage("demo person missing".into()))?;
    let record = desk.history(hoa.id)?.into_iter().next().ok_or_else(|| Failure::Storage("demo dose missing".into()))?;
    let fixed = DoseDraft {
        vaccine: Some(record.dose.vaccine.clone()),
        lot: Some("AZ21031".into()),
        administered_at: Some(record.dose.administered_at),
        ..DoseDraft::vaccinated(hoa.id)
    };
    desk.amend_dose(record.id, &fixed, "lot on the vial is AZ21031", &[])?;
    s.corrections += 1;
    say(format!("  corrected {}'s lot to AZ21031 (the old entry stays in the record)", hoa.full_name));

    // Meanwhile desk D2, offline, registered Nguyễn Thị Hoa again from her
    // card: the hub will find one person in the two records.
    let again = payload::parse(CCCD_QR[0]).person_draft().ok_or_else(|| Failure::Input("demo card".into()))?;
    let hoa2 = desk2.save_person(&again, &[])?;

    // Both desks sync through the faulty network.
    hub.sync(&desk, &mut s)?;
    hub.sync(&desk2, &mut s)?;
    hub.sync(&desk, &mut s)?;
    s.hub_events = hub.db.event_count().map_err(|e| Failure::Storage(e.to_string()))?;
    s.hub_merged = hub.db.canonical_person(&hoa2.id.to_string()).map_err(|e| Failure::Storage(e.to_string()))? == Some(hoa.id.to_string());
    s.faulted_connections = hub.faults.faulted();
    s.connections = hub.faults.connections.load(Ordering::Relaxed);
    s.to_fix = desk.queue()?.to_fix + desk2.queue()?.to_fix;
    say(format!(
        "  synced through {} of {} connections faulted ({} retries): hub holds {} events, {} to fix; the two records of {} merged: {}",
        s.faulted_connections, s.connections, s.sync_retries, s.hub_events, s.to_fix, hoa.full_name, s.hub_merged
    ));

    s.certificate = Some(hub.certificate(&desk, &dir)?);
    if let Some(c) = &s.certificate {
        say(format!("  certificate for {} (dose {}): drawn to {}, read back from the picture: {}, signature {}", c.person, c.dose, c.file, c.read_back, c.signature));
    }

    // The steering committee's daily report, from the hub's database.
    let day = desk.today();
    let figures = vaxdesk_hub::report::site_day(&hub.db, synth::SITE, day).map_err(|e| Failure::Storage(e.to_string()))?;
    let catalog = hub.db.current_catalog().map_err(|e| Failure::Storage(e.to_string()))?.unwrap_or_else(vaxdesk_core::catalog::Catalog::builtin);
    let xlsx = dir.join("demo-bao-cao-ngay.xlsx");
    let bytes = vaxdesk_hub::report::daily_xlsx(std::slice::from_ref(&figures), &catalog).map_err(|e| Failure::Storage(e.to_string()))?;
    std::fs::write(&xlsx, bytes).map_err(|e| Failure::Storage(format!("{}: {e}", xlsx.display())))?;
    s.report_file = xlsx.display().to_string();
    say(format!(
        "  daily report at the hub: {} doses, {} deferred; registered {}, served {}, not yet come {}, walk-ins {} → {}",
        figures.total.given(),
        figures.total.deferred,
        figures.registered,
        figures.served,
        figures.not_yet_come(),
        figures.walk_ins,
        s.report_file
    ));

    for r in desk.todays_doses(true)? {
        if r.dose.outcome == Outcome::Vaccinated {
            *s.doses_by_vaccine.entry(r.dose.vaccine.clone()).or_default() += 1;
        }
    }
    s.persons = desk.store().person_count()?;
    s.queued_for_hub = desk.queue()?.pending + desk.queue()?.sent;
    let csv = dir.join("demo-export.csv");
    let file = std::fs::File::create(&csv).map_err(|e| Failure::Storage(format!("{}: {e}", csv.display())))?;
    s.date = day.to_string();
    s.export_rows = vaxdesk_core::export::doses_csv(desk.store(), &desk.catalog(), day, day, None, std::io::BufWriter::new(file))?;
    s.export_file = csv.display().to_string();

    out.show(&s, || {
        let by: Vec<_> = s.doses_by_vaccine.iter().map(|(v, n)| format!("{v} {n}")).collect();
        format!(
            "summary: {} card images decoded; {} persons on record ({} from the registration list, {} of them served); doses today {} ({} second doses), {} deferral, {} correction, refused: {}\n\
             {} events still queued for the hub, {} bytes sent per event; {} rows exported to {}{}",
            s.images_decoded,
            s.persons,
            s.registered,
            s.registered_served,
            by.join(", "),
            s.second_doses,
            s.deferrals,
            s.corrections,
            s.refused.join(", "),
            s.queued_for_hub,
            s.bytes_sent.checked_div(s.events_pushed).unwrap_or(0),
            s.export_rows,
            s.export_file,
            if a.keep.is_some() { String::new() } else { "\n(temporary: pass --keep DIR to keep the database and export)".to_string() }
        )
    });
    Ok(())
}

/// The hub the demo runs: embedded, behind a fault proxy.
struct DemoHub {
    hub: crate::embedded::EmbeddedHub,
    db: Arc<vaxdesk_hub::HubDb>,
    url: String,
    proxy_url: String,
    faults: Arc<vaxdesk_hub::fault_proxy::FaultCounts>,
}

impl DemoHub {
    fn start(dir: &std::path::Path) -> CliResult<DemoHub> {
        let hub = crate::embedded::EmbeddedHub::start(&dir.join("demo-hub.db"))?;
        let proxy = hub.runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(|e| Failure::Storage(e.to_string()))?;
        let proxy_url = format!("http://{}", proxy.local_addr().map_err(|e| Failure::Storage(e.to_string()))?);
        let addr = hub.addr;
        let faults = hub.runtime.block_on(async { vaxdesk_hub::fault_proxy::spawn(proxy, addr, vaxdesk_hub::fault_proxy::Faults::rough(), 5) });
        Ok(DemoHub { db: hub.db.clone(), url: hub.url.clone(), hub, proxy_url, faults })
    }

    fn setup(&self, catalog: &Catalog) -> CliResult {
        self.hub.site(synth::SITE, "Trạm y tế phường Hồng Hải", &["D1", "D2"])?;
        // One version above what the hub has (it published its certificate
        // signer at start), keeping that signer.
        let current = self.db.current_catalog().map_err(|e| Failure::Storage(e.to_string()))?.unwrap_or_else(Catalog::builtin);
        let mut next = catalog.clone();
        next.version = next.version.max(current.version + 1);
        next.signers = current.signers;
        self.db.publish_catalog(&next).map_err(|e| Failure::Storage(e.to_string()))
    }

    /// Enroll a desk, then send its traffic through the faulty proxy.
    fn enroll(&self, desk: &Desk, code: &str) -> CliResult {
        self.hub.enroll(desk, synth::SITE, code)?;
        desk.store().set_meta(vaxdesk_core::sync::engine::META_HUB, &self.proxy_url)?;
        Ok(())
    }

    /// Sync until the outbox is empty (a round may give up; the next resumes).
    /// A citizen whose second dose was given today gets the hub's signed
    /// certificate, as the desk would show it on screen.
    fn certificate(&self, desk: &Desk, dir: &std::path::Path) -> CliResult<DemoCertificate> {
        let record = desk
            .todays_doses(true)?
            .into_iter()
            .find(|r| r.dose.dose_number == Some(2))
            .ok_or_else(|| Failure::Storage("demo: no second dose today".into()))?;
        let person = desk.person(record.person_id)?;
        let opts = vaxdesk_core::sync::SyncOptions { base_backoff: std::time::Duration::from_millis(20), attempts: 10, reuse_connections: false, ..Default::default() };
        let reply = vaxdesk_core::sync::fetch_certificate(desk, person.id, &opts).map_err(|e| Failure::Storage(e.to_string()))?;
        let file = dir.join("certificate.png");
        let img = crate::qrimage::clean(&reply.text, 4).map_err(Failure::Input)?;
        img.save(&file).map_err(|e| Failure::Storage(format!("{}: {e}", file.display())))?;
        let (w, h) = img.dimensions();
        let frame = vaxdesk_core::qr::decode::Frame::new(img.as_raw(), w as usize, h as usize, w as usize).map_err(|e| Failure::Storage(e.to_string()))?;
        let read = vaxdesk_core::qr::decode::decode(&frame).into_iter().any(|c| c.text == reply.text);
        let checked = vaxdesk_core::sync::verify_certificate(desk, &reply.text);
        let signature = checked.value.map(|c| format!("{:?}", c.signature).to_lowercase()).unwrap_or_else(|| "unreadable".into());
        Ok(DemoCertificate {
            person: person.full_name,
            dose: format!("{}/{}", reply.dose_number, reply.series_doses),
            file: file.display().to_string(),
            read_back: read,
            signature,
        })
    }

    fn sync(&self, desk: &Desk, s: &mut DemoSummary) -> CliResult {
        let opts = vaxdesk_core::sync::SyncOptions {
            base_backoff: std::time::Duration::from_millis(20),
            max_backoff: std::time::Duration::from_millis(400),
            attempts: 10,
            reuse_connections: false,
            ..Default::default()
        };
        for _ in 0..20 {
            match vaxdesk_core::sync::sync_once(desk, &opts) {
                Ok(r) => {
                    s.sync_retries += r.retries;
                    s.events_pushed += r.pushed;
                    s.bytes_sent += r.bytes_sent;
                    if desk.queue()?.pending + desk.queue()?.sent == 0 {
                        return Ok(());
                    }
                }
                Err(e) if e.is_transient() => s.sync_retries += 1,
                Err(e) => return Err(Failure::Storage(e.to_string())),
            }
        }
        Err(Failure::Storage("demo: the desk could not sync in 20 rounds".into()))
    }
}

/// The persons of the demo's registration list (the generator's numbering).
const REGISTERED: std::ops::Range<u64> = 600..624;

fn short(id: &str) -> &str {
    &id[id.len().saturating_sub(8)..]
}

/// Built-in rules, with the lots this site holds, one expired and one about
/// to expire.
fn demo_catalog() -> Catalog {
    let mut c = synth::catalog_with_lots(&Catalog::builtin());
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    c.lots.push(Lot { number: "AZ2105X".into(), vaccine: "AZ".into(), expiry: day(2021, 9, 30) });
    c.lots.push(Lot { number: "AZ2110S".into(), vaccine: "AZ".into(), expiry: day(2021, 10, 9) });
    c
}
