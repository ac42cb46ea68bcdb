//! Hostile input never panics: acknowledgement processing, OAuth error parsing, compact JWS
//! parsing and DPoP proof verification return `Ok` or a typed error for anything.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::MAX_ERROR_TEXT_CHARS;
use ciba_core::dpop::{DpopPolicy, nonce_from_response, verify_proof};
use ciba_core::jose::CompactJws;
use ciba_core::{AuthRequestAck, Error, Limits, OAuthError};
use proptest::prelude::*;
use serde_json::Value;
use url::Url;

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("text/html".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
        any::<String>().prop_map(Some),
    ]
}

/// Header values: mostly printable ASCII (so `http` accepts them), sometimes challenge-shaped.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,120}",
        "(Bearer|DPoP|Basic) ([a-z_]{1,10}=(\"[ -~]{0,20}\"|[A-Za-z0-9._~+/=-]{0,20}),? ?){0,4}",
        ".{0,40}",
    ]
}

/// Bodies that are sometimes almost right, so the member checks run, not only the JSON parser.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let member = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    let names = crate::support::names_or(
        &[
            "auth_req_id",
            "expires_in",
            "interval",
            "error",
            "error_description",
            "error_uri",
        ],
        "[a-z_]{1,12}",
    );
    let object = proptest::collection::vec((names, member), 0..6).prop_map(|members| {
        let mut s = String::from("{");
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&serde_json::to_string(k).unwrap());
            s.push(':');
            s.push_str(&v.to_string());
        }
        s.push('}');
        s.into_bytes()
    });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..256), object]
}

fn response(
    status: u16,
    ct: Option<String>,
    www_authenticate: Option<String>,
    nonce: Option<String>,
    body: Vec<u8>,
) -> Option<http::Response<Vec<u8>>> {
    let mut b = http::Response::builder().status(status);
    for (name, value) in [
        ("content-type", ct),
        ("www-authenticate", www_authenticate),
        ("dpop-nonce", nonce),
    ] {
        // A value `http` cannot carry is left out rather than skipping the whole case.
        if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
            b = b.header(name, v);
        }
    }
    b.body(body).ok()
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ack_processing_never_panics(
        status in 100u16..1000,
        ct in content_type(),
        www in proptest::option::of(header_text()),
        nonce in proptest::option::of(header_text()),
        body in body(),
        secs in any::<u64>(),
    ) {
        if let Some(r) = response(status, ct, www, nonce, body) {
            let now = UNIX_EPOCH.checked_add(Duration::from_secs(secs)).unwrap_or(UNIX_EPOCH);
            match AuthRequestAck::from_response(&r, now, &Limits::DEFAULT) {
                Ok(a) => {
                    prop_assert_eq!(status, 200);
                    prop_assert!(!a.auth_req_id.as_str().is_empty());
                    prop_assert!(a.expires_in > Duration::ZERO);
                    prop_assert!(a.interval > Duration::ZERO);
                }
                Err(Error::OAuth(e)) => prop_assert!(e.status.as_u16() >= 400),
                Err(Error::Parse(e)) => prop_assert!(e.raw.len() <= Limits::DEFAULT.max_body_bytes),
                Err(other) => prop_assert!(false, "unexpected error kind {other:?}"),
            }
            let _ = nonce_from_response(&r);
        }
    }

    #[test]
    fn oauth_error_parsing_never_panics(
        status in 100u16..1000,
        ct in content_type(),
        www in proptest::option::of(header_text()),
        body in body(),
    ) {
        if let Some(r) = response(status, ct, www, None, body)
            && let Ok(e) = OAuthError::from_response(&r, &Limits::DEFAULT)
        {
            prop_assert!(e.status.as_u16() >= 400);
            prop_assert!(!e.code.as_str().is_empty());
            for text in [&e.description, &e.uri].into_iter().flatten() {
                prop_assert!(!text.chars().any(char::is_control), "{text:?}");
                prop_assert!(text.chars().count() <= MAX_ERROR_TEXT_CHARS + 1);
            }
        }
    }

    #[test]
    fn compact_jws_parsing_never_panics(token in ".{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = CompactJws::parse(&token, &Limits::DEFAULT);
        let lossy = String::from_utf8_lossy(&bytes);
        if let Ok(jws) = CompactJws::parse(&lossy, &Limits::DEFAULT) {
            let _ = jws.claims(&Limits::DEFAULT);
        }
    }

    #[test]
    fn dpop_verification_of_arbitrary_text_never_panics(proof in ".{0,300}") {
        let _ = verify_proof(
            &proof,
            &http::Method::POST,
            &Url::parse("https://op.example/token").unwrap(),
            now(),
            &DpopPolicy::default(),
            Some("nonce"),
            Some("token"),
        );
    }

    #[test]
    fn dpop_verification_of_well_shaped_hostile_proofs_never_panics(
        alg in prop_oneof![Just("ES256".to_owned()), Just("RS256".to_owned()), Just("EdDSA".to_owned()), Just("HS256".to_owned()), Just("none".to_owned()), ".{0,8}"],
        typ in prop_oneof![Just(Value::from("dpop+jwt")), Just(Value::Null), any::<i64>().prop_map(Value::from)],
        kty in prop_oneof![Just("EC".to_owned()), Just("RSA".to_owned()), Just("OKP".to_owned()), Just("oct".to_owned()), ".{0,4}"],
        crv in prop_oneof![Just("P-256".to_owned()), Just("Ed25519".to_owned()), ".{0,6}"],
        coord in proptest::collection::vec(any::<u8>(), 0..70),
        with_d in any::<bool>(),
        iat in prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,12}".prop_map(Value::from),
        ],
        htu in ".{0,40}",
        sig in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let c = URL_SAFE_NO_PAD.encode(&coord);
        let mut jwk = serde_json::json!({"kty": kty, "crv": crv, "x": c, "y": c, "n": c, "e": "AQAB", "k": c});
        if with_d {
            jwk["d"] = Value::from(c.clone());
        }
        let header = serde_json::json!({"alg": alg, "typ": typ, "jwk": jwk});
        let claims = serde_json::json!({"jti": "j", "htm": "POST", "htu": htu, "iat": iat, "nonce": "nonce"});
        let proof = format!("{}.{}.{}", b64_json(&header), b64_json(&claims), URL_SAFE_NO_PAD.encode(&sig));
        let r = verify_proof(
            &proof,
            &http::Method::POST,
            &Url::parse("https://op.example/token").unwrap(),
            now(),
            &DpopPolicy::default(),
            Some("nonce"),
            None,
        );
        // Nobody but the key holder can produce a valid signature.
        prop_assert!(r.is_err());
    }
}
