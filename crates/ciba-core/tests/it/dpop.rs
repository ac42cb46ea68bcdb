//! DPoP (RFC 9449): proofs the client signs, the nonce dance, and the checks a server makes.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::dpop::{
    DpopPolicy, VerifiedProof, is_use_dpop_nonce, nonce_from_response, verify_proof,
};
use ciba_core::jose::hash::sha256_b64;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{AlgorithmPolicy, CompactJws, HmacSigner, Jwk, JwkSet, JwsAlgorithm, Signer};
use ciba_core::{DpopError, DpopKey, ErrorCode, Limits, OAuthError};
use ciba_test::random::Counter;
use http::Method;
use serde_json::{Map, Value, json};
use url::Url;

fn rng() -> Counter {
    Counter::new(1)
}

use ciba_test::clock::t0 as now;
use ciba_test::keys::{jwk as key, signer};

fn dpop_key(name: &str) -> DpopKey {
    DpopKey::from_signer(signer(name)).unwrap()
}

fn token_endpoint() -> Url {
    Url::parse("https://op.example/token").unwrap()
}

fn verify(proof: &str) -> Result<VerifiedProof, DpopError> {
    verify_proof(
        proof,
        &Method::POST,
        &token_endpoint(),
        now(),
        &DpopPolicy::default(),
        None,
        None,
    )
}

fn claims_of(proof: &str) -> Map<String, Value> {
    CompactJws::parse(proof, &Limits::DEFAULT)
        .unwrap()
        .claims(&Limits::DEFAULT)
        .unwrap()
}

/// A proof with any header and claims, signed by `name`'s key, embedding its public key.
fn custom_proof(name: &str, header: Value, claims: Value) -> String {
    let mut h = json!({"typ": "dpop+jwt", "jwk": key(name).to_public()});
    for (k, v) in header.as_object().unwrap() {
        if v.is_null() {
            h.as_object_mut().unwrap().remove(k);
        } else {
            h[k] = v.clone();
        }
    }
    let mut c = json!({
        "jti": "id-1",
        "htm": "POST",
        "htu": "https://op.example/token",
        "iat": 1_700_000_000,
    });
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    sign_compact(
        h.as_object().unwrap().clone(),
        c.as_object().unwrap(),
        &signer(name),
    )
    .unwrap()
}

#[test]
fn proof_verifies_and_carries_htm_htu_iat_and_jti() {
    for name in ["es256", "es384", "rs256", "ps256", "eddsa"] {
        let k = dpop_key(name);
        let proof = k
            .proof(&Method::POST, &token_endpoint(), now(), &rng(), None, None)
            .unwrap();
        let jws = CompactJws::parse(&proof, &Limits::DEFAULT).unwrap();
        assert_eq!(jws.header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(jws.header.alg, k.algorithm().as_str());
        // The embedded key verifies the signature.
        let jwk = jws.header.jwk.clone().unwrap();
        assert!(!jwk.is_private());
        ciba_core::jose::verify::verify_with_set(
            &jws,
            &JwkSet {
                keys: vec![Jwk {
                    kid: jws.header.kid.clone(),
                    ..jwk
                }],
            },
            &AlgorithmPolicy::default(),
        )
        .unwrap();
        let c = jws.claims(&Limits::DEFAULT).unwrap();
        assert_eq!(c["htm"], "POST");
        assert_eq!(c["htu"], "https://op.example/token");
        assert_eq!(c["iat"], 1_700_000_000);
        assert!(c["jti"].as_str().unwrap().len() >= 22, "at least 128 bits");
        assert!(c.get("nonce").is_none());
        assert!(c.get("ath").is_none());
        let v = verify(&proof).unwrap();
        assert_eq!(v.jkt, k.thumbprint());
        assert_eq!(v.jti, c["jti"].as_str().unwrap());
        assert_eq!(v.iat, now());
        assert_eq!(v.alg, k.algorithm());
    }
}

#[test]
fn proof_carries_the_nonce_and_ath_when_given() {
    let at = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    let proof = dpop_key("es256")
        .proof(
            &Method::GET,
            &Url::parse("https://rs.example/resource").unwrap(),
            now(),
            &rng(),
            Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
            Some(at),
        )
        .unwrap();
    let c = claims_of(&proof);
    assert_eq!(c["nonce"], "eyJ7S_zG.eyJH0-Z.HX4w-7v");
    assert_eq!(c["ath"], "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    assert_eq!(c["ath"], sha256_b64(at).unwrap());
    verify_proof(
        &proof,
        &Method::GET,
        &Url::parse("https://rs.example/resource").unwrap(),
        now(),
        &DpopPolicy::default(),
        Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
        Some(at),
    )
    .unwrap();
}

#[test]
fn htu_drops_query_and_fragment() {
    let url = Url::parse("https://op.example/token?tenant=a&x=1#section").unwrap();
    let proof = dpop_key("es256")
        .proof(&Method::POST, &url, now(), &rng(), None, None)
        .unwrap();
    assert_eq!(claims_of(&proof)["htu"], "https://op.example/token");
    // The server compares without query and fragment too.
    verify_proof(
        &proof,
        &Method::POST,
        &url,
        now(),
        &DpopPolicy::default(),
        None,
        None,
    )
    .unwrap();
}

#[test]
fn every_proof_has_a_fresh_jti() {
    let k = dpop_key("eddsa");
    let r = rng();
    let a = k
        .proof(&Method::POST, &token_endpoint(), now(), &r, None, None)
        .unwrap();
    let b = k
        .proof(&Method::POST, &token_endpoint(), now(), &r, None, None)
        .unwrap();
    assert_ne!(claims_of(&a)["jti"], claims_of(&b)["jti"]);
}

#[test]
fn hs256_signer_is_refused_as_a_dpop_key() {
    let hmac = HmacSigner::new(JwsAlgorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
    assert_eq!(
        DpopKey::new(Arc::new(hmac)).unwrap_err(),
        DpopError::SymmetricAlgorithm {
            alg: JwsAlgorithm::HS256
        }
    );
}

#[test]
fn signer_without_a_public_key_is_refused() {
    struct Opaque;
    impl Signer for Opaque {
        fn algorithm(&self) -> JwsAlgorithm {
            JwsAlgorithm::ES256
        }
        fn key_id(&self) -> Option<&str> {
            None
        }
        fn public_jwk(&self) -> Option<Jwk> {
            None
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, ciba_core::jose::JoseError> {
            Ok(vec![0; 64])
        }
    }
    assert_eq!(
        DpopKey::from_signer(Opaque).unwrap_err(),
        DpopError::NoPublicKey
    );
}

#[test]
fn thumbprint_is_the_rfc7638_thumbprint_of_the_embedded_public_key() {
    let k = dpop_key("es256");
    assert_eq!(k.thumbprint(), key("es256").thumbprint().unwrap());
    let embedded = k.public_jwk();
    assert!(!embedded.is_private());
    assert!(embedded.kid.is_none() && embedded.alg.is_none() && embedded.use_.is_none());
    let proof = k
        .proof(&Method::POST, &token_endpoint(), now(), &rng(), None, None)
        .unwrap();
    let header_jwk = CompactJws::parse(&proof, &Limits::DEFAULT)
        .unwrap()
        .header
        .raw["jwk"]
        .clone();
    assert_eq!(
        header_jwk,
        json!({"kty": "EC", "crv": "P-256",
               "x": key("es256").x.unwrap(), "y": key("es256").y.unwrap()})
    );
}

#[test]
fn use_dpop_nonce_is_detected_in_the_body() {
    let r = http::Response::builder()
        .status(400)
        .header("content-type", "application/json")
        .header("dpop-nonce", "eyJ7S_zG.eyJH0-Z.HX4w-7v")
        .body(br#"{"error":"use_dpop_nonce","error_description":"need a nonce"}"#.to_vec())
        .unwrap();
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap();
    assert!(is_use_dpop_nonce(&e));
    assert_eq!(e.dpop_nonce.as_deref(), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
    assert_eq!(
        nonce_from_response(&r).as_deref(),
        Some("eyJ7S_zG.eyJH0-Z.HX4w-7v")
    );
}

#[test]
fn use_dpop_nonce_is_detected_in_a_www_authenticate_challenge() {
    let r = http::Response::builder()
        .status(401)
        .header(
            "www-authenticate",
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#,
        )
        .header("dpop-nonce", "eyJ7S_zG.eyJbYu3.xQmBj-1")
        .body(Vec::new())
        .unwrap();
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap();
    assert!(is_use_dpop_nonce(&e));
    // Also when the body carried another code and only the challenge asks for the nonce.
    let mut other = OAuthError::new(ErrorCode::InvalidToken, http::StatusCode::UNAUTHORIZED);
    other.challenges = e.challenges.clone();
    assert!(is_use_dpop_nonce(&other));
    assert_eq!(
        nonce_from_response(&r).as_deref(),
        Some("eyJ7S_zG.eyJbYu3.xQmBj-1")
    );
}

#[test]
fn other_errors_are_not_use_dpop_nonce() {
    let e = OAuthError::new(ErrorCode::InvalidDpopProof, http::StatusCode::BAD_REQUEST);
    assert!(!is_use_dpop_nonce(&e));
    let r = http::Response::builder()
        .status(401)
        .header("www-authenticate", r#"Bearer error="use_dpop_nonce""#)
        .body(())
        .unwrap();
    let mut e = OAuthError::new(ErrorCode::InvalidToken, http::StatusCode::UNAUTHORIZED);
    e.challenges = ciba_core::wire::parse_www_authenticate(r.headers(), &Limits::DEFAULT);
    assert!(!is_use_dpop_nonce(&e), "only a DPoP challenge counts");
}

#[test]
fn malformed_or_absent_nonce_headers_are_ignored() {
    for bad in ["", "has space", "quote\"d"] {
        let r = http::Response::builder()
            .header("dpop-nonce", bad)
            .body(())
            .unwrap();
        assert_eq!(nonce_from_response(&r), None, "{bad:?}");
    }
    let r = http::Response::builder().body(()).unwrap();
    assert_eq!(nonce_from_response(&r), None);
}

#[test]
fn verify_refuses_a_proof_without_the_dpop_typ() {
    for typ in [json!("JWT"), Value::Null] {
        let p = custom_proof("es256", json!({"typ": typ}), json!({}));
        assert!(matches!(verify(&p), Err(DpopError::WrongType { .. })));
    }
}

#[test]
fn verify_refuses_alg_none_hmac_and_algorithms_outside_the_policy() {
    let h = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(
            &json!({"typ": "dpop+jwt", "alg": "none", "jwk": key("es256").to_public()}),
        )
        .unwrap(),
    );
    let c = URL_SAFE_NO_PAD
        .encode(br#"{"jti":"1","htm":"POST","htu":"https://op.example/token","iat":1700000000}"#);
    assert!(matches!(
        verify(&format!("{h}.{c}.")),
        Err(DpopError::AlgorithmNotAllowed { .. })
    ));

    let hmac = HmacSigner::new(JwsAlgorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
    let forged = sign_compact(
        json!({"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}})
            .as_object()
            .unwrap()
            .clone(),
        json!({"jti":"1","htm":"POST","htu":"https://op.example/token","iat":1_700_000_000})
            .as_object()
            .unwrap(),
        &hmac,
    )
    .unwrap();
    let lax = DpopPolicy::default().with_algorithms(AlgorithmPolicy::only(JwsAlgorithm::ALL));
    let r = verify_proof(
        &forged,
        &Method::POST,
        &token_endpoint(),
        now(),
        &lax,
        None,
        None,
    );
    assert!(
        matches!(r, Err(DpopError::AlgorithmNotAllowed { .. })),
        "{r:?}"
    );

    let only_es256 =
        DpopPolicy::default().with_algorithms(AlgorithmPolicy::only([JwsAlgorithm::ES256]));
    let rsa = dpop_key("rs256")
        .proof(&Method::POST, &token_endpoint(), now(), &rng(), None, None)
        .unwrap();
    assert!(matches!(
        verify_proof(
            &rsa,
            &Method::POST,
            &token_endpoint(),
            now(),
            &only_es256,
            None,
            None
        ),
        Err(DpopError::AlgorithmNotAllowed { .. })
    ));
}

#[test]
fn verify_refuses_a_missing_or_private_jwk() {
    let p = custom_proof("es256", json!({"jwk": null}), json!({}));
    assert_eq!(verify(&p).unwrap_err(), DpopError::MissingJwk);
    let p = custom_proof("es256", json!({"jwk": key("es256")}), json!({}));
    assert_eq!(verify(&p).unwrap_err(), DpopError::PrivateJwk);
}

#[test]
fn verify_refuses_a_signature_from_another_key_than_the_embedded_one() {
    let p = custom_proof(
        "attacker_rs256",
        json!({"jwk": key("rs256").to_public()}),
        json!({}),
    );
    assert_eq!(verify(&p).unwrap_err(), DpopError::BadSignature);
}

#[test]
fn verify_refuses_a_wrong_method_or_uri() {
    let p = custom_proof("es256", json!({}), json!({"htm": "GET"}));
    assert_eq!(verify(&p).unwrap_err(), DpopError::MethodMismatch);
    let p = custom_proof("es256", json!({}), json!({"htm": "post"}));
    assert_eq!(verify(&p).unwrap_err(), DpopError::MethodMismatch);
    let p = custom_proof(
        "es256",
        json!({}),
        json!({"htu": "https://op.example/other"}),
    );
    assert_eq!(verify(&p).unwrap_err(), DpopError::UriMismatch);
    let p = custom_proof(
        "es256",
        json!({}),
        json!({"htu": "https://evil.example/token"}),
    );
    assert_eq!(verify(&p).unwrap_err(), DpopError::UriMismatch);
    // Normalisation: default port and host case do not matter, the query is ignored.
    let p = custom_proof(
        "es256",
        json!({}),
        json!({"htu": "https://OP.example:443/token?x=1"}),
    );
    verify(&p).unwrap();
}

#[test]
fn verify_refuses_missing_claims() {
    for claim in ["jti", "htm", "htu", "iat"] {
        let p = custom_proof("es256", json!({}), json!({ claim: null }));
        assert_eq!(verify(&p).unwrap_err(), DpopError::MissingClaim { claim });
    }
}

#[test]
fn verify_refuses_iat_outside_the_window() {
    let old = custom_proof("es256", json!({}), json!({"iat": 1_700_000_000 - 301}));
    assert!(matches!(
        verify(&old),
        Err(DpopError::IatOutOfWindow { .. })
    ));
    let future = custom_proof("es256", json!({}), json!({"iat": 1_700_000_000 + 31}));
    assert!(matches!(
        verify(&future),
        Err(DpopError::IatOutOfWindow { .. })
    ));
    let edge = custom_proof("es256", json!({}), json!({"iat": 1_700_000_000 - 300}));
    verify(&edge).unwrap();
    let text = custom_proof("es256", json!({}), json!({"iat": "1700000000"}));
    assert!(matches!(
        verify(&text),
        Err(DpopError::InvalidClaim { claim: "iat", .. })
    ));
}

#[test]
fn verify_requires_the_expected_nonce() {
    let policy = DpopPolicy::default();
    let run = |p: &str| {
        verify_proof(
            p,
            &Method::POST,
            &token_endpoint(),
            now(),
            &policy,
            Some("n-1"),
            None,
        )
    };
    let none = custom_proof("es256", json!({}), json!({}));
    assert_eq!(run(&none).unwrap_err(), DpopError::NonceMismatch);
    let wrong = custom_proof("es256", json!({}), json!({"nonce": "n-2"}));
    assert_eq!(run(&wrong).unwrap_err(), DpopError::NonceMismatch);
    let right = custom_proof("es256", json!({}), json!({"nonce": "n-1"}));
    run(&right).unwrap();
}

#[test]
fn verify_requires_ath_to_match_a_presented_access_token() {
    let run = |p: &str| {
        verify_proof(
            p,
            &Method::POST,
            &token_endpoint(),
            now(),
            &DpopPolicy::default(),
            None,
            Some("the-token"),
        )
    };
    let none = custom_proof("es256", json!({}), json!({}));
    assert_eq!(run(&none).unwrap_err(), DpopError::AthMismatch);
    let other = custom_proof(
        "es256",
        json!({}),
        json!({"ath": sha256_b64("another-token").unwrap()}),
    );
    assert_eq!(run(&other).unwrap_err(), DpopError::AthMismatch);
    let right = custom_proof(
        "es256",
        json!({}),
        json!({"ath": sha256_b64("the-token").unwrap()}),
    );
    run(&right).unwrap();
}

#[test]
fn verify_refuses_garbage_as_malformed() {
    for bad in ["", "a.b", "a.b.c", "....", "eyJ.eyJ.sig"] {
        assert!(
            matches!(verify(bad), Err(DpopError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn nonces_are_shared_per_origin() {
    use ciba_core::dpop::DpopNonces;
    let mut n = DpopNonces::new();
    let token = Url::parse("https://op.example/token").unwrap();
    let par = Url::parse("https://op.example:443/par?x=1").unwrap();
    let other_port = Url::parse("https://op.example:8443/token").unwrap();
    let other_host = Url::parse("https://as.example/token").unwrap();
    assert!(n.insert(&token, "n-1"));
    // Same scheme, host and port: same server, same nonce.
    assert_eq!(n.get(&par), Some("n-1"));
    assert_eq!(n.get(&other_port), None);
    assert_eq!(n.get(&other_host), None);
    // The newest wins; values outside the RFC 9449 syntax are never kept.
    assert!(n.insert(&par, "n-2"));
    assert!(!n.insert(&token, "has space"));
    assert!(!n.insert(&token, ""));
    assert_eq!(n.get(&token), Some("n-2"));
    let resp = http::Response::builder()
        .status(400)
        .header("dpop-nonce", "n-3")
        .body(())
        .unwrap();
    assert_eq!(n.learn(&token, &resp), Some("n-3"));
    let silent = http::Response::builder().status(200).body(()).unwrap();
    assert_eq!(n.learn(&token, &silent), None);
    assert_eq!(n.get(&token), Some("n-3"));
    // Opaque origins have no server to share with.
    assert!(!n.insert(&Url::parse("data:text/plain,x").unwrap(), "n-4"));
    n.remove(&token);
    assert!(n.is_empty());
}

#[test]
fn the_nonce_cache_is_bounded_and_its_debug_shows_no_nonce() {
    use ciba_core::dpop::DpopNonces;
    let mut n = DpopNonces::with_max_origins(2);
    for host in ["a", "b", "c", "d"] {
        let url = Url::parse(&format!("https://{host}.example/token")).unwrap();
        assert!(n.insert(&url, &format!("SECRET-nonce-{host}")));
        assert!(n.len() <= 2);
        assert_eq!(n.get(&url), Some(format!("SECRET-nonce-{host}").as_str()));
    }
    assert!(!format!("{n:?}").contains("SECRET"));
}

#[test]
fn verify_refuses_a_jwk_carrying_any_private_member() {
    // One private member at a time, on the signer's own public key: the signature verifies,
    // so only the private-member check can refuse it.
    for (name, member) in [
        ("es256", "d"),
        ("rs256", "d"),
        ("rs256", "p"),
        ("rs256", "q"),
        ("rs256", "dp"),
        ("rs256", "dq"),
        ("rs256", "qi"),
        ("es256", "k"),
        ("rs256", "oth"),
    ] {
        let mut jwk = serde_json::to_value(key(name).to_public()).unwrap();
        jwk[member] = if member == "oth" {
            json!([{"r": "AQ", "d": "AQ", "t": "AQ"}])
        } else {
            json!("AQAB")
        };
        let p = custom_proof(name, json!({ "jwk": jwk }), json!({}));
        assert_eq!(
            verify(&p),
            Err(DpopError::PrivateJwk),
            "{name} with {member}"
        );
    }
    // The same proofs without the extra member verify.
    for name in ["es256", "rs256"] {
        verify(&custom_proof(name, json!({}), json!({}))).unwrap();
    }
}

#[test]
fn iat_window_edges_are_inclusive() {
    let t: i64 = 1_700_000_000;
    let run = |policy: &DpopPolicy, iat: i64| {
        let p = custom_proof("es256", json!({}), json!({ "iat": iat }));
        verify_proof(
            &p,
            &Method::POST,
            &token_endpoint(),
            now(),
            policy,
            None,
            None,
        )
        .map(|v| v.iat)
    };
    let at = |s: i64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s as u64);
    let out = |iat| Err(DpopError::IatOutOfWindow { iat });
    // Default: 300 s old to 30 s ahead.
    let default = DpopPolicy::default();
    assert_eq!(run(&default, t - 300), Ok(at(t - 300)));
    assert_eq!(run(&default, t - 301), out(t - 301));
    assert_eq!(run(&default, t + 30), Ok(at(t + 30)));
    assert_eq!(run(&default, t + 31), out(t + 31));
    // No age and no leeway: only `now` itself.
    let exact = DpopPolicy::default()
        .with_max_age(std::time::Duration::ZERO)
        .with_leeway(std::time::Duration::ZERO);
    assert_eq!(run(&exact, t), Ok(at(t)));
    assert_eq!(run(&exact, t - 1), out(t - 1));
    assert_eq!(run(&exact, t + 1), out(t + 1));
}

#[test]
fn a_full_nonce_cache_updates_a_known_origin_without_forgetting_another() {
    use ciba_core::dpop::DpopNonces;
    let a = Url::parse("https://a.example/token").unwrap();
    let b = Url::parse("https://b.example/token").unwrap();
    let mut n = DpopNonces::with_max_origins(2);
    assert!(n.insert(&a, "a-1"));
    assert!(n.insert(&b, "b-1"));
    assert!(n.insert(&a, "a-2"));
    assert_eq!(n.len(), 2);
    assert_eq!(n.get(&a), Some("a-2"));
    assert_eq!(n.get(&b), Some("b-1"));
    // A cache for zero origins still keeps one.
    let mut one = DpopNonces::with_max_origins(0);
    assert!(one.insert(&a, "a-1"));
    assert_eq!(one.get(&a), Some("a-1"));
    assert!(one.insert(&b, "b-1"));
    assert_eq!(one.len(), 1);
    assert_eq!(one.get(&b), Some("b-1"));
    assert!(format!("{one:?}").contains("max_origins: 1"), "{one:?}");
}

#[test]
fn a_dpop_key_shows_its_public_half_and_thumbprint() {
    for name in ["es256", "rs256", "eddsa"] {
        let k = dpop_key(name);
        let full = key(name);
        let public = k.public_jwk();
        // Exactly the members RFC 7638 hashes, equal to the key's own.
        assert_eq!(public.kty, full.kty, "{name}");
        assert_eq!(
            (&public.crv, &public.x, &public.y, &public.n, &public.e),
            (&full.crv, &full.x, &full.y, &full.n, &full.e),
            "{name}"
        );
        assert!(public.d.is_none() && public.kid.is_none(), "{name}");
        assert_eq!(public.thumbprint().unwrap(), k.thumbprint(), "{name}");
        assert_eq!(
            format!("{k:?}"),
            format!(
                "DpopKey {{ alg: {:?}, jkt: {:?}, .. }}",
                k.algorithm(),
                k.thumbprint()
            ),
            "{name}"
        );
    }
}

#[test]
fn the_policy_size_limit_bounds_the_proof() {
    let proof = dpop_key("es256")
        .proof(&Method::POST, &token_endpoint(), now(), &rng(), None, None)
        .unwrap();
    let with_limit = |bytes: usize| {
        verify_proof(
            &proof,
            &Method::POST,
            &token_endpoint(),
            now(),
            &DpopPolicy::default().with_limits(Limits::DEFAULT.with_max_jwt_bytes(bytes)),
            None,
            None,
        )
    };
    assert!(with_limit(proof.len()).is_ok());
    assert!(matches!(
        with_limit(proof.len() - 1),
        Err(DpopError::Malformed(_))
    ));
}

#[test]
fn a_nonce_is_reported_only_when_it_has_nonce_syntax() {
    // Without an expected nonce any proof verifies; the nonce it carries is handed on only
    // if it is one (RFC 9449 section 8: 1*NQCHAR).
    let p = custom_proof("es256", json!({}), json!({"nonce": "n-0S_.~"}));
    assert_eq!(verify(&p).unwrap().nonce.as_deref(), Some("n-0S_.~"));
    for bad in ["a b", "quote\"d", ""] {
        let p = custom_proof("es256", json!({}), json!({"nonce": bad}));
        assert_eq!(verify(&p).unwrap().nonce, None, "{bad:?}");
    }
}

#[test]
fn string_claims_must_have_content_and_dates_may_be_fractional_within_bounds() {
    for claim in ["jti", "htm", "htu"] {
        let p = custom_proof("es256", json!({}), json!({ claim: "" }));
        assert!(
            matches!(verify(&p), Err(DpopError::InvalidClaim { claim: c, .. }) if c == claim),
            "{claim}"
        );
    }
    let now_secs = ciba_core::wire::unix_seconds(now());
    let p = custom_proof("es256", json!({}), json!({"iat": now_secs as f64 + 0.5}));
    assert_eq!(verify(&p).unwrap().iat, now());
    for iat in [1e15, -1e15, 1e20] {
        let p = custom_proof("es256", json!({}), json!({ "iat": iat }));
        assert!(
            matches!(
                verify(&p),
                Err(DpopError::InvalidClaim { claim: "iat", .. })
            ),
            "{iat}"
        );
    }
}
