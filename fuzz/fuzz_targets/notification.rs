//! Ping and push notifications with an arbitrary Authorization header and body.
#![no_main]

use std::time::{Duration, SystemTime};

use ciba_core::Limits;
use ciba_core::id_token::IdTokenValidator;
use ciba_core::jose::JwkSet;
use ciba_core::notification::{receive_ping, receive_push};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (auth, body) = data.split_at(split);
    let mut builder =
        http::Request::post("https://rp.example/cb").header("content-type", "application/json");
    if let Ok(value) = http::HeaderValue::from_bytes(auth) {
        builder = builder.header("authorization", value);
    }
    let Ok(req) = builder.body(body.to_vec()) else {
        return;
    };
    let tokens = |id: &str| (id == "req-1").then(|| "cnt-abc".to_owned());
    let _ = receive_ping(&req, &tokens, &Limits::DEFAULT);
    let validator = IdTokenValidator::new("https://op.example", "rp", JwkSet::default());
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let _ = receive_push(&req, &tokens, &validator, now, &Limits::DEFAULT);
});
