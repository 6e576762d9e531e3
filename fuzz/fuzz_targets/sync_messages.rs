//! Any bytes as the sync protocol's messages (what a hub or a desk receives
//! from the network): decoding never panics, and what decodes encodes back
//! to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxdesk_core::sync::protocol::{ChangesPage, EnrollReply, EnrollRequest, PushBatch, PushReply};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_string(&v).expect("a decoded message encodes");
        let again: T = serde_json::from_str(&text).expect("an encoded message decodes");
        assert_eq!(v, again);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<PushBatch>(data);
    round_trip::<PushReply>(data);
    round_trip::<ChangesPage>(data);
    round_trip::<EnrollRequest>(data);
    round_trip::<EnrollReply>(data);
});
