//! Every CIBA section 13 (backchannel endpoint) and section 11 (token endpoint) error this
//! server emits, with its status and a well-formed body.

use crate::common;

use ciba_core::wire::is_valid_error_text;
use ciba_server::UnauthorizedReason;
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, BodyError, FailReason, IssueOutcome,
    TokenOutcome,
};
use ciba_server::{GrantUnauthorizedReason, InvalidGrantReason};
use common::*;

type Make = fn(&Harness) -> http::Response<Vec<u8>>;

fn bc(h: &Harness, req: Req) -> http::Response<Vec<u8>> {
    match h.backchannel(&req, t0()) {
        BackchannelOutcome::Respond(r) => r.response,
        BackchannelOutcome::UserIdentification(t) => panic!("accepted: {t:?}"),
    }
}

fn tok(h: &Harness, req: Req, at: u64) -> http::Response<Vec<u8>> {
    match h.token(&req, t0() + secs(at)) {
        TokenOutcome::Respond(r) => r.response,
        other => panic!("not an error: {other:?}"),
    }
}

fn failed(h: &Harness, reason: FailReason) -> http::Response<Vec<u8>> {
    let ticket = h.ticket(&bc_request(POLL, &[]), t0());
    h.fail(&ticket, reason, Some("refused by\n\"policy\""))
        .into_response()
}

fn completed(h: &Harness, result: AuthenticationResult) -> String {
    let ack = h.start(POLL, t0());
    h.complete(&ack.auth_req_id, result, t0()).unwrap();
    ack.auth_req_id.into_string()
}

fn cases() -> Vec<(&'static str, u16, &'static str, Make)> {
    vec![
        // Section 13, decided by authenticate_request.
        ("bc: missing scope", 400, "invalid_request", |h| {
            bc(h, bc_request(POLL, &[("scope", "")]))
        }),
        ("bc: two hints", 400, "invalid_request", |h| {
            bc(h, bc_request(POLL, &[("login_hint_token", "lht")]))
        }),
        ("bc: no openid", 400, "invalid_scope", |h| {
            bc(h, bc_request(POLL, &[("scope", "email")]))
        }),
        (
            "bc: client may not use CIBA",
            400,
            "unauthorized_client",
            |h| bc(h, bc_request(NO_CIBA, &[])),
        ),
        ("bc: user code required", 400, "missing_user_code", |h| {
            bc(h, bc_request(USER_CODE, &[]))
        }),
        (
            "bc: binding message too long",
            400,
            "invalid_binding_message",
            |h| {
                bc(
                    h,
                    bc_request(POLL, &[("binding_message", &"x".repeat(129))]),
                )
            },
        ),
        ("bc: bad client secret", 401, "invalid_client", |h| {
            bc(h, bc_request(POLL, &[]).basic(POLL, "wrong"))
        }),
        // Section 13, decided by the AS through fail().
        (
            "fail: expired login hint token",
            400,
            "expired_login_hint_token",
            |h| failed(h, FailReason::ExpiredLoginHintToken),
        ),
        ("fail: unknown user", 400, "unknown_user_id", |h| {
            failed(h, FailReason::UnknownUserId)
        }),
        (
            "fail: unauthorized client",
            400,
            "unauthorized_client",
            |h| failed(h, FailReason::UnauthorizedClient),
        ),
        ("fail: missing user code", 400, "missing_user_code", |h| {
            failed(h, FailReason::MissingUserCode)
        }),
        ("fail: invalid user code", 400, "invalid_user_code", |h| {
            failed(h, FailReason::InvalidUserCode)
        }),
        (
            "fail: invalid binding message",
            400,
            "invalid_binding_message",
            |h| failed(h, FailReason::InvalidBindingMessage),
        ),
        ("fail: invalid target", 400, "invalid_target", |h| {
            failed(h, FailReason::InvalidTarget)
        }),
        ("fail: access denied", 403, "access_denied", |h| {
            failed(h, FailReason::AccessDenied)
        }),
        ("fail: server error", 500, "server_error", |h| {
            failed(h, FailReason::ServerError)
        }),
        // issue() with a ticket that is gone.
        (
            "issue: invalid ticket",
            500,
            "server_error",
            |h| match block_on(h.server.issue("no-such-ticket", "alice", t0(), &h.rng)) {
                IssueOutcome::InvalidTicket(r) => r.response,
                other => panic!("{other:?}"),
            },
        ),
        // issue() beyond the per-client bound.
        (
            "issue: too many requests in flight",
            503,
            "temporarily_unavailable",
            |_| {
                let h = Harness::with(
                    base_config(),
                    MemoryStoreConfig::default().with_max_entries_per_client(1),
                    "eddsa",
                );
                h.start(POLL, t0());
                match h.backchannel(&bc_request(POLL, &[]), t0()) {
                    BackchannelOutcome::Respond(r) => {
                        assert_eq!(r.response.headers()["retry-after"], "60");
                        r.response
                    }
                    other => panic!("{other:?}"),
                }
            },
        ),
        // Section 11, decided by token_request.
        ("token: pending", 400, "authorization_pending", |h| {
            let id = h.start(POLL, t0()).auth_req_id;
            tok(h, token_request(POLL, &id, t0()), 0)
        }),
        ("token: too fast", 400, "slow_down", |h| {
            let id = h.start(POLL, t0()).auth_req_id;
            tok(h, token_request(POLL, &id, t0()), 5);
            tok(h, token_request(POLL, &id, t0()), 6)
        }),
        ("token: expired", 400, "expired_token", |h| {
            let id = h.start(POLL, t0()).auth_req_id;
            tok(h, token_request(POLL, &id, t0()), 300)
        }),
        ("token: denied", 400, "access_denied", |h| {
            let id = completed(h, AuthenticationResult::AccessDenied);
            tok(h, token_request(POLL, &id, t0()), 5)
        }),
        ("token: unknown auth_req_id", 400, "invalid_grant", |h| {
            tok(h, token_request(POLL, "nope", t0()), 0)
        }),
        ("token: redeemed twice", 400, "invalid_grant", |h| {
            let id = completed(
                h,
                AuthenticationResult::Authorized(Authorization::new("alice")),
            );
            assert!(matches!(h.poll(POLL, &id, t0()), TokenOutcome::Issued(_)));
            tok(h, token_request(POLL, &id, t0()), 1)
        }),
        ("token: missing auth_req_id", 400, "invalid_request", |h| {
            tok(
                h,
                Req::form(&[("grant_type", ciba_server::CIBA_GRANT_TYPE)]).basic(POLL, POLL_SECRET),
                0,
            )
        }),
        ("token: push client", 400, "unauthorized_client", |h| {
            tok(h, token_request(PUSH, "anything", t0()), 0)
        }),
        ("token: bad client secret", 401, "invalid_client", |h| {
            tok(h, token_request(POLL, "x", t0()).basic(POLL, "wrong"), 0)
        }),
        (
            "token: another client's auth_req_id",
            400,
            "invalid_grant",
            |h| {
                let id = h.start(POLL, t0()).auth_req_id;
                tok(h, token_request(PING, &id, t0()), 0)
            },
        ),
        (
            "token: not a CIBA client",
            400,
            "unauthorized_client",
            |h| tok(h, token_request(NO_CIBA, "x", t0()), 0),
        ),
        // The HTTP request itself: the method and the body size.
        ("bc: another method", 405, "invalid_request", |h| {
            let mut req = bc_request(POLL, &[]);
            req.method = http::Method::PUT;
            bc(h, req)
        }),
        ("bc: body over the limit", 413, "invalid_request", |h| {
            let mut req = bc_request(POLL, &[]);
            let limit = h.server.config().limits.max_body_bytes;
            req.body
                .extend_from_slice(format!("&pad={}", "x".repeat(limit)).as_bytes());
            bc(h, req)
        }),
        ("token: another method", 405, "invalid_request", |h| {
            let mut req = token_request(POLL, "x", t0());
            req.method = http::Method::GET;
            tok(h, req, 0)
        }),
        ("token: body over the limit", 413, "invalid_request", |h| {
            let mut req = token_request(POLL, "x", t0());
            let limit = h.server.config().limits.max_body_bytes;
            req.body
                .extend_from_slice(format!("&pad={}", "x".repeat(limit)).as_bytes());
            tok(h, req, 0)
        }),
        ("transport: body too slow", 408, "invalid_request", |h| {
            h.server.refuse_body(BodyError::TimedOut).into_response()
        }),
        (
            "transport: body over the cap",
            413,
            "invalid_request",
            |h| {
                h.server
                    .refuse_body(BodyError::TooLarge { limit: 65536 })
                    .into_response()
            },
        ),
    ]
}

/// The names of the enum variants a description must never show (their `Debug` forms).
fn variant_names() -> Vec<String> {
    let mut names: Vec<String> = [InvalidGrantReason::Unknown, InvalidGrantReason::AlreadyUsed]
        .iter()
        .map(|v| format!("{v:?}"))
        .collect();
    names.extend(
        [
            UnauthorizedReason::NotCibaClient,
            UnauthorizedReason::DeliveryModeNotSupported,
            UnauthorizedReason::MissingCibaGrant,
            UnauthorizedReason::MissingNotificationEndpoint,
        ]
        .iter()
        .map(|v| format!("{v:?}")),
    );
    names.extend(
        [
            GrantUnauthorizedReason::PushClient,
            GrantUnauthorizedReason::NotCibaClient,
            GrantUnauthorizedReason::MissingCibaGrant,
            GrantUnauthorizedReason::DeliveryModeNotSupported,
        ]
        .iter()
        .map(|v| format!("{v:?}")),
    );
    names.extend(FailReason::ALL.iter().map(|v| format!("{v:?}")));
    names.extend(
        [BodyError::TimedOut, BodyError::Unreadable]
            .iter()
            .map(|v| format!("{v:?}")),
    );
    names
}

/// A word shaped like a Rust identifier rather than prose: a capital after a lowercase
/// letter (`AlreadyUsed`, `NotCibaClient`).
fn is_camel_case(word: &str) -> bool {
    word.as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

#[test]
fn every_description_is_worded_without_rust_names() {
    let names = variant_names();
    assert!(names.iter().any(|n| n == "AlreadyUsed"), "{names:?}");
    for (name, _, _, make) in cases() {
        let resp = make(&Harness::new());
        let body = json_body(&resp);
        let Some(description) = body.get("error_description").and_then(|d| d.as_str()) else {
            continue;
        };
        for word in description.split(|c: char| !c.is_ascii_alphanumeric()) {
            assert!(
                !is_camel_case(word) && !names.iter().any(|n| n == word),
                "{name}: {description:?} shows the identifier {word:?}"
            );
        }
    }
    // The reasons' own wording, every variant.
    let h = Harness::new();
    for reason in FailReason::ALL {
        let failed = h.fail(&h.ticket(&bc_request(POLL, &[]), t0()), reason, None);
        let text = failed.error.to_string();
        assert!(!names.iter().any(|n| text.contains(n.as_str())), "{text}");
    }
}

#[test]
fn another_clients_auth_req_id_reads_exactly_like_an_unknown_one() {
    let h = Harness::new();
    let theirs = h.start(POLL, t0()).auth_req_id;
    let unknown = tok(&h, token_request(PING, "no-such-auth-req-id", t0()), 0);
    let other = tok(&h, token_request(PING, &theirs, t0()), 0);
    assert_eq!(unknown.status(), other.status());
    assert_eq!(unknown.headers(), other.headers());
    assert_eq!(json_body(&unknown), json_body(&other));
    assert_eq!(json_body(&other)["error"], "invalid_grant");
    // And the request of the other client is untouched: its owner still gets its answer.
    let owner = tok(&h, token_request(POLL, &theirs, t0()), 0);
    assert_eq!(json_body(&owner)["error"], "authorization_pending");
}

#[test]
fn another_method_gets_405_with_allow_post_and_a_body_over_the_limit_413() {
    for (name, status, _, make) in cases() {
        let resp = make(&Harness::new());
        if status == 405 {
            assert_eq!(resp.headers()["allow"], "POST", "{name}");
        } else {
            assert!(resp.headers().get("allow").is_none(), "{name}");
        }
        if status == 413 {
            let description = json_body(&resp)["error_description"].clone();
            assert!(
                description.as_str().is_some_and(|d| d.contains("bytes")),
                "{name}: {description}"
            );
        }
    }
}

#[test]
fn every_error_has_its_status_and_a_well_formed_no_store_json_body() {
    for (name, status, error, make) in cases() {
        let h = Harness::new();
        let resp = make(&h);
        assert_eq!(resp.status().as_u16(), status, "{name}");
        assert_no_store_json(&resp);
        let body = json_body(&resp);
        assert_eq!(body["error"], error, "{name}");
        for (member, value) in &body {
            assert!(
                matches!(member.as_str(), "error" | "error_description" | "error_uri"),
                "{name}: unexpected member {member}"
            );
            assert!(
                is_valid_error_text(value.as_str().unwrap()),
                "{name}: {value}"
            );
        }
        if status == 401 {
            assert!(
                resp.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Basic realm="),
                "{name}"
            );
        }
    }
}

#[test]
fn fail_covers_every_reason_and_consumes_the_ticket() {
    let h = Harness::new();
    for reason in FailReason::ALL {
        let ticket = h.ticket(&bc_request(POLL, &[]), t0());
        let r = h.fail(&ticket, reason, None);
        assert!(matches!(r.status().as_u16(), 400 | 403 | 500));
        assert!(json_body(&r.response).get("error_description").is_none());
        assert!(matches!(
            block_on(h.server.issue(&ticket, "alice", t0(), &h.rng)),
            IssueOutcome::InvalidTicket(_)
        ));
    }
}
