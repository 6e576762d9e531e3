//! `vaxdesk cert show|verify`: the citizen's certificate from the hub, drawn
//! as a QR picture; any certificate checked offline against the signers the
//! desk's catalog lists.

use std::path::{Path, PathBuf};

use serde_json::json;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::qr::decode::{decode, Frame};
use vaxdesk_core::sync::{fetch_certificate, SyncOptions};

use crate::args::CertCmd;
use crate::output::Out;
use crate::{CliResult, Failure};

pub fn run(desk: &Desk, out: Out, c: CertCmd) -> CliResult {
    match c {
        CertCmd::Show { person, out: file } => show(desk, out, &person, file),
        CertCmd::Verify { input } => verify(desk, out, &input),
    }
}

fn show(desk: &Desk, out: Out, person: &str, file: Option<PathBuf>) -> CliResult {
    let p = super::person::resolve(desk, person)?;
    let reply = fetch_certificate(desk, p.id, &SyncOptions::default()).map_err(super::sync::failure)?;
    let file = file.unwrap_or_else(|| PathBuf::from(format!("cert-{}.png", p.id)));
    crate::qrimage::clean(&reply.text, 6).map_err(Failure::Input)?.save(&file).map_err(|e| Failure::Input(format!("out: {}: {e}", file.display())))?;
    out.show(&json!({ "file": file.display().to_string(), "text": reply.text, "dose_number": reply.dose_number, "series_doses": reply.series_doses, "kid": reply.kid }), || {
        format!("certificate for {} (dose {}/{}) drawn to {}\n{}", p.full_name, reply.dose_number, reply.series_doses, file.display(), reply.text)
    });
    Ok(())
}

/// The text itself, or the code in a picture of it.
fn text_of(input: &str) -> CliResult<String> {
    if input.starts_with("HC1:") {
        return Ok(input.trim().to_string());
    }
    let path = Path::new(input);
    let img = super::qr::load(path).map_err(|e| Failure::Input(format!("input: {input}: neither an HC1: text nor a readable picture ({e})")))?;
    let frame = Frame::new(&img.luma, img.width, img.height, img.width).map_err(|e| Failure::Input(e.to_string()))?;
    decode(&frame)
        .into_iter()
        .map(|c| c.text)
        .find(|t| t.starts_with("HC1:"))
        .ok_or_else(|| Failure::Input(format!("input: no HC1: code found in {input}")))
}

fn verify(desk: &Desk, out: Out, input: &str) -> CliResult {
    let text = text_of(input)?;
    let v = desk.certificate_verdict(&text)?;
    out.show(&json!({ "signature": v.signature, "expired": v.expired, "valid": v.valid, "certificate": v }), || {
        let status = if v.valid { "valid: signature verified".to_string() } else { format!("NOT VALID: {}", v.problems.join(", ")) };
        format!("{status}\n{} born {}; dose {}/{} on {}", v.holder, v.birth_date, v.dose_number, v.series_doses, if v.date.is_empty() { "-" } else { &v.date })
    });
    if !v.valid {
        return Err(Failure::NotValid(format!("certificate: {}", v.problems.join(", "))));
    }
    Ok(())
}
