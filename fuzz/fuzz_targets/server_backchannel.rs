//! The server's backchannel authentication endpoint on arbitrary headers and bodies.
#![no_main]

use ciba_core::random::OsRandom;
use ciba_server::IncomingRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(req) = ciba_fuzz::request(data) else {
        return;
    };
    let _ = ciba_fuzz::ready(ciba_fuzz::server().authenticate_request(
        &IncomingRequest::from_http(&req),
        ciba_fuzz::now(),
        &OsRandom,
    ));
});
