//! Compact JWS parsing and ID token validation of arbitrary text.
#![no_main]

use std::time::{Duration, SystemTime};

use ciba_core::Limits;
use ciba_core::id_token::{IdTokenContext, IdTokenValidator};
use ciba_core::jose::{CompactJws, JwkSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(jws) = CompactJws::parse(text, &Limits::DEFAULT) {
        let _ = jws.claims(&Limits::DEFAULT);
    }
    let validator = IdTokenValidator::new("https://op.example", "rp", JwkSet::default());
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let _ = validator.validate(text, &IdTokenContext::standalone(), now);
});
