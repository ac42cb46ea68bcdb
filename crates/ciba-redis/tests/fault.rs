//! Redis going away mid-test: the server answers 503 `temporarily_unavailable` with
//! `Retry-After` (never a protocol answer it could not check), and recovers when Redis is
//! back. Each test runs its own `redis-server` on its own free port, so it can stop it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ciba_core::random::OsRandom;
use ciba_server::{
    BackchannelOutcome, CibaServer, CompleteError, IncomingRequest, IssueOutcome, TokenOutcome,
};
use common::*;

fn own_redis() -> RedisServer {
    // Stopping a shared Redis would break the other tests: this one is private.
    RedisServer::start()
}

fn assert_unavailable(response: &http::Response<Vec<u8>>) {
    assert_eq!(
        response.status(),
        503,
        "{:?}",
        String::from_utf8_lossy(response.body())
    );
    assert_eq!(json_body(response)["error"], "temporarily_unavailable");
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.headers()["cache-control"], "no-store");
}

async fn backchannel(server: &CibaServer, client_id: &str) -> BackchannelOutcome {
    server
        .authenticate_request(
            &IncomingRequest::from_http(&bc_request(client_id)),
            t0(),
            &OsRandom,
        )
        .await
}

fn signal(server: &RedisServer, name: &str) {
    let pid = server.pid().unwrap().to_string();
    let status = Command::new("kill").args([name, &pid]).status().unwrap();
    assert!(status.success(), "kill {name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_is_answered_with_503_and_retry_after_and_service_recovers_on_restart() {
    let mut redis = own_redis();
    let server = server(Arc::new(
        store_at(&redis.url(), &random_prefix(), 10_000).await,
    ));
    let before = start(&server, POLL, t0()).await;
    let BackchannelOutcome::UserIdentification(ticket) = backchannel(&server, POLL).await else {
        panic!("backchannel refused");
    };

    redis.stop();
    // The backchannel endpoint cannot store the ticket.
    match backchannel(&server, POLL).await {
        BackchannelOutcome::Respond(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    // issue cannot take the ticket nor store the request.
    match server.issue(&*ticket, "alice", t0(), &OsRandom).await {
        IssueOutcome::Refused(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    // The token endpoint cannot tell pending from anything else.
    match token(&server, POLL, &before, t0() + secs(5)).await {
        TokenOutcome::Respond(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    // The AS's own calls get the typed error.
    assert!(matches!(
        approve(&server, &before, t0()).await,
        Err(CompleteError::Store(_))
    ));
    assert!(server.is_revoked("some-token", t0()).await.is_err());

    redis.restart();
    // The same server (and pool) works again at once: new flows go end to end.
    let id = start(&server, POLL, t0() + secs(10)).await;
    assert_eq!(
        token_error(&token(&server, POLL, &id, t0() + secs(15)).await),
        (400, "authorization_pending".into())
    );
    approve(&server, &id, t0() + secs(16)).await.unwrap();
    assert!(matches!(
        token(&server, POLL, &id, t0() + secs(20)).await,
        TokenOutcome::Issued(_)
    ));
    // This Redis keeps nothing across restarts (no persistence): the old flow is gone.
    assert_eq!(
        token_error(&token(&server, POLL, &before, t0() + secs(20)).await),
        (400, "invalid_grant".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_is_answered_with_503_within_the_response_timeout_and_keeps_its_state() {
    let redis = own_redis();
    let server = server(Arc::new(
        store_at(&redis.url(), &random_prefix(), 10_000).await,
    ));
    let id = start(&server, POLL, t0()).await;

    signal(&redis, "-STOP");
    let asked = Instant::now();
    let during = token(&server, POLL, &id, t0() + secs(5)).await;
    let waited = asked.elapsed();
    signal(&redis, "-CONT");
    match during {
        TokenOutcome::Respond(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    // The response timeout is 1 s (see `store_at`).
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");

    // Redis kept everything: the flow goes on where it was.
    assert_eq!(
        token_error(&token(&server, POLL, &id, t0() + secs(30)).await),
        (400, "authorization_pending".into())
    );
    approve(&server, &id, t0() + secs(31)).await.unwrap();
    assert!(matches!(
        token(&server, POLL, &id, t0() + secs(40)).await,
        TokenOutcome::Issued(_)
    ));
}
