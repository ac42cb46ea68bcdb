//! Property: the parsers of documents and headers the client reads before any flow starts
//! (discovery metadata, JWK Sets, `WWW-Authenticate` challenges) and the shared body parsers
//! answer arbitrary input with a value or a typed error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use ciba_core::jose::JwkSet;
use ciba_core::wire::parse_challenges;
use ciba_core::wire::{parse_form, parse_json_object};
use ciba_core::{Error, Limits, ServerMetadata};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

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
    fn discovery_parser_never_panics_and_checks_the_issuer(
        status in prop_oneof![Just(200u16), 100u16..600],
        json in any::<bool>(),
        body in body(),
    ) {
        let resp = response(status, json, body);
        match ServerMetadata::from_response(&resp, "https://op.example", &Limits::DEFAULT) {
            Ok(md) => prop_assert_eq!(md.issuer, "https://op.example"),
            Err(Error::Parse(_) | Error::Config(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error kind: {other:?}"),
        }
    }

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

    #[test]
    fn body_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_json_object(&bytes, &Limits::DEFAULT);
        if let Ok(pairs) = parse_form(&bytes, 256, 8) {
            prop_assert!(pairs.len() <= 8);
            prop_assert!(pairs.iter().all(|(_, v)| !v.is_empty()));
        }
    }
}
