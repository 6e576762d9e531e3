//! Payload bytes → text. A code that names its character set with an ECI
//! designator is read in that set. Without one (nearly every code), the set
//! is inferred the way ZXing does: UTF-8 when the bytes are valid UTF-8 (all
//! Vietnamese codes seen are), else Shift_JIS when they are valid Shift_JIS
//! (Japanese codes, and what Kanji-mode segments produce), else ISO-8859-1,
//! which the QR standard names as the default and which never fails.
//! Vietnamese text in a legacy encoding (Windows-1258, TCVN3, VNI) is
//! recognised and converted when its bytes say so unambiguously
//! ([`super::legacy`]); every reading but UTF-8 and an ECI is a guess, and
//! says so.

use serde::{Serialize, Serializer};

use super::legacy::{self, Legacy};

/// How a code's bytes were read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Valid UTF-8 (what every Vietnamese code seen uses).
    Utf8,
    /// The set the code's ECI designator names (its number).
    Eci(u32),
    /// Japanese, inferred as ZXing does.
    ShiftJis,
    /// A legacy Vietnamese encoding recognised from the bytes.
    Legacy(Legacy),
    /// None recognised: byte by byte (the QR standard's default).
    Iso8859_1,
}

impl Charset {
    /// `utf-8`, `eci-<n>`, or `guessed-<name>`.
    pub fn label(self) -> String {
        match self {
            Charset::Utf8 => "utf-8".into(),
            Charset::Eci(n) => format!("eci-{n}"),
            Charset::ShiftJis => "guessed-shift_jis".into(),
            Charset::Legacy(l) => format!("guessed-{}", l.name()),
            Charset::Iso8859_1 => "guessed-iso-8859-1".into(),
        }
    }

    /// The text was not in a set the code declared or in UTF-8.
    pub fn guessed(self) -> bool {
        !matches!(self, Charset::Utf8 | Charset::Eci(_))
    }
}

impl Serialize for Charset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

/// The encoding an ECI designator names (AIM ECI), if encoding_rs has it.
fn eci_encoding(eci: u32) -> Option<&'static encoding_rs::Encoding> {
    use encoding_rs::*;
    Some(match eci {
        1 | 3 => WINDOWS_1252,
        4 => ISO_8859_2,
        5 => ISO_8859_3,
        6 => ISO_8859_4,
        7 => ISO_8859_5,
        8 => ISO_8859_6,
        9 => ISO_8859_7,
        10 => ISO_8859_8,
        11 => WINDOWS_1254,
        12 => ISO_8859_10,
        13 => WINDOWS_874,
        15 => ISO_8859_13,
        16 => ISO_8859_14,
        17 => ISO_8859_15,
        18 => ISO_8859_16,
        20 => SHIFT_JIS,
        21 => WINDOWS_1250,
        22 => WINDOWS_1251,
        23 => WINDOWS_1252,
        24 => WINDOWS_1256,
        25 => UTF_16BE,
        26 => UTF_8,
        27 | 170 => WINDOWS_1252,
        28 => BIG5,
        29 => GB18030,
        30 => EUC_KR,
        // 0 and 2 (CP437) and the rest: not a set encoding_rs has; inferred instead.
        _ => return None,
    })
}

/// The text of a payload, in the set its ECI names (when it names one this
/// knows), else as inferred.
pub fn bytes_to_text_with(bytes: &[u8], eci: Option<u32>) -> (String, Charset) {
    match eci.and_then(|e| eci_encoding(e).map(|enc| (e, enc))) {
        Some((_, enc)) if enc == encoding_rs::UTF_8 => bytes_to_text(bytes),
        Some((e @ (3 | 1), _)) => (bytes.iter().map(|&b| char::from(b)).collect(), Charset::Eci(e)),
        Some((e, enc)) => {
            let (text, _) = enc.decode_without_bom_handling(bytes);
            (text.into_owned(), Charset::Eci(e))
        }
        None => bytes_to_text(bytes),
    }
}

pub fn bytes_to_text(bytes: &[u8]) -> (String, Charset) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (s.to_string(), Charset::Utf8);
    }
    if let Some((l, text)) = legacy::recognise(bytes) {
        return (text, Charset::Legacy(l));
    }
    let (sjis, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    if !had_errors && looks_japanese(&sjis) {
        return (sjis.into_owned(), Charset::ShiftJis);
    }
    (bytes.iter().map(|&b| char::from(b)).collect(), Charset::Iso8859_1)
}

/// Shift_JIS reads almost any high byte as half-width katakana, so (as ZXing
/// does) call a text Japanese only when it has a double-byte character or a
/// run of at least three half-width katakana, not for a stray accented byte.
fn looks_japanese(s: &str) -> bool {
    let halfwidth = |c: char| matches!(c as u32, 0xFF61..=0xFF9F);
    let double_byte = s.chars().any(|c| !c.is_ascii() && !halfwidth(c));
    let mut run = 0;
    let mut longest = 0;
    for c in s.chars() {
        run = if halfwidth(c) { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    double_byte || longest >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_utf8_stays_intact() {
        let s = "Nguyễn Thị Hoa|Quảng Ninh";
        assert_eq!(bytes_to_text(s.as_bytes()), (s.to_string(), Charset::Utf8));
    }

    #[test]
    fn shift_jis_is_converted() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("日本語のテキスト");
        assert_eq!(bytes_to_text(&bytes), ("日本語のテキスト".to_string(), Charset::ShiftJis));
    }

    #[test]
    fn half_width_katakana_runs_are_japanese() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("ﾃﾞｻﾞｲﾝQR");
        assert_eq!(bytes_to_text(&bytes), ("ﾃﾞｻﾞｲﾝQR".to_string(), Charset::ShiftJis));
    }

    /// The card: "Lê Văn Hà" in Windows-1258 once read as "Lê Vãn Hà".
    #[test]
    fn a_legacy_vietnamese_name_is_converted_and_marked_as_guessed() {
        let (text, cs) = bytes_to_text(b"079185001234||L\xea V\xe3n H\xe0|01011985|Nam|H\xe0 N\xf4\xf2i|01012021");
        assert_eq!(text, "079185001234||Lê Văn Hà|01011985|Nam|Hà Nội|01012021");
        assert_eq!(cs, Charset::Legacy(Legacy::Windows1258));
        assert_eq!((cs.label().as_str(), cs.guessed()), ("guessed-windows-1258", true));
        assert_eq!((Charset::Utf8.label().as_str(), Charset::Utf8.guessed()), ("utf-8", false));
        assert_eq!(serde_json::to_string(&Charset::Eci(26)).unwrap(), "\"eci-26\"");
    }

    #[test]
    fn latin1_is_the_fallback() {
        assert_eq!(bytes_to_text(&[0x43, 0x61, 0x66, 0xE9]), ("Café".to_string(), Charset::Iso8859_1));
        // A lone high byte is valid Shift_JIS katakana but is not taken for Japanese.
        assert_eq!(bytes_to_text(&[0xC4]).1, Charset::Iso8859_1);
    }
}
