//! Any payload bytes to text, as the decoder converts them (UTF-8, an ECI's
//! set, Shift_JIS, a legacy Vietnamese encoding, Latin-1): never a panic,
//! and a legacy reading is only ever taken for text that reads as
//! Vietnamese.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxdesk_core::qr::decode::legacy::is_vietnamese;
use vaxdesk_core::qr::decode::{bytes_to_text, bytes_to_text_with, Charset};

fuzz_target!(|data: &[u8]| {
    let (eci, bytes) = data.split_first().map_or((None, data), |(e, rest)| (Some(u32::from(*e)), rest));
    let (text, charset) = bytes_to_text(bytes);
    if let Charset::Legacy(_) = charset {
        assert!(is_vietnamese(&text), "{charset:?} taken for {text:?}");
    }
    assert!(bytes.is_empty() || !text.is_empty());
    let _ = bytes_to_text_with(bytes, eci);
    let p = vaxdesk_core::qr::payload::parse(&text);
    let _ = vaxdesk_core::qr::scan::person_draft(&p, charset);
});
