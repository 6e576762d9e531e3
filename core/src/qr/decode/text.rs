//! Payload bytes → text. rqrr hands over the bytes of all segments joined and
//! drops any ECI designator, so the character set is inferred the way ZXing
//! does when a code has no ECI: UTF-8 when the bytes are valid UTF-8 (all
//! Vietnamese codes seen are), else Shift_JIS when they are valid Shift_JIS
//! (Japanese codes, and what Kanji-mode segments produce), else ISO-8859-1,
//! which the QR standard names as the default and which never fails.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Charset {
    Utf8,
    ShiftJis,
    Iso8859_1,
}

pub fn bytes_to_text(bytes: &[u8]) -> (String, Charset) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (s.to_string(), Charset::Utf8);
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

    #[test]
    fn latin1_is_the_fallback() {
        assert_eq!(bytes_to_text(&[0x43, 0x61, 0x66, 0xE9]), ("Café".to_string(), Charset::Iso8859_1));
        // A lone high byte is valid Shift_JIS katakana but is not taken for Japanese.
        assert_eq!(bytes_to_text(&[0xC4]).1, Charset::Iso8859_1);
    }
}
