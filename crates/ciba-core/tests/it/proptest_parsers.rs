//! Property: every client-side parser answers arbitrary input with a value or a typed error,
//! never a panic: token responses, ping and push notifications, ID tokens (header, payload and
//! claims, signed or not), OAuth error bodies reaching the poller, and HTTP-dates.

use crate::support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::id_token::{AUTH_REQ_ID_CLAIM, IdTokenContext};
use ciba_core::jose::jws::sign_compact;
use ciba_core::notification::{receive_ping, receive_push};
use ciba_core::poll::{PollAction, PollConfig, Poller};
use ciba_core::wire::parse_http_date;
use ciba_core::{DeliveryMode, Limits};
use ciba_core::{TokenResponse, TokenType};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON values, biased towards the names and types these parsers look at.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(Value::from(1_700_000_000)),
        Just(Value::from(CLIENT_ID)),
        Just(Value::from(ISSUER)),
        Just(Value::from(AUTH_REQ_ID)),
        "[ -~]{0,12}".prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    crate::support::names_or(
        &[
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "id_token",
            "scope",
            "auth_req_id",
            "error",
            "error_description",
            "iss",
            "sub",
            "aud",
            "azp",
            "exp",
            "iat",
            "nbf",
            "auth_time",
            "acr",
            "amr",
            "at_hash",
            AUTH_REQ_ID_CLAIM,
            "urn:openid:params:jwt:claim:rt_hash",
            "alg",
            "kid",
            "crit",
            "jwk",
        ],
        "[a-z_]{1,8}",
    )
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((member_name(), json_value()), 0..10)
        .prop_map(|kv| kv.into_iter().collect())
}

/// Bodies: raw bytes, or JSON objects of the right vocabulary.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_object().prop_map(|m| Value::Object(m).to_string().into_bytes()),
    ]
}

fn header_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("Bearer 8d67dc78".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn response(status: u16, content_type: Option<String>, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(body);
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    if let Some(ct) = content_type.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

fn notification(
    method: &str,
    auth: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
) -> http::Request<Vec<u8>> {
    let mut r = http::Request::new(body);
    *r.method_mut() = method.parse().unwrap();
    if let Some(a) = auth.and_then(|a| a.parse().ok()) {
        r.headers_mut().insert("authorization", a);
    }
    if let Some(ct) = content_type.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

fn lookup(id: &str) -> Option<String> {
    (id == AUTH_REQ_ID).then(|| "8d67dc78".to_owned())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_response_parser_never_panics(
        status in 100u16..600,
        ct in header_text(),
        body in body(),
        expected in prop_oneof![Just(None), Just(Some(TokenType::Bearer)), Just(Some(TokenType::DPoP))],
    ) {
        let _ = TokenResponse::from_response(&response(status, ct, body), expected, &Limits::DEFAULT);
    }

    #[test]
    fn token_response_from_any_object_never_panics(map in json_object()) {
        let raw = Value::Object(map.clone()).to_string();
        if let Ok(r) = TokenResponse::from_members(map, raw.as_bytes(), None, &Limits::DEFAULT) {
            prop_assert!(!r.access_token.is_empty());
        }
    }

    #[test]
    fn ping_receiver_never_panics_or_redirects(
        method in prop_oneof![Just("POST"), Just("GET"), Just("PUT")],
        auth in header_text(),
        ct in header_text(),
        body in body(),
    ) {
        let out = receive_ping(&notification(method, auth, ct, body), &lookup, &Limits::DEFAULT);
        let status = out.response.status();
        prop_assert!(!status.is_redirection());
        prop_assert_eq!(out.result.is_ok(), status == http::StatusCode::NO_CONTENT);
    }

    #[test]
    fn push_receiver_never_panics_or_redirects(
        auth in prop_oneof![Just(Some("Bearer 8d67dc78".to_owned())), header_text()],
        body in prop_oneof![
            body(),
            json_object().prop_map(|mut m| {
                m.insert("auth_req_id".into(), json!(AUTH_REQ_ID));
                Value::Object(m).to_string().into_bytes()
            }),
        ],
    ) {
        let v = validator(&client(DeliveryMode::Push));
        let req = notification("POST", auth, Some("application/json".into()), body);
        let out = receive_push(&req, &lookup, &v, t0(), &Limits::DEFAULT);
        let status = out.response.status();
        prop_assert!(!status.is_redirection());
        prop_assert_eq!(out.result.is_ok(), status == http::StatusCode::NO_CONTENT);
    }

    #[test]
    fn id_token_validator_never_panics_on_arbitrary_text(token in ".{0,300}") {
        let v = validator(&client(DeliveryMode::Poll));
        let _ = v.validate(&token, &IdTokenContext::standalone(), t0());
    }

    #[test]
    fn id_token_validator_never_panics_on_arbitrary_headers_and_payloads(
        header in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            json_object().prop_map(|m| Value::Object(m).to_string().into_bytes()),
        ],
        payload in body(),
        signature in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        );
        let v = validator(&client(DeliveryMode::Poll));
        prop_assert!(v.validate(&token, &IdTokenContext::standalone(), t0()).is_err());
    }

    #[test]
    fn validly_signed_arbitrary_claims_never_panic_and_pass_only_when_sound(
        extra in json_object(),
        keep_base in any::<bool>(),
        push in any::<bool>(),
    ) {
        let mut c = if keep_base { claims(t0()) } else { Map::new() };
        c.extend(extra);
        let token = sign_compact(Map::new(), &c, &signer("es256")).unwrap();
        let v = validator(&client(DeliveryMode::Push));
        let ctx = if push {
            IdTokenContext::push(AUTH_REQ_ID, "at", None)
        } else {
            IdTokenContext::token_endpoint(AUTH_REQ_ID, "at", None)
        };
        if let Ok(claims) = v.validate(&token, &ctx, t0()) {
            prop_assert_eq!(claims.iss.as_str(), ISSUER);
            prop_assert!(claims.aud.iter().any(|a| a == CLIENT_ID));
            prop_assert!(!claims.sub.is_empty());
            prop_assert!(claims.auth_req_id.as_deref().is_none_or(|id| id == AUTH_REQ_ID));
            if push {
                prop_assert!(claims.at_hash.is_some());
            }
        }
    }

    #[test]
    fn poller_never_panics_on_arbitrary_token_endpoint_answers(
        status in 100u16..600,
        ct in header_text(),
        body in body(),
        retry_after in header_text(),
        nonce in header_text(),
    ) {
        let c = client(DeliveryMode::Poll);
        let mut p = Poller::new(&c, &ack(t0(), 120, Some(5)), PollConfig::new(validator(&c)), t0()).unwrap();
        let r = rng();
        prop_assert!(matches!(p.next(at(5), &r), PollAction::Send(_)));
        let mut resp = response(status, ct, body);
        for (name, value) in [("retry-after", retry_after), ("dpop-nonce", nonce)] {
            if let Some(v) = value.and_then(|v| v.parse().ok()) {
                resp.headers_mut().insert(name, v);
            }
        }
        p.on_response(resp, at(6));
        match p.next(at(6), &r) {
            PollAction::Send(_) | PollAction::AwaitingResponse => {
                prop_assert!(false, "no request may follow at once");
            }
            _ => {}
        }
    }

    #[test]
    fn http_date_parser_never_panics(s in ".{0,40}") {
        let _ = parse_http_date(&s);
    }

    #[test]
    fn http_date_parser_accepts_what_it_should(
        day in 1u32..29, month in 0usize..12, year in 1970u32..2200,
        h in 0u32..24, m in 0u32..60, s in 0u32..60,
    ) {
        const M: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let imf = format!("Mon, {day:02} {} {year:04} {h:02}:{m:02}:{s:02} GMT", M[month]);
        let asctime = format!("Mon {} {day:>2} {h:02}:{m:02}:{s:02} {year:04}", M[month]);
        let a = parse_http_date(&imf);
        prop_assert!(a.is_some(), "{}", imf);
        prop_assert_eq!(a, parse_http_date(&asctime));
    }
}
