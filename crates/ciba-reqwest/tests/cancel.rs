//! Cancel safety: dropping a wait stops it; no task polls on behind the caller's back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use ciba_reqwest::ClientOptions;
use common::*;

#[tokio::test]
async fn dropping_the_poll_future_mid_wait_sends_no_further_request() {
    let op = ScriptedOp::start(1, 60).await;
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    // Pending forever: two polls (at ~1 s and ~2 s), then dropped while sleeping.
    let outcome = tokio::time::timeout(Duration::from_millis(2500), client.poll(&ack)).await;
    assert!(outcome.is_err(), "the poll was still waiting");
    let sent = op.token_requests().len();
    assert_eq!(sent, 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        op.token_requests().len(),
        sent,
        "a request followed the drop"
    );
}

#[tokio::test]
async fn dropping_the_poll_future_mid_request_sends_no_further_request() {
    let op = ScriptedOp::start(1, 60).await;
    // The first token request is answered only after 10 s: drop the wait while it is in flight.
    op.script_token([Reply::pending().delayed(Duration::from_secs(10))]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_millis(1500), client.poll(&ack)).await;
    assert!(outcome.is_err());
    assert_eq!(op.token_requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(op.token_requests().len(), 1, "a request followed the drop");
}
