//! `vaxdesk cert show|verify`: the citizen's certificate from the hub, drawn
//! as a QR picture; any certificate checked offline against the signers the
//! desk's catalog lists.

use std::path::{Path, PathBuf};

use serde_json::json;
use vaxdesk_core::desk::Desk;
use vaxdesk_core::qr::decode::{decode, Frame};
use vaxdesk_core::qr::payload::SignatureStatus;
use vaxdesk_core::sync::{fetch_certificate, verify_certificate, SyncOptions};

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
    let parsed = verify_certificate(desk, &text);
    let Some(cert) = parsed.value else {
        let why = parsed.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
        return Err(Failure::Input(format!("certificate: {why}")));
    };
    let expired = cert.expired(chrono::Utc::now().timestamp());
    let v = cert.dcc.v.first();
    out.show(&json!({ "signature": cert.signature, "expired": expired, "certificate": cert }), || {
        let status = match cert.signature {
            SignatureStatus::Verified => "signature verified",
            SignatureStatus::UnknownKey => "signed by a key this desk does not trust",
            SignatureStatus::BadSignature => "BAD SIGNATURE: altered or forged",
            SignatureStatus::UnsupportedAlgorithm => "signed with an algorithm other than ES256",
        };
        format!(
            "{status}{}\n{} {} born {}; dose {}/{} on {}",
            if expired { ", EXPIRED" } else { "" },
            cert.dcc.nam.family.as_deref().unwrap_or(&cert.dcc.nam.family_std),
            cert.dcc.nam.given.as_deref().unwrap_or(""),
            cert.dcc.dob,
            v.map(|v| v.dn).unwrap_or(0),
            v.map(|v| v.sd).unwrap_or(0),
            v.map(|v| v.dt.as_str()).unwrap_or("-"),
        )
    });
    if cert.signature != SignatureStatus::Verified {
        return Err(Failure::NotValid("certificate: the signature does not verify against this desk's trust list".into()));
    }
    if expired {
        return Err(Failure::NotValid("certificate: expired".into()));
    }
    Ok(())
}
