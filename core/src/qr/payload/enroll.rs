//! The enrollment code a coordinator's page shows as a QR:
//! `VXD1:` + a JSON object `{"hub": URL, "code": ONE-TIME CODE, "fp": TLS
//! certificate SHA-256 hex (optional)}`. The version digit lets the format
//! change without old apps misreading a new code.

use serde::{Deserialize, Serialize};

use super::{err, Parsed};

pub const PREFIX: &str = "VXD1:";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollCode {
    /// Base URL of the hub, `http://` or `https://`.
    pub hub: String,
    /// One-time enrollment code.
    pub code: String,
    /// SHA-256 of the hub's TLS certificate, lower-case hex, to pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp: Option<String>,
}

impl EnrollCode {
    pub fn to_text(&self) -> String {
        format!("{PREFIX}{}", serde_json::to_string(self).unwrap_or_default())
    }
}

pub fn parse_enroll(text: &str) -> Parsed<EnrollCode> {
    let Some(body) = text.trim().strip_prefix(PREFIX) else {
        return Parsed { value: None, errors: vec![err("prefix", "\"VXD1:\" expected")] };
    };
    let raw: EnrollCode = match serde_json::from_str(body) {
        Ok(r) => r,
        Err(e) => return Parsed { value: None, errors: vec![err("payload", format!("a JSON object with hub and code expected: {e}"))] },
    };
    let mut errors = Vec::new();
    let hub = raw.hub.trim().trim_end_matches('/').to_string();
    let scheme_ok = hub.starts_with("http://") || hub.starts_with("https://");
    if !scheme_ok || hub.len() < 10 || hub.len() > 200 || hub.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(err("hub", format!("an http:// or https:// URL expected, got {:?}", raw.hub)));
    }
    let code = raw.code.trim().to_string();
    if !(6..=64).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        errors.push(err("code", "6-64 letters, digits or '-' expected"));
    }
    let fp = raw.fp.map(|f| f.trim().to_ascii_lowercase().replace(':', ""));
    if let Some(f) = &fp {
        if f.len() != 64 || !f.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.push(err("fp", format!("64 hex digits (SHA-256) expected, got {} characters", f.len())));
        }
    }
    let value = errors.is_empty().then_some(EnrollCode { hub, code, fp });
    Parsed { value, errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalises() {
        let c = EnrollCode { hub: "https://hub.qn.local:8443".into(), code: "K7P2-9QXM-44TA".into(), fp: Some("AB".repeat(32)) };
        let p = parse_enroll(&c.to_text());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.value.unwrap().fp, Some("ab".repeat(32)));
        let p = parse_enroll(r#"VXD1:{"hub":"http://127.0.0.1:8080/","code":"ABCDEF"}"#);
        assert_eq!(p.value.unwrap().hub, "http://127.0.0.1:8080");
    }

    #[test]
    fn broken_codes_name_the_field() {
        let cases = [
            ("VXD2:{}", "prefix"),
            ("VXD1:not json", "payload"),
            (r#"VXD1:{"hub":"ftp://x","code":"ABCDEF"}"#, "hub"),
            (r#"VXD1:{"hub":"https://hub.example","code":"a b"}"#, "code"),
            (r#"VXD1:{"hub":"https://hub.example","code":"ABCDEF","fp":"12"}"#, "fp"),
        ];
        for (text, field) in cases {
            let p = parse_enroll(text);
            assert!(p.value.is_none());
            assert_eq!(p.errors[0].field, field, "{text}");
        }
    }
}
