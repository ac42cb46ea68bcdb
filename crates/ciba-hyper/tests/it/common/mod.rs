//! The test harness (ciba-test's `harness`: the authorization server and the notification
//! receiver on loopback), and this crate's own slow peers.
#![allow(unreachable_pub)]

pub use ciba_test::harness::*;

pub mod slow_client;
pub mod slow_store;
