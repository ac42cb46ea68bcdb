//! Property: the parsers of documents and headers the client reads before any flow starts
//! (discovery metadata, JWK Sets, `WWW-Authenticate` challenges) and the shared body parsers
//! answer arbitrary input with a value or a typed error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use ciba_core::jose::JwkSet;
use ciba_core::wire::parse_challenges;
use ciba_core::wire::{parse_form, parse_json_object};
use ciba_core::{Error, Limits, ParseErrorKind, ServerMetadata};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::{assert_both_branches, check_error_text, run_counting};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Values of the types discovery members take, and of the wrong ones.
fn member_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,30}".prop_map(Value::from),
        Just(json!("https://op.example/x")),
        Just(json!(["poll", "ping", 7, null])),
        Just(json!({"token_endpoint": 1})),
    ]
}

fn member_name() -> impl Strategy<Value = String> {
    crate::support::names_or(
        &[
            "issuer",
            "token_endpoint",
            "backchannel_authentication_endpoint",
            "backchannel_token_delivery_modes_supported",
            "backchannel_user_code_parameter_supported",
            "mtls_endpoint_aliases",
            "dpop_signing_alg_values_supported",
            "keys",
            "kty",
        ],
        "[a-z_]{1,12}",
    )
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((member_name(), member_value()), 0..12)
        .prop_map(|kv| kv.into_iter().collect())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        object().prop_map(|m| Value::Object(m).to_string().into_bytes()),
        prop::collection::vec(object(), 0..4)
            .prop_map(|keys| json!({ "keys": keys }).to_string().into_bytes()),
    ]
}

fn response(status: u16, json: bool, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    if json {
        b = b.header("content-type", "application/json");
    }
    b.body(body).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn jwks_parser_never_panics_and_bounds_the_key_count(
        status in prop_oneof![Just(200u16), 100u16..600],
        json in any::<bool>(),
        body in body(),
    ) {
        let limits = Limits::DEFAULT.with_max_jwks_keys(2);
        let resp = response(status, json, body);
        if let Ok(set) = JwkSet::from_response(&resp, &limits) {
            prop_assert!(set.keys.len() <= 2);
        }
    }

    #[test]
    fn challenge_parser_never_panics(header in "[ -~]{0,120}") {
        if let Some(challenges) = parse_challenges(&header) {
            for c in challenges {
                prop_assert!(!c.scheme.is_empty());
            }
        }
    }

}

const CASES: u32 = 512;

/// Discovery documents that name the expected issuer (mostly) beside a few arbitrary members:
/// without them, no generated document would ever be accepted.
fn metadata_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((member_name(), member_value()), 0..3),
        prop_oneof![4 => Just(json!("https://op.example")), 1 => member_value()],
    )
        .prop_map(|(members, issuer)| {
            let mut m: Map<String, Value> = members.into_iter().collect();
            m.insert("issuer".into(), issuer);
            Value::Object(m).to_string().into_bytes()
        })
}

#[test]
fn discovery_parser_never_panics_and_checks_the_issuer() {
    let strategy = (
        prop_oneof![3 => Just(200u16), 1 => 100u16..600],
        prop_oneof![3 => Just(true), 1 => Just(false)],
        prop_oneof![1 => body(), 2 => metadata_body()],
    );
    let counts = run_counting(CASES, strategy, |(status, json, body)| {
        let resp = response(status, json, body.clone());
        match ServerMetadata::from_response(&resp, "https://op.example", &Limits::DEFAULT) {
            Ok(md) => {
                prop_assert_eq!(status, 200);
                prop_assert!(json);
                prop_assert_eq!(md.issuer.as_str(), "https://op.example");
                let sent: Map<String, Value> = serde_json::from_slice(&body).unwrap();
                for member in [
                    "token_endpoint",
                    "backchannel_authentication_endpoint",
                    "jwks_uri",
                ] {
                    prop_assert_eq!(
                        md.member_str(member),
                        sent.get(member).and_then(Value::as_str)
                    );
                }
                Ok(true)
            }
            Err(e @ (Error::Parse(_) | Error::Config(_))) => {
                check_error_text(&e)?;
                Ok(false)
            }
            Err(other) => Err(proptest::test_runner::TestCaseError::fail(format!(
                "unexpected error kind: {other:?}"
            ))),
        }
    });
    assert_both_branches(
        "discovery_parser_never_panics_and_checks_the_issuer",
        CASES,
        counts,
    );
}

/// What a generated JSON body is.
#[derive(Debug, Clone)]
enum Sent {
    /// Arbitrary bytes.
    Bytes,
    /// This object, serialized.
    Object(Map<String, Value>),
    /// An object that repeats a member.
    Repeated,
}

/// Bodies for the JSON object parser: arbitrary bytes, a serialized object, and an object
/// whose first member is written twice.
fn json_body() -> impl Strategy<Value = (Vec<u8>, Sent)> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| (b, Sent::Bytes)),
        object().prop_map(|m| (
            Value::Object(m.clone()).to_string().into_bytes(),
            Sent::Object(m)
        )),
        (object(), member_name(), member_value()).prop_map(|(m, name, value)| {
            let text = Value::Object(m).to_string();
            let inner = &text[1..text.len() - 1];
            let name = Value::from(name);
            let sep = if inner.is_empty() { "" } else { "," };
            let body = format!("{{{name}:{value},{name}:{value}{sep}{inner}}}");
            (body.into_bytes(), Sent::Repeated)
        }),
    ]
}

#[test]
fn body_parsers_never_panic() {
    let limits = Limits::DEFAULT;
    let strategy = (json_body(), prop::collection::vec(any::<u8>(), 0..300));
    let counts = run_counting(CASES, strategy, |((bytes, sent), form)| {
        if let Ok(pairs) = parse_form(&form, 256, 8) {
            prop_assert!(pairs.len() <= 8);
            prop_assert!(pairs.iter().all(|(_, v)| !v.is_empty()));
        }
        match parse_json_object(&bytes, &limits) {
            Ok(map) => {
                // Every member as written, none lost or added: what a plain JSON reader makes of
                // the same bytes (numbers included, whatever their rounding), and for a
                // serialized object, its members in its order.
                let plain: Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(&map, &plain);
                match &sent {
                    Sent::Object(m) => prop_assert!(map.keys().eq(m.keys())),
                    Sent::Repeated => prop_assert!(false, "a repeated member was accepted"),
                    Sent::Bytes => {}
                }
                Ok(true)
            }
            Err(e) => {
                match &sent {
                    Sent::Object(_) => {
                        prop_assert!(false, "a serialized object was refused: {}", e)
                    }
                    Sent::Repeated => prop_assert!(
                        matches!(e.kind, ParseErrorKind::DuplicateMember { .. }),
                        "{:?}",
                        e
                    ),
                    Sent::Bytes => {}
                }
                prop_assert!(e.raw.len() <= bytes.len());
                check_error_text(&e)?;
                Ok(false)
            }
        }
    });
    assert_both_branches("body_parsers_never_panic", CASES, counts);
}
