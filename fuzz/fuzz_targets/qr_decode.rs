//! Any bytes as a luma frame: the first four bytes choose width and height
//! (21..=276), the rest are pixels. The decoder must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxdesk_core::qr::decode::{decode, Frame};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let w = 21 + usize::from(data[0]) % 256;
    let h = 21 + usize::from(data[1]) % 256;
    let stride = w + usize::from(data[2] % 8);
    let pixels = &data[4..];
    if let Ok(frame) = Frame::new(pixels, w, h, stride) {
        let _ = decode(&frame);
    }
});
