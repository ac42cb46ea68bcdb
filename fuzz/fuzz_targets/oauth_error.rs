//! OAuth error bodies and WWW-Authenticate challenges.
#![no_main]

use ciba_core::{Limits, OAuthError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.len() / 2;
    let (challenge, body) = data.split_at(split);
    let mut builder = http::Response::builder()
        .status(401)
        .header("content-type", "application/json");
    if let Ok(value) = http::HeaderValue::from_bytes(challenge) {
        builder = builder.header("www-authenticate", value);
    }
    if let Ok(resp) = builder.body(body.to_vec()) {
        let _ = OAuthError::from_response(&resp, &Limits::DEFAULT);
    }
    if let Ok(text) = std::str::from_utf8(challenge) {
        let _ = ciba_core::wire::parse_challenges(text);
    }
});
