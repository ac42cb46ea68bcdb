//! Tests of the items of `src/jose/jwk.rs`, one by one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::__internals::decoding_key;
use ciba_core::Limits;
use ciba_core::jose::{JoseError, Jwk, JwkSet, JwsAlgorithm, Zeroizing};

#[test]
fn rfc7638_thumbprint_example() {
    let jwk = Jwk::from_json(br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
    assert_eq!(
        jwk.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn debug_never_prints_private_members() {
    let jwk = Jwk {
        kty: "oct".into(),
        k: Some(String::from("c2VjcmV0LXNlY3JldA").into()),
        ..Jwk::default()
    };
    let s = format!("{jwk:?}");
    assert!(!s.contains("c2VjcmV0"));
    assert!(s.contains("private: true"));
}

#[test]
fn an_rsa_key_cannot_become_an_hmac_secret() {
    let jwk = Jwk {
        kty: "RSA".into(),
        n: Some("AQAB".into()),
        e: Some("AQAB".into()),
        ..Jwk::default()
    };
    assert!(matches!(
        decoding_key(&jwk, JwsAlgorithm::HS256),
        Err(JoseError::KeyMismatch { .. })
    ));
}

#[test]
fn jwks_key_count_is_bounded() {
    let limits = Limits::DEFAULT.with_max_jwks_keys(1);
    let body = br#"{"keys":[{"kty":"oct","k":"AA"},{"kty":"oct","k":"AA"}]}"#;
    assert!(JwkSet::from_json(body, &limits).is_err());
    assert_eq!(
        JwkSet::from_json(body, &Limits::DEFAULT)
            .unwrap()
            .keys
            .len(),
        2
    );
}

#[test]
fn jwks_key_count_limit_is_inclusive() {
    let body = br#"{"keys":[{"kty":"oct","k":"AA"},{"kty":"oct","k":"AA"}]}"#;
    let at_limit = Limits::DEFAULT.with_max_jwks_keys(2);
    assert_eq!(JwkSet::from_json(body, &at_limit).unwrap().keys.len(), 2);
    let below = Limits::DEFAULT.with_max_jwks_keys(1);
    let e = JwkSet::from_json(body, &below).unwrap_err();
    assert_eq!(
        e.kind,
        ciba_core::ParseErrorKind::InvalidMember {
            member: "keys",
            reason: "more keys than the configured limit",
        }
    );
}

fn b64_of(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn private_of_every_kind() -> Jwk {
    let secret = |s: &str| Some(Zeroizing::new(s.to_owned()));
    Jwk {
        kty: "RSA".into(),
        kid: Some("k1".into()),
        alg: Some("RS256".into()),
        n: Some("bW9kdWx1cw".into()),
        e: Some("AQAB".into()),
        d: secret("ZA"),
        p: secret("cA"),
        q: secret("cQ"),
        dp: secret("ZHA"),
        dq: secret("ZHE"),
        qi: secret("cWk"),
        k: secret("aw"),
        ..Jwk::default()
    }
}

#[test]
fn to_public_removes_every_private_member_and_keeps_the_rest() {
    let private = private_of_every_kind();
    assert!(private.is_private());
    let public = private.to_public();
    assert!(!public.is_private());
    for (name, member) in [
        ("d", &public.d),
        ("p", &public.p),
        ("q", &public.q),
        ("dp", &public.dp),
        ("dq", &public.dq),
        ("qi", &public.qi),
        ("k", &public.k),
    ] {
        assert!(member.is_none(), "{name} survived to_public");
    }
    assert_eq!(public.kid.as_deref(), Some("k1"));
    assert_eq!(public.n, private.n);
    assert_eq!(public.e, private.e);
    let json = serde_json::to_value(&public).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kty":"RSA","kid":"k1","alg":"RS256","n":"bW9kdWx1cw","e":"AQAB"})
    );
    // An oct key is nothing but its secret: its public form has no `k`.
    let oct = Jwk {
        kty: "oct".into(),
        k: Some(String::from("c2VjcmV0").into()),
        ..Jwk::default()
    };
    assert_eq!(
        serde_json::to_value(oct.to_public()).unwrap(),
        serde_json::json!({"kty":"oct"})
    );
}

#[test]
fn a_sets_public_form_keeps_every_key_without_private_members() {
    let set = JwkSet {
        keys: vec![
            private_of_every_kind(),
            Jwk {
                kty: "EC".into(),
                kid: Some("k2".into()),
                crv: Some("P-256".into()),
                x: Some("eA".into()),
                y: Some("eQ".into()),
                d: Some(String::from("ZA").into()),
                ..Jwk::default()
            },
        ],
    };
    let public = set.to_public();
    assert_eq!(public.keys.len(), 2);
    assert!(public.keys.iter().all(|k| !k.is_private()));
    assert_eq!(public.keys[0], set.keys[0].to_public());
    assert_eq!(public.keys[1].kid.as_deref(), Some("k2"));
    assert_eq!(public.keys[1].x.as_deref(), Some("eA"));
}

fn ec(crv: &str) -> Jwk {
    Jwk {
        kty: "EC".into(),
        crv: Some(crv.into()),
        ..Jwk::default()
    }
}

fn okp(crv: &str) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: Some(crv.into()),
        ..Jwk::default()
    }
}

fn curve_refused(key: &Jwk, alg: JwsAlgorithm) -> bool {
    key.check_usable(alg, false)
        == Err(JoseError::KeyMismatch {
            alg,
            reason: "curve does not match the algorithm",
        })
}

#[test]
fn each_curve_serves_only_its_own_algorithm() {
    use JwsAlgorithm::{ES256, ES384, EdDSA};
    assert_eq!(ec("P-256").check_usable(ES256, false), Ok(()));
    assert_eq!(ec("P-384").check_usable(ES384, false), Ok(()));
    assert_eq!(okp("Ed25519").check_usable(EdDSA, false), Ok(()));
    assert!(curve_refused(&ec("P-384"), ES256));
    assert!(curve_refused(&ec("P-521"), ES256));
    assert!(curve_refused(&ec("P-256"), ES384));
    assert!(curve_refused(&ec("secp256k1"), ES384));
    assert!(curve_refused(&okp("Ed448"), EdDSA));
    assert!(curve_refused(&okp("X25519"), EdDSA));
    // No curve at all is no match either.
    let no_curve = |kty: &str| Jwk {
        kty: kty.into(),
        ..Jwk::default()
    };
    assert!(curve_refused(&no_curve("EC"), ES256));
    assert!(curve_refused(&no_curve("OKP"), EdDSA));
}

#[test]
fn key_ops_must_name_the_operation() {
    let with_ops = |ops: &[&str]| Jwk {
        key_ops: Some(ops.iter().map(|o| (*o).to_owned()).collect()),
        ..ec("P-256")
    };
    let refused = |alg| {
        Err(JoseError::KeyMismatch {
            alg,
            reason: "key_ops do not allow this operation",
        })
    };
    let alg = JwsAlgorithm::ES256;
    assert_eq!(with_ops(&["verify"]).check_usable(alg, false), Ok(()));
    assert_eq!(with_ops(&["verify"]).check_usable(alg, true), refused(alg));
    assert_eq!(with_ops(&["sign"]).check_usable(alg, true), Ok(()));
    assert_eq!(with_ops(&["sign"]).check_usable(alg, false), refused(alg));
    assert_eq!(
        with_ops(&["sign", "verify"]).check_usable(alg, false),
        Ok(())
    );
    assert_eq!(
        with_ops(&["sign", "verify"]).check_usable(alg, true),
        Ok(())
    );
    assert_eq!(with_ops(&[]).check_usable(alg, false), refused(alg));
    assert_eq!(with_ops(&["encrypt"]).check_usable(alg, true), refused(alg));
    // Without key_ops, both operations are allowed.
    assert_eq!(ec("P-256").check_usable(alg, false), Ok(()));
    assert_eq!(ec("P-256").check_usable(alg, true), Ok(()));
}

fn rsa_of(modulus_bytes: usize) -> Jwk {
    let mut n = vec![0x5Au8; modulus_bytes];
    if let Some(first) = n.first_mut() {
        *first = 0xC3;
    }
    Jwk {
        kty: "RSA".into(),
        n: Some(b64_of(&n)),
        e: Some("AQAB".into()),
        ..Jwk::default()
    }
}

#[test]
fn rsa_keys_need_at_least_2048_bits() {
    let short = Some(JoseError::InvalidKey {
        reason: "RSA modulus shorter than 2048 bits",
    });
    for bytes in [128, 255] {
        assert_eq!(
            decoding_key(&rsa_of(bytes), JwsAlgorithm::RS256).err(),
            short,
            "{bytes}-byte modulus"
        );
    }
    for bytes in [256, 384, 512] {
        assert!(
            decoding_key(&rsa_of(bytes), JwsAlgorithm::PS256).is_ok(),
            "{bytes}-byte modulus"
        );
    }
}

fn ec_with(crv: &str, x_len: usize, y_len: usize) -> Jwk {
    Jwk {
        x: Some(b64_of(&vec![1u8; x_len])),
        y: Some(b64_of(&vec![2u8; y_len])),
        ..ec(crv)
    }
}

#[test]
fn ec_coordinates_must_both_have_the_curves_length() {
    let wrong = Some(JoseError::InvalidKey {
        reason: "EC coordinates have the wrong length",
    });
    for (alg, crv, good, bad) in [
        (JwsAlgorithm::ES256, "P-256", 32, 48),
        (JwsAlgorithm::ES384, "P-384", 48, 32),
    ] {
        for (x, y) in [
            (good, bad),
            (bad, good),
            (bad, bad),
            (good, good + 1),
            (good - 1, good),
        ] {
            assert_eq!(
                decoding_key(&ec_with(crv, x, y), alg).err(),
                wrong,
                "{alg}: x {x} bytes, y {y} bytes"
            );
        }
    }
}
