//! Vaccination certificates: EU-DCC `HC1:` texts (REFERENCE §1.3) for a
//! completed primary series or a booster, signed ES256 by the hub's signer.
//! Reading and verifying them is `qr::payload::hc1`; this is the issuing
//! side, and the signer's key and certificate.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use coset::{iana, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::model::{DoseRecord, Outcome, Person};
use crate::qr::payload::{Dcc, DccName, DccVaccination, TrustList, TrustedKey};

pub const COUNTRY: &str = "VN";
pub const ISSUER: &str = "Ministry of Health of Viet Nam";
/// SNOMED CT code for COVID-19, the DCC's `tg`.
const DISEASE: &str = "840539006";
/// Certificates are valid for 12 months (REFERENCE §1.3).
const VALID_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("signer: {0}")]
    Signer(String),
    #[error("signer file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("certificate: {0}")]
    Encode(String),
}

/// A signer's public side as the catalog publishes it: the desks' trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedSigner {
    /// Hex of the first 8 bytes of the SHA-256 of `certificate`.
    pub kid: String,
    /// The signer's X.509 certificate, DER, base64.
    pub certificate: String,
    /// Its P-256 public key, SEC1 uncompressed, base64: what desks verify with.
    pub public_key: String,
}

/// The trust list a catalog carries. Entries whose kid does not match their
/// certificate, or whose key does not parse, are left out.
pub fn trust_list(signers: &[PublishedSigner]) -> TrustList {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    TrustList(
        signers
            .iter()
            .filter_map(|s| {
                let der = b64.decode(&s.certificate).ok()?;
                let kid = TrustedKey::kid_of_certificate(&der);
                (hex(&kid) == s.kid).then_some(())?;
                TrustedKey::from_sec1(&kid, &b64.decode(&s.public_key).ok()?).ok()
            })
            .collect(),
    )
}

/// The hub's signing key and its self-signed certificate.
pub struct Signer {
    key: SigningKey,
    /// The key as PKCS#8 DER, as it is kept on disk.
    pkcs8: Vec<u8>,
    certificate: Vec<u8>,
    kid: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &hex(&self.kid)).finish_non_exhaustive()
    }
}

const KEY_FILE: &str = "dcc-signer.key.der";
const CERT_FILE: &str = "dcc-signer.cert.der";

impl Signer {
    /// A new P-256 key and a self-signed certificate naming `subject`.
    pub fn generate(subject: &str) -> Result<Signer, CertError> {
        let bad = |e: rcgen::Error| CertError::Signer(e.to_string());
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(bad)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
        params.distinguished_name.push(rcgen::DnType::CommonName, subject);
        params.distinguished_name.push(rcgen::DnType::CountryName, COUNTRY);
        use chrono::Datelike;
        let today = Utc::now().date_naive();
        let (y, m, d) = (today.year(), today.month() as u8, today.day().min(28) as u8);
        params.not_before = rcgen::date_time_ymd(y, m, d);
        params.not_after = rcgen::date_time_ymd(y + 5, m, d);
        let cert = params.self_signed(&pair).map_err(bad)?;
        Signer::from_der(&pair.serialize_der(), cert.der())
    }

    /// A signer made from 32 seed bytes, with no certificate: for generated
    /// test material (the decoder's frames), where the same seed must give
    /// the same signed text. Nobody's trust list holds it.
    pub fn seeded(seed: [u8; 32]) -> Result<Signer, CertError> {
        let key = SigningKey::from_slice(&seed).map_err(|e| CertError::Signer(format!("seed: {e}")))?;
        let kid = TrustedKey::kid_of_certificate(key.verifying_key().to_encoded_point(false).as_bytes());
        Ok(Signer { key, pkcs8: Vec::new(), certificate: Vec::new(), kid })
    }

    fn from_der(pkcs8: &[u8], certificate: &[u8]) -> Result<Signer, CertError> {
        let key = SigningKey::from_pkcs8_der(pkcs8).map_err(|e| CertError::Signer(format!("key: {e}")))?;
        Ok(Signer { key, pkcs8: pkcs8.to_vec(), certificate: certificate.to_vec(), kid: TrustedKey::kid_of_certificate(certificate) })
    }

    /// The signer kept in `dir`, made there on first use. The key file is
    /// readable by its owner only.
    pub fn load_or_create(dir: &Path, subject: &str) -> Result<Signer, CertError> {
        let (key_path, cert_path) = (dir.join(KEY_FILE), dir.join(CERT_FILE));
        let io = |p: &Path| {
            let path = p.display().to_string();
            move |source| CertError::Io { path, source }
        };
        if key_path.exists() {
            let key = std::fs::read(&key_path).map_err(io(&key_path))?;
            let cert = std::fs::read(&cert_path).map_err(io(&cert_path))?;
            return Signer::from_der(&key, &cert);
        }
        let s = Signer::generate(subject)?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_private(&key_path, &s.pkcs8).map_err(io(&key_path))?;
        std::fs::write(&cert_path, &s.certificate).map_err(io(&cert_path))?;
        Ok(s)
    }

    pub fn kid(&self) -> &[u8] {
        &self.kid
    }

    pub fn published(&self) -> PublishedSigner {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        PublishedSigner {
            kid: hex(&self.kid),
            certificate: b64.encode(&self.certificate),
            public_key: b64.encode(self.key.verifying_key().to_encoded_point(false).as_bytes()),
        }
    }

    /// Sign `dcc` as an `HC1:` text issued at `at`, valid for a year.
    pub fn issue(&self, dcc: &Dcc, at: DateTime<Utc>) -> Result<String, CertError> {
        use ciborium::Value as V;
        let enc = |e: &dyn std::fmt::Display| CertError::Encode(e.to_string());
        let dcc = V::serialized(dcc).map_err(|e| enc(&e))?;
        let iat = at.timestamp();
        let claims = V::Map(vec![
            (V::Integer(1.into()), V::Text(COUNTRY.into())),
            (V::Integer(4.into()), V::Integer((iat + VALID_DAYS * 86_400).into())),
            (V::Integer(6.into()), V::Integer(iat.into())),
            (V::Integer((-260).into()), V::Map(vec![(V::Integer(1.into()), dcc)])),
        ]);
        let mut payload = Vec::new();
        ciborium::into_writer(&claims, &mut payload).map_err(|e| enc(&e))?;
        let protected = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).key_id(self.kid.clone()).build();
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .create_signature(b"", |data| {
                let sig: Signature = self.key.sign(data);
                sig.to_bytes().to_vec()
            })
            .build();
        let cose = sign1.to_tagged_vec().map_err(|e| enc(&e))?;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&cose).map_err(|e| enc(&e))?;
        Ok(format!("HC1:{}", base45::encode(z.finish().map_err(|e| enc(&e))?)))
    }
}

#[cfg(unix)]
/// Write a new file only its owner may read (keys).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
/// Write a new file only its owner may read (keys).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A name as the DCC's `fnt`/`gnt` want it (ICAO 9303): upper-case Latin
/// letters without diacritics, `<` between words.
pub fn icao(name: &str) -> String {
    crate::fold::fold(name).to_uppercase().split_whitespace().collect::<Vec<_>>().join("<")
}

/// The modules of `text` as a QR code (error correction Q, as certificates
/// are shown on cracked phone screens): side length and dark flags, row by
/// row, for a screen to draw.
pub fn qr_modules(text: &str) -> Result<(usize, Vec<bool>), CertError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::Q).map_err(|e| CertError::Encode(e.to_string()))?;
    let dark = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
    Ok((code.width(), dark))
}

/// Why a person has no certificate yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotEligible {
    NoDose,
    SeriesIncomplete { given: u8, needed: u8 },
    VaccineWithoutDccCode(String),
}

impl std::fmt::Display for NotEligible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotEligible::NoDose => write!(f, "no dose given"),
            NotEligible::SeriesIncomplete { given, needed } => write!(f, "primary series incomplete: {given} of {needed} doses"),
            NotEligible::VaccineWithoutDccCode(v) => write!(f, "vaccine {v} has no EU-DCC product code in the catalog"),
        }
    }
}

/// The DCC for a person's latest dose, when it completes their primary
/// series or is a booster. Vietnamese names are split family name first.
pub fn dcc_for(person: &Person, doses: &[DoseRecord], catalog: &Catalog) -> Result<Dcc, NotEligible> {
    let given: Vec<&DoseRecord> = doses.iter().filter(|d| d.dose.outcome == Outcome::Vaccinated).collect();
    let last = given.iter().max_by_key(|d| d.dose.administered_at).ok_or(NotEligible::NoDose)?;
    let vaccine = catalog.vaccine(&last.dose.vaccine).ok_or_else(|| NotEligible::VaccineWithoutDccCode(last.dose.vaccine.clone()))?;
    let codes = vaccine.dcc.as_ref().ok_or_else(|| NotEligible::VaccineWithoutDccCode(vaccine.code.clone()))?;
    let dn = last.dose.dose_number.unwrap_or(given.len() as u8);
    if dn < vaccine.series_doses {
        return Err(NotEligible::SeriesIncomplete { given: dn, needed: vaccine.series_doses });
    }
    let mut words = person.full_name.split_whitespace();
    let family = words.next().unwrap_or_default().to_string();
    let rest = words.collect::<Vec<_>>().join(" ");
    Ok(Dcc {
        ver: "1.3.0".into(),
        nam: DccName {
            family_std: icao(&family),
            given_std: (!rest.is_empty()).then(|| icao(&rest)),
            family: Some(family),
            given: (!rest.is_empty()).then_some(rest),
        },
        dob: person.birth_date.to_string(),
        v: vec![DccVaccination {
            tg: DISEASE.into(),
            vp: codes.vp.clone(),
            mp: codes.mp.clone(),
            ma: codes.ma.clone().unwrap_or_default(),
            dn: u32::from(dn),
            // A booster is written n/n, as EU issuers do.
            sd: u32::from(dn.max(vaccine.series_doses)),
            dt: last.dose.administered_at.date_naive().to_string(),
            co: COUNTRY.into(),
            issuer: ISSUER.into(),
            ci: format!("URN:UVCI:01:{COUNTRY}:{}", last.id.to_string().replace('-', "").to_uppercase()),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::payload::{parse_hc1, SignatureStatus};

    #[test]
    fn icao_names_drop_diacritics() {
        assert_eq!(icao("Nguyễn Thị Hoa"), "NGUYEN<THI<HOA");
        assert_eq!(icao("Đặng  Văn Đức"), "DANG<VAN<DUC");
    }

    #[test]
    fn a_signer_is_kept_and_reloaded_and_verifies_what_it_signs() {
        let dir = tempfile::tempdir().unwrap();
        let s = Signer::load_or_create(dir.path(), "vaxdesk test hub").unwrap();
        let again = Signer::load_or_create(dir.path(), "ignored").unwrap();
        assert_eq!(s.kid(), again.kid(), "the same signer after a restart");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is private to its owner");
        }
        let trust = trust_list(&[s.published()]);
        assert_eq!(trust.0.len(), 1);
        let dcc = Dcc {
            ver: "1.3.0".into(),
            nam: DccName { family: Some("Nguyễn".into()), given: Some("Thị Hoa".into()), family_std: "NGUYEN".into(), given_std: Some("THI<HOA".into()) },
            dob: "1987-05-02".into(),
            v: vec![],
        };
        let at = DateTime::from_timestamp(1_633_392_000, 0).unwrap();
        let text = again.issue(&dcc, at).unwrap();
        let c = parse_hc1(&text, &trust).value.unwrap();
        assert_eq!(c.signature, SignatureStatus::Verified);
        assert_eq!(c.dcc, dcc);
        assert_eq!(c.expires_at, Some(1_633_392_000 + 365 * 86_400));
        // Another hub's certificate is not on this list.
        let other = Signer::generate("another hub").unwrap();
        assert_eq!(parse_hc1(&other.issue(&dcc, at).unwrap(), &trust).value.unwrap().signature, SignatureStatus::UnknownKey);
    }

    #[test]
    fn a_published_signer_whose_kid_does_not_match_its_certificate_is_not_trusted() {
        let s = Signer::generate("hub").unwrap();
        let mut p = s.published();
        p.kid = "0000000000000000".into();
        assert!(trust_list(&[p]).0.is_empty());
    }
}

/// One reading of a certificate, the same on the phone and in the CLI: who
/// it is for, which dose, and whether this desk can trust it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertVerdict {
    pub signature: crate::qr::payload::SignatureStatus,
    pub expired: bool,
    /// Signed by a signer this desk trusts, and not expired.
    pub valid: bool,
    /// The holder's name as printed: family then given names, with
    /// diacritics when the certificate has them, else the ICAO form.
    pub holder: String,
    pub birth_date: String,
    pub dose_number: u32,
    pub series_doses: u32,
    /// The day of the dose it certifies (YYYY-MM-DD).
    pub date: String,
    /// Why it is not valid, in words (empty when valid).
    pub problems: Vec<String>,
}

/// The verdict on a verified-or-not certificate at `now` (Unix seconds).
pub fn verdict(c: &crate::qr::payload::Hc1Cert, now: i64) -> CertVerdict {
    use crate::qr::payload::SignatureStatus as S;
    let expired = c.expired(now);
    let mut problems = Vec::new();
    match c.signature {
        S::Verified => {}
        S::UnknownKey => problems.push("signed by a key this desk does not trust".to_string()),
        S::BadSignature => problems.push("bad signature: altered or forged".to_string()),
        S::UnsupportedAlgorithm => problems.push("signed with an algorithm other than ES256".to_string()),
    }
    if expired {
        problems.push("expired".to_string());
    }
    let n = &c.dcc.nam;
    let printed = [n.family.as_deref(), n.given.as_deref()].into_iter().flatten().filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(" ");
    let holder = if printed.is_empty() {
        [n.family_std.as_str(), n.given_std.as_deref().unwrap_or("")].iter().map(|s| s.replace('<', " ").trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
    } else {
        printed
    };
    let v = c.dcc.v.first();
    CertVerdict {
        signature: c.signature,
        expired,
        valid: problems.is_empty(),
        holder,
        birth_date: c.dcc.dob.clone(),
        dose_number: v.map_or(0, |v| v.dn),
        series_doses: v.map_or(0, |v| v.sd),
        date: v.map(|v| v.dt.clone()).unwrap_or_default(),
        problems,
    }
}
