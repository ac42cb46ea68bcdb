//! ID token validation (OIDC Core 3.1.3.7 with the CIBA claims): each check refuses what it
//! must, with its own error.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::id_token::{
    AUTH_REQ_ID_CLAIM, DecryptError, IdTokenContext, IdTokenDecrypter, IdTokenError,
    IdTokenValidator, RT_HASH_CLAIM,
};
use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{AlgorithmPolicy, HmacSigner, JwkSigner, JwsAlgorithm, Signer};
use ciba_core::{ClientSecret, DeliveryMode};
use serde_json::{Map, Value, json};
use support::*;

fn poll_validator() -> IdTokenValidator {
    validator(&client(DeliveryMode::Poll))
}

fn standalone() -> IdTokenContext<'static> {
    IdTokenContext::standalone()
}

fn with(mut c: Map<String, Value>, name: &str, value: Value) -> Map<String, Value> {
    c.insert(name.into(), value);
    c
}

fn without(mut c: Map<String, Value>, name: &str) -> Map<String, Value> {
    c.remove(name);
    c
}

fn es256(c: &Map<String, Value>) -> String {
    sign(c, &signer("es256"))
}

fn check(token: &str) -> Result<ciba_core::id_token::IdTokenClaims, IdTokenError> {
    poll_validator().validate(token, &standalone(), t0())
}

#[test]
fn valid_token_yields_typed_claims_and_keeps_unknown_ones() {
    let c = with(claims(t0()), "email", json!("alice@example.com"));
    let c = with(c, "auth_time", json!(unix(t0()) - 10));
    let got = check(&es256(&c)).unwrap();
    assert_eq!(got.iss, ISSUER);
    assert_eq!(got.sub, "alice");
    assert_eq!(got.aud, vec![CLIENT_ID.to_owned()]);
    assert_eq!(got.iat, t0());
    assert_eq!(got.exp, at(300));
    assert_eq!(got.auth_time, Some(t0() - Duration::from_secs(10)));
    assert_eq!(got.auth_req_id.as_deref(), Some(AUTH_REQ_ID));
    assert_eq!(got.alg, JwsAlgorithm::ES256);
    assert_eq!(got.kid.as_deref(), Some("ec-1"));
    assert_eq!(got.extra.get("email"), Some(&json!("alice@example.com")));
    assert!(!got.extra.contains_key("iss"));
}

#[test]
fn every_advertised_asymmetric_algorithm_is_accepted() {
    for name in ["rs256", "es256", "es384", "eddsa"] {
        let token = sign(&claims(t0()), &signer(name));
        assert!(check(&token).is_ok(), "{name}");
    }
}

#[test]
fn algorithm_the_op_does_not_advertise_is_rejected() {
    // The OP metadata lists ES256, RS256, EdDSA, ES384 (and none/HS256, which never count).
    let token = sign(&claims(t0()), &signer("ps256"));
    assert!(matches!(
        check(&token),
        Err(IdTokenError::AlgorithmNotAllowed { .. })
    ));
}

#[test]
fn registered_id_token_signed_response_alg_narrows_the_allow_list() {
    let v = poll_validator().registered_alg(JwsAlgorithm::RS256);
    let es = es256(&claims(t0()));
    assert!(matches!(
        v.validate(&es, &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed { .. })
    ));
    let rs = sign(&claims(t0()), &signer("rs256"));
    assert!(v.validate(&rs, &standalone(), t0()).is_ok());
}

#[test]
fn a_validator_without_op_metadata_defaults_to_rs256() {
    let v = IdTokenValidator::new(ISSUER, CLIENT_ID, op_jwks());
    assert_eq!(v.algorithm_policy().allowed(), &[JwsAlgorithm::RS256]);
    let es = es256(&claims(t0()));
    assert!(matches!(
        v.validate(&es, &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed { .. })
    ));
}

#[test]
fn alg_none_is_rejected() {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(t0())).unwrap());
    for token in [format!("{h}.{p}."), format!("{h}.{p}.AAAA")] {
        assert_eq!(
            check(&token),
            Err(IdTokenError::AlgorithmNotAllowed { alg: "none".into() })
        );
    }
    // Even a validator told to accept everything cannot accept none.
    let lax = poll_validator().algorithms(AlgorithmPolicy::only(JwsAlgorithm::ALL));
    assert!(matches!(
        lax.validate(&format!("{h}.{p}."), &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed { .. })
    ));
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    let public = key("rs256").to_public();
    for secret in [
        serde_json::to_vec(&public).unwrap(),
        public.n.clone().unwrap().into_bytes(),
    ] {
        let forged = sign(
            &claims(t0()),
            &HmacSigner::new(JwsAlgorithm::HS256, &secret).unwrap(),
        );
        assert!(matches!(
            check(&forged),
            Err(IdTokenError::AlgorithmNotAllowed { .. })
        ));
        // Listing HS256 without registering it does not enable HMAC either.
        let lax = poll_validator().algorithms(AlgorithmPolicy::only(JwsAlgorithm::ALL));
        assert!(matches!(
            lax.validate(&forged, &standalone(), t0()),
            Err(IdTokenError::AlgorithmNotAllowed { .. })
        ));
    }
}

#[test]
fn hs256_is_accepted_only_when_registered_with_the_client_secret() {
    let secret = ClientSecret::new("a-client-secret-of-at-least-32-bytes!!");
    let token = sign(
        &claims(t0()),
        &HmacSigner::new(JwsAlgorithm::HS256, secret.expose().as_bytes()).unwrap(),
    );
    let registered = poll_validator()
        .registered_alg(JwsAlgorithm::HS256)
        .hmac_secret(secret.clone());
    assert_eq!(
        registered
            .validate(&token, &standalone(), t0())
            .unwrap()
            .alg,
        JwsAlgorithm::HS256
    );
    // Registered but no secret configured: refused.
    let no_secret = poll_validator().registered_alg(JwsAlgorithm::HS256);
    assert!(no_secret.validate(&token, &standalone(), t0()).is_err());
    // Secret configured but HS256 not registered: refused.
    let not_registered = poll_validator().hmac_secret(secret);
    assert!(matches!(
        not_registered.validate(&token, &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed { .. })
    ));
    // Wrong secret: bad signature.
    let wrong = poll_validator()
        .registered_alg(JwsAlgorithm::HS256)
        .hmac_secret(ClientSecret::new("another-secret-of-at-least-32-bytes!!!"));
    assert_eq!(
        wrong.validate(&token, &standalone(), t0()),
        Err(IdTokenError::BadSignature)
    );
}

#[test]
fn tampered_signature_is_rejected() {
    let token = es256(&claims(t0()));
    let other = es256(&with(claims(t0()), "sub", json!("mallory")));
    let (input, _) = token.rsplit_once('.').unwrap();
    let (_, other_sig) = other.rsplit_once('.').unwrap();
    assert_eq!(
        check(&format!("{input}.{other_sig}")),
        Err(IdTokenError::BadSignature)
    );
}

#[test]
fn tampered_payload_is_rejected() {
    let token = es256(&claims(t0()));
    let parts: Vec<&str> = token.split('.').collect();
    let evil = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&with(claims(t0()), "sub", json!("mallory"))).unwrap());
    assert_eq!(
        check(&format!("{}.{evil}.{}", parts[0], parts[2])),
        Err(IdTokenError::BadSignature)
    );
}

#[test]
fn key_of_another_party_with_the_same_kid_is_rejected() {
    let token = sign(&claims(t0()), &signer("attacker_rs256"));
    assert_eq!(check(&token), Err(IdTokenError::BadSignature));
}

#[test]
fn embedded_jwk_and_jku_headers_are_never_trusted() {
    let attacker = key("attacker_rs256");
    let mut header = embedding_key(&attacker);
    header.insert("jku".into(), json!("https://attacker.example/jwks"));
    header.insert("kid".into(), json!("not-in-the-op-set"));
    let token = sign_compact(
        header,
        &claims(t0()),
        &JwkSigner::from_jwk(&attacker, None).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        check(&token),
        Err(IdTokenError::KeyUnavailable(_))
    ));
}

#[test]
fn malformed_tokens_are_typed_errors() {
    for token in ["", "abc", "a.b", "a.b.c", "e30.e30.AA"] {
        assert!(
            matches!(check(token), Err(IdTokenError::Malformed(_))),
            "{token}"
        );
    }
}

#[test]
fn payload_that_is_not_an_object_is_rejected() {
    let s = signer("es256");
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"ec-1"}"#);
    let p = URL_SAFE_NO_PAD.encode(b"[1,2,3]");
    let input = format!("{h}.{p}");
    let sig = URL_SAFE_NO_PAD.encode(s.sign(input.as_bytes()).unwrap());
    assert_eq!(
        check(&format!("{input}.{sig}")),
        Err(IdTokenError::ClaimsNotAnObject)
    );
}

#[test]
fn issuer_mismatch_in_id_token_is_rejected() {
    for iss in [
        "https://op.example/",
        "https://evil.example",
        "HTTPS://OP.EXAMPLE",
    ] {
        let token = es256(&with(claims(t0()), "iss", json!(iss)));
        assert!(
            matches!(check(&token), Err(IdTokenError::IssuerMismatch { ref found, .. }) if found == iss)
        );
    }
    let token = es256(&without(claims(t0()), "iss"));
    assert_eq!(
        check(&token),
        Err(IdTokenError::MissingClaim { claim: "iss" })
    );
}

#[test]
fn aud_mismatch_is_rejected() {
    let token = es256(&with(claims(t0()), "aud", json!("client-2")));
    assert!(matches!(
        check(&token),
        Err(IdTokenError::AudienceMismatch { .. })
    ));
    let token = es256(&with(claims(t0()), "aud", json!(["client-2", "client-3"])));
    assert!(matches!(
        check(&token),
        Err(IdTokenError::AudienceMismatch { .. })
    ));
    let token = es256(&without(claims(t0()), "aud"));
    assert_eq!(
        check(&token),
        Err(IdTokenError::MissingClaim { claim: "aud" })
    );
}

#[test]
fn aud_as_a_one_element_array_is_accepted() {
    let token = es256(&with(claims(t0()), "aud", json!([CLIENT_ID])));
    assert_eq!(check(&token).unwrap().aud, vec![CLIENT_ID.to_owned()]);
}

#[test]
fn azp_is_required_with_several_audiences() {
    let v = poll_validator().trusted_audience("https://rs.example");
    let c = with(
        claims(t0()),
        "aud",
        json!([CLIENT_ID, "https://rs.example"]),
    );
    assert_eq!(
        v.validate(&es256(&c), &standalone(), t0()),
        Err(IdTokenError::MissingAzp)
    );
    let ok = with(c.clone(), "azp", json!(CLIENT_ID));
    assert!(v.validate(&es256(&ok), &standalone(), t0()).is_ok());
    let wrong = with(c, "azp", json!("https://rs.example"));
    assert!(matches!(
        v.validate(&es256(&wrong), &standalone(), t0()),
        Err(IdTokenError::AzpMismatch { .. })
    ));
}

#[test]
fn untrusted_extra_audience_is_rejected() {
    let c = with(
        claims(t0()),
        "aud",
        json!([CLIENT_ID, "https://other.example"]),
    );
    let c = with(c, "azp", json!(CLIENT_ID));
    assert_eq!(
        check(&es256(&c)),
        Err(IdTokenError::UntrustedAudience {
            audience: "https://other.example".into()
        })
    );
}

#[test]
fn azp_naming_another_party_is_rejected_even_with_one_audience() {
    let c = with(claims(t0()), "azp", json!("client-2"));
    assert!(matches!(
        check(&es256(&c)),
        Err(IdTokenError::AzpMismatch { .. })
    ));
}

#[test]
fn expired_id_token_is_rejected() {
    let c = with(claims(t0()), "exp", json!(unix(t0()) - 61));
    assert_eq!(
        check(&es256(&c)),
        Err(IdTokenError::Expired {
            exp: unix(t0()) - 61
        })
    );
    // Within the 60 s clock skew it still passes.
    let c = with(claims(t0()), "exp", json!(unix(t0()) - 59));
    assert!(check(&es256(&c)).is_ok());
    // A stricter skew refuses it.
    let strict = poll_validator().clock_skew(Duration::ZERO);
    let c = with(claims(t0()), "exp", json!(unix(t0())));
    assert!(matches!(
        strict.validate(&es256(&c), &standalone(), t0()),
        Err(IdTokenError::Expired { .. })
    ));
}

#[test]
fn missing_or_non_numeric_exp_is_rejected() {
    assert_eq!(
        check(&es256(&without(claims(t0()), "exp"))),
        Err(IdTokenError::MissingClaim { claim: "exp" })
    );
    assert!(matches!(
        check(&es256(&with(claims(t0()), "exp", json!("tomorrow")))),
        Err(IdTokenError::InvalidClaim { claim: "exp", .. })
    ));
}

#[test]
fn iat_is_required_and_must_not_be_in_the_future() {
    assert_eq!(
        check(&es256(&without(claims(t0()), "iat"))),
        Err(IdTokenError::MissingClaim { claim: "iat" })
    );
    let c = with(claims(t0()), "iat", json!(unix(t0()) + 120));
    assert!(matches!(
        check(&es256(&c)),
        Err(IdTokenError::IssuedInFuture { .. })
    ));
}

#[test]
fn iat_a_week_in_the_past_is_rejected() {
    let week = 7 * 24 * 3600;
    let c = with(claims(t0()), "iat", json!(unix(t0()) - week));
    let c = with(c, "exp", json!(unix(t0()) + 300));
    assert!(matches!(
        check(&es256(&c)),
        Err(IdTokenError::IssuedTooLongAgo { .. })
    ));
    // With no maximum age configured it passes.
    let lenient = poll_validator().max_iat_age(None);
    assert!(lenient.validate(&es256(&c), &standalone(), t0()).is_ok());
}

#[test]
fn nbf_in_the_future_is_rejected() {
    let c = with(claims(t0()), "nbf", json!(unix(t0()) + 600));
    assert!(matches!(
        check(&es256(&c)),
        Err(IdTokenError::NotYetValid { .. })
    ));
}

#[test]
fn sub_is_required() {
    assert_eq!(
        check(&es256(&without(claims(t0()), "sub"))),
        Err(IdTokenError::MissingClaim { claim: "sub" })
    );
    assert!(matches!(
        check(&es256(&with(claims(t0()), "sub", json!("")))),
        Err(IdTokenError::InvalidClaim { claim: "sub", .. })
    ));
}

#[test]
fn at_hash_mismatch_is_rejected() {
    let token = id_token_for(t0(), "at-123", None);
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "at-other", None);
    assert_eq!(
        poll_validator().validate(&token, &ctx, t0()),
        Err(IdTokenError::AtHashMismatch)
    );
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "at-123", None);
    assert!(poll_validator().validate(&token, &ctx, t0()).is_ok());
}

#[test]
fn at_hash_uses_the_hash_of_the_signing_algorithm() {
    // ES384 tokens hash with SHA-384: a SHA-256 at_hash must not pass.
    let mut c = claims(t0());
    c.insert(
        "at_hash".into(),
        left_half_hash(JwsAlgorithm::ES256, "at-123")
            .unwrap()
            .into(),
    );
    let token = sign(&c, &signer("es384"));
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "at-123", None);
    assert_eq!(
        poll_validator().validate(&token, &ctx, t0()),
        Err(IdTokenError::AtHashMismatch)
    );
}

#[test]
fn at_hash_can_be_required_for_the_token_endpoint() {
    let token = es256(&claims(t0()));
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "at-123", None);
    assert!(poll_validator().validate(&token, &ctx, t0()).is_ok());
    let strict = poll_validator().require_at_hash(true);
    assert_eq!(
        strict.validate(&token, &ctx, t0()),
        Err(IdTokenError::MissingAtHash)
    );
}

#[test]
fn rt_hash_is_checked_when_present_for_the_token_endpoint() {
    let token = id_token_for(t0(), "at-123", Some("rt-456"));
    let bad = IdTokenContext::token_endpoint(AUTH_REQ_ID, "at-123", Some("rt-other"));
    assert_eq!(
        poll_validator().validate(&token, &bad, t0()),
        Err(IdTokenError::RtHashMismatch)
    );
    // Without rt_hash, a token endpoint response with a refresh token is fine.
    let token = id_token_for(t0(), "at-123", None);
    assert!(poll_validator().validate(&token, &bad, t0()).is_ok());
}

#[test]
fn auth_req_id_claim_must_match_when_present() {
    let c = with(claims(t0()), AUTH_REQ_ID_CLAIM, json!("another-request"));
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "at", None);
    assert_eq!(
        poll_validator().validate(&es256(&c), &ctx, t0()),
        Err(IdTokenError::AuthReqIdMismatch)
    );
    // Absent is fine for the token endpoint.
    let c = without(claims(t0()), AUTH_REQ_ID_CLAIM);
    assert!(poll_validator().validate(&es256(&c), &ctx, t0()).is_ok());
}

#[test]
fn push_requires_the_auth_req_id_claim_at_hash_and_rt_hash() {
    let v = validator(&client(DeliveryMode::Push));
    let ctx = IdTokenContext::push(AUTH_REQ_ID, "at-123", Some("rt-456"));
    let good = id_token_for(t0(), "at-123", Some("rt-456"));
    assert!(v.validate(&good, &ctx, t0()).is_ok());

    let no_rt = id_token_for(t0(), "at-123", None);
    assert_eq!(
        v.validate(&no_rt, &ctx, t0()),
        Err(IdTokenError::MissingRtHash)
    );

    let no_at = es256(&with(
        claims(t0()),
        RT_HASH_CLAIM,
        json!(left_half_hash(JwsAlgorithm::ES256, "rt-456").unwrap()),
    ));
    assert_eq!(
        v.validate(&no_at, &ctx, t0()),
        Err(IdTokenError::MissingAtHash)
    );

    let mut c = without(claims(t0()), AUTH_REQ_ID_CLAIM);
    c.insert(
        "at_hash".into(),
        left_half_hash(JwsAlgorithm::ES256, "at-123")
            .unwrap()
            .into(),
    );
    c.insert(
        RT_HASH_CLAIM.into(),
        left_half_hash(JwsAlgorithm::ES256, "rt-456")
            .unwrap()
            .into(),
    );
    assert_eq!(
        v.validate(&es256(&c), &ctx, t0()),
        Err(IdTokenError::MissingAuthReqId)
    );
}

#[test]
fn acr_must_be_one_of_the_requested_values() {
    let v = poll_validator().acr_values(["urn:mace:incommon:iap:silver", "2"]);
    let c = with(claims(t0()), "acr", json!("1"));
    assert_eq!(
        v.validate(&es256(&c), &standalone(), t0()),
        Err(IdTokenError::AcrNotAccepted {
            found: Some("1".into())
        })
    );
    assert_eq!(
        v.validate(&es256(&claims(t0())), &standalone(), t0()),
        Err(IdTokenError::AcrNotAccepted { found: None })
    );
    let c = with(claims(t0()), "acr", json!("2"));
    assert_eq!(
        v.validate(&es256(&c), &standalone(), t0())
            .unwrap()
            .acr
            .as_deref(),
        Some("2")
    );
}

#[test]
fn auth_time_is_numeric_and_can_be_required() {
    let c = with(claims(t0()), "auth_time", json!("yesterday"));
    assert!(matches!(
        check(&es256(&c)),
        Err(IdTokenError::InvalidClaim {
            claim: "auth_time",
            ..
        })
    ));
    let v = poll_validator().require_auth_time(true);
    assert_eq!(
        v.validate(&es256(&claims(t0())), &standalone(), t0()),
        Err(IdTokenError::MissingAuthTime)
    );
}

#[test]
fn encrypted_token_without_a_decrypter_is_a_typed_error() {
    assert_eq!(
        check("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"),
        Err(IdTokenError::Encrypted)
    );
}

struct FakeDecrypter(String);

impl IdTokenDecrypter for FakeDecrypter {
    fn decrypt(&self, jwe: &str) -> Result<String, DecryptError> {
        if jwe == "h.k.iv.ct.tag" {
            Ok(self.0.clone())
        } else {
            Err(DecryptError::Other {
                reason: "wrong key".into(),
            })
        }
    }
}

#[test]
fn decrypter_hook_unwraps_the_inner_signed_token() {
    let inner = es256(&claims(t0()));
    let v = poll_validator().decrypter(Arc::new(FakeDecrypter(inner.clone())));
    assert_eq!(
        v.validate("h.k.iv.ct.tag", &standalone(), t0())
            .unwrap()
            .sub,
        "alice"
    );
    assert!(matches!(
        v.validate("x.k.iv.ct.tag", &standalone(), t0()),
        Err(IdTokenError::Decryption(_))
    ));
    // Encryption configured: a plain signed token is refused.
    assert_eq!(
        v.validate(&inner, &standalone(), t0()),
        Err(IdTokenError::NotEncrypted)
    );
}

#[test]
fn oversize_token_is_refused_before_parsing() {
    let huge = "a".repeat(70 * 1024);
    assert!(matches!(check(&huge), Err(IdTokenError::Malformed(_))));
}

fn client_registering(alg: Option<JwsAlgorithm>, auth: ciba_core::ClientAuth) -> ciba_core::Client {
    let mut cfg = ciba_core::ClientConfig::new(CLIENT_ID, auth, DeliveryMode::Poll);
    cfg.id_token_signed_response_alg = alg;
    ciba_core::Client::new(cfg, metadata()).unwrap()
}

#[test]
fn the_clients_registered_id_token_alg_is_the_only_one_for_client_accepts() {
    let secret = || ClientSecret::new("a-client-secret-of-at-least-32-bytes!!");
    let es256_token = es256(&claims(t0()));
    let es384_token = sign(&claims(t0()), &signer("es384"));
    let ps256_token = sign(&claims(t0()), &signer("ps256"));
    // Registered ES384: the OP also advertises ES256, which is now refused.
    let c = client_registering(
        Some(JwsAlgorithm::ES384),
        ciba_core::ClientAuth::SecretPost(secret()),
    );
    let v = IdTokenValidator::for_client(&c, op_jwks());
    assert_eq!(v.algorithm_policy().allowed(), &[JwsAlgorithm::ES384]);
    assert!(v.validate(&es384_token, &standalone(), t0()).is_ok());
    assert!(matches!(
        v.validate(&es256_token, &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed { .. })
    ));
    // Registered PS256, which the OP does not advertise: the registration wins.
    let c = client_registering(
        Some(JwsAlgorithm::PS256),
        ciba_core::ClientAuth::SecretPost(secret()),
    );
    let v = IdTokenValidator::for_client(&c, op_jwks());
    assert!(v.validate(&ps256_token, &standalone(), t0()).is_ok());
    assert!(v.validate(&es256_token, &standalone(), t0()).is_err());
    // Unset: the OP's advertised asymmetric algorithms, as before.
    let c = client_registering(None, ciba_core::ClientAuth::SecretPost(secret()));
    let v = IdTokenValidator::for_client(&c, op_jwks());
    assert!(v.validate(&es256_token, &standalone(), t0()).is_ok());
    assert!(v.validate(&es384_token, &standalone(), t0()).is_ok());
    assert!(matches!(
        v.validate(&ps256_token, &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed { .. })
    ));
}

#[test]
fn a_registered_hs256_id_token_alg_is_verified_with_the_client_secret() {
    let secret = ClientSecret::new("a-client-secret-of-at-least-32-bytes!!");
    let token = sign(
        &claims(t0()),
        &HmacSigner::new(JwsAlgorithm::HS256, secret.expose().as_bytes()).unwrap(),
    );
    for auth in [
        ciba_core::ClientAuth::SecretPost(secret.clone()),
        ciba_core::ClientAuth::SecretBasic(secret.clone()),
    ] {
        let c = client_registering(Some(JwsAlgorithm::HS256), auth);
        let v = IdTokenValidator::for_client(&c, op_jwks());
        assert_eq!(
            v.validate(&token, &standalone(), t0()).unwrap().alg,
            JwsAlgorithm::HS256
        );
    }
    // A private_key_jwt client has no shared secret: HS256 cannot verify.
    let c = client_registering(
        Some(JwsAlgorithm::HS256),
        ciba_core::ClientAuth::private_key_jwt(signer("es256")),
    );
    let v = IdTokenValidator::for_client(&c, op_jwks());
    assert!(v.validate(&token, &standalone(), t0()).is_err());
}

/// Validates `c`, signed with the OP's ES256 key, with `v` at `t0()`.
fn check_with(v: &IdTokenValidator, c: &Map<String, Value>) -> Result<(), IdTokenError> {
    v.validate(&es256(c), &standalone(), t0()).map(|_| ())
}

#[test]
fn exp_boundary_with_and_without_clock_skew() {
    let t = unix(t0());
    let skewed = poll_validator();
    let strict = poll_validator().clock_skew(Duration::ZERO);
    let exp = |e: i64| with(claims(t0()), "exp", json!(e));
    // Expired once exp + skew <= now.
    assert_eq!(
        check_with(&skewed, &exp(t - 60)),
        Err(IdTokenError::Expired { exp: t - 60 })
    );
    assert_eq!(check_with(&skewed, &exp(t - 59)), Ok(()));
    assert_eq!(
        check_with(&strict, &exp(t)),
        Err(IdTokenError::Expired { exp: t })
    );
    assert_eq!(check_with(&strict, &exp(t + 1)), Ok(()));
}

#[test]
fn nbf_boundary_with_and_without_clock_skew() {
    let t = unix(t0());
    let skewed = poll_validator();
    let strict = poll_validator().clock_skew(Duration::ZERO);
    let nbf = |n: i64| with(claims(t0()), "nbf", json!(n));
    assert_eq!(check_with(&skewed, &nbf(t + 60)), Ok(()));
    assert_eq!(
        check_with(&skewed, &nbf(t + 61)),
        Err(IdTokenError::NotYetValid { nbf: t + 61 })
    );
    assert_eq!(check_with(&strict, &nbf(t)), Ok(()));
    assert_eq!(
        check_with(&strict, &nbf(t + 1)),
        Err(IdTokenError::NotYetValid { nbf: t + 1 })
    );
    // A valid nbf is kept among the other claims.
    let got = poll_validator()
        .validate(&es256(&nbf(t - 5)), &standalone(), t0())
        .unwrap();
    assert_eq!(got.extra.get("nbf"), Some(&json!(t - 5)));
}

#[test]
fn iat_future_boundary_with_and_without_clock_skew() {
    let t = unix(t0());
    let skewed = poll_validator();
    let strict = poll_validator().clock_skew(Duration::ZERO);
    let iat = |i: i64| with(claims(t0()), "iat", json!(i));
    assert_eq!(check_with(&skewed, &iat(t + 60)), Ok(()));
    assert_eq!(
        check_with(&skewed, &iat(t + 61)),
        Err(IdTokenError::IssuedInFuture { iat: t + 61 })
    );
    assert_eq!(check_with(&strict, &iat(t)), Ok(()));
    assert_eq!(
        check_with(&strict, &iat(t + 1)),
        Err(IdTokenError::IssuedInFuture { iat: t + 1 })
    );
}

#[test]
fn iat_age_boundary_with_and_without_clock_skew() {
    let t = unix(t0());
    let iat = |i: i64| with(claims(t0()), "iat", json!(i));
    // Default: 600 s of age plus 60 s of skew.
    let skewed = poll_validator();
    assert_eq!(check_with(&skewed, &iat(t - 660)), Ok(()));
    assert_eq!(
        check_with(&skewed, &iat(t - 661)),
        Err(IdTokenError::IssuedTooLongAgo { iat: t - 661 })
    );
    let strict = poll_validator()
        .clock_skew(Duration::ZERO)
        .max_iat_age(Some(Duration::from_secs(100)));
    assert_eq!(check_with(&strict, &iat(t - 100)), Ok(()));
    assert_eq!(
        check_with(&strict, &iat(t - 101)),
        Err(IdTokenError::IssuedTooLongAgo { iat: t - 101 })
    );
}

#[test]
fn the_size_limit_admits_a_token_of_exactly_that_size() {
    let token = es256(&claims(t0()));
    let at_limit =
        poll_validator().limits(ciba_core::Limits::DEFAULT.with_max_jwt_bytes(token.len()));
    assert!(at_limit.validate(&token, &standalone(), t0()).is_ok());
    let below =
        poll_validator().limits(ciba_core::Limits::DEFAULT.with_max_jwt_bytes(token.len() - 1));
    assert_eq!(
        below.validate(&token, &standalone(), t0()),
        Err(IdTokenError::Malformed(
            ciba_core::jose::JoseError::TooLarge {
                limit: token.len() - 1,
                actual: token.len(),
            }
        ))
    );
}

#[test]
fn amr_is_an_optional_array_of_strings() {
    let amr = |v: Value| check(&es256(&with(claims(t0()), "amr", v)));
    assert_eq!(
        amr(json!(["pwd", "otp"])).unwrap().amr,
        Some(vec!["pwd".to_owned(), "otp".to_owned()])
    );
    assert_eq!(amr(json!([])).unwrap().amr, Some(Vec::new()));
    assert_eq!(amr(Value::Null).unwrap().amr, None);
    assert_eq!(check(&es256(&claims(t0()))).unwrap().amr, None);
    let refused = Err(IdTokenError::InvalidClaim {
        claim: "amr",
        reason: "not an array of strings",
    });
    for bad in [
        json!("pwd"),
        json!(["pwd", 1]),
        json!([null]),
        json!({"pwd": true}),
    ] {
        assert_eq!(amr(bad.clone()).map(|c| c.amr), refused.clone(), "{bad}");
    }
}

#[test]
fn an_hmac_token_must_use_exactly_the_registered_algorithm() {
    let secret = ClientSecret::new("a-client-secret-of-at-least-32-bytes!!");
    let hs = |alg| {
        sign(
            &claims(t0()),
            &HmacSigner::new(alg, secret.expose().as_bytes()).unwrap(),
        )
    };
    // HS256 registered, HS384 listed too: an HS384 token under the same secret is refused.
    let v = poll_validator()
        .registered_alg(JwsAlgorithm::HS256)
        .hmac_secret(secret.clone())
        .algorithms(AlgorithmPolicy::only([
            JwsAlgorithm::HS256,
            JwsAlgorithm::HS384,
        ]));
    assert!(
        v.validate(&hs(JwsAlgorithm::HS256), &standalone(), t0())
            .is_ok()
    );
    assert_eq!(
        v.validate(&hs(JwsAlgorithm::HS384), &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed {
            alg: "HS384".into()
        })
    );
    // ES256 registered, HS256 listed and the secret given: HS256 is still refused.
    let v = poll_validator()
        .registered_alg(JwsAlgorithm::ES256)
        .hmac_secret(secret.clone())
        .algorithms(AlgorithmPolicy::only([
            JwsAlgorithm::ES256,
            JwsAlgorithm::HS256,
        ]));
    assert!(
        v.validate(&es256(&claims(t0())), &standalone(), t0())
            .is_ok()
    );
    assert_eq!(
        v.validate(&hs(JwsAlgorithm::HS256), &standalone(), t0()),
        Err(IdTokenError::AlgorithmNotAllowed {
            alg: "HS256".into()
        })
    );
}
