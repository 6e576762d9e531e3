//! `vaxdesk qr`: decode image files, benchmark the decoder on labelled
//! folders, parse payload text. Image files are loaded here, outside the
//! core, whose decoder takes camera frames.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};
use vaxdesk_core::qr::decode::{decode_with, Charset, Code, Effort, Frame};
use vaxdesk_core::qr::payload;

use crate::args::QrCmd;
use crate::bench::Timing;
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(out: Out, c: QrCmd) -> CliResult {
    match c {
        QrCmd::Decode { files } => decode_files(&files),
        QrCmd::Bench { dirs, each: true, quick } => bench_each(&dirs, if quick { Effort::Quick } else { Effort::Thorough }),
        QrCmd::Bench { dirs, each: false, quick } => bench(out, &dirs, if quick { Effort::Quick } else { Effort::Thorough }),
        QrCmd::Frames { seed, count, sizes, out: dir } => {
            let sizes = sizes.iter().map(|s| crate::qrframes::parse_size(s)).collect::<Result<Vec<_>, _>>().map_err(Failure::Input)?;
            if count == 0 {
                return Err(Failure::Input("count: at least one frame".into()));
            }
            let bar = indicatif::ProgressBar::new((count * sizes.len()) as u64);
            bar.set_style(indicatif::ProgressStyle::with_template("frames {bar:30} {pos}/{len} {eta}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
            let m = crate::qrframes::generate(seed, count, &sizes, &dir, |n, _| bar.set_position(n as u64)).map_err(Failure::Input)?;
            bar.finish_and_clear();
            let with_code = m.frames.iter().filter(|f| !f.texts.is_empty()).count();
            out.show(&json!({ "dir": dir.display().to_string(), "seed": seed, "frames": m.frames.len(), "with_code": with_code }), || {
                format!("wrote {} frames ({} with a code, {} without) and manifest.json to {}", m.frames.len(), with_code, m.frames.len() - with_code, dir.display())
            });
            Ok(())
        }
        QrCmd::Render { text, out: file, module, width, height } => {
            let img = crate::qrimage::photo(&text, module, width, height, 8).map_err(Failure::Input)?;
            img.save(&file).map_err(|e| Failure::Input(format!("out: {}: {e}", file.display())))?;
            out.show(&json!({ "file": file.display().to_string(), "width": width, "height": height }), || format!("wrote {}", file.display()));
            Ok(())
        }
        QrCmd::Parse { text } => {
            let text = if text == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| Failure::Input(format!("text: reading standard input: {e}")))?;
                s.trim_end_matches(['\r', '\n']).to_string()
            } else {
                text
            };
            let p = payload::parse(&text);
            out.show(&code_json(&text, &p, "typed", Charset::Utf8), || describe(&p));
            match (&p, p.errors()) {
                (payload::Payload::Unknown { .. }, _) => Err(Failure::NotValid(format!("not a CCCD, PC-Covid, vaccination certificate (HC1) or vaxdesk enrollment code ({} characters)", text.chars().count()))),
                (_, []) => Ok(()),
                (_, errors) => Err(Failure::NotValid(format!("a {} code with {} field error(s)", kind_name(&p), errors.len()))),
            }
        }
    }
}

/// A luma image loaded from a file.
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub luma: Vec<u8>,
}

pub fn load(path: &Path) -> Result<Image, String> {
    let img = image::open(path).map_err(|e| e.to_string())?.to_luma8();
    let (w, h) = img.dimensions();
    Ok(Image { width: w as usize, height: h as usize, luma: img.into_raw() })
}

/// Decode a loaded image; the time covers the decoder only.
pub fn decode_image(img: &Image) -> Result<(Vec<Code>, f64), String> {
    decode_image_with(img, Effort::Thorough)
}

pub fn decode_image_with(img: &Image, effort: Effort) -> Result<(Vec<Code>, f64), String> {
    let frame = Frame::new(&img.luma, img.width, img.height, img.width).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let codes = decode_with(&frame, effort);
    Ok((codes, t.elapsed().as_secs_f64() * 1000.0))
}

/// What the code is, in words a tester reads.
fn kind_name(p: &payload::Payload) -> &'static str {
    match p {
        payload::Payload::Cccd(_) => "CCCD chip-ID card",
        payload::Payload::Health(_) => "PC-Covid health",
        payload::Payload::Hc1(_) => "vaccination certificate (HC1)",
        payload::Payload::Enroll(_) => "vaxdesk enrollment",
        payload::Payload::Unknown { .. } => "unrecognised",
    }
}

/// A parsed code as lines of `field: value`, then its errors, each naming
/// the field.
fn describe(p: &payload::Payload) -> String {
    let mut out = format!("{} code", kind_name(p));
    let v = serde_json::to_value(p).unwrap_or(Value::Null);
    if let Some(Value::Object(fields)) = v.get("value") {
        for (k, v) in fields {
            let shown = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("\n  {k}: {shown}"));
        }
    }
    for e in p.errors() {
        out.push_str(&format!("\n  error: {e}"));
    }
    out
}

/// A code as JSON: its text, how its bytes were read (`charset`), its kind,
/// fields, errors and warnings (`qr.charset_guessed` when a person's text
/// was guessed from its bytes).
fn code_json(text: &str, p: &payload::Payload, step: &str, charset: Charset) -> Value {
    let v = serde_json::to_value(p).unwrap_or(Value::Null);
    let guessed = vaxdesk_core::qr::scan::person_draft(p, charset).and_then(|d| d.charset_guessed).is_some();
    json!({
        "text": text,
        "charset": charset.label(),
        "kind": p.kind(),
        "step": step,
        "fields": v.get("value").cloned().unwrap_or(Value::Null),
        "errors": p.errors(),
        "warnings": if guessed { vec!["qr.charset_guessed"] } else { vec![] },
    })
}

fn decode_files(files: &[PathBuf]) -> CliResult {
    let mut failed = 0;
    for f in files {
        let line = match load(f).and_then(|img| decode_image(&img)) {
            Ok((codes, ms)) => {
                if codes.is_empty() {
                    // Said on stderr too: an empty list is easy to miss.
                    eprintln!("vaxdesk: {}: no QR code found in the picture", f.display());
                }
                let codes: Vec<Value> = codes.iter().map(|c| code_json(&c.text, &payload::parse(&c.text), c.step, c.charset)).collect();
                json!({ "file": f.display().to_string(), "codes": codes, "ms": (ms * 1000.0).round() / 1000.0 })
            }
            Err(e) => {
                failed += 1;
                json!({ "file": f.display().to_string(), "error": e })
            }
        };
        // One JSON line per file is the format, with or without --json.
        println!("{line}");
    }
    if failed > 0 {
        return Err(Failure::Input(format!("{failed} of {} file(s) could not be read", files.len())));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct FolderResult {
    pub folder: String,
    pub images: usize,
    pub exact: usize,
    pub wrong: usize,
    pub missed: usize,
    /// Read as the code's modules hold it where its label says otherwise
    /// ([`DISPUTED`]): neither exact nor wrong.
    pub disputed: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// Image files with a same-stem `.txt` beside them, sorted by name.
pub fn labelled_images(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries.flatten() {
        let p = e.path();
        let is_image = p.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"));
        if !is_image {
            continue;
        }
        if let Ok(expected) = std::fs::read(p.with_extension("txt")) {
            out.push((p, expected));
        }
    }
    out.sort();
    Ok(out)
}

/// Sample pictures whose label is not what their code holds: folder/file,
/// the label, and the text its modules hold. ZXing's qrcode-2/13.png, a
/// designer code, is labelled "photograph"; laid over the picture, the code
/// of "photography" agrees with 9 in 10 of its modules, the label's with 7
/// in 10 (core/tests/qr_decode.rs proves it). scripts/qr-peers keeps the same list.
pub const DISPUTED: &[(&str, &str, &str)] = &[(
    "qrcode-2/13.png",
    "The 2005 USGS aerial photograph of the Washington Monument is censored.",
    "The 2005 USGS aerial photography of the Washington Monument is censored.",
)];

/// Whether `read` from the picture at `path` labelled `expected` is what
/// its code holds where the label is known to be wrong.
fn disputed(path: &Path, expected: &[u8], read: &str) -> bool {
    let name = |p: Option<&Path>| p.and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let at = format!("{}/{}", name(path.parent()), name(Some(path)));
    DISPUTED.iter().any(|&(file, label, held)| file == at && label.as_bytes() == expected && held == read)
}

pub fn bench_folder(dir: &Path, effort: Effort) -> Result<FolderResult, String> {
    let images = labelled_images(dir)?;
    let (mut exact, mut wrong, mut missed, mut disputes) = (0, 0, 0, 0);
    let mut times = Vec::new();
    for (path, expected) in &images {
        let img = load(path)?;
        let (codes, ms) = decode_image_with(&img, effort)?;
        times.push(std::time::Duration::from_secs_f64(ms / 1000.0));
        if codes.iter().any(|c| c.text.as_bytes() == expected.as_slice()) {
            exact += 1;
        } else if !codes.is_empty() && codes.iter().all(|c| disputed(path, expected, &c.text)) {
            disputes += 1;
        } else if codes.is_empty() {
            missed += 1;
        } else {
            wrong += 1;
        }
    }
    let t = Timing::of("decode", times, None);
    Ok(FolderResult { folder: dir.display().to_string(), images: images.len(), exact, wrong, missed, disputed: disputes, median_ms: t.p50_ms, p95_ms: t.p95_ms })
}

/// Every picture in the folders, one JSON line each: what was read and how long it took.
fn bench_each(dirs: &[PathBuf], effort: Effort) -> CliResult {
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Failure::Input(format!("{}: {e}", dir.display())))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg")))
            .collect();
        files.sort();
        for f in files {
            let img = load(&f).map_err(|e| Failure::Input(format!("{}: {e}", f.display())))?;
            let (codes, ms) = decode_image_with(&img, effort).map_err(|e| Failure::Input(format!("{}: {e}", f.display())))?;
            let texts: Vec<&str> = codes.iter().map(|c| c.text.as_str()).collect();
            let steps: Vec<&str> = codes.iter().map(|c| c.step).collect();
            println!("{}", json!({ "file": f.display().to_string(), "texts": texts, "steps": steps, "ms": (ms * 1000.0).round() / 1000.0 }));
        }
    }
    Ok(())
}

fn bench(out: Out, dirs: &[PathBuf], effort: Effort) -> CliResult {
    let mut results = Vec::new();
    for d in dirs {
        results.push(bench_folder(d, effort).map_err(Failure::Input)?);
    }
    out.show(&results, || {
        let mut s = format!("{:<40} {:>6} {:>6} {:>6} {:>6} {:>8} {:>9} {:>9}\n", "folder", "images", "exact", "wrong", "missed", "disputed", "median ms", "p95 ms");
        for r in &results {
            s.push_str(&format!("{:<40} {:>6} {:>6} {:>6} {:>6} {:>8} {:>9.2} {:>9.2}\n", r.folder, r.images, r.exact, r.wrong, r.missed, r.disputed, r.median_ms, r.p95_ms));
        }
        let sum = |f: fn(&FolderResult) -> usize| results.iter().map(f).sum::<usize>();
        s.push_str(&format!("{:<40} {:>6} {:>6} {:>6} {:>6} {:>8}", "total", sum(|r| r.images), sum(|r| r.exact), sum(|r| r.wrong), sum(|r| r.missed), sum(|r| r.disputed)));
        if sum(|r| r.disputed) > 0 {
            s.push_str("\ndisputed: read as the code holds it, where its label says otherwise (vaxdesk qr bench --help)");
        }
        s
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_picture_read_as_its_code_holds_it_is_disputed() {
        let (file, label, held) = DISPUTED[0];
        let at = Path::new("samples").join(file);
        assert!(disputed(&at, label.as_bytes(), held));
        // Another text, another picture, or a label since put right: judged as usual.
        assert!(!disputed(&at, label.as_bytes(), "The 2005 USGS aerial photographs of the Washington Monument is censored."));
        assert!(!disputed(Path::new("samples/qrcode-3/13.png"), label.as_bytes(), held));
        assert!(!disputed(&at, held.as_bytes(), held));
    }
}
