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
use serde_json::{Map, Value, json};

use crate::support::{assert_both_branches, check_error_text, run_counting};
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

const CASES: u32 = 256;

/// Texts for the JWS parser: arbitrary text, lossy UTF-8 of arbitrary bytes, and
/// three base64url parts whose header is a JSON object, sometimes with one character replaced.
fn jws_text() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just(json!({"alg": "ES256"})),
        Just(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
        Just(json!({"alg": "none"})),
        Just(json!({"alg": "ES256", "crit": ["exp"]})),
        Just(json!({"alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}})),
        Just(json!({"alg": "ES256", "jwk": "not a key"})),
        Just(json!({"alg": 7})),
        Just(json!({"typ": "JWT"})),
        Just(json!(["alg"])),
    ];
    let shaped = (
        header,
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..96),
        0u8..4,
        any::<proptest::sample::Index>(),
        any::<char>(),
    )
        .prop_map(|(h, payload, sig, edit, at, ch)| {
            let token = format!(
                "{}.{}.{}",
                b64_json(&h),
                URL_SAFE_NO_PAD.encode(payload),
                URL_SAFE_NO_PAD.encode(sig)
            );
            if edit > 0 {
                return token;
            }
            let mut chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            chars[i] = ch;
            chars.into_iter().collect()
        });
    prop_oneof![
        1 => ".{0,300}",
        1 => proptest::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        3 => shaped,
    ]
}

#[test]
fn compact_jws_parsing_never_panics() {
    let limits = Limits::DEFAULT;
    let counts = run_counting(CASES, jws_text(), |token| {
        match CompactJws::parse(&token, &limits) {
            Ok(jws) => {
                // The decoded parts re-encode to the input, and the header is what was sent.
                prop_assert!(token.len() <= limits.max_jwt_bytes);
                let rejoined = format!(
                    "{}.{}",
                    String::from_utf8(jws.signing_input().to_vec()).unwrap(),
                    URL_SAFE_NO_PAD.encode(&jws.signature)
                );
                prop_assert_eq!(&rejoined, &token);
                let mut parts = token.split('.');
                let (h, p) = (parts.next().unwrap(), parts.next().unwrap());
                prop_assert_eq!(URL_SAFE_NO_PAD.encode(&jws.payload), p);
                let raw: Map<String, Value> =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
                prop_assert_eq!(&jws.header.raw, &raw);
                prop_assert_eq!(raw.get("alg"), Some(&Value::from(jws.header.alg.as_str())));
                prop_assert!(!raw.contains_key("crit"));
                prop_assert_eq!(jws.header.jwk.is_some(), raw.contains_key("jwk"));
                if let Err(e) = jws.claims(&limits) {
                    check_error_text(&e)?;
                }
                Ok(true)
            }
            Err(e) => {
                check_error_text(&e)?;
                Ok(false)
            }
        }
    });
    assert_both_branches("compact_jws_parsing_never_panics", CASES, counts);
}

/// What a generated DPoP proof was made with, and whether `verify_proof` must accept it.
#[derive(Debug, Clone)]
struct ProofCase {
    proof: String,
    iat: i64,
    /// The proof was signed for the expected method, URI, nonce and token, within the window,
    /// and left untouched.
    sound: bool,
}

/// Texts for DPoP verification: arbitrary text, and proofs signed by a client key with the
/// right or a wrong method, URI, nonce or access token and an `iat` in or out of the window,
/// sometimes with one character replaced.
fn dpop_text() -> impl Strategy<Value = ProofCase> {
    // Half the signed proofs are made right (within the window, untouched), so that the
    // accepting branch is reached as often as the refusing one.
    let right = (
        -300i64..=30,
        any::<proptest::sample::Index>(),
        any::<char>(),
    )
        .prop_map(|(offset, at, ch)| signed_proof((true, true, offset), (0, 0), (1, at, ch)));
    let any_proof = (
        (any::<bool>(), any::<bool>(), -400i64..100),
        (0u8..3, 0u8..3),
        (0u8..4, any::<proptest::sample::Index>(), any::<char>()),
    )
        .prop_map(|(request, claims, edit)| signed_proof(request, claims, edit));
    prop_oneof![
        1 => ".{0,300}".prop_map(|proof| ProofCase { proof, iat: 0, sound: false }),
        1 => right,
        1 => any_proof,
    ]
}

/// A proof for a POST (or a GET) to the token endpoint (or another URI), `offset` seconds
/// from `now()`; nonce and access token 0 right, 1 wrong, 2 absent; `edit` 0 replaces the
/// character at `at` with `ch` (or `~`).
fn signed_proof(
    (post, right_uri, offset): (bool, bool, i64),
    (nonce, token): (u8, u8),
    (edit, at, ch): (u8, proptest::sample::Index, char),
) -> ProofCase {
    let key = ciba_core::DpopKey::from_signer(ciba_test::keys::signer("es256")).unwrap();
    let uri = if right_uri {
        "https://op.example/token?q=1"
    } else {
        "https://op.example/other"
    };
    let method = if post {
        http::Method::POST
    } else {
        http::Method::GET
    };
    let iat = 1_700_000_000 + offset;
    let pick = |i: u8, good: &'static str| match i {
        0 => Some(good),
        1 => Some("other"),
        _ => None,
    };
    let mut proof = key
        .proof(
            &method,
            &Url::parse(uri).unwrap(),
            UNIX_EPOCH + Duration::from_secs(iat.unsigned_abs()),
            &ciba_test::random::Counter::new(1),
            pick(nonce, "nonce"),
            pick(token, "token"),
        )
        .unwrap();
    if edit == 0 {
        let mut chars: Vec<char> = proof.chars().collect();
        let i = at.index(chars.len());
        chars[i] = if chars[i] == ch { '~' } else { ch };
        proof = chars.into_iter().collect();
    }
    let in_window = (-300..=30).contains(&offset);
    ProofCase {
        proof,
        iat,
        sound: post && right_uri && in_window && nonce == 0 && token == 0 && edit > 0,
    }
}

#[test]
fn dpop_verification_of_arbitrary_text_never_panics() {
    let key = ciba_core::DpopKey::from_signer(ciba_test::keys::signer("es256")).unwrap();
    let counts = run_counting(CASES, dpop_text(), |case| {
        let outcome = verify_proof(
            &case.proof,
            &http::Method::POST,
            &Url::parse("https://op.example/token").unwrap(),
            now(),
            &DpopPolicy::default(),
            Some("nonce"),
            Some("token"),
        );
        match outcome {
            Ok(v) => {
                prop_assert!(case.sound, "an unsound proof was accepted: {:?}", case);
                prop_assert_eq!(v.jkt.as_str(), key.thumbprint());
                prop_assert_eq!(
                    v.iat,
                    UNIX_EPOCH + Duration::from_secs(case.iat.unsigned_abs())
                );
                prop_assert_eq!(v.nonce.as_deref(), Some("nonce"));
                prop_assert_eq!(v.alg, ciba_core::jose::JwsAlgorithm::ES256);
                prop_assert!(!v.jti.is_empty());
                Ok(true)
            }
            Err(e) => {
                prop_assert!(!case.sound, "a sound proof was refused: {}", e);
                check_error_text(&e)?;
                Ok(false)
            }
        }
    });
    assert_both_branches(
        "dpop_verification_of_arbitrary_text_never_panics",
        CASES,
        counts,
    );
}
