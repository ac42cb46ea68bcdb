//! Discovery documents: arbitrary bytes must parse or fail with a typed error.
#![no_main]

use ciba_core::{Limits, ServerMetadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ServerMetadata::from_json(data, "https://op.example", &Limits::DEFAULT);
});
