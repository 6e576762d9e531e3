//! Vietnamese text in the legacy 8-bit encodings a card printer or an old
//! system may still write: Windows-1258 (combining tone marks), TCVN3
//! (TCVN 5712:1993, the "ABC" fonts) and VNI Windows (a base letter then a
//! mark byte). A payload whose bytes are not UTF-8 is read in each; the
//! reading is taken only when exactly one of them gives Vietnamese words
//! and nothing else, else the text stays unconverted and is flagged.

use unicode_normalization::UnicodeNormalization;

/// A legacy encoding this recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    Windows1258,
    Tcvn3,
    Vni,
}

impl Legacy {
    pub fn name(self) -> &'static str {
        match self {
            Legacy::Windows1258 => "windows-1258",
            Legacy::Tcvn3 => "tcvn3",
            Legacy::Vni => "vni",
        }
    }

    /// The bytes read in this encoding, composed (NFC).
    pub fn decode(self, bytes: &[u8]) -> String {
        let raw = match self {
            Legacy::Windows1258 => encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes).0.into_owned(),
            Legacy::Tcvn3 => bytes.iter().map(|&b| if b < 0x80 { char::from(b) } else { char::from_u32(u32::from(TCVN3_HIGH[usize::from(b - 0x80)])).unwrap_or('\u{FFFD}') }).collect(),
            Legacy::Vni => vni(bytes),
        };
        raw.nfc().collect()
    }
}

/// Which legacy encoding `bytes` (not UTF-8) are in, when exactly one gives
/// Vietnamese text; with that text.
pub fn recognise(bytes: &[u8]) -> Option<(Legacy, String)> {
    if bytes.iter().all(u8::is_ascii) {
        return None;
    }
    let mut found = [Legacy::Windows1258, Legacy::Tcvn3, Legacy::Vni].into_iter().map(|l| (l, l.decode(bytes))).filter(|(_, t)| is_vietnamese(t));
    let first = found.next()?;
    match found.next() {
        None => Some(first),
        Some(_) => None,
    }
}

const TONES: [char; 5] = ['\u{300}', '\u{301}', '\u{303}', '\u{309}', '\u{323}'];

/// The vowel nuclei of Vietnamese syllables, by letter quality (tones
/// aside): a wrong reading of the bytes puts marks where no syllable has
/// them ("Vaờn", "Thaéng").
const NUCLEI: [&str; 54] = [
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "ai", "ao", "au", "ay", "âu", "ây", "eo", "êu", "ia", "iê", "iu", "oa", "oă",
    "oe", "oi", "ôi", "ơi", "oo", "ua", "uâ", "uê", "ui", "uô", "uơ", "ưa", "ưi", "ưu", "ươ", "uy", "yê", "iêu", "yêu", "oai", "oay", "oeo",
    "uây", "uôi", "ươi", "ươu", "uya", "uyê", "uyu",
];

/// Every word with marks a Vietnamese syllable (one run of vowels forming
/// a nucleus, at most one tone, on a vowel), and nothing but ASCII between
/// words: a wrong reading gives stray symbols, marks on consonants, two
/// tones or impossible vowel runs.
pub fn is_vietnamese(text: &str) -> bool {
    let is_mark = |c: char| ('\u{300}'..='\u{36F}').contains(&c);
    let mut any = false;
    for word in text.split(|c: char| !c.is_alphabetic() && !is_mark(c)) {
        if word.is_ascii() {
            continue;
        }
        any = true;
        if !syllable(word) {
            return false;
        }
    }
    any && text.chars().filter(|&c| !c.is_alphabetic() && !is_mark(c)).all(|c| c.is_ascii() && !c.is_ascii_control())
}

fn syllable(word: &str) -> bool {
    // Letters as (lower-case base, quality mark), and the tone count.
    let mut letters: Vec<(char, Option<char>)> = Vec::new();
    let mut tones = 0;
    for c in word.nfd() {
        match c {
            'a'..='z' | 'A'..='Z' => letters.push((c.to_ascii_lowercase(), None)),
            'đ' | 'Đ' => letters.push(('d', Some('đ'))),
            m if TONES.contains(&m) => {
                tones += 1;
                if !letters.last().is_some_and(|(b, _)| "aeiouy".contains(*b)) {
                    return false;
                }
            }
            '\u{302}' | '\u{306}' | '\u{31B}' => match letters.last_mut() {
                Some((b, q @ None)) if matches!((c, *b), ('\u{302}', 'a' | 'e' | 'o') | ('\u{306}', 'a') | ('\u{31B}', 'o' | 'u')) => *q = Some(c),
                _ => return false,
            },
            _ => return false,
        }
    }
    if tones > 1 {
        return false;
    }
    let vowel = |(b, _): &(char, Option<char>)| "aeiouy".contains(*b);
    let Some(first) = letters.iter().position(vowel) else { return tones == 0 };
    let run = letters[first..].iter().take_while(|l| vowel(l)).count();
    if letters[first + run..].iter().any(vowel) {
        return false;
    }
    let mut nucleus: String = letters[first..first + run]
        .iter()
        .map(|(b, q)| match (b, q) {
            ('a', Some('\u{306}')) => 'ă',
            ('a', Some(_)) => 'â',
            ('e', Some(_)) => 'ê',
            ('o', Some('\u{302}')) => 'ô',
            ('o', Some(_)) => 'ơ',
            ('u', Some(_)) => 'ư',
            (b, _) => *b,
        })
        .collect();
    // "qu" and "gi" take their u and i as consonants: quốc, giá.
    let onset: String = letters[..first].iter().map(|(b, _)| *b).collect();
    if nucleus.chars().count() > 1 && ((onset == "q" && nucleus.starts_with('u')) || (onset == "g" && nucleus.starts_with('i'))) {
        nucleus.remove(0);
    }
    NUCLEI.contains(&nucleus.as_str())
}

/// TCVN3 (TCVN 5712:1993 VN3) bytes 0x80–0xFF, as glibc's iconv
/// `TCVN5712-1` reads them, without what only VN1 has (capitals with tones,
/// combining marks): those are U+FFFD here, so a text in another encoding
/// does not pass for TCVN3 through them. VN3's lower half is ASCII.
const TCVN3_HIGH: [u16; 128] = [
    0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD,
    0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD,
    0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD,
    0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD,
    0x00A0, 0x0102, 0x00C2, 0x00CA, 0x00D4, 0x01A0, 0x01AF, 0x0110,
    0x0103, 0x00E2, 0x00EA, 0x00F4, 0x01A1, 0x01B0, 0x0111, 0xFFFD,
    0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0x00E0, 0x1EA3, 0x00E3,
    0x00E1, 0x1EA1, 0xFFFD, 0x1EB1, 0x1EB3, 0x1EB5, 0x1EAF, 0xFFFD,
    0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0x1EB7, 0x1EA7,
    0x1EA9, 0x1EAB, 0x1EA5, 0x1EAD, 0x00E8, 0xFFFD, 0x1EBB, 0x1EBD,
    0x00E9, 0x1EB9, 0x1EC1, 0x1EC3, 0x1EC5, 0x1EBF, 0x1EC7, 0x00EC,
    0x1EC9, 0xFFFD, 0xFFFD, 0xFFFD, 0x0129, 0x00ED, 0x1ECB, 0x00F2,
    0xFFFD, 0x1ECF, 0x00F5, 0x00F3, 0x1ECD, 0x1ED3, 0x1ED5, 0x1ED7,
    0x1ED1, 0x1ED9, 0x1EDD, 0x1EDF, 0x1EE1, 0x1EDB, 0x1EE3, 0x00F9,
    0xFFFD, 0x1EE7, 0x0169, 0x00FA, 0x1EE5, 0x1EEB, 0x1EED, 0x1EEF,
    0x1EE9, 0x1EF1, 0x1EF3, 0x1EF7, 0x1EF9, 0x00FD, 0x1EF5, 0xFFFD,
];

/// VNI Windows: a base letter followed by a mark byte, or one byte for
/// đ, ơ, ư and the i and y letters. Longest match first.
const VNI: &[(&[u8], &str)] = &[
    (b"\x41\xc0", "Ầ"),
    (b"\x41\xc1", "Ấ"),
    (b"\x41\xc2", "Â"),
    (b"\x41\xc3", "Ẫ"),
    (b"\x41\xc4", "Ậ"),
    (b"\x41\xc5", "Ẩ"),
    (b"\x41\xc8", "Ằ"),
    (b"\x41\xc9", "Ắ"),
    (b"\x41\xca", "Ă"),
    (b"\x41\xcb", "Ặ"),
    (b"\x41\xcf", "Ạ"),
    (b"\x41\xd5", "Ã"),
    (b"\x41\xd8", "À"),
    (b"\x41\xd9", "Á"),
    (b"\x41\xda", "Ẳ"),
    (b"\x41\xdb", "Ả"),
    (b"\x41\xdc", "Ẵ"),
    (b"\x45\xc0", "Ề"),
    (b"\x45\xc1", "Ế"),
    (b"\x45\xc2", "Ê"),
    (b"\x45\xc3", "Ễ"),
    (b"\x45\xc4", "Ệ"),
    (b"\x45\xc5", "Ể"),
    (b"\x45\xcf", "Ẹ"),
    (b"\x45\xd5", "Ẽ"),
    (b"\x45\xd8", "È"),
    (b"\x45\xd9", "É"),
    (b"\x45\xdb", "Ẻ"),
    (b"\x4f\xc0", "Ồ"),
    (b"\x4f\xc1", "Ố"),
    (b"\x4f\xc2", "Ô"),
    (b"\x4f\xc3", "Ỗ"),
    (b"\x4f\xc4", "Ộ"),
    (b"\x4f\xc5", "Ổ"),
    (b"\x4f\xcf", "Ọ"),
    (b"\x4f\xd5", "Õ"),
    (b"\x4f\xd8", "Ò"),
    (b"\x4f\xd9", "Ó"),
    (b"\x4f\xdb", "Ỏ"),
    (b"\x55\xcf", "Ụ"),
    (b"\x55\xd5", "Ũ"),
    (b"\x55\xd8", "Ù"),
    (b"\x55\xd9", "Ú"),
    (b"\x55\xdb", "Ủ"),
    (b"\x59\xd8", "Ỳ"),
    (b"\x59\xd9", "Ý"),
    (b"\x61\xe0", "ầ"),
    (b"\x61\xe1", "ấ"),
    (b"\x61\xe2", "â"),
    (b"\x61\xe3", "ẫ"),
    (b"\x61\xe4", "ậ"),
    (b"\x61\xe5", "ẩ"),
    (b"\x61\xe8", "ằ"),
    (b"\x61\xe9", "ắ"),
    (b"\x61\xea", "ă"),
    (b"\x61\xeb", "ặ"),
    (b"\x61\xef", "ạ"),
    (b"\x61\xf5", "ã"),
    (b"\x61\xf8", "à"),
    (b"\x61\xf9", "á"),
    (b"\x61\xfa", "ẳ"),
    (b"\x61\xfb", "ả"),
    (b"\x61\xfc", "ẵ"),
    (b"\x65\xe0", "ề"),
    (b"\x65\xe1", "ế"),
    (b"\x65\xe2", "ê"),
    (b"\x65\xe3", "ễ"),
    (b"\x65\xe4", "ệ"),
    (b"\x65\xe5", "ể"),
    (b"\x65\xef", "ẹ"),
    (b"\x65\xf5", "ẽ"),
    (b"\x65\xf8", "è"),
    (b"\x65\xf9", "é"),
    (b"\x65\xfb", "ẻ"),
    (b"\x6f\xe0", "ồ"),
    (b"\x6f\xe1", "ố"),
    (b"\x6f\xe2", "ô"),
    (b"\x6f\xe3", "ỗ"),
    (b"\x6f\xe4", "ộ"),
    (b"\x6f\xe5", "ổ"),
    (b"\x6f\xef", "ọ"),
    (b"\x6f\xf5", "õ"),
    (b"\x6f\xf8", "ò"),
    (b"\x6f\xf9", "ó"),
    (b"\x6f\xfb", "ỏ"),
    (b"\x75\xef", "ụ"),
    (b"\x75\xf5", "ũ"),
    (b"\x75\xf8", "ù"),
    (b"\x75\xf9", "ú"),
    (b"\x75\xfb", "ủ"),
    (b"\x79\xf8", "ỳ"),
    (b"\x79\xf9", "ý"),
    (b"\xd4\xcf", "Ợ"),
    (b"\xd4\xd5", "Ỡ"),
    (b"\xd4\xd8", "Ờ"),
    (b"\xd4\xd9", "Ớ"),
    (b"\xd4\xdb", "Ở"),
    (b"\xd6\xcf", "Ự"),
    (b"\xd6\xd5", "Ữ"),
    (b"\xd6\xd8", "Ừ"),
    (b"\xd6\xd9", "Ứ"),
    (b"\xd6\xdb", "Ử"),
    (b"\xf4\xef", "ợ"),
    (b"\xf4\xf5", "ỡ"),
    (b"\xf4\xf8", "ờ"),
    (b"\xf4\xf9", "ớ"),
    (b"\xf4\xfb", "ở"),
    (b"\xf6\xef", "ự"),
    (b"\xf6\xf5", "ữ"),
    (b"\xf6\xf8", "ừ"),
    (b"\xf6\xf9", "ứ"),
    (b"\xf6\xfb", "ử"),
    (b"\xc6", "Ỉ"),
    (b"\xcb", "Ỷ"),
    (b"\xcc", "Ì"),
    (b"\xcd", "Í"),
    (b"\xce", "Ỵ"),
    (b"\xd1", "Đ"),
    (b"\xd2", "Ị"),
    (b"\xd3", "Ĩ"),
    (b"\xd4", "Ơ"),
    (b"\xd6", "Ư"),
    (b"\xe6", "ỉ"),
    (b"\xeb", "ỷ"),
    (b"\xec", "ì"),
    (b"\xed", "í"),
    (b"\xee", "ỵ"),
    (b"\xf1", "đ"),
    (b"\xf2", "ị"),
    (b"\xf3", "ĩ"),
    (b"\xf4", "ơ"),
    (b"\xf6", "ư"),
];

fn vni(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    'next: while i < bytes.len() {
        for (seq, text) in VNI {
            if bytes[i..].starts_with(seq) {
                out.push_str(text);
                i += seq.len();
                continue 'next;
            }
        }
        // A high byte that starts no VNI letter is not VNI text.
        out.push(if bytes[i].is_ascii() { char::from(bytes[i]) } else { '\u{FFFD}' });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names encoded by other tools: Windows-1258 by glibc iconv (CP1258),
    /// TCVN3 by glibc iconv (TCVN5712-1), VNI by the npm package
    /// vietnamese-conversion 2.0.0.
    #[test]
    fn names_in_each_legacy_encoding_are_recognised_and_converted() {
        let cases: &[(Legacy, &str, &[u8])] = &[
            (Legacy::Windows1258, "Lê Văn Hà", &[0x4c, 0xea, 0x20, 0x56, 0xe3, 0x6e, 0x20, 0x48, 0xe0]),
            (Legacy::Tcvn3, "Lê Văn Hà", &[0x4c, 0xaa, 0x20, 0x56, 0xa8, 0x6e, 0x20, 0x48, 0xb5]),
            (Legacy::Vni, "Lê Văn Hà", &[0x4c, 0x65, 0xe2, 0x20, 0x56, 0x61, 0xea, 0x6e, 0x20, 0x48, 0x61, 0xf8]),
            (Legacy::Tcvn3, "Nguyễn Thị Hoa", &[0x4e, 0x67, 0x75, 0x79, 0xd4, 0x6e, 0x20, 0x54, 0x68, 0xde, 0x20, 0x48, 0x6f, 0x61]),
            (Legacy::Vni, "Nguyễn Thị Hoa", &[0x4e, 0x67, 0x75, 0x79, 0x65, 0xe3, 0x6e, 0x20, 0x54, 0x68, 0xf2, 0x20, 0x48, 0x6f, 0x61]),
            (Legacy::Vni, "Hoàng Đức Thắng", &[0x48, 0x6f, 0x61, 0xf8, 0x6e, 0x67, 0x20, 0xd1, 0xf6, 0xf9, 0x63, 0x20, 0x54, 0x68, 0x61, 0xe9, 0x6e, 0x67]),
            (Legacy::Tcvn3, "Bùi Xuân Trường", &[0x42, 0xef, 0x69, 0x20, 0x58, 0x75, 0xa9, 0x6e, 0x20, 0x54, 0x72, 0xad, 0xea, 0x6e, 0x67]),
            (Legacy::Vni, "Lưu Hữu Phước", &[0x4c, 0xf6, 0x75, 0x20, 0x48, 0xf6, 0xf5, 0x75, 0x20, 0x50, 0x68, 0xf6, 0xf4, 0xf9, 0x63]),
        ];
        for (legacy, name, bytes) in cases {
            assert_eq!(&legacy.decode(bytes), name, "{legacy:?}");
            assert_eq!(recognise(bytes), Some((*legacy, name.to_string())), "{name} in {legacy:?}");
        }
    }

    #[test]
    fn what_is_not_vietnamese_is_not_converted() {
        assert!(recognise(b"plain ascii").is_none());
        // Latin-1 French ("Café crème"): no reading gives Vietnamese words only.
        assert!(recognise(&[0x43, 0x61, 0x66, 0xe9, 0x20, 0x63, 0x72, 0xe8, 0x6d, 0x65]).is_none());
        assert!(!is_vietnamese("Thaéng"), "no nucleus ae");
        assert!(!is_vietnamese("Vaờn"), "no nucleus aơ");
        assert!(!is_vietnamese("Hà Nội ©"), "a stray symbol");
        assert!(!is_vietnamese("Ĥà"), "a mark on a consonant");
        assert!(is_vietnamese("Đặng Ưu Ơn|022187001234|Quảng Ninh"));
        assert!(is_vietnamese("Nguyễn Thị Huyền Trường Giang Quốc Khuyến Người Ngoẵn"));
    }
}
