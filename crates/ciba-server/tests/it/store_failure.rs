//! A failing store backend (a shared store that is unreachable) is answered with 503
//! `temporarily_unavailable` and `Retry-After`, never with a protocol answer.

use crate::common;

use std::sync::Arc;

use ciba_server::store::StoreError;
use ciba_server::{
    BackchannelOutcome, BoxFuture, CibaServer, IssueOutcome, StaticClientRegistry, TokenOutcome,
};
use ciba_test::store::{Layer, LayeredStore};
use common::*;

#[derive(Debug, thiserror::Error)]
#[error("backend unreachable")]
struct Unreachable;

/// Fails every operation (never starting it), as a store whose backend is down does.
struct Down;

impl Layer for Down {
    fn around<'a, T: Send + 'a>(
        &'a self,
        _: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::Backend {
            source: Arc::new(Unreachable),
        })))
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
        Arc::new(LayeredStore::new(Down)),
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
