//! `CibaServer`'s endpoint futures (src/server.rs).

use std::time::SystemTime;

use ciba_core::random::Random;
use ciba_server::{
    AuthReqId, AuthenticationResult, CibaServer, FailReason, IncomingRequest, InlineTicket,
};

fn is_send<T: Send>(_: &T) {}

/// Hosts spawn the endpoint futures on multi-threaded runtimes, so each must be `Send`.
/// (Compiling is the test; the futures are never polled.)
#[test]
fn endpoint_futures_are_send() {
    fn check(server: &CibaServer, request: &IncomingRequest<'_>, rng: &dyn Random) {
        let now = SystemTime::UNIX_EPOCH;
        is_send(&server.authenticate_request(request, now, rng));
        is_send(&server.issue("ticket", "alice", now, rng));
        is_send(&server.fail("ticket", FailReason::UnknownUserId, None));
        is_send(&server.authenticate_request_inline(request, now, rng));
        fn issue_inline_is_send(server: &CibaServer, t: InlineTicket, rng: &dyn Random) {
            is_send(&server.issue_inline(t, "alice", SystemTime::UNIX_EPOCH, rng));
        }
        let _ = issue_inline_is_send;
        let denied = AuthenticationResult::AccessDenied;
        let id = AuthReqId::from_stored("id");
        is_send(&server.complete(&id, denied, now, rng));
        is_send(&server.token_request(request, now, rng));
        is_send(&server.pending_request(&id, now));
        is_send(&server.pending_requests(None, 10, now));
        is_send(&server.is_revoked("token", now));
        is_send(&server.push_undelivered(&[], now));
    }
    let _ = check;
}
