//! Any text through the payload parsers (CCCD, PC-Covid, HC1, VXD1, unknown):
//! they must never panic, and a person draft must always be derivable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxdesk_core::qr::payload::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let p = parse(&text);
    let _ = p.person_draft();
    let _ = p.errors();
});
