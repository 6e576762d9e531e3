//! EU Digital COVID Certificate as Vietnam issues it (Decision 5772/QĐ-BYT,
//! REFERENCE §1.3): `HC1:` + Base45( zlib( COSE_Sign1( CWT ) ) ), signed with
//! ES256. Each layer is a kept crate: base45, flate2, coset (COSE over
//! ciborium), p256. Decoding never needs the key; the signature is then
//! checked against a trust list given by the caller.

use std::io::Read;

use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{err, FieldError, Parsed};
use crate::validate::PersonDraft;

pub const PREFIX: &str = "HC1:";
/// A certificate inflates to a few hundred bytes; refuse to inflate a
/// crafted code beyond this.
const MAX_INFLATED: u64 = 64 * 1024;
/// COSE algorithm ES256 (ECDSA P-256 with SHA-256).
const ES256: i64 = -7;
/// CWT claim keys.
const CWT_ISS: i64 = 1;
const CWT_EXP: i64 = 4;
const CWT_IAT: i64 = 6;
const CWT_HCERT: i64 = -260;

/// A signer the desk trusts: the first 8 bytes of the SHA-256 of its DER
/// certificate, and its P-256 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub kid: Vec<u8>,
    pub key: VerifyingKey,
}

impl TrustedKey {
    /// From the kid and the SEC1-encoded public point (65 bytes, `04 x y`).
    pub fn from_sec1(kid: &[u8], point: &[u8]) -> Result<Self, FieldError> {
        let key = VerifyingKey::from_sec1_bytes(point).map_err(|_| err("trust_list.key", "not a P-256 public key (SEC1)"))?;
        Ok(TrustedKey { kid: kid.to_vec(), key })
    }

    /// The kid the DCC specification derives from a signer's DER certificate.
    pub fn kid_of_certificate(der: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(der)[..8].to_vec()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustList(pub Vec<TrustedKey>);

impl TrustList {
    fn find(&self, kid: &[u8]) -> Option<&TrustedKey> {
        self.0.iter().find(|k| k.kid == kid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    Verified,
    /// The signer's kid is not on the trust list (or there is no kid).
    UnknownKey,
    BadSignature,
    /// Signed with an algorithm other than ES256.
    UnsupportedAlgorithm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DccName {
    #[serde(rename = "fn", default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(rename = "gn", default, skip_serializing_if = "Option::is_none")]
    pub given: Option<String>,
    #[serde(rename = "fnt")]
    pub family_std: String,
    #[serde(rename = "gnt", default, skip_serializing_if = "Option::is_none")]
    pub given_std: Option<String>,
}

/// One vaccination entry (`v[]`), names as in schema 1.3.0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DccVaccination {
    pub tg: String,
    pub vp: String,
    pub mp: String,
    pub ma: String,
    pub dn: u32,
    pub sd: u32,
    pub dt: String,
    pub co: String,
    #[serde(rename = "is")]
    pub issuer: String,
    pub ci: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dcc {
    pub ver: String,
    pub nam: DccName,
    pub dob: String,
    #[serde(default)]
    pub v: Vec<DccVaccination>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hc1Cert {
    pub issuer: Option<String>,
    /// Seconds since the Unix epoch.
    pub issued_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// Hex of the signer's key id.
    pub kid: Option<String>,
    pub signature: SignatureStatus,
    pub dcc: Dcc,
}

impl Hc1Cert {
    /// Whether the certificate is past its expiry at `now` (Unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| e < now)
    }

    /// A person draft: the certificate has the name and birth date but, by
    /// design, no identity number.
    pub fn person_draft(&self) -> PersonDraft {
        let name = [self.dcc.nam.family.as_deref(), self.dcc.nam.given.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        PersonDraft {
            full_name: if name.is_empty() { self.dcc.nam.family_std.replace('<', " ") } else { name },
            birth_date: self.dcc.dob.clone(),
            ..Default::default()
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decode an `HC1:` text fully and check its signature against `trust`.
pub fn parse_hc1(text: &str, trust: &TrustList) -> Parsed<Hc1Cert> {
    match decode(text.trim_end(), trust) {
        Ok(c) => Parsed { value: Some(c), errors: vec![] },
        Err(e) => Parsed { value: None, errors: vec![e] },
    }
}

fn decode(text: &str, trust: &TrustList) -> Result<Hc1Cert, FieldError> {
    let body = text.strip_prefix(PREFIX).ok_or_else(|| err("prefix", "\"HC1:\" expected"))?;
    let compressed = base45::decode(body).map_err(|e| err("base45", format!("not Base45: {e:?}")))?;
    let cose_bytes = inflate(&compressed)?;
    let sign1 = CoseSign1::from_tagged_slice(&cose_bytes)
        .or_else(|_| CoseSign1::from_slice(&cose_bytes))
        .map_err(|e| err("cose", format!("not a COSE_Sign1 structure: {e}")))?;

    let kid_bytes = if sign1.protected.header.key_id.is_empty() { sign1.unprotected.key_id.clone() } else { sign1.protected.header.key_id.clone() };
    let alg = match &sign1.protected.header.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => Some(*a as i64),
        Some(coset::RegisteredLabelWithPrivate::PrivateUse(a)) => Some(*a),
        _ => None,
    };
    let signature = if alg != Some(ES256) {
        SignatureStatus::UnsupportedAlgorithm
    } else {
        match trust.find(&kid_bytes) {
            None => SignatureStatus::UnknownKey,
            Some(k) => {
                let ok = sign1.verify_signature(b"", |sig, data| {
                    let sig = Signature::from_slice(sig).map_err(|_| ())?;
                    k.key.verify(data, &sig).map_err(|_| ())
                });
                if ok.is_ok() { SignatureStatus::Verified } else { SignatureStatus::BadSignature }
            }
        }
    };

    let payload = sign1.payload.as_deref().ok_or_else(|| err("cose.payload", "missing"))?;
    let claims: ciborium::Value = ciborium::from_reader(payload).map_err(|e| err("cwt", format!("not CBOR: {e}")))?;
    let claims = claims.as_map().ok_or_else(|| err("cwt", "a map of claims expected"))?;
    let claim = |key: i64| claims.iter().find(|(k, _)| k.as_integer().is_some_and(|i| i128::from(i) == i128::from(key))).map(|(_, v)| v);
    let int = |key: i64| claim(key).and_then(|v| v.as_integer()).and_then(|i| i64::try_from(i).ok());
    let issuer = claim(CWT_ISS).and_then(|v| v.as_text()).map(str::to_string);
    let hcert = claim(CWT_HCERT).and_then(|v| v.as_map()).ok_or_else(|| err("cwt.hcert", "claim -260 missing or not a map"))?;
    let dcc_value = hcert
        .iter()
        .find(|(k, _)| k.as_integer().is_some_and(|i| i128::from(i) == 1))
        .map(|(_, v)| v.clone())
        .ok_or_else(|| err("cwt.hcert", "entry 1 (the DCC) missing"))?;
    let dcc: Dcc = dcc_value.deserialized().map_err(|e| err("dcc", format!("not a DCC payload: {e}")))?;
    Ok(Hc1Cert {
        issuer,
        issued_at: int(CWT_IAT),
        expires_at: int(CWT_EXP),
        kid: (!kid_bytes.is_empty()).then(|| hex(&kid_bytes)),
        signature,
        dcc,
    })
}

/// zlib-inflate, bounded. The specification allows an uncompressed COSE
/// body; it starts with a CBOR tag or array byte, never with zlib's 0x78.
fn inflate(data: &[u8]) -> Result<Vec<u8>, FieldError> {
    if data.first() != Some(&0x78) {
        return Ok(data.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| err("zlib", format!("cannot inflate: {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(err("zlib", format!("inflates to more than {MAX_INFLATED} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use coset::{iana, CoseSign1Builder, HeaderBuilder};
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::SigningKey;
    use std::io::Write;

    pub fn signer(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32].into()).unwrap()
    }

    pub fn trusted(key: &SigningKey, kid: &[u8]) -> TrustList {
        TrustList(vec![TrustedKey::from_sec1(kid, key.verifying_key().to_encoded_point(false).as_bytes()).unwrap()])
    }

    fn dcc_cbor() -> ciborium::Value {
        let dcc = serde_json::json!({
            "ver": "1.3.0",
            "nam": { "fn": "Nguyễn", "gn": "Thị Hoa", "fnt": "NGUYEN", "gnt": "THI<HOA" },
            "dob": "1987-05-02",
            "v": [{ "tg": "840539006", "vp": "29061000087103", "mp": "EU/1/21/1529", "ma": "ORG-100001699",
                    "dn": 2, "sd": 2, "dt": "2021-10-05", "co": "VN", "is": "Ministry of Health of Viet Nam",
                    "ci": "URN:UVCI:01:VN:QN-0001" }]
        });
        ciborium::Value::serialized(&dcc).unwrap()
    }

    /// A certificate signed by `key` with `kid`, as the hub will issue them.
    pub fn issue(key: &SigningKey, kid: &[u8], tamper: bool) -> String {
        use ciborium::Value as V;
        let claims = V::Map(vec![
            (V::Integer(1.into()), V::Text("VN".into())),
            (V::Integer(4.into()), V::Integer(1_664_928_000.into())),
            (V::Integer(6.into()), V::Integer(1_633_392_000.into())),
            (V::Integer((-260).into()), V::Map(vec![(V::Integer(1.into()), dcc_cbor())])),
        ]);
        let mut payload = Vec::new();
        ciborium::into_writer(&claims, &mut payload).unwrap();
        let protected = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).key_id(kid.to_vec()).build();
        let mut sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .create_signature(b"", |data| {
                let sig: Signature = key.sign(data);
                sig.to_bytes().to_vec()
            })
            .build();
        if tamper {
            if let Some(p) = sign1.payload.as_mut() {
                let n = p.len();
                p[n - 3] ^= 0x01;
            }
        }
        let cose = sign1.to_tagged_vec().unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&cose).unwrap();
        format!("{PREFIX}{}", base45::encode(z.finish().unwrap()))
    }

    #[test]
    fn decodes_and_verifies_a_signed_certificate() {
        let key = signer(7);
        let kid = TrustedKey::kid_of_certificate(b"test signer certificate");
        let text = issue(&key, &kid, false);
        let p = parse_hc1(&text, &trusted(&key, &kid));
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let c = p.value.unwrap();
        assert_eq!(c.signature, SignatureStatus::Verified);
        assert_eq!(c.issuer.as_deref(), Some("VN"));
        assert_eq!(c.dcc.v[0].mp, "EU/1/21/1529");
        assert_eq!((c.dcc.v[0].dn, c.dcc.v[0].sd), (2, 2));
        assert_eq!(c.kid.as_deref(), Some(hex(&kid).as_str()));
        assert!(c.expired(1_700_000_000) && !c.expired(1_640_000_000));
        let d = c.person_draft();
        assert_eq!((d.full_name.as_str(), d.birth_date.as_str()), ("Nguyễn Thị Hoa", "1987-05-02"));
    }

    #[test]
    fn reports_unknown_key_and_bad_signature() {
        let key = signer(7);
        let kid = vec![1, 2, 3, 4, 5, 6, 7, 8];
        let text = issue(&key, &kid, false);
        assert_eq!(parse_hc1(&text, &TrustList::default()).value.unwrap().signature, SignatureStatus::UnknownKey);
        // Same kid, another key: the signature does not verify.
        assert_eq!(parse_hc1(&text, &trusted(&signer(9), &kid)).value.unwrap().signature, SignatureStatus::BadSignature);
        let tampered = issue(&key, &kid, true);
        let p = parse_hc1(&tampered, &trusted(&key, &kid));
        assert_eq!(p.value.map(|c| c.signature), Some(SignatureStatus::BadSignature), "{:?}", p.errors);
    }

    #[test]
    fn each_broken_layer_is_named() {
        let cases = [
            ("HC2:ABC", "prefix"),
            ("HC1:abc", "base45"),
            ("HC1:", "cose"),
            (&format!("HC1:{}", base45::encode([0x78, 0x9c, 1, 2, 3])), "zlib"),
            (&format!("HC1:{}", base45::encode([0xd2, 0x84, 0x40])), "cose"),
        ];
        for (text, field) in cases {
            let p = parse_hc1(text, &TrustList::default());
            assert!(p.value.is_none());
            assert_eq!(p.errors[0].field, field, "{text}: {:?}", p.errors);
        }
    }

    #[test]
    fn zip_bombs_are_refused() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; 10 * 1024 * 1024]).unwrap();
        let text = format!("HC1:{}", base45::encode(z.finish().unwrap()));
        let p = parse_hc1(&text, &TrustList::default());
        assert_eq!(p.errors[0].field, "zlib");
        assert!(p.errors[0].message.contains("more than"));
    }
}
