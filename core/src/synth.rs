//! Synthetic but plausible people for benchmarks, the demo and tests: Vietnamese
//! names with their real frequency skew (Nguyễn is about 38% of people),
//! CCCD numbers consistent with sex and birth year, mobile numbers.
//! Everything is derived from an index, so person `i` is the same in every
//! run and a benchmark can query someone it seeded without remembering them.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use crate::catalog::{Catalog, Lot};
use crate::model::{
    Address, BirthDate, Dose, DoseEvent, DoseKind, EventId, IdKind, NationalId, Outcome, Person, PersonEvent, PersonId,
    PersonSource, Sex,
};

const SURNAMES: &[(&str, u32)] = &[
    ("Nguyễn", 380), ("Trần", 110), ("Lê", 95), ("Phạm", 70), ("Hoàng", 50), ("Huỳnh", 40), ("Phan", 45),
    ("Vũ", 39), ("Võ", 39), ("Đặng", 21), ("Bùi", 20), ("Đỗ", 14), ("Hồ", 13), ("Ngô", 13), ("Dương", 10),
    ("Lý", 5), ("Đinh", 6), ("Trịnh", 5), ("Mai", 4), ("Đào", 4),
];
const MIDDLE_MALE: &[&str] = &["Văn", "Đức", "Minh", "Quang", "Hữu", "Thành", "Công", "Ngọc", "Xuân", "Anh", "Tiến", "Mạnh"];
const MIDDLE_FEMALE: &[&str] = &["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Mai", "Kim", "Phương", "Hồng", "Bích", "Thùy", "Khánh"];
const GIVEN_MALE: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hùng", "Huy", "Khánh", "Long", "Minh", "Nam", "Phong", "Quân",
    "Sơn", "Thắng", "Tuấn", "Việt", "Vinh", "Hoàng", "Hiếu", "Kiên", "Lâm", "Lộc", "Nghĩa", "Phúc", "Tâm",
    "Thành", "Trung", "Tú", "Đạt", "Duy", "Hưng", "Khoa", "Quý", "Tài",
];
const GIVEN_FEMALE: &[&str] = &[
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hương", "Huyền", "Lan", "Linh", "Loan",
    "Mai", "My", "Nga", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh", "Tâm", "Thảo", "Thủy", "Trang", "Trinh",
    "Uyên", "Vân", "Yến", "Ánh", "Diệp", "Hòa", "Liên", "Nhi", "Thư",
];
const PROVINCES: &[&str] = &["022", "001", "031", "030", "024", "027", "079", "036"];
const PHONE_PREFIXES: &[&str] = &["096", "097", "098", "086", "091", "094", "088", "090", "093", "089", "070", "079", "092"];
/// Vaccines seeded for dose 1, weighted as Quảng Ninh's 2021 supply roughly was.
pub const DOSE_MIX: &[(&str, u32)] = &[("AZ", 45), ("VC", 30), ("PF", 20), ("MD", 5)];

/// RFC 9562 variant bits for ids made from an index.
const VARIANT: u64 = 0x8000_0000_0000_0000;

pub const SITE: &str = "QN-HL-01";
pub const DESK: &str = "D1";

fn rng_for(seed: u64, index: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn weighted<'a, T>(rng: &mut StdRng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut pick = rng.random_range(0..total);
    for (item, w) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[0].0
}

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Person number `index` (unique national id for indexes below 8 million).
pub fn person(index: u64) -> Person {
    let mut rng = rng_for(0x5EED, index);
    let female = rng.random_bool(0.5);
    let (middles, givens) = if female { (MIDDLE_FEMALE, GIVEN_FEMALE) } else { (MIDDLE_MALE, GIVEN_MALE) };
    let mut name = vec![*weighted(&mut rng, SURNAMES), pick(&mut rng, middles)];
    if rng.random_bool(0.2) {
        name.push(pick(&mut rng, middles));
    }
    name.push(pick(&mut rng, givens));
    let year = rng.random_range(1945..=2002);
    let birth = NaiveDate::from_ymd_opt(year, rng.random_range(1..=12), rng.random_range(1..=28)).unwrap_or_default();
    let province = PROVINCES[(index / 1_000_000) as usize % PROVINCES.len()];
    let century_sex = (year - 1900) / 100 * 2 + i32::from(female);
    let number = format!("{province}{century_sex}{:02}{:06}", year % 100, index % 1_000_000);
    let phone = format!("{}{:07}", pick(&mut rng, PHONE_PREFIXES), rng.random_range(0..10_000_000));
    Person {
        id: PersonId(uuid::Uuid::from_u64_pair(0x0190_0000_0000_7000, VARIANT | index)),
        national_id: Some(NationalId { kind: IdKind::Cccd, number }),
        full_name: name.join(" "),
        birth_date: BirthDate::Full(birth),
        sex: Some(if female { Sex::Female } else { Sex::Male }),
        phone: Some(phone),
        address: Address { province_code: Some("22".into()), ..Default::default() },
        health_insurance: None,
        priority_group: None,
        source: PersonSource::CccdQr,
    }
}

/// The built-in catalog with two lots of every vaccine, valid through 2022.
pub fn catalog_with_lots(base: &Catalog) -> Catalog {
    let mut c = base.clone();
    c.version = base.version + 1;
    c.name = "demo: built-in rules with lots".into();
    for v in &base.vaccines {
        for (n, month) in [(1, 3), (2, 9)] {
            c.lots.push(Lot {
                number: format!("{}21{:02}{}", v.code, month, n),
                vaccine: v.code.clone(),
                expiry: NaiveDate::from_ymd_opt(2022, month, 28).unwrap_or_default(),
            });
        }
    }
    c
}

/// The built-in rules with one sample lot per vaccine, good for a year
/// from `today` (`<CODE>-MAU-1`, "mẫu" = sample), and one already expired
/// (`<CODE>-MAU-HET`): for trying a desk without a hub. Not real lots.
pub fn sample_catalog(base: &Catalog, today: NaiveDate) -> Catalog {
    let mut c = base.clone();
    c.version = base.version + 1;
    c.name = "sample lots for trying vaxdesk (not real lots)".into();
    for v in &base.vaccines {
        c.lots.push(Lot { number: format!("{}-MAU-1", v.code), vaccine: v.code.clone(), expiry: today + Duration::days(365) });
        c.lots.push(Lot { number: format!("{}-MAU-HET", v.code), vaccine: v.code.clone(), expiry: today - Duration::days(1) });
    }
    c
}

pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| chrono::Offset::fix(&Utc))
}

/// A first dose for person `index`, given between 1 July and 31 August 2021.
pub fn first_dose(index: u64, person: &Person) -> DoseEvent {
    let mut rng = rng_for(0xD05E, index);
    let vaccine = *weighted(&mut rng, DOSE_MIX);
    let day = NaiveDate::from_ymd_opt(2021, 7, 1).unwrap_or_default() + Duration::days(rng.random_range(0..62));
    let at = day.and_hms_opt(rng.random_range(7..17), rng.random_range(0..60), 0).unwrap_or_default();
    let administered_at: DateTime<FixedOffset> = vietnam().from_local_datetime(&at).single().unwrap_or_default();
    DoseEvent {
        id: EventId(uuid::Uuid::from_u64_pair(0x0190_0000_0000_7001, VARIANT | index)),
        person_id: person.id,
        site: SITE.into(),
        desk: DESK.into(),
        device: "bench-seed".into(),
        kind: DoseKind::Record,
        dose: Some(Dose {
            vaccine: vaccine.to_string(),
            lot: Some(format!("{vaccine}21031")),
            lot_expiry: NaiveDate::from_ymd_opt(2022, 3, 28),
            dose_number: Some(1),
            administered_at,
            outcome: Outcome::Vaccinated,
            note: None,
            given_elsewhere: None,
        }),
        confirmed: vec![],
        recorded_at: administered_at.with_timezone(&Utc),
    }
}

pub fn person_event(p: &Person) -> PersonEvent {
    PersonEvent {
        id: EventId(uuid::Uuid::from_u64_pair(0x0190_0000_0000_7002, VARIANT | p.id.0.as_u64_pair().1)),
        person: p.clone(),
        device: "bench-seed".into(),
        confirmed: vec![],
        recorded_at: DateTime::<Utc>::from_timestamp(1_625_097_600, 0).unwrap_or_default(),
    }
}

/// A desk's worth of events: `persons` persons (national ids made from
/// `id_prefix`, six digits after it) with `doses_each` doses each, a month
/// apart, as `device` at `site`/`desk` would record them. Persons come before
/// their doses, as a desk saves them.
pub fn desk_events(device: &str, site: &str, desk: &str, id_prefix: &str, persons: std::ops::Range<u64>, doses_each: usize) -> (Vec<PersonEvent>, Vec<DoseEvent>) {
    let mut pe = Vec::new();
    let mut de = Vec::new();
    for k in persons {
        let mut p = person(k);
        p.id = PersonId::new();
        if let Some(n) = p.national_id.as_mut() {
            n.number = format!("{id_prefix}{:06}", k % 1_000_000);
            n.kind = IdKind::Cmnd;
        }
        let first = first_dose(k, &p);
        for n in 0..doses_each {
            let mut e = first.clone();
            e.id = EventId::new();
            e.device = device.to_string();
            e.site = site.to_string();
            e.desk = desk.to_string();
            if let Some(d) = e.dose.as_mut() {
                d.dose_number = Some((n + 1).min(10) as u8);
                d.administered_at += Duration::days(30 * n as i64);
                // From March 2022 the first lot has expired: the second lot
                // of [`catalog_with_lots`] (to September 2022) is used.
                if d.administered_at.date_naive() >= NaiveDate::from_ymd_opt(2022, 3, 1).unwrap_or_default() {
                    d.lot = Some(format!("{}21092", d.vaccine));
                    d.lot_expiry = NaiveDate::from_ymd_opt(2022, 9, 28);
                }
            }
            de.push(e);
        }
        let mut ev = person_event(&p);
        ev.id = EventId::new();
        ev.device = device.to_string();
        pe.push(ev);
    }
    (pe, de)
}

/// The platform's registration-list columns, in its order.
pub const REGISTRATION_HEADER: [&str; 8] = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CMND/CCCD", "Số điện thoại", "Số thẻ BHYT", "Nhóm ưu tiên", "Ngày hẹn tiêm"];

/// Person `index` as a row of a registration list (dates as dd/mm/yyyy),
/// expected on `appointment`.
pub fn registration_row(index: u64, appointment: NaiveDate) -> [String; 8] {
    let p = person(index);
    let day = |d: NaiveDate| d.format("%d/%m/%Y").to_string();
    let birth = match p.birth_date {
        BirthDate::Full(d) => day(d),
        BirthDate::Year(y) => y.to_string(),
    };
    [
        p.full_name,
        birth,
        p.sex.map(|s| s.vietnamese().to_string()).unwrap_or_default(),
        p.national_id.map(|n| n.number).unwrap_or_default(),
        p.phone.unwrap_or_default(),
        String::new(),
        format!("{}", 1 + index % 9),
        day(appointment),
    ]
}

/// A registration list as CSV (UTF-8 with a byte-order mark, as Excel saves
/// "CSV UTF-8"): persons `range`, expected on `appointment`.
pub fn registration_csv(range: std::ops::Range<u64>, appointment: NaiveDate) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = w.write_record(REGISTRATION_HEADER);
    for i in range {
        let _ = w.write_record(registration_row(i, appointment));
    }
    w.into_inner().unwrap_or_default()
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_people_pass_validation() {
        let today = NaiveDate::from_ymd_opt(2021, 10, 5).unwrap();
        for i in [0u64, 1, 2, 999_999, 1_000_000, 7_999_999] {
            let p = person(i);
            let draft = crate::validate::PersonDraft {
                national_id: p.national_id.as_ref().map(|n| n.number.clone()),
                full_name: p.full_name.clone(),
                birth_date: p.birth_date.to_string(),
                sex: p.sex,
                phone: p.phone.clone(),
                ..Default::default()
            };
            let (f, _) = crate::validate::check_person(&draft, today);
            assert!(f.is_empty(), "{i}: {f}");
            assert_eq!(person(i), p, "deterministic");
        }
        assert_ne!(person(1).national_id, person(1_000_001).national_id);
    }
}
