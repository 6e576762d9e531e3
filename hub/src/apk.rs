//! The app, handed out by the hub (`vaxdesk hub --apk PATH`): volunteers
//! install it at the site from whatever the coordinator shows them, with no
//! store in between. The hub serves the file and a page that says what to
//! check: its size, its SHA-256 and the SHA-256 of the certificate that
//! signed it (what `apksigner verify --print-certs` prints, and what a phone
//! shows under the app's details), read here from the APK Signing Block.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The APK being handed out, checked once when the hub starts and served
/// from memory from then on: what is downloaded is exactly what the page's
/// hashes describe, whatever happens to the file meanwhile.
#[derive(Debug, Clone)]
pub struct AppPackage {
    pub path: PathBuf,
    pub bytes: bytes::Bytes,
    pub size: u64,
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
    /// SHA-256 of the first signer's certificate (DER), lower-case hex, as
    /// `apksigner verify --print-certs` prints it.
    pub signer_sha256: String,
}

impl AppPackage {
    /// Read and check the APK at `path`: it must be a zip signed with an
    /// APK Signature Scheme v2 or v3 block (what every phone since Android 7
    /// checks). Anything else is refused with the reason.
    pub fn load(path: &Path) -> Result<AppPackage, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("apk {}: {e}", path.display()))?;
        let cert = signer_certificate(&bytes).map_err(|e| format!("apk {}: {e}", path.display()))?;
        let (sha256, signer_sha256) = (hex(&Sha256::digest(&bytes)), hex(&Sha256::digest(&cert)));
        Ok(AppPackage { path: path.to_path_buf(), size: bytes.len() as u64, bytes: bytes.into(), sha256, signer_sha256 })
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const EOCD_MAGIC: u32 = 0x0605_4b50;
const SIG_BLOCK_MAGIC: &[u8; 16] = b"APK Sig Block 42";
const V2: u32 = 0x7109_871a;
const V3: u32 = 0xf053_68c0;
const V31: u32 = 0x1b93_ad61;

/// The DER certificate of the first signer in the APK Signing Block.
pub fn signer_certificate(apk: &[u8]) -> Result<Vec<u8>, String> {
    let cd_offset = central_directory_offset(apk)?;
    if cd_offset < 32 {
        return Err("not signed (no APK Signing Block before the central directory)".into());
    }
    let footer = &apk[cd_offset - 24..cd_offset];
    if &footer[8..24] != SIG_BLOCK_MAGIC {
        return Err("not signed with APK Signature Scheme v2 or v3 (no APK Signing Block)".into());
    }
    let size = usize::try_from(u64_at(footer, 0)?).map_err(|_| "APK Signing Block: size out of range")?;
    let start = size.checked_add(8).and_then(|n| cd_offset.checked_sub(n)).ok_or("APK Signing Block: larger than the file")?;
    let pairs = apk.get(start + 8..cd_offset - 24).ok_or("APK Signing Block: out of the file")?;
    let mut blocks = Vec::new();
    let mut i = 0;
    while i + 12 <= pairs.len() {
        let len = usize::try_from(u64_at(pairs, i)?).map_err(|_| "APK Signing Block: pair length out of range")?;
        let id = u32_at(pairs, i + 8)?;
        let end = len.checked_add(i + 8).filter(|e| *e <= pairs.len() && len >= 4).ok_or("APK Signing Block: a pair runs past the block")?;
        blocks.push((id, &pairs[i + 12..end]));
        i = end;
    }
    // v3.1, then v3, then v2: the newest scheme's signer.
    for want in [V31, V3, V2] {
        if let Some((_, value)) = blocks.iter().find(|(id, _)| *id == want) {
            return first_certificate(value);
        }
    }
    Err("not signed with APK Signature Scheme v2 or v3 (no signer in the APK Signing Block)".into())
}

/// signers → first signer → signed data → (digests, certificates) → first certificate;
/// every level is a u32 little-endian length before its bytes.
fn first_certificate(scheme_block: &[u8]) -> Result<Vec<u8>, String> {
    let signers = prefixed(scheme_block, 0)?.0;
    let signer = prefixed(signers, 0)?.0;
    let signed_data = prefixed(signer, 0)?.0;
    let (_digests, after_digests) = prefixed(signed_data, 0)?;
    let certificates = prefixed(signed_data, after_digests)?.0;
    let cert = prefixed(certificates, 0)?.0;
    if cert.is_empty() {
        return Err("the signer has no certificate".into());
    }
    Ok(cert.to_vec())
}

/// The length-prefixed bytes at `at`, and where the next field starts.
fn prefixed(b: &[u8], at: usize) -> Result<(&[u8], usize), String> {
    let len = u32_at(b, at)? as usize;
    let body = b.get(at + 4..at + 4 + len).ok_or("APK Signing Block: a field runs past its parent")?;
    Ok((body, at + 4 + len))
}

fn central_directory_offset(apk: &[u8]) -> Result<usize, String> {
    // The end-of-central-directory record is at most 22 + 65535 bytes from the end.
    let from = apk.len().saturating_sub(22 + 65_535);
    let at = (from..apk.len().saturating_sub(21)).rev().find(|&i| u32_at(apk, i).is_ok_and(|m| m == EOCD_MAGIC)).ok_or("not a zip file (no end of central directory)")?;
    let offset = u32_at(apk, at + 16)? as usize;
    if offset > at {
        return Err("zip: central directory offset past its end record".into());
    }
    Ok(offset)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    let s: [u8; 4] = b.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or("truncated")?;
    Ok(u32::from_le_bytes(s))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    let s: [u8; 8] = b.get(at..at + 8).and_then(|s| s.try_into().ok()).ok_or("truncated")?;
    Ok(u64::from_le_bytes(s))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lp(b: &[u8]) -> Vec<u8> {
        let mut v = (b.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(b);
        v
    }

    /// A zip whose central directory is preceded by a signing block with one
    /// v2 signer carrying `cert`, laid out as apksigner writes it.
    fn signed_zip(cert: &[u8], scheme: u32) -> Vec<u8> {
        let signed_data = [lp(&lp(b"digest")), lp(&lp(cert))].concat();
        let signer = [lp(&signed_data), lp(b"signatures"), lp(b"public key")].concat();
        let value = lp(&lp(&signer));
        let mut pairs = ((value.len() + 4) as u64).to_le_bytes().to_vec();
        pairs.extend_from_slice(&scheme.to_le_bytes());
        pairs.extend_from_slice(&value);
        let size = (pairs.len() + 24) as u64;
        let mut apk = b"PK\x03\x04 local entries".to_vec();
        apk.extend_from_slice(&size.to_le_bytes());
        apk.extend_from_slice(&pairs);
        apk.extend_from_slice(&size.to_le_bytes());
        apk.extend_from_slice(SIG_BLOCK_MAGIC);
        let cd = apk.len() as u32;
        apk.extend_from_slice(b"PK\x01\x02 central directory");
        let mut eocd = EOCD_MAGIC.to_le_bytes().to_vec();
        eocd.extend_from_slice(&[0u8; 12]);
        eocd.extend_from_slice(&cd.to_le_bytes());
        eocd.extend_from_slice(&[0, 0]);
        apk.extend_from_slice(&eocd);
        apk
    }

    #[test]
    fn the_signers_certificate_is_read_from_the_signing_block() {
        let cert = b"0\x82\x01\x0a a certificate in DER".to_vec();
        for scheme in [V2, V3, V31] {
            assert_eq!(signer_certificate(&signed_zip(&cert, scheme)).unwrap(), cert);
        }
    }

    #[test]
    fn unsigned_truncated_or_foreign_files_are_refused_with_a_reason() {
        let cert = b"certificate".to_vec();
        let good = signed_zip(&cert, V2);
        assert!(signer_certificate(b"not a zip at all").unwrap_err().contains("not a zip"));
        let mut unsigned = b"PK\x03\x04 only entries, no block".to_vec();
        let cd = unsigned.len() as u32;
        unsigned.extend_from_slice(&EOCD_MAGIC.to_le_bytes());
        unsigned.extend_from_slice(&[0u8; 12]);
        unsigned.extend_from_slice(&cd.to_le_bytes());
        unsigned.extend_from_slice(&[0, 0]);
        assert!(signer_certificate(&unsigned).unwrap_err().contains("not signed"));
        // Every cut of a signed file either parses the same or says why, never panics.
        for cut in 0..good.len() {
            let _ = signer_certificate(&good[..cut]);
            let mut flipped = good.clone();
            flipped[cut] ^= 0xff;
            let _ = signer_certificate(&flipped);
        }
        assert!(signer_certificate(&signed_zip(&cert, 0x1234_5678)).unwrap_err().contains("no signer"));
    }
}
