//! Backchannel acknowledgements: any status, content type and body.
#![no_main]

use std::time::{Duration, SystemTime};

use ciba_core::{AuthRequestAck, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len().min(2));
    let status = 100 + u16::from(head.first().copied().unwrap_or(0)) * 2;
    let json = head.get(1).is_some_and(|b| b % 4 != 0);
    let mut builder = http::Response::builder().status(status);
    if json {
        builder = builder.header("content-type", "application/json");
    }
    if let Ok(resp) = builder.body(body.to_vec()) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let _ = AuthRequestAck::from_response(&resp, now, &Limits::DEFAULT);
    }
});
