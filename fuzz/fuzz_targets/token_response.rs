//! Token responses: any status and body.
#![no_main]

use ciba_core::Limits;
use ciba_core::TokenResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let status = if data.first().is_some_and(|b| b % 2 == 0) {
        200
    } else {
        400
    };
    if let Ok(resp) = http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(data.to_vec())
    {
        let _ = TokenResponse::from_response(&resp, None, &Limits::DEFAULT);
    }
});
