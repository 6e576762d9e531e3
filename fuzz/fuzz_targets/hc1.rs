//! Any bytes as the body of an `HC1:` certificate, so the fuzzer explores
//! zlib, COSE and CWT decoding rather than Base45 syntax.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxdesk_core::qr::payload::{parse_hc1, TrustList};

fuzz_target!(|data: &[u8]| {
    let _ = parse_hc1(&format!("HC1:{}", base45::encode(data)), &TrustList::default());
});
