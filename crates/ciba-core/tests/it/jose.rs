//! Signing and verification across every supported algorithm, and the attacks an allow-list
//! and strict key selection must stop.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{
    AlgorithmPolicy, CompactJws, HmacSigner, JoseError, Jwk, JwkSet, JwkSigner, JwsAlgorithm,
    Signer, jws::sign_compact,
};
use ciba_core::{Limits, ParseErrorKind};
use serde_json::{Map, Value, json};

use ciba_test::keys::jwk as key;

fn claims() -> Map<String, Value> {
    json!({"iss": "https://op.example", "sub": "alice"})
        .as_object()
        .unwrap()
        .clone()
}

fn set_of(jwks: &[&Jwk]) -> JwkSet {
    JwkSet {
        keys: jwks.iter().map(|k| k.to_public()).collect(),
    }
}

/// The standard claims, signed by `jwk` (its own algorithm).
fn signed_by(jwk: &Jwk) -> String {
    sign_compact(
        Map::new(),
        &claims(),
        &JwkSigner::from_jwk(jwk, None).unwrap(),
    )
    .unwrap()
}

/// `token` (a well-formed JWS) verified against `keys` under `policy`.
fn verified(
    token: &str,
    keys: &[&Jwk],
    policy: &AlgorithmPolicy,
) -> Result<JwsAlgorithm, JoseError> {
    let jws = CompactJws::parse(token, &Limits::DEFAULT).unwrap();
    verify_with_set(&jws, &set_of(keys), policy)
}

#[test]
fn every_asymmetric_algorithm_signs_and_verifies() {
    for name in ["rs256", "ps256", "es256", "es384", "eddsa"] {
        let jwk = key(name);
        let signer = JwkSigner::from_jwk(&jwk, None).unwrap();
        let token = sign_compact(Map::new(), &claims(), &signer).unwrap();
        let jws = CompactJws::parse(&token, &Limits::DEFAULT).unwrap();
        let alg = verify_with_set(&jws, &set_of(&[&jwk]), &AlgorithmPolicy::default()).unwrap();
        assert_eq!(alg, signer.algorithm(), "{name}");
        assert_eq!(jws.claims(&Limits::DEFAULT).unwrap(), claims());
    }
}

#[test]
fn rsa_keys_also_sign_rs384_and_ps512() {
    let jwk = Jwk {
        alg: None,
        ..key("rs256")
    };
    for alg in [JwsAlgorithm::RS384, JwsAlgorithm::PS512] {
        let signer = JwkSigner::from_jwk(&jwk, Some(alg)).unwrap();
        let token = sign_compact(Map::new(), &claims(), &signer).unwrap();
        let jws = CompactJws::parse(&token, &Limits::DEFAULT).unwrap();
        assert_eq!(
            verify_with_set(&jws, &set_of(&[&jwk]), &AlgorithmPolicy::default()).unwrap(),
            alg
        );
    }
}

#[test]
fn alg_none_is_rejected() {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"ec-1"}"#);
    let p = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice"}"#);
    let jws = CompactJws::parse(&format!("{h}.{p}."), &Limits::DEFAULT).unwrap();
    let err =
        verify_with_set(&jws, &set_of(&[&key("es256")]), &AlgorithmPolicy::default()).unwrap_err();
    assert!(matches!(err, JoseError::AlgorithmNotAllowed { .. }));
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    // The classic confusion attack: HMAC keyed with the RSA public key's bytes.
    let public = key("rs256").to_public();
    let secret = serde_json::to_vec(&public).unwrap();
    let forged = sign_compact(
        Map::new(),
        &claims(),
        &HmacSigner::new(JwsAlgorithm::HS256, &secret).unwrap(),
    )
    .unwrap();
    let jws = CompactJws::parse(&forged, &Limits::DEFAULT).unwrap();
    // Even a policy that lists HS256 refuses HMAC against a JWK Set.
    let lax = AlgorithmPolicy::only(JwsAlgorithm::ALL);
    let err = verify_with_set(&jws, &set_of(&[&public]), &lax).unwrap_err();
    assert!(matches!(err, JoseError::AlgorithmNotAllowed { .. }));
    let err = verify_with_set(&jws, &set_of(&[&public]), &AlgorithmPolicy::default()).unwrap_err();
    assert!(matches!(err, JoseError::AlgorithmNotAllowed { .. }));
}

#[test]
fn tampered_signature_is_rejected() {
    let jwk = key("es256");
    let signer = JwkSigner::from_jwk(&jwk, None).unwrap();
    let token = sign_compact(Map::new(), &claims(), &signer).unwrap();
    let (input, _) = token.rsplit_once('.').unwrap();
    let other = sign_compact(
        Map::new(),
        &json!({"sub": "mallory"}).as_object().unwrap().clone(),
        &signer,
    )
    .unwrap();
    let other_sig = other.rsplit_once('.').unwrap().1;
    let jws = CompactJws::parse(&format!("{input}.{other_sig}"), &Limits::DEFAULT).unwrap();
    let err = verify_with_set(&jws, &set_of(&[&jwk]), &AlgorithmPolicy::default()).unwrap_err();
    assert_eq!(err, JoseError::BadSignature);
}

#[test]
fn tampered_payload_is_rejected() {
    let jwk = key("rs256");
    let token = signed_by(&jwk);
    let mut parts: Vec<&str> = token.split('.').collect();
    let evil = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://op.example","sub":"mallory"}"#);
    parts[1] = &evil;
    let jws = CompactJws::parse(&parts.join("."), &Limits::DEFAULT).unwrap();
    let err = verify_with_set(&jws, &set_of(&[&jwk]), &AlgorithmPolicy::default()).unwrap_err();
    assert_eq!(err, JoseError::BadSignature);
}

#[test]
fn a_key_with_the_right_kid_but_from_another_party_fails() {
    let good = key("rs256");
    let attacker = key("attacker_rs256"); // same kid "rsa-1"
    let token = signed_by(&attacker);
    let err = verified(&token, &[&good], &AlgorithmPolicy::default()).unwrap_err();
    assert_eq!(err, JoseError::BadSignature);
}

#[test]
fn algorithm_outside_the_policy_is_rejected() {
    let jwk = key("rs256");
    let token = signed_by(&jwk);
    let policy = AlgorithmPolicy::only([JwsAlgorithm::ES256]);
    let err = verified(&token, &[&jwk], &policy).unwrap_err();
    assert!(matches!(err, JoseError::AlgorithmNotAllowed { .. }));
}

#[test]
fn embedded_jwk_header_is_never_trusted_for_ordinary_tokens() {
    // Signed by the attacker, who embeds their own key in the header.
    let attacker = key("attacker_rs256");
    let token = sign_compact(
        crate::support::embedding_key(&attacker),
        &claims(),
        &JwkSigner::from_jwk(&attacker, None).unwrap(),
    )
    .unwrap();
    let jws = CompactJws::parse(&token, &Limits::DEFAULT).unwrap();
    let err =
        verify_with_set(&jws, &set_of(&[&key("rs256")]), &AlgorithmPolicy::default()).unwrap_err();
    assert_eq!(err, JoseError::BadSignature);
}

#[test]
fn no_kid_with_two_candidate_keys_is_ambiguous() {
    let a = key("es256");
    let b = Jwk {
        kid: Some("other".into()),
        ..a.clone()
    };
    let signer = JwkSigner::from_jwk(
        &Jwk {
            kid: None,
            ..a.clone()
        },
        None,
    )
    .unwrap();
    let token = sign_compact(Map::new(), &claims(), &signer).unwrap();
    let jws = CompactJws::parse(&token, &Limits::DEFAULT).unwrap();
    let err = verify_with_set(&jws, &set_of(&[&a, &b]), &AlgorithmPolicy::default()).unwrap_err();
    assert!(matches!(err, JoseError::AmbiguousKey { .. }));
}

#[test]
fn mismatched_private_and_public_members_are_refused() {
    let mut jwk = key("es256");
    jwk.x = key("es256").y.clone();
    assert!(JwkSigner::from_jwk(&jwk, None).is_err());
}

#[test]
fn generated_ed25519_keys_sign() {
    let fixed = ciba_test::random::Constant(42);
    let signer = JwkSigner::generate_ed25519(&fixed, Some("gen".into())).unwrap();
    let public = signer.public_jwk().unwrap();
    assert!(!public.is_private());
    assert_eq!(signer.key_id(), Some("gen"));
    assert_eq!(public.kid.as_deref(), Some("gen"));
    let token = sign_compact(Map::new(), &claims(), &signer).unwrap();
    let jws = CompactJws::parse(&token, &Limits::DEFAULT).unwrap();
    verify_with_set(
        &jws,
        &JwkSet { keys: vec![public] },
        &AlgorithmPolicy::default(),
    )
    .unwrap();
}

fn jwks_response(status: u16, content_type: Option<&str>, body: &[u8]) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body.to_vec()).unwrap()
}

fn published() -> Vec<u8> {
    serde_json::to_vec(&set_of(&[&key("es256"), &key("eddsa")])).unwrap()
}

#[test]
fn jwk_set_from_response_accepts_json_and_jwk_set_json() {
    for ct in [
        "application/json",
        "application/jwk-set+json",
        "application/json; charset=utf-8",
        "Application/JWK-Set+JSON",
    ] {
        let set = JwkSet::from_response(
            &jwks_response(200, Some(ct), &published()),
            &Limits::DEFAULT,
        )
        .unwrap_or_else(|e| panic!("{ct}: {e}"));
        assert_eq!(set.keys.len(), 2, "{ct}");
        assert!(set.keys.iter().all(|k| !k.is_private()));
    }
}

#[test]
fn jwk_set_from_response_refuses_other_statuses_and_content_types() {
    let limits = Limits::DEFAULT;
    for status in [201, 301, 304, 404, 500] {
        let e = JwkSet::from_response(
            &jwks_response(status, Some("application/json"), &published()),
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            e.kind,
            ParseErrorKind::UnexpectedStatus { status },
            "{status}"
        );
    }
    for ct in [Some("text/html"), Some("application/jose"), None] {
        let e = JwkSet::from_response(&jwks_response(200, ct, &published()), &limits).unwrap_err();
        assert!(
            matches!(
                &e.kind,
                ParseErrorKind::UnexpectedContentType { found, .. } if found.as_deref() == ct
            ),
            "{ct:?}: {e:?}"
        );
    }
    let e = JwkSet::from_response(
        &jwks_response(200, Some("application/json"), br#"{"kys":[]}"#),
        &limits,
    )
    .unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MissingMember { member: "keys" });
}

/// `jwk` with `member` replaced by `bytes` (base64url).
fn with_member(mut jwk: Jwk, member: &str, bytes: &[u8]) -> Jwk {
    let value = Some(URL_SAFE_NO_PAD.encode(bytes));
    match member {
        "x" => jwk.x = value,
        "y" => jwk.y = value,
        "n" => jwk.n = value,
        _ => panic!("no such member in this test: {member}"),
    }
    jwk
}

fn decoded(member: &Option<String>) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(member.as_deref().unwrap()).unwrap()
}

#[test]
fn a_signing_key_with_one_ec_coordinate_of_the_wrong_length_is_refused() {
    let wrong_length = Some(JoseError::InvalidKey {
        reason: "EC key members have the wrong length",
    });
    for member in ["x", "y"] {
        let good = key("es256");
        let coordinate = decoded(if member == "x" { &good.x } else { &good.y });
        let short = with_member(good, member, &coordinate[1..]);
        assert_eq!(
            JwkSigner::from_jwk(&short, None).err(),
            wrong_length,
            "{member} one byte short"
        );
    }
}

#[test]
fn an_rsa_signing_key_under_2048_bits_is_refused() {
    let good = key("rs256");
    let modulus = decoded(&good.n);
    assert_eq!(modulus.len(), 256, "the test key is RSA-2048");
    let short = with_member(good, "n", &modulus[1..]);
    assert_eq!(
        JwkSigner::from_jwk(&short, None).err(),
        Some(JoseError::InvalidKey {
            reason: "RSA modulus shorter than 2048 bits",
        })
    );
}

#[test]
fn a_signers_public_key_names_its_algorithm_and_use_even_when_the_jwk_does_not() {
    let mut bare = key("es256");
    bare.alg = None;
    bare.use_ = None;
    let signer = JwkSigner::from_jwk(&bare, Some(JwsAlgorithm::ES256)).unwrap();
    let public = signer.public_jwk().unwrap();
    assert_eq!(public.alg.as_deref(), Some("ES256"));
    assert_eq!(public.use_.as_deref(), Some("sig"));
    assert!(!public.is_private());
}

#[test]
fn signers_show_their_algorithm_and_key_id_but_no_key_material() {
    let jwk = key("es256");
    let signer = JwkSigner::from_jwk(&jwk, None).unwrap();
    let shown = format!("{signer:?}");
    assert_eq!(
        shown,
        format!("JwkSigner {{ alg: ES256, kid: {:?}, .. }}", jwk.kid)
    );
    let d = jwk.d.as_deref().map(String::as_str).unwrap_or_default();
    assert!(!d.is_empty() && !shown.contains(d), "{shown}");

    let hmac = HmacSigner::new(JwsAlgorithm::HS256, &[7u8; 32]).unwrap();
    assert_eq!(format!("{hmac:?}"), "HmacSigner { alg: HS256, .. }");
}

#[test]
fn an_hmac_signer_names_no_key_and_publishes_none() {
    let hmac = HmacSigner::new(JwsAlgorithm::HS256, &[7u8; 32]).unwrap();
    assert_eq!(hmac.algorithm(), JwsAlgorithm::HS256);
    assert_eq!(hmac.key_id(), None);
    assert!(hmac.public_jwk().is_none());
}
