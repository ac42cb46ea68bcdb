//! Poll mode on a virtual clock: to tokens, to denial, to expiry, and the polling rules.

use crate::common;

use ciba_server::{
    AuthenticationResult, Authorization, CompleteError, CompleteOutcome, TokenOutcome,
};
use common::*;

#[test]
fn poll_client_gets_tokens_with_a_verifiable_id_token() {
    let h = Harness::new();
    let now = t0();
    let ticket = h.ticket(&bc_request(POLL, &[("binding_message", "W4SCT")]), now);
    assert_eq!(ticket.binding_message.as_deref(), Some("W4SCT"));
    let ack = h.issue(&ticket, now);
    // S-ACK-5: 200, JSON, `Cache-Control: no-store`.
    assert_eq!(ack.response.status(), http::StatusCode::OK);
    assert_no_store_json(&ack.response);
    let body = json_body(&ack.response);
    assert_eq!(body["auth_req_id"], ack.auth_req_id.as_str());
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["interval"], 5);
    // Exactly these three members, in this order.
    assert_eq!(
        String::from_utf8(ack.response.body().clone()).unwrap(),
        format!(
            "{{\"auth_req_id\":\"{}\",\"expires_in\":300,\"interval\":5}}",
            ack.auth_req_id.as_str()
        )
    );
    assert!(
        ack.auth_req_id
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && ack.auth_req_id.as_str().len() >= 27
    );

    let (status, error) = token_error(&h.poll(POLL, &ack.auth_req_id, now + secs(5)));
    assert_eq!((status, error.as_str()), (400, "authorization_pending"));

    let mut approval = Authorization::new("alice");
    approval.acr = Some("urn:example:loa:2".into());
    approval.amr = vec!["pwd".into(), "otp".into()];
    approval.auth_time = Some(now + secs(8));
    let done = h
        .complete(
            &ack.auth_req_id,
            AuthenticationResult::Authorized(approval),
            now + secs(8),
        )
        .unwrap();
    assert!(matches!(done, CompleteOutcome::NothingToSend));

    let at = now + secs(10);
    let TokenOutcome::Issued(grant) = h.poll(POLL, &ack.auth_req_id, at) else {
        panic!("expected tokens")
    };
    assert_eq!(grant.response.status(), 200);
    assert_no_store_json(&grant.response);
    let body = json_body(&grant.response);
    assert_eq!(body["scope"], "openid");
    assert_eq!(body["expires_in"], 3600);
    let claims = check_token_response(&h.op_keys, &body, POLL, at);
    assert_eq!(claims["acr"], "urn:example:loa:2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(
        claims["auth_time"],
        ciba_core::wire::unix_seconds(now + secs(8))
    );
}

#[test]
fn poll_client_denied_gets_access_denied_once_then_invalid_grant() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    h.deny(&ack.auth_req_id, t0() + secs(3)).unwrap();
    let first = h.poll(POLL, &ack.auth_req_id, t0() + secs(6));
    assert_eq!(token_error(&first), (400, "access_denied".into()));
    let second = h.poll(POLL, &ack.auth_req_id, t0() + secs(12));
    assert_eq!(token_error(&second), (400, "invalid_grant".into()));
}

#[test]
fn expired_request_answers_expired_token_then_invalid_grant_after_tombstone() {
    let h = Harness::new();
    let ticket = h.ticket(&bc_request(POLL, &[("requested_expiry", "30")]), t0());
    assert_eq!(ticket.requested_expiry, Some(30));
    let ack = h.issue(&ticket, t0());
    assert_eq!(ack.expires_in, 30);
    let pending = h.poll(POLL, &ack.auth_req_id, t0() + secs(29));
    assert_eq!(token_error(&pending).1, "authorization_pending");
    let expired = h.poll(POLL, &ack.auth_req_id, t0() + secs(30));
    assert_eq!(token_error(&expired), (400, "expired_token".into()));
    // Still expired_token during the tombstone period (600 s by default)...
    let later = h.poll(POLL, &ack.auth_req_id, t0() + secs(600));
    assert_eq!(token_error(&later).1, "expired_token");
    // ...and the user's late approval changes nothing.
    let late = h.approve(&ack.auth_req_id, t0() + secs(601));
    assert!(matches!(late, Err(CompleteError::Expired)));
    // After the tombstone is gone the id is simply unknown.
    let gone = h.poll(POLL, &ack.auth_req_id, t0() + secs(30 + 600));
    assert_eq!(token_error(&gone), (400, "invalid_grant".into()));
    assert!(h.store.is_empty(t0() + secs(30 + 600)));
}

#[test]
fn slow_down_adds_five_seconds_to_the_stored_interval() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    let id = ack.auth_req_id.as_str();
    // (seconds after the start, the answer to a poll then, the stored interval after it)
    for (at, answer, interval) in [
        (5, "authorization_pending", None),
        // 3 s later: too early for a 5 s interval.
        (8, "slow_down", Some(10)),
        // 9 s later is fine for 5 s but not for the new 10 s interval: the increase is
        // cumulative.
        (17, "slow_down", Some(15)),
        // Waiting the full 15 s gives a normal answer again.
        (32, "authorization_pending", Some(15)),
    ] {
        let now = t0() + secs(at);
        assert_eq!(token_error(&h.poll(POLL, id, now)).1, answer, "at {at} s");
        if let Some(interval) = interval {
            let stored = h.pending_request(id, now).unwrap().unwrap();
            assert_eq!(stored.interval, interval, "at {at} s");
        }
    }
}

#[test]
fn second_redemption_is_invalid_grant_and_revokes_tokens() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    h.approve(&ack.auth_req_id, t0() + secs(1)).unwrap();
    let TokenOutcome::Issued(first) = h.poll(POLL, &ack.auth_req_id, t0() + secs(6)) else {
        panic!("expected tokens")
    };
    let at = first.tokens.access_token.expose().to_owned();
    let rt = first
        .tokens
        .refresh_token
        .clone()
        .unwrap()
        .expose()
        .to_owned();
    assert!(!h.is_revoked(&at, t0() + secs(7)).unwrap());
    let again = h.poll(POLL, &ack.auth_req_id, t0() + secs(12));
    assert_eq!(token_error(&again), (400, "invalid_grant".into()));
    // It says why: the request was used, not that it is unknown.
    let TokenOutcome::Respond(r) = &again else {
        panic!("expected a refusal")
    };
    assert!(matches!(
        r.error,
        ciba_server::TokenError::InvalidGrant {
            reason: ciba_server::InvalidGrantReason::AlreadyUsed
        }
    ));
    assert!(h.is_revoked(&at, t0() + secs(13)).unwrap());
    assert!(h.is_revoked(&rt, t0() + secs(13)).unwrap());
    assert!(!h.is_revoked("some-other-token", t0() + secs(13)).unwrap());
    // The revocation is remembered until the access token would have expired anyway.
    assert!(!h.is_revoked(&at, t0() + secs(6 + 3600)).unwrap());
}

#[test]
fn auth_req_id_of_another_client_is_invalid_grant_and_leaves_the_request_alone() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    h.approve(&ack.auth_req_id, t0() + secs(1)).unwrap();
    let stolen = h.poll(SCOPED, &ack.auth_req_id, t0() + secs(6));
    assert_eq!(token_error(&stolen), (400, "invalid_grant".into()));
    assert!(matches!(
        h.poll(POLL, &ack.auth_req_id, t0() + secs(7)),
        TokenOutcome::Issued(_)
    ));
}

#[test]
fn transaction_failure_is_expired_token_for_poll_clients() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    h.fail_transaction(&ack.auth_req_id, t0()).unwrap();
    assert_eq!(
        token_error(&h.poll(POLL, &ack.auth_req_id, t0() + secs(5))),
        (400, "expired_token".into())
    );
}

#[test]
fn completion_happens_exactly_once() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    h.deny(&ack.auth_req_id, t0()).unwrap();
    let again = h.approve(&ack.auth_req_id, t0());
    assert!(matches!(again, Err(CompleteError::AlreadyCompleted)));
    let unknown = h.deny(&aid("no-such-id"), t0());
    assert!(matches!(unknown, Err(CompleteError::UnknownRequest)));
}

#[test]
fn approval_by_another_subject_or_with_unrequested_scopes_is_refused() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    let authorize = |approval| {
        h.complete(
            &ack.auth_req_id,
            AuthenticationResult::Authorized(approval),
            t0(),
        )
    };
    let with_claim = |name: &str, value: &str| {
        let mut approval = Authorization::new("alice");
        approval.claims.insert(name.into(), value.into());
        approval
    };
    let mallory = authorize(Authorization::new("mallory"));
    assert!(matches!(mallory, Err(CompleteError::SubjectMismatch)));
    let mut wider = Authorization::new("alice");
    wider.scopes = Some(vec!["openid".into(), "admin".into()]);
    let wider = authorize(wider);
    assert!(matches!(
        wider,
        Err(CompleteError::ScopeNotRequested { .. })
    ));
    let reserved = authorize(with_claim("iss", "https://evil.example"));
    assert!(matches!(reserved, Err(CompleteError::ReservedClaim { .. })));
    // None of the refusals used up the request.
    authorize(with_claim("email", "alice@example.com")).unwrap();
    let TokenOutcome::Issued(g) = h.poll(POLL, &ack.auth_req_id, t0() + secs(5)) else {
        panic!("expected tokens")
    };
    let (_, claims) = verify_id_token(&h.op_keys, &g.tokens.id_token);
    assert_eq!(claims["email"], "alice@example.com");
    assert!(
        claims
            .get("urn:openid:params:jwt:claim:auth_req_id")
            .is_none()
    );
}

#[test]
fn a_burst_of_early_polls_never_pushes_the_interval_past_the_expiry() {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    let id = ack.auth_req_id.as_str();
    assert_eq!(
        token_error(&h.poll(POLL, id, t0() + secs(5))).1,
        "authorization_pending"
    );
    // 500 polls a second apart, each too early: without a ceiling the interval would
    // reach 2,505 s against a 300 s lifetime.
    let mut shown = Vec::new();
    for i in 0..500 {
        let at = t0() + secs(6) + std::time::Duration::from_millis(i);
        let answer = h.poll(POLL, id, at);
        assert_eq!(token_error(&answer).1, "slow_down");
        let TokenOutcome::Respond(r) = &answer else {
            panic!("expected an error, got {answer:?}");
        };
        let text = json_body(&r.response)["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        let seconds: u64 = text
            .split_whitespace()
            .find_map(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no number in {text:?}"));
        shown.push(seconds);
    }
    // 294 s were left at the first early poll (6 s of 300), and the interval stops there.
    assert_eq!(shown.first(), Some(&10));
    assert_eq!(shown.iter().max(), Some(&294));
    assert!(shown.windows(2).all(|w| w[0] <= w[1]), "{shown:?}");
    let stored = h.pending_request(id, t0() + secs(7)).unwrap().unwrap();
    assert_eq!(stored.interval, 294);
}

#[test]
fn token_request_parameters_are_bounded_exactly_at_their_limits() {
    // Values may be as long as a JWT (16 KiB: an assertion or a DPoP-bound value), names as
    // long as an ordinary value (2 KiB); a byte more of either is refused.
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    let with = |name: &str, value: &str| {
        let mut req = token_request(POLL, &ack.auth_req_id, t0() + secs(5));
        req.body
            .extend_from_slice(format!("&{name}={value}").as_bytes());
        h.token(&req, t0() + secs(5))
    };
    let too_long = |outcome: &TokenOutcome| {
        matches!(
            outcome,
            TokenOutcome::Respond(r)
                if matches!(r.error, ciba_server::TokenError::ParameterTooLong { .. })
        )
    };
    assert!(!too_long(&with("x_extension", &"v".repeat(16 * 1024))));
    assert!(too_long(&with("x_extension", &"v".repeat(16 * 1024 + 1))));
    assert!(!too_long(&with(&"n".repeat(2048), "v")));
    assert!(too_long(&with(&"n".repeat(2049), "v")));
}
