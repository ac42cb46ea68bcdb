//! The test harness (ciba-test's `harness`: the authorization server and the notification
//! receiver on loopback), and this crate's own slow peers.
#![allow(unreachable_pub)]

pub use ciba_test::harness::*;

pub mod slow_client;
pub mod slow_store;

/// ciba-server's typed identifier for `text` (an `auth_req_id` as the client side or a
/// response body holds it).
pub fn sid(text: &str) -> ciba_server::AuthReqId {
    ciba_server::AuthReqId::from_stored(text)
}
