//! The server's token endpoint on arbitrary headers and bodies, against a server holding a
//! pending and an approved request (`$P` and `$A` in the body name them). The last input byte
//! moves the clock 0-255 s past their issue (within their 300 s lifetime), so polls land
//! inside and outside the interval: `slow_down` and `authorization_pending` both occur. The
//! approved request is redeemed once per process; later redemptions answer `invalid_grant`.
#![no_main]

use ciba_core::random::OsRandom;
use ciba_server::IncomingRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (server, pending, approved) = ciba_fuzz::seeded_server();
    let Some(req) = ciba_fuzz::request(data) else {
        return;
    };
    let (parts, body) = req.into_parts();
    let req = http::Request::from_parts(parts, ciba_fuzz::with_ids(&body, pending, approved));
    let _ = ciba_fuzz::ready(server.token_request(
        &IncomingRequest::from_http(&req),
        ciba_fuzz::now(),
        &OsRandom,
    ));
});
