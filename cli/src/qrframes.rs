//! A seeded test bed for the QR decoder: camera frames as a phone at a desk
//! would see them, made from nothing but a seed, so the decoder is judged on
//! frames nobody tuned it on (tune on one seed, judge on another).
//!
//! Each frame is a small scene: a card (or a phone screen) carrying one or
//! two codes, with printed text beside them, on a desk; the card turned to
//! any angle and tilted away from the camera, seen through a pinhole camera
//! with its focal length, lit unevenly or with a glare spot, out of focus or
//! moving, with sensor noise, then JPEG-compressed as a camera pipeline
//! would. Everything is drawn from the frame's own random stream and written
//! to the manifest, so a miss can be traced to its conditions.

use std::path::Path;

use chrono::{Datelike, TimeZone, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, GrayImage};
use qrcode::{Color, EcLevel, QrCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use vaxdesk_core::cert::{icao, Signer};
use vaxdesk_core::model::{BirthDate, Sex};
use vaxdesk_core::qr::payload::{Dcc, DccName, DccVaccination, EnrollCode};
use vaxdesk_core::synth;

/// One frame's conditions, as written to `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FrameSpec {
    pub file: String,
    pub width: u32,
    pub height: u32,
    /// The text of every code in the frame (none for a frame without a code).
    pub texts: Vec<String>,
    /// cccd, pccovid, hc1, vxd1, or none.
    pub kind: &'static str,
    /// QR version of the first code (none in a frame without a code).
    pub version: Option<u8>,
    pub ec: Option<&'static str>,
    /// Pixels per module at the first code's centre, as drawn.
    pub module_px: Option<f32>,
    /// Turn of the card in its plane, degrees, 0–360.
    pub rotation_deg: f32,
    /// Angle between the card and the image plane, degrees.
    pub tilt_deg: f32,
    /// none, defocus or motion.
    pub blur: &'static str,
    /// Gaussian sigma (defocus) or streak length (motion), pixels.
    pub blur_px: f32,
    /// Sensor noise, standard deviation in grey levels.
    pub noise: f32,
    /// JPEG quality, or none for a lossless PNG.
    pub jpeg: Option<u8>,
    /// normal or low.
    pub contrast: &'static str,
    /// Grey levels between ink and paper after exposure (on a screen its
    /// pixel grid lowers the mean contrast by about a quarter more).
    pub contrast_levels: f32,
    /// even, gradient or glare (a screen lights itself: even or glare).
    pub light: &'static str,
    /// card, screen or screen-dark (light modules on a dark screen).
    pub medium: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub seed: u64,
    pub generator: &'static str,
    pub frames: Vec<FrameSpec>,
}

/// Bump when the scenes change, so two runs of one seed are comparable only
/// when they were drawn by the same generator (scripts/qr-peers.py checks a
/// folder's manifest against the same string and makes stale frames again).
const GENERATOR: &str = "vaxdesk-frames/2";

/// `count` frames of each size in `sizes`, into `dir` (images, `<stem>.txt`
/// for frames with exactly one code, `manifest.json`).
pub fn generate(seed: u64, count: usize, sizes: &[(u32, u32)], dir: &Path, progress: impl Fn(usize, usize) + Sync) -> Result<Manifest, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("out: {}: {e}", dir.display()))?;
    let mut seed_bytes = [0u8; 32];
    StdRng::seed_from_u64(seed ^ 0x4843_3100).fill(&mut seed_bytes);
    seed_bytes[0] |= 1; // a scalar of all zeros is not a key
    let signer = Signer::seeded(seed_bytes).map_err(|e| e.to_string())?;
    let jobs: Vec<(usize, (u32, u32))> = (0..count).flat_map(|i| sizes.iter().map(move |&s| (i, s))).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len().max(1));
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut specs: Vec<Option<Result<FrameSpec, String>>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let chunks: Vec<_> = specs.chunks_mut(jobs.len().div_ceil(threads).max(1)).enumerate().collect();
        let per = jobs.len().div_ceil(threads).max(1);
        for (c, chunk) in chunks {
            let (jobs, signer, done, progress) = (&jobs, &signer, &done, &progress);
            s.spawn(move || {
                for (k, slot) in chunk.iter_mut().enumerate() {
                    let (i, (w, h)) = jobs[c * per + k];
                    *slot = Some(frame(seed, i, w, h, signer, dir));
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress(n, jobs.len());
                }
            });
        }
    });
    let frames = specs.into_iter().flatten().collect::<Result<Vec<_>, _>>()?;
    let manifest = Manifest { seed, generator: GENERATOR, frames };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    let path = dir.join("manifest.json");
    std::fs::write(&path, json).map_err(|e| format!("out: {}: {e}", path.display()))?;
    Ok(manifest)
}

fn frame(seed: u64, index: usize, width: u32, height: u32, signer: &Signer, dir: &Path) -> Result<FrameSpec, String> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((index as u64) << 20) ^ u64::from(width) ^ (u64::from(height) << 52));
    let mut scene = Scene::draw(&mut rng, seed, index, width, height, signer)?;
    let pixels = scene.render(&mut rng);
    let stem = format!("f{seed}-{index:05}-{width}x{height}");
    let img = GrayImage::from_raw(width, height, pixels).ok_or("frame: buffer size")?;
    let file = match scene.spec.jpeg {
        Some(q) => {
            let name = format!("{stem}.jpg");
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, q).encode(img.as_raw(), width, height, ExtendedColorType::L8).map_err(|e| format!("jpeg: {e}"))?;
            std::fs::write(dir.join(&name), out).map_err(|e| format!("out: {name}: {e}"))?;
            name
        }
        None => {
            let name = format!("{stem}.png");
            img.save(dir.join(&name)).map_err(|e| format!("out: {name}: {e}"))?;
            name
        }
    };
    if let [text] = scene.spec.texts.as_slice() {
        std::fs::write(dir.join(format!("{stem}.txt")), text).map_err(|e| format!("out: {stem}.txt: {e}"))?;
    }
    scene.spec.file = file;
    Ok(scene.spec)
}

/// A code's modules placed on the card, in module units from the first
/// code's top-left module.
struct PlacedCode {
    x: f32,
    y: f32,
    n: usize,
    dark: Vec<bool>,
}

/// Rectangles in card units.
#[derive(Clone, Copy)]
struct Rect {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

impl Rect {
    fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }
}

struct TextLine {
    rect: Rect,
    /// Width of one character cell, card units.
    cell: f32,
    seed: u32,
}

struct Scene {
    spec: FrameSpec,
    codes: Vec<PlacedCode>,
    card: Rect,
    lines: Vec<TextLine>,
    /// Card → image homography (row-major 3×3), and its inverse.
    inverse: [f32; 9],
    paper: f32,
    ink: f32,
    desk: f32,
    /// Screen pixels per module (screens only), for the pixel grid.
    screen_pitch: f32,
    motion: (f32, f32),
    glare: Option<(f32, f32, f32, f32)>,
    gradient: (f32, f32, f32),
}

fn payload(rng: &mut StdRng, seed: u64, index: usize, signer: &Signer) -> Result<(&'static str, String), String> {
    let person = synth::person((seed.wrapping_mul(7_919) + index as u64 * 104_729) % 8_000_000);
    let birth = match person.birth_date {
        BirthDate::Full(d) => d,
        _ => chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap_or_default(),
    };
    let number = person.national_id.as_ref().map(|n| n.number.clone()).unwrap_or_default();
    let roll = rng.random_range(0..100);
    Ok(if roll < 35 {
        let street = ["Trần Hưng Đạo", "Lê Lợi", "Nguyễn Trãi", "Hạ Long", "Bạch Đằng", "Cao Thắng", "Lý Thường Kiệt"][rng.random_range(0..7)];
        let ward = ["Hồng Gai", "Bãi Cháy", "Hà Khẩu", "Cẩm Trung", "Quang Hanh", "Yết Kiêu"][rng.random_range(0..6)];
        let city = ["Hạ Long, Quảng Ninh", "Cẩm Phả, Quảng Ninh", "Uông Bí, Quảng Ninh", "Hai Bà Trưng, Hà Nội"][rng.random_range(0..4)];
        let old = if rng.random_bool(0.6) { format!("{:09}", rng.random_range(0..1_000_000_000u64)) } else { String::new() };
        let issued = chrono::NaiveDate::from_ymd_opt(2021, rng.random_range(1..=12), rng.random_range(1..=28)).unwrap_or_default();
        let text = format!(
            "{number}|{old}|{}|{}|{}|Số {}, đường {street}, phường {ward}, {city}|{}",
            person.full_name,
            birth.format("%d%m%Y"),
            if person.sex == Some(Sex::Female) { "Nữ" } else { "Nam" },
            rng.random_range(1..300),
            issued.format("%d%m%Y")
        );
        ("cccd", text)
    } else if roll < 60 {
        let masked = format!("******{}", &number[number.len().saturating_sub(6)..]);
        let name = icao(&person.full_name).replace('<', " ");
        let qid: u64 = rng.random_range(100_000_000_000_000_000..999_999_999_999_999_999);
        let sex = if person.sex == Some(Sex::Female) { 0 } else { 1 };
        let text = format!("{masked}|{name}|{}|0|{qid}|{qid}<{sex}<<{}<", birth.format("%Y-%m-%d"), person.phone.clone().unwrap_or_default());
        ("pccovid", text)
    } else if roll < 85 {
        let mut words = person.full_name.split_whitespace();
        let family = words.next().unwrap_or_default().to_string();
        let given = words.collect::<Vec<_>>().join(" ");
        let (mp, ma, vp) = [("EU/1/21/1529", "ORG-100001699", "29061000087103"), ("EU/1/20/1528", "ORG-100030215", "1119349007"), ("BBIBP-CorV", "ORG-100020693", "1157024006"), ("EU/1/20/1507", "ORG-100031184", "1119349007")]
            [rng.random_range(0..4)];
        let day = chrono::NaiveDate::from_ymd_opt(2021, rng.random_range(7..=12), rng.random_range(1..=28)).unwrap_or_default();
        let dcc = Dcc {
            ver: "1.3.0".into(),
            nam: DccName { family_std: icao(&family), given_std: Some(icao(&given)), family: Some(family), given: Some(given) },
            dob: birth.to_string(),
            v: vec![DccVaccination {
                tg: "840539006".into(),
                vp: vp.into(),
                mp: mp.into(),
                ma: ma.into(),
                dn: 2,
                sd: 2,
                dt: day.to_string(),
                co: "VN".into(),
                issuer: "Ministry of Health of Viet Nam".into(),
                ci: format!("URN:UVCI:01:VN:{:032X}", rng.random::<u128>()),
            }],
        };
        let at = Utc.with_ymd_and_hms(day.year(), day.month(), day.day(), 9, 0, 0).single().unwrap_or_default();
        ("hc1", signer.issue(&dcc, at).map_err(|e| e.to_string())?)
    } else {
        let code: String = (0..16).map(|_| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.random_range(0..32)])).collect();
        let fp: String = (0..32).map(|_| format!("{:02x}", rng.random::<u8>())).collect();
        let hub = format!("https://10.{}.{}.{}:8443", rng.random_range(0..255), rng.random_range(0..255), rng.random_range(1..255));
        ("vxd1", EnrollCode { hub, code, fp: Some(fp) }.to_text())
    })
}

fn modules(text: &str, ec: EcLevel) -> Result<(usize, Vec<bool>, u8), String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), ec).map_err(|e| format!("qr: {e}"))?;
    let version = match code.version() {
        qrcode::Version::Normal(v) => v as u8,
        qrcode::Version::Micro(v) => v as u8,
    };
    Ok((code.width(), code.to_colors().into_iter().map(|c| c == Color::Dark).collect(), version))
}

/// Multiply 3×3 row-major matrices.
fn mul(a: &[f32; 9], b: &[f32; 9]) -> [f32; 9] {
    let mut o = [0.0; 9];
    for r in 0..3 {
        for c in 0..3 {
            o[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
        }
    }
    o
}

fn invert(m: &[f32; 9]) -> Option<[f32; 9]> {
    let [a, b, c, d, e, f, g, h, i] = *m;
    let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
    if det.abs() < 1e-12 {
        return None;
    }
    let adj = [e * i - f * h, c * h - b * i, b * f - c * e, f * g - d * i, a * i - c * g, c * d - a * f, d * h - e * g, b * g - a * h, a * e - b * d];
    Some(adj.map(|x| x / det))
}

fn project(h: &[f32; 9], u: f32, v: f32) -> (f32, f32) {
    let w = h[6] * u + h[7] * v + h[8];
    ((h[0] * u + h[1] * v + h[2]) / w, (h[3] * u + h[4] * v + h[5]) / w)
}

impl Scene {
    fn draw(rng: &mut StdRng, seed: u64, index: usize, width: u32, height: u32, signer: &Signer) -> Result<Scene, String> {
        let no_code = rng.random_bool(0.03);
        let two = !no_code && rng.random_bool(0.06);
        let (kind, text) = payload(rng, seed, index, signer)?;
        let ec_pick = |rng: &mut StdRng| match rng.random_range(0..10) {
            0..=1 => (EcLevel::L, "L"),
            2..=6 => (EcLevel::M, "M"),
            7..=8 => (EcLevel::Q, "Q"),
            _ => (EcLevel::H, "H"),
        };
        let (ec, ec_name) = if kind == "hc1" { (EcLevel::Q, "Q") } else { ec_pick(rng) };
        let (n, dark, version) = modules(&text, ec)?;
        let mut texts = vec![text];
        let mut codes = vec![PlacedCode { x: 0.0, y: 0.0, n, dark }];
        if two {
            let (_, second) = payload(rng, seed ^ 0xABCD, index, signer)?;
            let (n2, dark2, _) = modules(&second, ec_pick(rng).0)?;
            // Side by side on the same card, a quiet zone and some apart.
            codes.push(PlacedCode { x: n as f32 + 8.0 + rng.random_range(0.0..6.0), y: rng.random_range(-4.0..4.0), n: n2, dark: dark2 });
            texts.push(second);
        }
        if no_code {
            texts.clear();
        }
        let medium = match rng.random_range(0..100) {
            0..=69 => "card",
            70..=87 => "screen",
            _ => "screen-dark",
        };
        // The codes' bounding box with quiet zones.
        let bx1 = codes.iter().map(|c| c.x + c.n as f32).fold(0.0, f32::max) + 4.0;
        let by0 = codes.iter().map(|c| c.y).fold(0.0, f32::min) - 4.0;
        let by1 = codes.iter().map(|c| c.y + c.n as f32).fold(0.0, f32::max) + 4.0;
        let (bx0, (cw, ch)) = (-4.0, (bx1 + 4.0, by1 - by0));
        // The card: the code near one corner, printed lines beside it.
        let card = if medium == "card" {
            Rect {
                x0: bx0 - rng.random_range(2.0..cw * 1.5),
                y0: by0 - rng.random_range(1.0..ch * 0.3),
                x1: bx1 + rng.random_range(1.0..cw * 0.4),
                y1: by1 + rng.random_range(2.0..ch * 0.8),
            }
        } else {
            // A phone's screen: narrow margins left and right, an app's text above and below.
            Rect { x0: bx0 - rng.random_range(1.0..4.0), y0: by0 - rng.random_range(ch * 0.3..ch), x1: bx1 + rng.random_range(1.0..4.0), y1: by1 + rng.random_range(ch * 0.4..ch * 1.2) }
        };
        let mut lines = Vec::new();
        let line_h = rng.random_range(1.2..3.0f32);
        let mut y = card.y0 + 1.0;
        while y + line_h < card.y1 - 0.5 {
            let left_of_code = Rect { x0: card.x0 + 1.0, y0: y, x1: bx0 - 0.5, y1: y + line_h * 0.8 };
            let full = Rect { x0: card.x0 + 1.0, y0: y, x1: card.x1 - 1.0, y1: y + line_h * 0.8 };
            let overlaps_code = y + line_h > by0 && y < by1;
            let mut r = if overlaps_code { left_of_code } else { full };
            r.x1 = r.x0 + (r.x1 - r.x0) * rng.random_range(0.3..1.0);
            if r.x1 - r.x0 > 2.0 && rng.random_bool(0.8) {
                lines.push(TextLine { rect: r, cell: line_h * rng.random_range(0.45..0.7), seed: rng.random() });
            }
            y += line_h * rng.random_range(1.3..2.0);
        }

        // Camera: a pinhole with a ~65° horizontal view.
        let f = width as f32 * 0.78;
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        let rotation = rng.random_range(0.0..360.0f32);
        let tilt = rng.random_range(0.0..35.0f32);
        let tilt_dir = rng.random_range(0.0..std::f32::consts::TAU);
        let mut module_px = rng.random_range(1.5..8.0f32);
        let (rs, rc) = rotation.to_radians().sin_cos();
        let rz = [rc, -rs, 0.0, rs, rc, 0.0, 0.0, 0.0, 1.0];
        // Tilt about an axis in the image plane at angle tilt_dir (Rodrigues).
        let (ax, ay) = (tilt_dir.cos(), tilt_dir.sin());
        let (ts, tc) = tilt.to_radians().sin_cos();
        let rt = [
            tc + ax * ax * (1.0 - tc), ax * ay * (1.0 - tc), ay * ts,
            ax * ay * (1.0 - tc), tc + ay * ay * (1.0 - tc), -ax * ts,
            -ay * ts, ax * ts, tc,
        ];
        let r = mul(&rt, &rz);
        let centre = ((bx0 + bx1) / 2.0, (by0 + by1) / 2.0);
        let margin = 6.0;
        let mut homography = None;
        'fit: for _ in 0..12 {
            let depth = f / module_px;
            for _ in 0..16 {
                let (px, py) = (rng.random_range(0.2..0.8) * width as f32, rng.random_range(0.2..0.8) * height as f32);
                let t = [depth * (px - cx) / f, depth * (py - cy) / f, depth];
                // Card point (u, v) → camera: R·(u - centre) + t; then K.
                let k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0];
                let rt3 = [r[0], r[1], t[0] - r[0] * centre.0 - r[1] * centre.1, r[3], r[4], t[1] - r[3] * centre.0 - r[4] * centre.1, r[6], r[7], t[2] - r[6] * centre.0 - r[7] * centre.1];
                let h = mul(&k, &rt3);
                let corners = [(bx0, by0), (bx1, by0), (bx1, by1), (bx0, by1)].map(|(u, v)| project(&h, u, v));
                let inside = corners.iter().all(|&(x, y)| x.is_finite() && y.is_finite() && x > margin && y > margin && x < width as f32 - margin && y < height as f32 - margin);
                if inside {
                    homography = Some(h);
                    break 'fit;
                }
            }
            module_px *= 0.85;
        }
        let h = homography.ok_or("frame: the code does not fit the frame")?;
        let inverse = invert(&h).ok_or("frame: singular camera")?;
        // The module size actually drawn: at the first code's centre.
        let (mx, my) = (codes[0].n as f32 / 2.0, codes[0].n as f32 / 2.0);
        let (a, b) = (project(&h, mx - 0.5, my), project(&h, mx + 0.5, my));
        let (c, d) = (project(&h, mx, my - 0.5), project(&h, mx, my + 0.5));
        let module_drawn = (((a.0 - b.0).hypot(a.1 - b.1)) * ((c.0 - d.0).hypot(c.1 - d.1))).sqrt();

        let (blur, blur_px) = match rng.random_range(0..100) {
            0..=39 => ("none", 0.0),
            40..=74 => ("defocus", rng.random_range(0.6..2.5f32)),
            _ => ("motion", rng.random_range(2.0..10.0f32)),
        };
        let motion_angle = rng.random_range(0.0..std::f32::consts::PI);
        let low = rng.random_bool(0.25);
        let contrast_levels = if low { rng.random_range(35.0..80.0f32) } else { rng.random_range(110.0..200.0f32) };
        let light = match rng.random_range(0..100) {
            0..=39 => "even",
            // Room light falls across a card, not across a lit screen.
            40..=74 if medium == "card" => "gradient",
            40..=74 => "even",
            _ => "glare",
        };
        let glare = (light == "glare").then(|| {
            (rng.random_range(0.2..0.8) * width as f32, rng.random_range(0.2..0.8) * height as f32, rng.random_range(0.06..0.25) * width as f32, rng.random_range(0.4..0.9f32))
        });
        let gradient = if light == "gradient" {
            let a = rng.random_range(0.0..std::f32::consts::TAU);
            (a.cos(), a.sin(), rng.random_range(0.35..0.7f32))
        } else {
            (0.0, 0.0, 0.0)
        };
        let noise = rng.random_range(1.0..12.0f32);
        let jpeg = rng.random_bool(0.8).then(|| rng.random_range(30..=90u8));
        let (paper, ink) = if medium == "screen-dark" { (0.08, 0.92) } else { (rng.random_range(0.82..0.97), rng.random_range(0.03..0.15)) };
        let spec = FrameSpec {
            file: String::new(),
            width,
            height,
            texts,
            kind: if no_code { "none" } else { kind },
            version: (!no_code).then_some(version),
            ec: (!no_code).then_some(ec_name),
            module_px: (!no_code).then_some((module_drawn * 100.0).round() / 100.0),
            rotation_deg: (rotation * 10.0).round() / 10.0,
            tilt_deg: (tilt * 10.0).round() / 10.0,
            blur,
            blur_px: (blur_px * 100.0).round() / 100.0,
            noise: (noise * 10.0).round() / 10.0,
            jpeg,
            contrast: if low { "low" } else { "normal" },
            contrast_levels: contrast_levels.round(),
            light,
            medium,
        };
        Ok(Scene {
            spec,
            codes: if no_code { Vec::new() } else { codes },
            card,
            lines,
            inverse,
            paper,
            ink,
            desk: rng.random_range(0.25..0.6),
            screen_pitch: rng.random_range(2.6..7.5),
            motion: if blur == "motion" { (motion_angle.cos() * blur_px, motion_angle.sin() * blur_px) } else { (0.0, 0.0) },
            glare,
            gradient,
        })
    }

    /// Reflectance (or, on a screen, emitted light) at card point (u, v), 0–1.
    fn albedo(&self, u: f32, v: f32) -> f32 {
        if !self.card.contains(u, v) {
            // The desk (or the phone's body around its screen).
            if self.spec.medium != "card" {
                return 0.04;
            }
            return self.desk + 0.06 * (u * 0.11 + (v * 0.023).sin() * 3.0).sin();
        }
        let mut value = self.paper;
        'found: {
            for c in &self.codes {
                let (mx, my) = ((u - c.x).floor(), (v - c.y).floor());
                if mx >= 0.0 && my >= 0.0 && (mx as usize) < c.n && (my as usize) < c.n {
                    if c.dark[my as usize * c.n + mx as usize] {
                        value = self.ink;
                    }
                    break 'found;
                }
            }
            for l in &self.lines {
                if l.rect.contains(u, v) {
                    let cell = ((u - l.rect.x0) / l.cell).floor() as u32;
                    let h = (cell ^ l.seed).wrapping_mul(0x9E37_79B1).rotate_left(7);
                    let fx = ((u - l.rect.x0) / l.cell).fract();
                    let fy = (v - l.rect.y0) / (l.rect.y1 - l.rect.y0);
                    // Glyph-like strokes: a vertical stem, sometimes a bar.
                    let stem = (0.15..0.35).contains(&fx) || (h & 2 != 0 && (0.55..0.75).contains(&fx));
                    let bar = h & 4 != 0 && (0.4..0.55).contains(&fy) && fx < 0.75;
                    if h % 7 != 0 && (stem || bar) {
                        value = self.ink + (self.paper - self.ink) * 0.15;
                    }
                    break 'found;
                }
            }
        }
        if self.spec.medium != "card" {
            // The screen's pixel grid, which a camera samples into moiré.
            let (gx, gy) = ((u * self.screen_pitch).fract(), (v * self.screen_pitch).fract());
            value *= if gx < 0.72 && gy < 0.8 { 1.0 } else { 0.45 };
        }
        value
    }

    fn render(&mut self, rng: &mut StdRng) -> Vec<u8> {
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let mut light = vec![0f32; w * h];
        // Samples per pixel: a 2×2 grid, spread along the streak when moving.
        let steps = if self.motion == (0.0, 0.0) { 1 } else { (self.spec.blur_px.ceil() as usize).clamp(3, 10) };
        let mut offsets = Vec::new();
        for s in 0..steps {
            let t = if steps == 1 { 0.0 } else { s as f32 / (steps - 1) as f32 - 0.5 };
            for (jx, jy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                offsets.push((jx + t * self.motion.0, jy + t * self.motion.1));
            }
        }
        let inv = self.inverse;
        for y in 0..h {
            for x in 0..w {
                let mut sum = 0.0;
                for &(ox, oy) in &offsets {
                    let (u, v) = project(&inv, x as f32 + ox, y as f32 + oy);
                    sum += self.albedo(u, v);
                }
                light[y * w + x] = sum / offsets.len() as f32;
            }
        }
        // Light falling on the scene (a screen lights itself) and a glare spot.
        let (gx, gy, gs) = self.gradient;
        let screen = self.spec.medium != "card";
        let diag = (w as f32).hypot(h as f32);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0);
                let vignette = 1.0 - 0.25 * (dx * dx + dy * dy) / (diag * diag / 4.0);
                let slope = 1.0 - gs * (0.5 + (dx * gx + dy * gy) / diag);
                let mut l = light[y * w + x] * if screen { 1.0 } else { slope } * vignette;
                if let Some((cx, cy, r, a)) = self.glare {
                    let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                    l += a * (-d2 / (2.0 * r * r)).exp();
                }
                light[y * w + x] = l;
            }
        }
        if self.spec.blur == "defocus" {
            gaussian(&mut light, w, h, self.spec.blur_px);
        }
        // Exposure: paper at a random grey, ink `contrast_levels` below it.
        let span = self.spec.contrast_levels / (self.paper - self.ink).abs().max(0.3);
        let top = rng.random_range(self.spec.contrast_levels + 20.0..250.0f32).min(250.0);
        let base = top - span * self.paper.max(self.ink);
        let sigma = self.spec.noise;
        light
            .iter()
            .map(|&l| {
                let n: f32 = (0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0;
                (base + span * l + n * sigma * 1.732).round().clamp(0.0, 255.0) as u8
            })
            .collect()
    }
}

/// Separable Gaussian blur in place.
fn gaussian(px: &mut [f32], w: usize, h: usize, sigma: f32) {
    let r = (sigma * 3.0).ceil() as i32;
    let kernel: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            tmp[y * w + x] = kernel.iter().enumerate().map(|(i, k)| k * px[y * w + (x as i32 + i as i32 - r).clamp(0, w as i32 - 1) as usize]).sum();
        }
    }
    for y in 0..h {
        for x in 0..w {
            px[y * w + x] = kernel.iter().enumerate().map(|(i, k)| k * tmp[(y as i32 + i as i32 - r).clamp(0, h as i32 - 1) as usize * w + x]).sum();
        }
    }
}

/// `1280x720` → (1280, 720).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("size: \"{s}\" is not WIDTHxHEIGHT"))?;
    let (w, h) = (w.trim().parse::<u32>(), h.trim().parse::<u32>());
    match (w, h) {
        (Ok(w), Ok(h)) if (320..=4096).contains(&w) && (240..=4096).contains(&h) => Ok((w, h)),
        _ => Err(format!("size: \"{s}\" must be WIDTHxHEIGHT within 320x240..4096x4096")),
    }
}
