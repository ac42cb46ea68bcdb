//! Push mode on a virtual clock: token delivery, the section 12 error payloads, and the
//! token endpoint refusing push clients.

use crate::common;

use ciba_core::ErrorCode;
use ciba_core::jose::hash::left_half_hash;
use ciba_server::{AuthenticationResult, Authorization, CompleteError, CompleteOutcome};
use common::*;
use serde_json::{Map, Value};

fn push_body(req: &http::Request<Vec<u8>>) -> Map<String, Value> {
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), PUSH_ENDPOINT);
    assert_eq!(
        req.headers()["authorization"],
        format!("Bearer {CNT}").as_str()
    );
    assert_eq!(req.headers()["content-type"], "application/json");
    serde_json::from_slice::<Value>(req.body())
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

#[test]
fn push_client_receives_tokens_bound_to_the_request() {
    let h = Harness::new();
    let ack = h.start(PUSH, t0());
    assert_eq!(ack.interval, None, "push clients do not poll");
    assert!(json_body(&ack.response).get("interval").is_none());
    let at = t0() + secs(20);
    let done = h.approve(&ack.auth_req_id, at).unwrap();
    let CompleteOutcome::PushTokens { request: req, .. } = &done else {
        panic!("expected a push, got {done:?}")
    };
    let body = push_body(req);
    assert_eq!(body["auth_req_id"], ack.auth_req_id.as_str());
    assert_eq!(body["expires_in"], 3600);
    let claims = check_token_response(&h.op_keys, &body, PUSH, at);
    assert_eq!(
        claims["urn:openid:params:jwt:claim:auth_req_id"],
        ack.auth_req_id.as_str()
    );
    assert_eq!(
        claims["at_hash"],
        left_half_hash(
            ciba_core::jose::JwsAlgorithm::RS256,
            body["access_token"].as_str().unwrap()
        )
        .unwrap()
    );
    // Delivered once: a second completion is refused.
    let again = h.approve(&ack.auth_req_id, at);
    assert!(matches!(again, Err(CompleteError::AlreadyCompleted)));
}

#[test]
fn push_client_denied_receives_an_access_denied_payload() {
    let h = Harness::new();
    let ack = h.start(PUSH, t0());
    let done = h.deny(&ack.auth_req_id, t0() + secs(5)).unwrap();
    let CompleteOutcome::PushError { request, error } = &done else {
        panic!("expected a push error, got {done:?}")
    };
    assert_eq!(*error, ErrorCode::AccessDenied);
    let body = push_body(request);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["auth_req_id"], ack.auth_req_id.as_str());
    assert!(body.get("access_token").is_none());
    assert_eq!(
        body.len(),
        3,
        "auth_req_id, error, error_description: {body:?}"
    );
}

#[test]
fn transaction_failure_is_pushed_as_transaction_failed() {
    let h = Harness::new();
    let ack = h.start(PUSH, t0());
    let done = h.fail_transaction(&ack.auth_req_id, t0()).unwrap();
    let CompleteOutcome::PushError { request, error } = &done else {
        panic!("expected a push error")
    };
    assert_eq!(*error, ErrorCode::TransactionFailed);
    assert_eq!(push_body(request)["error"], "transaction_failed");
}

#[test]
fn push_request_completed_after_expiry_pushes_expired_token_once() {
    let h = Harness::new();
    let ack = h.issue(
        &h.ticket(&bc_request(PUSH, &[("requested_expiry", "10")]), t0()),
        t0(),
    );
    let done = h.approve(&ack.auth_req_id, t0() + secs(10)).unwrap();
    let CompleteOutcome::PushError { request, error } = &done else {
        panic!("expected a push error, got {done:?}")
    };
    assert_eq!(*error, ErrorCode::ExpiredToken);
    let body = push_body(request);
    assert_eq!(body["error"], "expired_token");
    assert!(body.get("access_token").is_none());
    let again = h.deny(&ack.auth_req_id, t0() + secs(11));
    assert!(matches!(again, Err(CompleteError::AlreadyCompleted)));
}

#[test]
fn push_client_at_the_token_endpoint_is_unauthorized_client() {
    let h = Harness::new();
    let ack = h.start(PUSH, t0());
    h.approve(&ack.auth_req_id, t0()).unwrap();
    let outcome = h.poll(PUSH, &ack.auth_req_id, t0() + secs(5));
    assert_eq!(token_error(&outcome), (400, "unauthorized_client".into()));
}

#[test]
fn undelivered_push_revokes_the_access_and_refresh_token() {
    let h = Harness::new();
    let ack = h.start(PUSH, t0());
    let at = t0() + secs(20);
    let done = h.approve(&ack.auth_req_id, at).unwrap();
    let CompleteOutcome::PushTokens { request, tokens } = &done else {
        panic!("expected a push, got {done:?}")
    };
    let body = push_body(request);
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_eq!(tokens.len(), 2, "the access and the refresh token");
    assert!(!h.is_revoked(access, at).unwrap());
    assert!(!h.is_revoked(refresh, at).unwrap());

    block_on(h.server.push_undelivered(tokens, at + secs(1))).unwrap();
    block_on(h.server.push_undelivered(tokens, at + secs(2))).unwrap();
    let later = at + secs(60);
    assert!(h.is_revoked(access, later).unwrap());
    assert!(h.is_revoked(refresh, later).unwrap());
    // The request is not offered a second delivery.
    assert!(matches!(
        h.complete(&ack.auth_req_id, AuthenticationResult::AccessDenied, later),
        Err(CompleteError::AlreadyCompleted)
    ));
}

#[test]
fn pushed_id_tokens_use_the_clients_registered_algorithm() {
    let h = Harness::with_clients(base_config(), Default::default(), "es256", |clients| {
        for c in clients.iter_mut().filter(|c| c.client_id == PUSH) {
            c.id_token_signed_response_alg = Some("ES256".into());
        }
    });
    let ack = h.start(PUSH, t0());
    let done = h.approve(&ack.auth_req_id, t0()).unwrap();
    let CompleteOutcome::PushTokens { request: req, .. } = &done else {
        panic!("expected a push, got {done:?}")
    };
    let body = push_body(req);
    let id_token = body["id_token"].as_str().unwrap();
    let jws = ciba_core::jose::CompactJws::parse(id_token, &ciba_core::Limits::DEFAULT).unwrap();
    assert_eq!(jws.header.alg, "ES256");
    assert_eq!(jws.header.kid, jwk("es256").kid);
    check_token_response(&h.op_keys, &body, PUSH, t0());
}

/// A minter that counts its calls and, with `forever_refresh`, issues refresh tokens
/// without a lifetime (as an AS's own minter may).
struct CountingMinter {
    inner: ciba_server::DefaultTokenMinter,
    calls: std::sync::atomic::AtomicUsize,
    forever_refresh: bool,
}

impl ciba_server::TokenMinter for CountingMinter {
    fn mint(
        &self,
        request: &ciba_server::MintRequest<'_>,
        now: std::time::SystemTime,
        rng: &dyn ciba_core::Random,
    ) -> Result<ciba_server::MintedTokens, ciba_server::MintError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut minted = self.inner.mint(request, now, rng)?;
        if self.forever_refresh {
            minted.refresh_token_expires_in = None;
        }
        Ok(minted)
    }

    fn public_jwks(&self, now: std::time::SystemTime) -> ciba_core::jose::JwkSet {
        self.inner.public_jwks(now)
    }

    fn id_token_signing_algs(&self) -> Vec<ciba_core::jose::JwsAlgorithm> {
        self.inner.id_token_signing_algs()
    }
}

/// A harness whose server mints through a [`CountingMinter`].
fn counting_harness(forever_refresh: bool) -> (Harness, std::sync::Arc<CountingMinter>) {
    let mut config = base_config();
    config.id_token_signing_algs = key_set(&["eddsa"]).algorithms();
    let mut registry = ciba_server::StaticClientRegistry::new();
    for c in clients() {
        registry.register(c, &config).unwrap();
    }
    let minter = std::sync::Arc::new(CountingMinter {
        inner: minter(&["eddsa"]),
        calls: Default::default(),
        forever_refresh,
    });
    let store = std::sync::Arc::new(ciba_server::MemoryStore::new());
    let server = ciba_server::CibaServer::new(
        config,
        std::sync::Arc::new(registry),
        store.clone(),
        minter.clone(),
    );
    let h = Harness {
        server,
        store,
        op_keys: public_set(&["eddsa"]),
        rng: TestRng::new(7),
    };
    (h, minter)
}

#[test]
fn no_tokens_are_minted_for_a_push_request_completed_after_expiry() {
    let (h, minter) = counting_harness(false);
    let minted = || minter.calls.load(std::sync::atomic::Ordering::SeqCst);
    let approve = AuthenticationResult::Authorized(Authorization::new("alice"));
    let late = h.issue(
        &h.ticket(&bc_request(PUSH, &[("requested_expiry", "10")]), t0()),
        t0(),
    );
    let done = h.complete(&late.auth_req_id, approve.clone(), t0() + secs(10));
    assert!(matches!(
        done,
        Ok(CompleteOutcome::PushError {
            error: ErrorCode::ExpiredToken,
            ..
        })
    ));
    assert_eq!(minted(), 0, "tokens nobody may receive are not minted");
    // The same server mints for a request still in time: the count above means something.
    let on_time = h.start(PUSH, t0());
    let done = h.complete(&on_time.auth_req_id, approve, t0() + secs(10));
    assert!(matches!(done, Ok(CompleteOutcome::PushTokens { .. })));
    assert_eq!(minted(), 1);
}

#[test]
fn an_undelivered_refresh_token_without_a_lifetime_stays_revoked() {
    // The minter gives the refresh token no lifetime: its revocation must outlive any
    // plausible use of it, not lapse with some short default.
    let (h, _) = counting_harness(true);
    let ack = h.start(PUSH, t0());
    let at = t0() + secs(20);
    let done = h.approve(&ack.auth_req_id, at).unwrap();
    let CompleteOutcome::PushTokens { request, tokens } = &done else {
        panic!("expected a push, got {done:?}")
    };
    let refresh = push_body(request)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    block_on(h.server.push_undelivered(tokens, at + secs(1))).unwrap();
    let ten_years = secs(10 * 365 * 24 * 3600);
    assert!(h.is_revoked(&refresh, at + ten_years).unwrap());
}
