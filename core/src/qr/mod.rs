//! QR codes a desk scans. `payload` turns decoded text into typed payloads.

pub mod decode;
pub mod payload;
pub mod scan;
