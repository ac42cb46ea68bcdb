//! A failing store backend (a shared store that is unreachable) is answered with 503
//! `temporarily_unavailable` and `Retry-After`, never with a protocol answer.

use crate::common;

use std::sync::Arc;
use std::time::SystemTime;

use ciba_server::store::{
    CompleteStatus, Completion, PollStatus, ReplayKey, Store, StoreError, StoredRequest,
    TokenFingerprint,
};
use ciba_server::{
    BackchannelOutcome, BoxFuture, CibaServer, Confirmation, IssueOutcome, StaticClientRegistry,
    Ticket, TokenOutcome,
};
use common::*;

#[derive(Debug, thiserror::Error)]
#[error("backend unreachable")]
struct Unreachable;

/// Fails every operation, as a store whose backend is down does.
struct DownStore;

fn down<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, StoreError>> {
    Box::pin(std::future::ready(Err(StoreError::Backend {
        source: Arc::new(Unreachable),
    })))
}

impl Store for DownStore {
    fn insert_ticket<'a>(
        &'a self,
        _: &'a Ticket,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn take_ticket<'a>(
        &'a self,
        _: &'a str,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Ticket>, StoreError>> {
        down()
    }
    fn insert_request<'a>(
        &'a self,
        _: &'a StoredRequest,
        _: SystemTime,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn request<'a>(
        &'a self,
        _: &'a AuthReqId,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<Option<StoredRequest>, StoreError>> {
        down()
    }
    fn pending_requests<'a>(
        &'a self,
        _: Option<&'a str>,
        _: usize,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<StoredRequest>, StoreError>> {
        down()
    }
    fn complete<'a>(
        &'a self,
        _: &'a AuthReqId,
        _: Completion,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<CompleteStatus, StoreError>> {
        down()
    }
    fn poll<'a>(
        &'a self,
        _: &'a AuthReqId,
        _: &'a str,
        _: u64,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<PollStatus, StoreError>> {
        down()
    }
    fn attach_tokens<'a>(
        &'a self,
        _: &'a AuthReqId,
        _: &'a [TokenFingerprint],
        _: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn revoke_tokens<'a>(
        &'a self,
        _: &'a [TokenFingerprint],
        _: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn is_revoked<'a>(
        &'a self,
        _: &'a str,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        down()
    }
    fn record_confirmation<'a>(
        &'a self,
        _: &'a str,
        _: &'a Confirmation,
        _: SystemTime,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn confirmation<'a>(
        &'a self,
        _: &'a str,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Confirmation>, StoreError>> {
        down()
    }
    fn remember_jti<'a>(
        &'a self,
        _: &'a ReplayKey,
        _: SystemTime,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        down()
    }
    fn remove_ticket<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        down()
    }
}

fn server_over_a_down_store() -> CibaServer {
    let config = base_config();
    let mut registry = StaticClientRegistry::new();
    for c in clients() {
        registry.register(c, &config).unwrap();
    }
    let minter = minter(&["eddsa"]);
    CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(DownStore),
        Arc::new(minter),
    )
}

fn assert_unavailable(response: &http::Response<Vec<u8>>) {
    assert_eq!(response.status(), 503);
    assert_eq!(json_body(response)["error"], "temporarily_unavailable");
    assert_eq!(response.headers()["retry-after"], "5");
    assert_no_store_json(response);
}

#[test]
fn a_failing_store_backend_is_answered_with_503_and_retry_after() {
    let server = server_over_a_down_store();
    let rng = TestRng::new(1);
    // The backchannel endpoint: storing the ticket fails.
    match block_on(server.authenticate_request(&bc_request(POLL, &[]).incoming(), t0(), &rng)) {
        BackchannelOutcome::Respond(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    // A client assertion's replay check fails.
    match block_on(server.authenticate_request(&bc_request(PUSH, &[]).incoming(), t0(), &rng)) {
        BackchannelOutcome::Respond(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    // issue: taking the ticket fails.
    match block_on(server.issue("ticket", "alice", t0(), &rng)) {
        IssueOutcome::Refused(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    // The token endpoint: recording the poll fails.
    match block_on(server.token_request(&token_request(POLL, "id", t0()).incoming(), t0(), &rng)) {
        TokenOutcome::Respond(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
    match block_on(server.token_request(
        &token_request(SECRET_JWT, "id", t0()).incoming(),
        t0(),
        &rng,
    )) {
        TokenOutcome::Respond(r) => assert_unavailable(&r.response),
        other => panic!("expected 503, got {other:?}"),
    }
}
