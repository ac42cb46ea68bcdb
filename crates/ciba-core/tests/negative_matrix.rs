//! Negative conformance matrix, client side: hostile ID tokens and token responses, one row
//! per defect, each naming the specification section it enforces (docs/security.md maps the
//! checklist IDs to these tests).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::result_large_err
)]

mod support;

use ciba_core::Limits;
use ciba_core::id_token::{IdTokenContext, IdTokenError};
use ciba_core::jose::jws::sign_compact;
use ciba_core::token_response::TokenResponse;
use ciba_core::{AuthRequestAck, DeliveryMode};
use serde_json::{Map, Value, json};
use support::*;

fn validate(token: &str) -> Result<ciba_core::IdTokenClaims, IdTokenError> {
    validator(&client(DeliveryMode::Poll)).validate(token, &IdTokenContext::standalone(), t0())
}

fn signed_with_header(header: Value, claims: &Map<String, Value>) -> String {
    let Value::Object(h) = header else {
        unreachable!()
    };
    sign_compact(h, claims, &signer("es256")).unwrap()
}

/// Builds a compact JWS whose payload is the given raw JSON text (to smuggle duplicate
/// members past serde_json's map), signed with the OP key.
fn signed_raw_payload(payload: &str) -> String {
    use base64::Engine as _;
    use ciba_core::jose::Signer as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}).to_string();
    let input = format!("{}.{}", b64.encode(header), b64.encode(payload));
    let sig = signer("es256").sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64.encode(sig))
}

#[test]
fn id_token_header_tricks_are_ignored_or_refused() {
    let c = claims(t0());
    // (row, header members, accepted?)
    let rows: &[(&str, Value, bool)] = &[
        // OIDC Core 3.1.3.7 / RFC 7515 4.1.2: a jku is never fetched; the OP's JWKS decides.
        (
            "jku ignored",
            json!({"jku": "https://attacker.example/jwks"}),
            true,
        ),
        // RFC 7515 4.1.5: x5u is never fetched either.
        (
            "x5u ignored",
            json!({"x5u": "https://attacker.example/cert.pem"}),
            true,
        ),
        // RFC 7515 4.1.6: an x5c chain is not a trust anchor.
        ("x5c ignored", json!({"x5c": ["MIIB"]}), true),
        // RFC 7515 4.1.11: unknown critical extensions must be refused (checklist 2.7 #15).
        ("crit refused", json!({"crit": ["exp"], "exp": 1}), false),
        (
            "crit unknown",
            json!({"crit": ["urn:x"], "urn:x": true}),
            false,
        ),
        // OIDC Core 10.1: a kid naming no OP key is refused, never resolved elsewhere.
        ("unknown kid", json!({"kid": "attacker"}), false),
        ("kid path trick", json!({"kid": "../../ec-1"}), false),
    ];
    for (row, header, ok) in rows {
        let token = signed_with_header(header.clone(), &c);
        assert_eq!(
            validate(&token).is_ok(),
            *ok,
            "{row}: {:?}",
            validate(&token)
        );
    }
}

#[test]
fn id_token_claims_of_the_wrong_type_or_size_are_refused() {
    let base = claims(t0());
    // OIDC Core 2 / 3.1.3.7: claim types (checklist 2.7 #9, #10, #15).
    let rows: &[(&str, &str, Value)] = &[
        (
            "exp as string",
            "exp",
            json!((unix(t0()) + 300).to_string()),
        ),
        ("exp huge", "exp", json!(1e300)),
        ("exp negative", "exp", json!(-1)),
        ("iat as string", "iat", json!(unix(t0()).to_string())),
        ("iat huge", "iat", json!(1e300)),
        ("iat negative", "iat", json!(-1e300)),
        ("aud as number", "aud", json!(42)),
        ("aud array of numbers", "aud", json!([1, 2])),
        ("iss as number", "iss", json!(1)),
        ("sub as object", "sub", json!({"id": "alice"})),
        ("auth_time as string", "auth_time", json!("yesterday")),
        ("at_hash as number", "at_hash", json!(7)),
    ];
    for (row, name, value) in rows {
        let mut c = base.clone();
        c.insert((*name).into(), value.clone());
        let token = sign(&c, &signer("es256"));
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
}

#[test]
fn duplicate_json_members_are_refused_everywhere() {
    // RFC 8259 4 / RFC 7515 5.2 step 4: duplicate member names are refused (never
    // "last one wins"), in ID token payloads, token responses and acknowledgements.
    let exp = unix(t0()) + 300;
    let iat = unix(t0());
    let payload = format!(
        r#"{{"iss":"{ISSUER}","sub":"alice","sub":"mallory","aud":"{CLIENT_ID}","exp":{exp},"iat":{iat}}}"#
    );
    assert!(validate(&signed_raw_payload(&payload)).is_err());
    // The same payload without the duplicate is accepted (the row tests only duplication).
    let single = format!(
        r#"{{"iss":"{ISSUER}","sub":"alice","aud":"{CLIENT_ID}","exp":{exp},"iat":{iat}}}"#
    );
    assert!(validate(&signed_raw_payload(&single)).is_ok());

    let raw = |status: u16, body: &str| {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    let tr = raw(
        200,
        r#"{"access_token":"a","access_token":"b","token_type":"Bearer"}"#,
    );
    assert!(TokenResponse::from_response(&tr, None, &Limits::DEFAULT).is_err());
    let ack = raw(
        200,
        r#"{"auth_req_id":"a","auth_req_id":"b","expires_in":60}"#,
    );
    assert!(AuthRequestAck::from_response(&ack, t0(), &Limits::DEFAULT).is_err());
}

#[test]
fn huge_numbers_in_lifetimes_and_intervals_are_refused_without_overflow() {
    // CIBA Core 7.3 (expires_in, interval: positive integers) and OIDC Core 3.1.3.3.
    let rows: &[(&str, Value)] = &[
        (
            "expires_in 1e300",
            json!({"auth_req_id": "x", "expires_in": 1e300}),
        ),
        (
            "expires_in u64::MAX",
            json!({"auth_req_id": "x", "expires_in": u64::MAX}),
        ),
        (
            "expires_in -1",
            json!({"auth_req_id": "x", "expires_in": -1}),
        ),
        (
            "interval 1e300",
            json!({"auth_req_id": "x", "expires_in": 60, "interval": 1e300}),
        ),
        (
            "interval 0.5",
            json!({"auth_req_id": "x", "expires_in": 60, "interval": 0.5}),
        ),
    ];
    for (row, body) in rows {
        let r = AuthRequestAck::from_response(&json_response(200, body), t0(), &Limits::DEFAULT);
        assert!(r.is_err(), "{row} was accepted: {r:?}");
    }
    // An interval beyond the lifetime is legal but useless: it is kept without overflow and
    // the request simply expires before the first poll.
    let body = json!({"auth_req_id": "x", "expires_in": 60, "interval": u64::MAX});
    let ack =
        AuthRequestAck::from_response(&json_response(200, &body), t0(), &Limits::DEFAULT).unwrap();
    assert_eq!(ack.expires_at, at(60));
    for (row, v) in [
        ("1e300", json!(1e300)),
        ("-5", json!(-5)),
        ("string", json!("60")),
    ] {
        let body = json!({"access_token": "a", "token_type": "Bearer", "expires_in": v});
        let r = TokenResponse::from_response(&json_response(200, &body), None, &Limits::DEFAULT);
        assert!(r.is_err(), "token response expires_in {row} was accepted");
    }
}

#[test]
fn garbled_bearer_tokens_on_notifications_are_refused_with_401() {
    // CIBA Core 10.2 / 10.3.1 and RFC 6750 2.1: the bearer must be exactly the
    // client_notification_token bound to the auth_req_id; the scheme is case-insensitive.
    const CNT: &str = "cnt-0123456789abcdef";
    let lookup = |id: &str| (id == AUTH_REQ_ID).then(|| CNT.to_owned());
    let rows: &[(&str, Option<&str>, u16)] = &[
        ("exact", Some("Bearer cnt-0123456789abcdef"), 204),
        ("lowercase scheme", Some("bearer cnt-0123456789abcdef"), 204),
        ("uppercase scheme", Some("BEARER cnt-0123456789abcdef"), 204),
        ("missing header", None, 401),
        ("empty", Some(""), 401),
        ("scheme only", Some("Bearer"), 401),
        ("basic scheme", Some("Basic cnt-0123456789abcdef"), 401),
        // RFC 6750 2.1: `"Bearer" 1*SP b64token` allows several spaces.
        ("two spaces", Some("Bearer  cnt-0123456789abcdef"), 204),
        // RFC 9110 5.5: trailing whitespace is not part of a field value.
        (
            "trailing spaces",
            Some("Bearer cnt-0123456789abcdef  "),
            204,
        ),
        ("prefix of token", Some("Bearer cnt-0123456789abcde"), 401),
        (
            "token plus suffix",
            Some("Bearer cnt-0123456789abcdefX"),
            401,
        ),
        ("non-ascii", Some("Bearer cnt-0123456789abcdéf"), 401),
    ];
    for (row, auth, status) in rows {
        let mut b = http::Request::post("https://client.example/cb")
            .header("content-type", "application/json");
        if let Some(a) = auth {
            b = b.header("authorization", *a);
        }
        let req = b
            .body(json!({"auth_req_id": AUTH_REQ_ID}).to_string().into_bytes())
            .unwrap();
        let out = ciba_core::notification::receive_ping(&req, &lookup, &Limits::DEFAULT);
        assert_eq!(out.response.status(), *status, "{row}");
    }
    // Unknown auth_req_id with a well-formed bearer: 401, never a token call (C-PING-8).
    let req = http::Request::post("https://client.example/cb")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CNT}"))
        .body(json!({"auth_req_id": "unknown"}).to_string().into_bytes())
        .unwrap();
    let out = ciba_core::notification::receive_ping(&req, &lookup, &Limits::DEFAULT);
    assert_eq!(out.response.status(), 401);
}
