//! The client notification endpoint: ping and push requests, their authentication, the push
//! payload checks, and the responses sent back.

use crate::support;

use std::collections::HashMap;
use std::sync::Mutex;

use ciba_core::NotificationRefusal;
use ciba_core::id_token::{AUTH_REQ_ID_CLAIM, IdTokenContext, IdTokenError};
use ciba_core::jose::JwsAlgorithm;
use ciba_core::jose::hash::left_half_hash;
use ciba_core::notification::{
    NotificationOutcome, NotificationTokens, Ping, Push, PushErrorCode, authenticate_notification,
    bearer_token, receive_ping, receive_push,
};
use ciba_core::{DeliveryMode, Limits};
use http::StatusCode;
use serde_json::{Value, json};
use support::*;

const CNT: &str = "8d67dc78-7faa-4d41-aabd-67707b374255";

/// The caller's pending requests: auth_req_id -> client_notification_token.
struct Pending(Mutex<HashMap<String, String>>);

impl Pending {
    fn new() -> Pending {
        let mut m = HashMap::new();
        m.insert(AUTH_REQ_ID.to_owned(), CNT.to_owned());
        m.insert("other-request".to_owned(), "other-token".to_owned());
        Pending(Mutex::new(m))
    }
    fn complete(&self, id: &str) {
        self.0.lock().unwrap().remove(id);
    }
}

impl NotificationTokens for Pending {
    fn client_notification_token(&self, auth_req_id: &str) -> Option<String> {
        self.0.lock().unwrap().get(auth_req_id).cloned()
    }
}

fn request(method: &str, auth: Option<&str>, body: &Value) -> http::Request<Vec<u8>> {
    let mut b = http::Request::builder()
        .method(method)
        .uri("https://client.example/cb")
        .header("content-type", "application/json");
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(body.to_string().into_bytes()).unwrap()
}

fn ping_body() -> Value {
    json!({ "auth_req_id": AUTH_REQ_ID })
}

fn bearer() -> String {
    format!("Bearer {CNT}")
}

fn ping(req: &http::Request<Vec<u8>>) -> NotificationOutcome<Ping> {
    receive_ping(req, &Pending::new(), &Limits::DEFAULT)
}

fn push(req: &http::Request<Vec<u8>>) -> NotificationOutcome<Push> {
    let v = validator(&client(DeliveryMode::Push));
    receive_push(req, &Pending::new(), &v, t0(), &Limits::DEFAULT)
}

fn assert_invalid_token(response: &http::Response<Vec<u8>>) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{response:?}");
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
}

fn push_tokens_body(id_token: &str, refresh: bool) -> Value {
    let mut b = json!({
        "auth_req_id": AUTH_REQ_ID,
        "access_token": "at-123",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    });
    if refresh {
        b["refresh_token"] = json!("rt-456");
    }
    b
}

#[test]
fn ping_with_the_bound_bearer_token_is_accepted_with_204() {
    let out = ping(&request("POST", Some(&bearer()), &ping_body()));
    assert_eq!(out.result.unwrap().auth_req_id.as_str(), AUTH_REQ_ID);
    assert_eq!(out.response.status(), StatusCode::NO_CONTENT);
    assert!(out.response.body().is_empty());
}

#[test]
fn ping_bearer_scheme_is_case_insensitive() {
    let out = ping(&request(
        "POST",
        Some(&format!("bearer {CNT}")),
        &ping_body(),
    ));
    assert!(out.result.is_ok());
    let out = ping(&request(
        "POST",
        Some(&format!("BEARER {CNT}")),
        &ping_body(),
    ));
    assert!(out.result.is_ok());
}

#[test]
fn ping_with_a_wrong_bearer_gets_401() {
    let out = ping(&request("POST", Some("Bearer not-the-token"), &ping_body()));
    assert_eq!(out.result.unwrap_err(), NotificationRefusal::WrongToken);
    assert_invalid_token(&out.response);
}

#[test]
fn ping_with_the_token_of_another_request_gets_401() {
    let out = ping(&request("POST", Some("Bearer other-token"), &ping_body()));
    assert_eq!(out.result.unwrap_err(), NotificationRefusal::WrongToken);
    assert_invalid_token(&out.response);
}

#[test]
fn ping_without_a_bearer_token_gets_401() {
    let out = ping(&request("POST", None, &ping_body()));
    assert_eq!(out.result.unwrap_err(), NotificationRefusal::MissingBearer);
    assert_invalid_token(&out.response);
    let out = ping(&request(
        "POST",
        Some(&format!("Basic {CNT}")),
        &ping_body(),
    ));
    assert_eq!(
        out.result.unwrap_err(),
        NotificationRefusal::MalformedAuthorization
    );
    assert_invalid_token(&out.response);
}

#[test]
fn ping_for_an_unknown_auth_req_id_gets_401() {
    let out = ping(&request(
        "POST",
        Some(&bearer()),
        &json!({"auth_req_id": "never-issued"}),
    ));
    assert_eq!(
        out.result.unwrap_err(),
        NotificationRefusal::UnknownAuthReqId
    );
    assert_invalid_token(&out.response);
}

#[test]
fn ping_with_a_malformed_body_gets_400() {
    for body in [
        b"not json".to_vec(),
        b"{}".to_vec(),
        br#"{"auth_req_id":5}"#.to_vec(),
    ] {
        let mut req = request("POST", Some(&bearer()), &Value::Null);
        *req.body_mut() = body;
        let out = ping(&req);
        assert!(matches!(out.result, Err(NotificationRefusal::Body(_))));
        assert_eq!(out.response.status(), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn ping_with_another_method_gets_405() {
    let out = ping(&request("GET", Some(&bearer()), &ping_body()));
    assert!(matches!(
        out.result,
        Err(NotificationRefusal::MethodNotAllowed { .. })
    ));
    assert_eq!(out.response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(out.response.headers()["allow"], "POST");
}

#[test]
fn ping_ignores_unknown_body_members() {
    let body = json!({"auth_req_id": AUTH_REQ_ID, "x_vendor": {"a": 1}});
    assert!(
        ping(&request("POST", Some(&bearer()), &body))
            .result
            .is_ok()
    );
}

#[test]
fn responses_forbid_caching() {
    let out = ping(&request("POST", Some(&bearer()), &ping_body()));
    assert_eq!(out.response.headers()["cache-control"], "no-store");
}

#[test]
fn push_with_valid_tokens_is_accepted_with_204() {
    let body = push_tokens_body(&id_token_for(t0(), "at-123", Some("rt-456")), true);
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(out.response.status(), StatusCode::NO_CONTENT);
    match out.result.unwrap() {
        Push::Tokens {
            auth_req_id,
            tokens,
        } => {
            assert_eq!(auth_req_id.as_str(), AUTH_REQ_ID);
            assert_eq!(tokens.response.access_token, "at-123");
            assert_eq!(tokens.response.refresh_token.as_deref(), Some("rt-456"));
            assert_eq!(tokens.id_token.sub, "alice");
            assert!(
                tokens.response.extra.is_empty(),
                "auth_req_id is not an extra"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn push_ignores_unknown_body_members() {
    // CIBA Core 10.3.1 (checklist C-PUSH-7): unknown members neither fail the delivery nor
    // get lost; they are kept in the token response's extra members.
    let mut body = push_tokens_body(&id_token_for(t0(), "at-123", Some("rt-456")), true);
    body["x-vendor"] = json!({"trace": [1, 2]});
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(out.response.status(), StatusCode::NO_CONTENT);
    match out.result.unwrap() {
        Push::Tokens { tokens, .. } => {
            assert_eq!(tokens.response.extra["x-vendor"], json!({"trace": [1, 2]}));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn push_with_a_wrong_bearer_gets_401() {
    let body = push_tokens_body(&id_token_for(t0(), "at-123", None), false);
    let out = push(&request("POST", Some("Bearer other-token"), &body));
    assert_eq!(out.result.unwrap_err(), NotificationRefusal::WrongToken);
    assert_invalid_token(&out.response);
}

#[test]
fn push_with_a_wrong_auth_req_id_claim_is_rejected() {
    let s = signer("es256");
    let mut c = claims(t0());
    c.insert(AUTH_REQ_ID_CLAIM.into(), json!("other-request"));
    c.insert(
        "at_hash".into(),
        left_half_hash(JwsAlgorithm::ES256, "at-123")
            .unwrap()
            .into(),
    );
    let body = push_tokens_body(&sign(&c, &s), false);
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(
        out.result.unwrap_err(),
        NotificationRefusal::IdToken(IdTokenError::AuthReqIdMismatch)
    );
    assert_eq!(out.response.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn push_without_rt_hash_when_a_refresh_token_is_delivered_is_rejected() {
    let body = push_tokens_body(&id_token_for(t0(), "at-123", None), true);
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(
        out.result.unwrap_err(),
        NotificationRefusal::IdToken(IdTokenError::MissingRtHash)
    );
    assert_eq!(out.response.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn push_with_a_mismatching_rt_hash_is_rejected() {
    let mut body = push_tokens_body(&id_token_for(t0(), "at-123", Some("rt-456")), true);
    body["refresh_token"] = json!("rt-swapped");
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(
        out.result.unwrap_err(),
        NotificationRefusal::IdToken(IdTokenError::RtHashMismatch)
    );
}

#[test]
fn push_without_at_hash_is_rejected() {
    let body = push_tokens_body(&sign(&claims(t0()), &signer("es256")), false);
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(
        out.result.unwrap_err(),
        NotificationRefusal::IdToken(IdTokenError::MissingAtHash)
    );
}

#[test]
fn push_with_an_unsigned_id_token_is_rejected() {
    let token = id_token_for(t0(), "at-123", None);
    let (input, _) = token.rsplit_once('.').unwrap();
    let body = push_tokens_body(&format!("{input}."), false);
    let out = push(&request("POST", Some(&bearer()), &body));
    assert!(matches!(
        out.result,
        Err(NotificationRefusal::IdToken(IdTokenError::BadSignature))
    ));
}

#[test]
fn push_without_an_id_token_is_rejected() {
    let body = json!({"auth_req_id": AUTH_REQ_ID, "access_token": "at", "token_type": "Bearer"});
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(
        out.result.unwrap_err(),
        NotificationRefusal::IdToken(IdTokenError::Missing)
    );
}

#[test]
fn push_error_payloads_end_the_request() {
    for (code, want) in [
        ("access_denied", PushErrorCode::AccessDenied),
        ("expired_token", PushErrorCode::ExpiredToken),
        ("transaction_failed", PushErrorCode::TransactionFailed),
        (
            "something_else",
            PushErrorCode::Other("something_else".into()),
        ),
    ] {
        assert_eq!(want.to_string(), code);
        let body = json!({
            "auth_req_id": AUTH_REQ_ID,
            "error": code,
            "error_description": "the user said no",
        });
        let out = push(&request("POST", Some(&bearer()), &body));
        assert_eq!(out.response.status(), StatusCode::NO_CONTENT);
        match out.result.unwrap() {
            Push::Error { auth_req_id, error } => {
                assert_eq!(auth_req_id.as_str(), AUTH_REQ_ID);
                assert_eq!(error.code, want);
                assert_eq!(error.description.as_deref(), Some("the user said no"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn pushed_error_text_reaches_the_caller_without_control_characters() {
    let body = json!({
        "auth_req_id": AUTH_REQ_ID,
        "error": "access_denied",
        "error_description": "\u{1b}[31mdenied\u{1b}[0m\r\u{7}\u{9b}6n",
        "error_uri": "https://op.example/\u{1b}]8;;evil\u{7}",
    });
    let out = push(&request("POST", Some(&bearer()), &body));
    match out.result.unwrap() {
        Push::Error { error, .. } => {
            assert_eq!(error.description.as_deref(), Some("[31mdenied[0m 6n"));
            assert_eq!(error.uri.as_deref(), Some("https://op.example/]8;;evil"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn push_error_payload_still_needs_the_bearer_token() {
    let body = json!({"auth_req_id": AUTH_REQ_ID, "error": "access_denied"});
    let out = push(&request("POST", None, &body));
    assert_invalid_token(&out.response);
}

#[test]
fn push_payload_mixing_tokens_and_an_error_is_rejected() {
    let mut body = push_tokens_body(&id_token_for(t0(), "at-123", None), false);
    body["error"] = json!("access_denied");
    let out = push(&request("POST", Some(&bearer()), &body));
    assert_eq!(out.result.unwrap_err(), NotificationRefusal::MixedPayload);
    assert_eq!(out.response.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn duplicate_delivery_after_completion_gets_401() {
    let pending = Pending::new();
    let v = validator(&client(DeliveryMode::Push));
    let body = push_tokens_body(&id_token_for(t0(), "at-123", None), false);
    let req = request("POST", Some(&bearer()), &body);

    let first = receive_push(&req, &pending, &v, t0(), &Limits::DEFAULT);
    assert!(first.result.is_ok());
    // The caller's side of the contract: forget the binding once the request is complete.
    pending.complete(first.result.unwrap().auth_req_id().as_str());

    let again = receive_push(&req, &pending, &v, t0(), &Limits::DEFAULT);
    assert_eq!(
        again.result.unwrap_err(),
        NotificationRefusal::UnknownAuthReqId
    );
    assert_invalid_token(&again.response);
}

#[test]
fn a_closure_can_serve_as_the_binding_lookup() {
    let lookup = |id: &str| (id == AUTH_REQ_ID).then(|| CNT.to_owned());
    let out = receive_ping(
        &request("POST", Some(&bearer()), &ping_body()),
        &lookup,
        &Limits::DEFAULT,
    );
    assert!(out.result.is_ok());
}

#[test]
fn ciba_claims_are_read_under_their_registered_urns() {
    // The claims spelled out as CIBA Core section 10.3.1 registers them, not through the
    // crate's constants, in a pushed ID token.
    let v = validator(&client(DeliveryMode::Push));
    let rt_hash = left_half_hash(JwsAlgorithm::ES256, "rt-1").unwrap();
    let token = |names: [&str; 2]| {
        let mut c = json!({
            "iss": ISSUER,
            "sub": "alice",
            "aud": CLIENT_ID,
            "exp": unix(t0()) + 300,
            "iat": unix(t0()),
            "at_hash": left_half_hash(JwsAlgorithm::ES256, "at-1").unwrap(),
        });
        c[names[0]] = json!(AUTH_REQ_ID);
        c[names[1]] = json!(rt_hash);
        sign(c.as_object().unwrap(), &signer("es256"))
    };
    let ctx = IdTokenContext::push(AUTH_REQ_ID, "at-1", Some("rt-1"));
    let registered = token([
        "urn:openid:params:jwt:claim:auth_req_id",
        "urn:openid:params:jwt:claim:rt_hash",
    ]);
    let got = v.validate(&registered, &ctx, t0()).unwrap();
    assert_eq!(got.auth_req_id.as_deref(), Some(AUTH_REQ_ID));
    assert_eq!(got.rt_hash.as_deref(), Some(rt_hash.as_str()));
    assert!(got.extra.is_empty(), "{:?}", got.extra);
    // Under their bare names they are not the CIBA claims: a push needs the registered ones.
    let bare = token(["auth_req_id", "rt_hash"]);
    assert_eq!(
        v.validate(&bare, &ctx, t0()),
        Err(IdTokenError::MissingAuthReqId)
    );
}

#[test]
fn the_bearer_token_is_read_from_the_headers_alone() {
    // A receiver asks before it reads the body: only the headers exist yet.
    let mut headers = http::HeaderMap::new();
    assert_eq!(
        bearer_token(&headers, &Limits::DEFAULT),
        Err(NotificationRefusal::MissingBearer)
    );
    headers.insert("authorization", "Basic abc".parse().unwrap());
    assert_eq!(
        bearer_token(&headers, &Limits::DEFAULT),
        Err(NotificationRefusal::MalformedAuthorization)
    );
    headers.insert("authorization", bearer().parse().unwrap());
    assert_eq!(bearer_token(&headers, &Limits::DEFAULT), Ok(CNT));
}

#[test]
fn a_push_is_authenticated_before_any_key_set_is_needed() {
    // A wrong token is refused with no validator (no key set) in existence.
    let body = push_tokens_body(&id_token_for(t0(), "at-123", Some("rt-456")), true);
    let wrong = request("POST", Some("Bearer not-the-token"), &body);
    let refused = authenticate_notification(&wrong, &Pending::new(), &Limits::DEFAULT);
    assert_eq!(refused.unwrap_err(), NotificationRefusal::WrongToken);
    let out = NotificationOutcome::<Push>::from_result(Err(NotificationRefusal::WrongToken));
    assert_invalid_token(&out.response);

    // The right one: authenticated first, and only then are keys fetched and used.
    let good = request("POST", Some(&bearer()), &body);
    let n = authenticate_notification(&good, &Pending::new(), &Limits::DEFAULT).unwrap();
    assert_eq!(n.auth_req_id().as_str(), AUTH_REQ_ID);
    assert!(n.is_token_delivery());
    assert!(!format!("{n:?}").contains("at-123"));
    let keys_fetched_now = validator(&client(DeliveryMode::Push));
    let pushed = n.push(&keys_fetched_now, t0(), &Limits::DEFAULT).unwrap();
    assert!(matches!(pushed, Push::Tokens { .. }));
    let out = NotificationOutcome::from_result(Ok(pushed));
    assert_eq!(out.response.status(), StatusCode::NO_CONTENT);

    // An error payload needs no keys at all.
    let denied = json!({"auth_req_id": AUTH_REQ_ID, "error": "access_denied"});
    let req = request("POST", Some(&bearer()), &denied);
    let n = authenticate_notification(&req, &Pending::new(), &Limits::DEFAULT).unwrap();
    assert!(!n.is_token_delivery());

    // An error payload that also carries a token member is still no token delivery.
    let mixed =
        json!({"auth_req_id": AUTH_REQ_ID, "error": "access_denied", "access_token": "at-1"});
    let req = request("POST", Some(&bearer()), &mixed);
    let n = authenticate_notification(&req, &Pending::new(), &Limits::DEFAULT).unwrap();
    assert!(!n.is_token_delivery());

    // A ping the same way; it delivers no tokens, and its `Debug` names the members only.
    let req = request("POST", Some(&bearer()), &ping_body());
    let n = authenticate_notification(&req, &Pending::new(), &Limits::DEFAULT).unwrap();
    assert!(!n.is_token_delivery());
    let shown = format!("{n:?}");
    assert!(
        shown.starts_with("AuthenticatedNotification { auth_req_id: AuthReqId(")
            && shown.ends_with(r#"members: ["auth_req_id"], .. }"#),
        "{shown}"
    );
    assert_eq!(n.ping().auth_req_id.as_str(), AUTH_REQ_ID);
}
