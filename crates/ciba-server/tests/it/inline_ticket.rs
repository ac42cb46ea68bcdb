//! The inline path (`authenticate_request_inline`, then `issue_inline` or `fail_inline`):
//! the same answers as the stored path for the same requests, no ticket in the store, and
//! each inline ticket used once.

use crate::common;

use std::time::SystemTime;

use ciba_core::wire::unix_seconds;
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, FailReason, InlineBackchannelOutcome,
    InlineTicket, IssueOutcome, TokenOutcome,
};
use common::*;
use serde_json::json;

/// What the AS does once the request is valid.
#[derive(Clone, Copy)]
enum Then {
    /// Issue for this subject, `after` seconds later.
    Issue { subject: &'static str, after: u64 },
    /// Refuse.
    Fail(FailReason, Option<&'static str>),
}

const ALICE: Then = Then::Issue {
    subject: "alice",
    after: 0,
};

/// The response the stored path gives: `authenticate_request`, then `issue` or `fail`.
fn stored(h: &Harness, req: &Req, now: SystemTime, then: Then) -> http::Response<Vec<u8>> {
    let ticket = match h.backchannel(req, now) {
        BackchannelOutcome::Respond(r) => return r.response,
        BackchannelOutcome::UserIdentification(t) => t,
    };
    match then {
        Then::Issue { subject, after } => {
            match block_on(h.server.issue(&*ticket, subject, now + secs(after), &h.rng)) {
                IssueOutcome::Issued(ack) => ack.response,
                IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => r.response,
            }
        }
        Then::Fail(reason, description) => h.fail(&*ticket, reason, description).response,
    }
}

/// The response the inline path gives: `authenticate_request_inline`, then `issue_inline`
/// or `fail_inline`.
fn inline(h: &Harness, req: &Req, now: SystemTime, then: Then) -> http::Response<Vec<u8>> {
    let outcome = block_on(
        h.server
            .authenticate_request_inline(&req.incoming(), now, &h.rng),
    );
    let ticket = match outcome {
        InlineBackchannelOutcome::Respond(r) => return r.response,
        InlineBackchannelOutcome::UserIdentification(t) => *t,
    };
    match then {
        Then::Issue { subject, after } => {
            let at = now + secs(after);
            match block_on(h.server.issue_inline(ticket, subject, at, &h.rng)) {
                IssueOutcome::Issued(ack) => ack.response,
                IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => r.response,
            }
        }
        Then::Fail(reason, description) => {
            h.server.fail_inline(ticket, reason, description).response
        }
    }
}

fn same(a: &http::Response<Vec<u8>>, b: &http::Response<Vec<u8>>, what: &str) {
    assert_eq!(a.status(), b.status(), "{what}: status");
    assert_eq!(a.headers(), b.headers(), "{what}: headers");
    assert_eq!(
        String::from_utf8_lossy(a.body()),
        String::from_utf8_lossy(b.body()),
        "{what}: body"
    );
}

fn signed_request(jti: &str) -> Req {
    let now = unix_seconds(t0());
    let claims = json!({
        "iss": SIGNED, "aud": ISSUER, "exp": now + 300, "nbf": now, "iat": now, "jti": jti,
        "scope": "openid email", "login_hint": "alice@example.com",
        "binding_message": "B1ND", "requested_expiry": 120,
    });
    let jwt = claims_assertion(&signer("ps256"), claims);
    authed(SIGNED, &[("request", &jwt)], ISSUER, t0())
}

/// A harness whose clients may each keep 4 entries in the store.
fn bounded() -> Harness {
    Harness::with(
        base_config(),
        MemoryStoreConfig::default().with_max_entries_per_client(4),
        "eddsa",
    )
}

#[test]
fn the_inline_path_answers_the_same_bytes_as_the_stored_path() {
    // Two servers with the same clients, keys, clock and random sequence; each request is
    // built once and sent to both, so even the auth_req_ids and tokens must be equal.
    let (s, i) = (bounded(), bounded());
    let id_token_hint = {
        let h = Harness::new();
        let ack = h.start(POLL, t0());
        let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
        h.complete(&ack.auth_req_id, approval, t0()).unwrap();
        match h.poll(POLL, &ack.auth_req_id, t0() + secs(5)) {
            TokenOutcome::Issued(grant) => json_body(&grant.response)["id_token"]
                .as_str()
                .unwrap()
                .to_owned(),
            other => panic!("no tokens: {other:?}"),
        }
    };
    let assertion_request = bc_request(PUSH, &[]);
    let ttl = base_config().ticket_ttl.as_secs();
    let script: Vec<(&str, Req, Then)> = vec![
        ("poll client", bc_request(POLL, &[]), ALICE),
        ("ping client", bc_request(PING, &[]), ALICE),
        ("push client", assertion_request.clone(), ALICE),
        ("replayed client assertion", assertion_request, ALICE),
        ("client_secret_jwt", bc_request(SECRET_JWT, &[]), ALICE),
        ("mutual TLS", bc_request(TLS, &[]), ALICE),
        ("signed request", signed_request("inline-1"), ALICE),
        ("replayed request object", signed_request("inline-1"), ALICE),
        (
            "user code, scopes, expiry, binding message",
            bc_request(
                USER_CODE,
                &[
                    ("user_code", "1234"),
                    ("scope", "openid email"),
                    ("requested_expiry", "90"),
                    ("binding_message", "W4SCT"),
                    ("acr_values", "a b"),
                ],
            ),
            ALICE,
        ),
        (
            "id_token_hint",
            bc_request(
                POLL,
                &[("login_hint", ""), ("id_token_hint", &id_token_hint)],
            ),
            ALICE,
        ),
        (
            "forged id_token_hint",
            bc_request(POLL, &[("login_hint", ""), ("id_token_hint", "a.b.c")]),
            ALICE,
        ),
        ("no hint", bc_request(POLL, &[("login_hint", "")]), ALICE),
        ("no openid", bc_request(POLL, &[("scope", "email")]), ALICE),
        (
            "scope not allowed",
            bc_request(SCOPED, &[("scope", "openid admin")]),
            ALICE,
        ),
        ("missing user code", bc_request(USER_CODE, &[]), ALICE),
        (
            "bad binding message",
            bc_request(POLL, &[("binding_message", "a\u{7}b")]),
            ALICE,
        ),
        ("not a CIBA client", bc_request(NO_CIBA, &[]), ALICE),
        (
            "wrong secret",
            bc_request(POLL, &[]).basic(POLL, "wrong"),
            ALICE,
        ),
        (
            "unknown user",
            bc_request(PING, &[]),
            Then::Fail(FailReason::UnknownUserId, Some("no such user\n")),
        ),
        (
            "access denied",
            bc_request(PING, &[]),
            Then::Fail(FailReason::AccessDenied, None),
        ),
        (
            "empty subject",
            bc_request(PING, &[]),
            Then::Issue {
                subject: "",
                after: 0,
            },
        ),
        (
            "issued just before the ticket expires",
            bc_request(PING, &[]),
            Then::Issue {
                subject: "alice",
                after: ttl - 1,
            },
        ),
        (
            "issued once the ticket expired",
            bc_request(PING, &[]),
            Then::Issue {
                subject: "alice",
                after: ttl,
            },
        ),
        // POLL has 4 requests in the store by now (poll client, id_token_hint, these two).
        ("poll client again", bc_request(POLL, &[]), ALICE),
        ("poll client, fourth request", bc_request(POLL, &[]), ALICE),
        ("poll client over its bound", bc_request(POLL, &[]), ALICE),
    ];
    let mut issued = Vec::new();
    for (what, req, then) in &script {
        let a = stored(&s, req, t0(), *then);
        let b = inline(&i, req, t0(), *then);
        same(&a, &b, what);
        if a.status() == 200 {
            issued.push(json_body(&a)["auth_req_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(issued.len(), 11, "the script issues 11 requests");
    let over = inline(&i, &bc_request(POLL, &[]), t0(), ALICE);
    assert_eq!(over.status(), 503, "the bound holds on the inline path");

    // What each stored is the same, and the inline path's requests are ordinary ones.
    let now = t0() + secs(1);
    assert_eq!(
        s.pending_requests(None, 100, now).unwrap(),
        i.pending_requests(None, 100, now).unwrap()
    );
    let approval = || AuthenticationResult::Authorized(Authorization::new("alice"));
    let first = &issued[0];
    s.complete(first, approval(), now).unwrap();
    i.complete(first, approval(), now).unwrap();
    for attempt in ["redemption", "second redemption"] {
        let req = token_request(POLL, first, now);
        // A fresh random sequence each: the inline path drew an auth_req_id for the request
        // over the bound before the store refused it, so the harnesses' sequences differ.
        let response = |h: &Harness| match block_on(h.server.token_request(
            &req.incoming(),
            now + secs(5),
            &TestRng::new(99),
        )) {
            TokenOutcome::Issued(grant) => grant.response,
            TokenOutcome::Respond(r) => r.response,
            TokenOutcome::NotCibaGrant { .. } => panic!("not the CIBA grant"),
        };
        same(&response(&s), &response(&i), attempt);
    }
}

/// Validates `req` on the inline path, which must accept it.
fn inline_ticket(h: &Harness, req: &Req, now: SystemTime) -> InlineTicket {
    match block_on(
        h.server
            .authenticate_request_inline(&req.incoming(), now, &h.rng),
    ) {
        InlineBackchannelOutcome::UserIdentification(t) => *t,
        InlineBackchannelOutcome::Respond(r) => panic!("refused: {:?}", r.error),
    }
}

#[test]
fn an_inline_ticket_is_never_stored_and_is_issued_once() {
    let h = Harness::new();
    let ticket = inline_ticket(&h, &bc_request(POLL, &[]), t0());
    assert_eq!(h.store.len(t0()), 0, "the ticket is not in the store");
    // The store does not know it, so the stored path cannot issue it too.
    assert!(matches!(
        block_on(h.server.issue(ticket.ticket(), "alice", t0(), &h.rng)),
        IssueOutcome::InvalidTicket(_)
    ));
    assert!(matches!(
        h.fail(&*ticket, FailReason::AccessDenied, None)
            .status()
            .as_u16(),
        403
    ));
    assert_eq!(ticket.hint.value(), "alice@example.com");
    match block_on(h.server.issue_inline(ticket, "alice", t0(), &h.rng)) {
        IssueOutcome::Issued(ack) => {
            let stored = h.pending_request(&ack.auth_req_id, t0()).unwrap().unwrap();
            assert_eq!(stored.subject, "alice");
            assert_eq!(stored.client_id, POLL);
        }
        other => panic!("not issued: {other:?}"),
    }
    assert_eq!(h.store.len(t0()), 1, "only the request is stored");
    // A second `issue_inline` with the same ticket does not compile (`issue_inline`'s doc
    // test); nor does a copy of it.
}

#[test]
fn an_expired_inline_ticket_is_not_issued_and_stores_nothing() {
    let h = Harness::new();
    let ttl = base_config().ticket_ttl;
    let ticket = inline_ticket(&h, &bc_request(POLL, &[]), t0());
    assert_eq!(ticket.expires_at, t0() + ttl);
    let late = t0() + ttl;
    match block_on(h.server.issue_inline(ticket, "alice", late, &h.rng)) {
        IssueOutcome::InvalidTicket(r) => assert_eq!(r.status().as_u16(), 500),
        other => panic!("issued: {other:?}"),
    }
    assert_eq!(h.store.len(t0()), 0);
}

#[test]
fn fail_inline_stores_nothing_and_answers_like_fail() {
    let h = Harness::new();
    for reason in FailReason::ALL {
        let ticket = inline_ticket(&h, &bc_request(POLL, &[]), t0());
        let a = h.server.fail_inline(ticket, reason, Some("why"));
        let stored_ticket = h.ticket(&bc_request(POLL, &[]), t0());
        let b = h.fail(&stored_ticket, reason, Some("why"));
        same(&a.response, &b.response, "fail");
        assert_eq!(a.error, b.error);
        assert_eq!(h.store.len(t0()), 0);
    }
}

#[test]
fn at_its_bound_a_client_gets_the_refusal_of_the_as_on_the_inline_path() {
    // The documented difference: the stored path charges the ticket, so it answers 503
    // before the AS looks at the user; the inline path charges only the request.
    let (s, i) = (bounded(), bounded());
    for _ in 0..4 {
        let req = bc_request(POLL, &[]);
        same(
            &stored(&s, &req, t0(), ALICE),
            &inline(&i, &req, t0(), ALICE),
            "below the bound",
        );
    }
    let req = bc_request(POLL, &[]);
    let unknown = Then::Fail(FailReason::UnknownUserId, None);
    assert_eq!(stored(&s, &req, t0(), unknown).status().as_u16(), 503);
    let r = inline(&i, &req, t0(), unknown);
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(json_body(&r)["error"], "unknown_user_id");
    assert_eq!(inline(&i, &req, t0(), ALICE).status().as_u16(), 503);
}

#[test]
fn an_inline_tickets_debug_shows_no_secret() {
    let h = Harness::new();
    let req = bc_request(USER_CODE, &[("user_code", "s3cr3t-code")]);
    let ticket = inline_ticket(&h, &req, t0());
    let shown = format!("{ticket:?}");
    assert!(shown.contains("user-code-client"));
    assert!(!shown.contains("s3cr3t-code"), "{shown}");
}
