//! Fault injection against a scripted loopback OP: each fault ends in the right typed outcome,
//! and the client never polls faster than the core allows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use ciba_core::poll::PollError;
use ciba_core::{ErrorCode, ParseErrorKind};
use ciba_reqwest::{ClientOptions, Error, PollPhase, PollProgress};
use common::*;

#[tokio::test]
async fn server_error_500_is_retried_with_growing_backoff() {
    let op = ScriptedOp::start(1, 30).await;
    let html = Reply::with(500, &[("content-type", "text/html")], b"<h1>oops</h1>");
    op.script_token([html.clone(), html, op.tokens()]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    let tokens = client.poll(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    // Backoff after transient failures: 1 x interval, then 2 x interval.
    assert_min_gaps(&op.token_requests(), &[secs(1.0), secs(2.0)]);
}

#[tokio::test]
async fn unavailable_503_waits_for_retry_after() {
    let op = ScriptedOp::start(1, 30).await;
    let busy = Reply::with(
        503,
        &[("retry-after", "2"), ("content-type", "text/plain")],
        b"busy",
    );
    op.script_token([busy, op.tokens()]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    client.poll(&ack).await.unwrap();
    assert_min_gaps(&op.token_requests(), &[secs(2.0)]);
}

#[tokio::test]
async fn connection_reset_mid_poll_is_a_transient_failure() {
    let op = ScriptedOp::start(1, 30).await;
    op.script_token([Reply::pending(), Reply::Reset, op.tokens()]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    let tokens = client.poll(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_min_gaps(&op.token_requests(), &[secs(1.0), secs(1.0)]);
}

#[tokio::test]
async fn slow_responses_past_the_timeout_end_in_too_many_failures() {
    let op = ScriptedOp::start(1, 30).await;
    let slow = Reply::pending().delayed(Duration::from_secs(3));
    op.script_token([slow.clone(), slow]);
    let options = ClientOptions::default()
        .request_timeout(Duration::from_millis(300))
        .poll_config(|c| c.max_consecutive_failures(2));
    let client = op.client(options).await;
    let ack = client.initiate(alice()).await.unwrap();
    let err = client.poll(&ack).await.unwrap_err();
    assert!(
        matches!(err, Error::Poll(PollError::TooManyFailures { attempts: 2 })),
        "{err:?}"
    );
    // The retry waited the interval after the first send and the backoff after the timeout.
    assert_min_gaps(&op.token_requests(), &[secs(1.3)]);
}

#[tokio::test]
async fn a_slow_backchannel_answer_is_a_timeout() {
    let op = ScriptedOp::start(1, 30).await;
    op.bc_replies.lock().unwrap().push_back(
        Reply::json(
            200,
            &serde_json::json!({"auth_req_id": AUTH_REQ_ID, "expires_in": 30}),
        )
        .delayed(Duration::from_secs(3)),
    );
    let options = ClientOptions::default().request_timeout(Duration::from_millis(300));
    let client = op.client(options).await;
    let err = client.initiate(alice()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn oversized_body_is_refused_at_the_cap_whatever_the_length_header_says() {
    let op = ScriptedOp::start(1, 30).await;
    let big = vec![b'x'; 8 * 1024];
    // Announced: refused from the Content-Length.
    op.script_token([Reply::with(
        200,
        &[("content-type", "application/json")],
        &big,
    )]);
    let options = ClientOptions::default().max_body_bytes(1024);
    let client = op.client(options).await;
    let ack = client.initiate(alice()).await.unwrap();
    let err = client.poll(&ack).await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1024 }),
        "{err:?}"
    );
    assert_eq!(
        op.token_requests().len(),
        1,
        "no retry after an oversized body"
    );

    // Not announced: a close-delimited body is counted as it arrives.
    let mut raw =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n".to_vec();
    raw.extend_from_slice(&big);
    op.script_token([Reply::Raw(raw)]);
    let err = client.poll(&ack).await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1024 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn redirect_from_the_token_endpoint_is_not_followed() {
    let elsewhere = TestServer::start(|_| |_: &Recorded| Reply::pending()).await;
    let op = ScriptedOp::start(1, 30).await;
    let location = elsewhere.url("/token");
    op.script_token([Reply::with(302, &[("location", location.as_str())], b"")]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    let err = client.poll(&ack).await.unwrap_err();
    match err {
        Error::Poll(PollError::Response(e)) => {
            assert_eq!(e.kind, ParseErrorKind::UnexpectedStatus { status: 302 });
        }
        other => panic!("expected a typed 302 refusal, got {other:?}"),
    }
    assert_eq!(op.token_requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        elsewhere.requests().is_empty(),
        "the Location target received a request"
    );
}

#[tokio::test]
async fn invalid_json_is_a_typed_parse_error() {
    let op = ScriptedOp::start(1, 30).await;
    op.script_token([Reply::with(
        200,
        &[("content-type", "application/json")],
        br#"{"access_token": "#,
    )]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    match client.poll(&ack).await.unwrap_err() {
        Error::Poll(PollError::Response(e)) => {
            assert!(
                matches!(e.kind, ParseErrorKind::InvalidJson { .. }),
                "{e:?}"
            );
            assert_eq!(e.raw, br#"{"access_token": "#, "the raw body is kept");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[tokio::test]
async fn terminal_oauth_errors_end_polling_at_once() {
    let op = ScriptedOp::start(1, 30).await;
    op.script_token([Reply::pending(), Reply::error(400, "access_denied")]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    match client.poll(&ack).await.unwrap_err() {
        Error::Poll(PollError::AccessDenied(e)) => assert_eq!(e.code, ErrorCode::AccessDenied),
        other => panic!("expected access_denied, got {other:?}"),
    }
    assert_min_gaps(&op.token_requests(), &[secs(1.0)]);
}

#[tokio::test]
async fn backchannel_oauth_error_is_typed() {
    let op = ScriptedOp::start(1, 30).await;
    op.bc_replies
        .lock()
        .unwrap()
        .push_back(Reply::error(400, "unknown_user_id"));
    let client = op.client(ClientOptions::default()).await;
    match client.initiate(alice()).await.unwrap_err() {
        Error::Core(ciba_core::Error::OAuth(e)) => {
            assert_eq!(e.code, ErrorCode::UnknownUserId);
            assert_eq!(e.status, 400);
        }
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

#[tokio::test]
async fn progress_is_published_for_a_spinner() {
    let op = ScriptedOp::start(1, 30).await;
    op.script_token([Reply::pending(), op.tokens()]);
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    let (tx, mut rx) = tokio::sync::watch::channel(PollProgress::default());
    let seen = tokio::spawn(async move {
        let mut phases = Vec::new();
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            phases.push(p);
        }
        phases
    });
    client.wait_for_tokens(&ack).progress(tx).await.unwrap();
    let snapshots = seen.await.unwrap();
    let last = snapshots.last().unwrap();
    assert_eq!(last.phase, PollPhase::Finished);
    assert_eq!(last.polls_sent, 2);
    assert_eq!(last.interval, Duration::from_secs(1));
    assert!(last.time_left <= Duration::from_secs(30));
    assert!(
        snapshots
            .iter()
            .any(|p| p.phase == PollPhase::Waiting && p.next_request_at.is_some())
    );
}

#[tokio::test]
async fn a_supplied_http_client_that_follows_redirects_is_caught() {
    let elsewhere = TestServer::start(|_| |_: &Recorded| Reply::pending()).await;
    let op = ScriptedOp::start(1, 30).await;
    let location = elsewhere.url("/token");
    op.script_token([Reply::with(307, &[("location", location.as_str())], b"")]);
    // A reqwest client with the default redirect policy: the mistake the option warns about.
    let careless = reqwest::Client::builder().build().unwrap();
    let client = op
        .client(ClientOptions::default().http_client(careless))
        .await;
    let ack = client.initiate(alice()).await.unwrap();
    let err = client.poll(&ack).await.unwrap_err();
    assert!(matches!(err, Error::RedirectFollowed), "{err:?}");
}
