//! ID tokens: header tricks, algorithm confusion, keys the header supplies, claim types
//! and sizes (OIDC Core 3.1.3.7, RFC 7515, RFC 8725).

use super::*;

/// Each row's header members on an ID token the OP signed, accepted (the members are
/// ignored) or refused as the row says.
fn headers_on_an_op_token(rows: &[(&str, Value, bool)]) {
    for (row, header, ok) in rows {
        let token = signed_with_header(header.clone(), &claims(t0()));
        assert_eq!(
            validate(&token).is_ok(),
            *ok,
            "{row}: {:?}",
            validate(&token)
        );
    }
}

/// Each row sets one claim of a sound ID token to a value of the wrong type or size: every
/// such token is refused, while the sound one is accepted.
fn refuses_claims(rows: &[(&str, &str, Value)]) {
    let sound = claims(t0());
    assert!(validate(&sign(&sound, &signer("es256"))).is_ok(), "control");
    for (row, name, value) in rows {
        let mut c = sound.clone();
        c.insert((*name).into(), value.clone());
        let token = sign(&c, &signer("es256"));
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
}

#[test]
fn id_token_header_tricks_are_ignored_or_refused() {
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
    headers_on_an_op_token(rows);
}

#[test]
fn id_token_claims_of_the_wrong_type_or_size_are_refused() {
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
    refuses_claims(rows);
}

#[test]
fn alg_confusion_with_the_op_public_key_as_hmac_secret_is_refused() {
    // RFC 8725 2.1 / 3.1 and OIDC Core 3.1.3.7 steps 7 and 8 (checklist 2.7 #7, #8): an
    // RS256 key of the OP must never verify an HS* token, whatever form of the public key the
    // attacker uses as the HMAC secret and whatever kid it names.
    use ciba_core::jose::{AlgorithmPolicy, HmacSigner, JwsAlgorithm};
    use ciba_core::{ClientSecret, jose::Signer};
    let public = key("rs256").to_public();
    let n_text = public.n.clone().unwrap();
    let n_bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&n_text)
            .unwrap()
    };
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("public JWK as JSON", serde_json::to_vec(&public).unwrap()),
        ("n as base64url text", n_text.clone().into_bytes()),
        ("n as bytes", n_bytes),
        ("JWK Set as JSON", serde_json::to_vec(&op_jwks()).unwrap()),
    ];
    let client_secret = ClientSecret::new("the-real-client-secret-of-32-bytes!!");
    let validators = [
        ("default", validator(&client(DeliveryMode::Poll))),
        (
            "registered RS256",
            validator(&client(DeliveryMode::Poll)).registered_alg(JwsAlgorithm::RS256),
        ),
        (
            "every algorithm listed",
            validator(&client(DeliveryMode::Poll))
                .algorithms(AlgorithmPolicy::only(JwsAlgorithm::ALL)),
        ),
        (
            "HS256 registered with the client secret",
            validator(&client(DeliveryMode::Poll))
                .registered_alg(JwsAlgorithm::HS256)
                .hmac_secret(client_secret.clone()),
        ),
    ];
    // Control: an HS256 token over the registered client secret is accepted by the validator
    // that registered it, so the refusals below are about the key, not the construction.
    let genuine = sign(
        &claims(t0()),
        &HmacSigner::new(JwsAlgorithm::HS256, client_secret.expose().as_bytes()).unwrap(),
    );
    assert!(
        validators[3]
            .1
            .validate(&genuine, &IdTokenContext::standalone(), t0())
            .is_ok()
    );
    for (form, secret) in &secrets {
        for alg in [
            JwsAlgorithm::HS256,
            JwsAlgorithm::HS384,
            JwsAlgorithm::HS512,
        ] {
            let hmac = HmacSigner::new(alg, secret).unwrap();
            for kid in [json!("rsa-1"), Value::Null] {
                let mut header = Map::new();
                if !kid.is_null() {
                    header.insert("kid".into(), kid.clone());
                }
                let forged = sign_compact(header, &claims(t0()), &hmac).unwrap();
                for (name, v) in &validators {
                    let r = v.validate(&forged, &IdTokenContext::standalone(), t0());
                    assert!(
                        r.is_err(),
                        "{} with {form} (kid {kid}) accepted by the {name} validator",
                        hmac.algorithm().as_str()
                    );
                }
            }
        }
    }
}

#[test]
fn id_tokens_signed_by_a_key_the_header_supplies_are_refused() {
    // RFC 7515 4.1.3-4.1.6 and OIDC Core 10.1 (checklist 2.7 #6, #7): the verification key
    // comes only from the OP's JWK Set; a jwk, jku, x5u or x5c header naming the attacker's
    // key changes nothing, and a kid never resolves outside the set.
    let attacker = key("attacker_rs256");
    let attacker_signer = ciba_core::jose::JwkSigner::from_jwk(&attacker, None).unwrap();
    let attacker_jwk = serde_json::to_value(attacker.to_public()).unwrap();
    let c = claims(t0());
    let rows: &[(&str, Value)] = &[
        ("embedded jwk", json!({"jwk": attacker_jwk})),
        (
            "embedded jwk, no kid",
            json!({"jwk": attacker_jwk, "kid": Value::Null}),
        ),
        (
            "jku to the attacker's set",
            json!({"jku": "https://attacker.example/jwks"}),
        ),
        (
            "x5u to the attacker's certificate",
            json!({"x5u": "https://attacker.example/cert.pem"}),
        ),
        ("x5c chain", json!({"x5c": ["MIIBattacker"]})),
        // The OP's RS256 kid with the attacker's key: the OP's key decides, and fails.
        ("OP kid", json!({"kid": "rsa-1"})),
        ("kid of another OP key", json!({"kid": "ec-1"})),
        ("empty kid", json!({"kid": ""})),
        ("kid as number", json!({"kid": 1})),
        ("kid as array", json!({"kid": ["rsa-1"]})),
        (
            "kid with a URL",
            json!({"kid": "https://attacker.example/jwks#rsa-1"}),
        ),
        ("kid with NUL", json!({"kid": "rsa-1\u{0}"})),
    ];
    for (row, header) in rows {
        let Value::Object(mut h) = header.clone() else {
            unreachable!()
        };
        h.retain(|_, v| !v.is_null());
        let token = sign_compact(h, &c, &attacker_signer).unwrap();
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
    // The same tricks on a token the OP did sign: the header is ignored (and a kid naming
    // another OP key of another algorithm is refused, never tried with the wrong key).
    let ok_rows: &[(&str, Value, bool)] = &[
        (
            "embedded jwk of the attacker",
            json!({"jwk": attacker_jwk}),
            true,
        ),
        ("jku", json!({"jku": "https://attacker.example/jwks"}), true),
        (
            "kid of the OP's RSA key on an ES256 token",
            json!({"kid": "rsa-1"}),
            false,
        ),
    ];
    headers_on_an_op_token(ok_rows);
}

#[test]
fn alg_header_tricks_are_refused() {
    // RFC 7515 4.1.1 (alg is case-sensitive), RFC 8725 3.1/3.2, OIDC Core 3.1.3.7 step 7
    // (checklist 2.7 #7, #15): none in any spelling, unknown or mistyped algorithms, crit
    // extensions (even empty), and duplicate header members are refused.
    use base64::Engine as _;
    use ciba_core::jose::Signer as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(serde_json::to_vec(&claims(t0())).unwrap());
    let es = signer("es256");
    let rows: &[(&str, &str)] = &[
        ("none", r#"{"alg":"none"}"#),
        ("None", r#"{"alg":"None"}"#),
        ("NONE", r#"{"alg":"NONE"}"#),
        ("lowercase es256", r#"{"alg":"es256","kid":"ec-1"}"#),
        ("alg missing", r#"{"kid":"ec-1"}"#),
        ("alg null", r#"{"alg":null,"kid":"ec-1"}"#),
        ("alg array", r#"{"alg":["ES256"],"kid":"ec-1"}"#),
        ("alg unknown", r#"{"alg":"ES256K","kid":"ec-1"}"#),
        (
            "duplicate alg",
            r#"{"alg":"ES256","alg":"none","kid":"ec-1"}"#,
        ),
        (
            "duplicate alg, none first",
            r#"{"alg":"none","alg":"ES256","kid":"ec-1"}"#,
        ),
        (
            "duplicate kid",
            r#"{"alg":"ES256","kid":"ec-1","kid":"rsa-1"}"#,
        ),
        ("empty crit", r#"{"alg":"ES256","kid":"ec-1","crit":[]}"#),
        (
            "crit b64",
            r#"{"alg":"ES256","kid":"ec-1","crit":["b64"],"b64":false}"#,
        ),
        ("header not an object", r#"["ES256"]"#),
    ];
    // Control: the same construction with a sound header is accepted.
    let input = format!(
        "{}.{payload}",
        b64.encode(r#"{"alg":"ES256","kid":"ec-1"}"#)
    );
    let sig = es.sign(input.as_bytes()).unwrap();
    assert!(validate(&format!("{input}.{}", b64.encode(sig))).is_ok());
    for (row, header) in rows {
        let input = format!("{}.{payload}", b64.encode(header));
        let sig = es.sign(input.as_bytes()).unwrap();
        let token = format!("{input}.{}", b64.encode(sig));
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
}

#[test]
fn huge_numbers_in_id_token_claims_are_refused_without_overflow() {
    // RFC 7519 2 (NumericDate), OIDC Core 3.1.3.7 steps 9, 10, 13 (checklist 2.7 #9, #10,
    // #13): values beyond any clock are refused (or, for a far-future exp, bounded by the
    // iat window), never wrapped into the past.
    let rows: &[(&str, &str, Value)] = &[
        ("iat u64::MAX", "iat", json!(u64::MAX)),
        ("iat i64::MAX", "iat", json!(i64::MAX)),
        ("iat i64::MIN", "iat", json!(i64::MIN)),
        ("exp i64::MIN", "exp", json!(i64::MIN)),
        ("exp 2^64", "exp", json!(18_446_744_073_709_551_616.0_f64)),
        ("nbf u64::MAX", "nbf", json!(u64::MAX)),
        ("nbf 1e300", "nbf", json!(1e300)),
        ("auth_time 1e300", "auth_time", json!(1e300)),
        ("auth_time u64::MAX", "auth_time", json!(u64::MAX)),
        ("exp as bool", "exp", json!(true)),
        ("exp as null", "exp", Value::Null),
        ("iat as array", "iat", json!([unix(t0())])),
        ("nbf as string", "nbf", json!("0")),
        ("azp as number", "azp", json!(1)),
        ("acr as number", "acr", json!(1)),
        (
            "auth_req_id claim as number",
            ciba_core::id_token::AUTH_REQ_ID_CLAIM,
            json!(1),
        ),
        (
            "rt_hash as number",
            ciba_core::id_token::RT_HASH_CLAIM,
            json!(1),
        ),
    ];
    refuses_claims(rows);
}
