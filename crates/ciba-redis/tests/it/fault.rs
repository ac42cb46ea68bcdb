//! Redis going away mid-test: the server answers 503 `temporarily_unavailable` with
//! `Retry-After` (never a protocol answer it could not check), and recovers when Redis is
//! back. Each test runs its own `redis-server` on its own free port, so it can stop it.

use crate::common;

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

/// The poll flow `id` goes on: at the first of `at` (seconds after t0) it is still pending,
/// at the second the user approves, at the third the client gets its tokens.
async fn pending_then_tokens(server: &CibaServer, id: &AuthReqId, at: [u64; 3]) {
    assert_eq!(
        token_error(&token(server, POLL, id, t0() + secs(at[0])).await),
        (400, "authorization_pending".into())
    );
    approve(server, id, t0() + secs(at[1])).await.unwrap();
    assert!(matches!(
        token(server, POLL, id, t0() + secs(at[2])).await,
        TokenOutcome::Issued(_)
    ));
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
    pending_then_tokens(&server, &id, [15, 16, 20]).await;
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
    pending_then_tokens(&server, &id, [30, 31, 40]).await;
}

/// A request stored as the backchannel endpoint would, for the concurrent-insert test.
fn pending(id: &str) -> ciba_server::store::StoredRequest {
    ciba_server::store::StoredRequest {
        auth_req_id: aid(id),
        client_id: POLL.to_owned(),
        subject: "alice".to_owned(),
        delivery_mode: ciba_server::DeliveryMode::Poll,
        notification_endpoint: None,
        client_notification_token: None,
        scopes: vec!["openid".to_owned()],
        acr_values: vec![],
        binding_message: None,
        issued_at: t0(),
        expires_at: t0() + secs(120),
        interval: 5,
        last_poll: None,
        state: ciba_server::store::RequestState::Pending,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_queued_behind_a_hung_batch_still_answer_within_one_response_timeout() {
    use ciba_server::Store;
    let redis = own_redis();
    let store = Arc::new(store_at(&redis.url(), &random_prefix(), 10_000).await);
    // One insert first: the script is known and the connection is up.
    store
        .insert_request(&pending("warm"), t0() + secs(600), t0())
        .await
        .unwrap();

    signal(&redis, "-STOP");
    // The first insert goes at once and hangs; the next ones queue behind it, in waves, so
    // some are still queued when the first batch's deadline passes.
    let asked = Instant::now();
    let mut waits = Vec::new();
    for wave in 0..3 {
        for i in 0..8 {
            let store = Arc::clone(&store);
            waits.push(tokio::spawn(async move {
                let r = pending(&format!("w{wave}-{i}"));
                let asked = Instant::now();
                let answer = store.insert_request(&r, t0() + secs(600), t0()).await;
                (answer, asked.elapsed())
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut answers = Vec::new();
    for wait in waits {
        answers.push(wait.await.unwrap());
    }
    signal(&redis, "-CONT");
    for (answer, waited) in &answers {
        assert!(
            matches!(answer, Err(ciba_server::store::StoreError::Backend { .. })),
            "a hung Redis is a backend error: {answer:?}"
        );
        // The response timeout is 1 s (see `store_at`): a caller queued behind the hung
        // batch is answered by its own deadline, not after that batch's and then its own.
        assert!(*waited < Duration::from_millis(1_500), "waited {waited:?}");
    }
    assert!(asked.elapsed() < Duration::from_secs(3));
    // Redis is back: inserts go through again.
    store
        .insert_request(&pending("after"), t0() + secs(600), t0())
        .await
        .unwrap();
}
