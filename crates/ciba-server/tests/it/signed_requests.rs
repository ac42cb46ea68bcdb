//! Signed authentication requests (the `request` parameter, CIBA Core section 7.1.1).

use crate::common;

use ciba_core::wire::unix_seconds;
use ciba_server::ClaimError;
use ciba_server::RequestObjectError;
use ciba_server::{BackchannelError, BackchannelOutcome, UserHint};
use common::*;
use serde_json::{Value, json};

fn claims(jti: &str) -> Value {
    let now = unix_seconds(t0());
    json!({
        "iss": SIGNED, "aud": ISSUER, "exp": now + 300, "nbf": now, "iat": now, "jti": jti,
        "scope": "openid email", "login_hint": "alice@example.com",
        "binding_message": "B1ND", "requested_expiry": 120,
    })
}

fn signed(claims: &Value, extra: &[(&str, &str)]) -> Req {
    let jwt = claims_assertion(&signer("ps256"), claims.clone());
    let mut pairs = vec![("request", jwt.as_str())];
    pairs.extend_from_slice(extra);
    authed(SIGNED, &pairs, ISSUER, t0())
}

fn object_error(h: &Harness, req: &Req) -> RequestObjectError {
    match h.backchannel(req, t0()) {
        BackchannelOutcome::Respond(r) => {
            assert_eq!(r.status(), 400);
            assert_eq!(json_body(&r.response)["error"], "invalid_request");
            match r.error {
                BackchannelError::RequestObject(e) => e,
                other => panic!("not a request object error: {other:?}"),
            }
        }
        BackchannelOutcome::UserIdentification(t) => panic!("accepted: {t:?}"),
    }
}

#[test]
fn signed_request_parameters_come_from_the_jwt() {
    let h = Harness::new();
    let t = h.ticket(&signed(&claims("ok-1"), &[]), t0());
    assert!(t.signed_request);
    assert_eq!(t.scopes, ["openid", "email"]);
    assert_eq!(
        t.hint,
        UserHint::LoginHint {
            value: "alice@example.com".into()
        }
    );
    assert_eq!(t.binding_message.as_deref(), Some("B1ND"));
    assert_eq!(t.requested_expiry, Some(120), "a JSON number is accepted");
    let mut c = claims("ok-2");
    c["requested_expiry"] = json!("90");
    assert_eq!(
        h.ticket(&signed(&c, &[]), t0()).requested_expiry,
        Some(90),
        "so is a string"
    );
}

#[test]
fn request_object_with_parameters_outside_is_refused() {
    let h = Harness::new();
    let e = object_error(
        &h,
        &signed(&claims("out-1"), &[("binding_message", "outside")]),
    );
    assert!(
        matches!(e, RequestObjectError::ParameterOutside { ref name } if name == "binding_message")
    );
    let e = object_error(&h, &signed(&claims("out-2"), &[("scope", "openid")]));
    assert!(matches!(e, RequestObjectError::ParameterOutside { .. }));
}

#[test]
fn request_object_must_use_the_registered_algorithm_and_key() {
    let h = Harness::new();
    // The signed client's request object, signed with `key` for `alg`.
    let sent_with = |key: ciba_core::jose::Jwk, alg, jti| {
        let signer = ciba_core::jose::JwkSigner::from_jwk(&key, Some(alg)).unwrap();
        let jwt = claims_assertion(&signer, claims(jti));
        object_error(&h, &authed(SIGNED, &[("request", &jwt)], ISSUER, t0()))
    };
    // RS256 with the same RSA key: a valid signature, but not the registered PS256.
    let same_key = ciba_core::jose::Jwk {
        alg: None,
        ..jwk("ps256")
    };
    assert!(matches!(
        sent_with(same_key, ciba_core::jose::JwsAlgorithm::RS256, "alg-1"),
        RequestObjectError::AlgorithmMismatch { .. }
    ));
    // PS256 by another party's key.
    let attackers = ciba_core::jose::Jwk {
        alg: None,
        kid: jwk("ps256").kid,
        ..jwk("attacker_rs256")
    };
    assert!(matches!(
        sent_with(attackers, ciba_core::jose::JwsAlgorithm::PS256, "alg-2"),
        RequestObjectError::Signature { .. }
    ));
    // A client that registered no signing algorithm cannot send signed requests.
    let jwt = claims_assertion(&signer("es256"), claims("alg-3"));
    let req = bc_request(
        POLL,
        &[("request", &jwt), ("scope", ""), ("login_hint", "")],
    );
    assert!(matches!(
        object_error(&h, &req),
        RequestObjectError::NotRegistered
    ));
}

#[test]
fn request_object_claims_are_all_required_and_checked() {
    let h = Harness::new();
    let now = unix_seconds(t0());
    let mut cases: Vec<(Value, ClaimError)> = Vec::new();
    for claim in ["exp", "nbf", "iat", "jti", "iss"] {
        let mut c = claims(&format!("missing-{claim}"));
        c.as_object_mut().unwrap().remove(claim);
        cases.push((
            c,
            ClaimError::Missing {
                claim: match claim {
                    "exp" => "exp",
                    "nbf" => "nbf",
                    "iat" => "iat",
                    "jti" => "jti",
                    _ => "iss",
                },
            },
        ));
    }
    let set = |jti: &str, k: &str, v: Value| {
        let mut c = claims(jti);
        c[k] = v;
        c
    };
    cases.push((
        set("c-aud", "aud", json!("https://other.example")),
        ClaimError::AudienceMismatch,
    ));
    cases.push((set("c-iss", "iss", json!(POLL)), ClaimError::IssuerMismatch));
    cases.push((set("c-exp", "exp", json!(now - 60)), ClaimError::Expired));
    cases.push((
        set("c-nbf", "nbf", json!(now + 600)),
        ClaimError::NotYetValid,
    ));
    cases.push((
        set("c-life", "exp", json!(now + 3700)),
        ClaimError::LifetimeTooLong { max_secs: 3600 },
    ));
    cases.push((
        set("c-sub", "sub", json!(SIGNED)),
        ClaimError::SubjectMismatch,
    ));
    for (c, expected) in cases {
        match object_error(&h, &signed(&c, &[])) {
            RequestObjectError::Claims { source } => assert_eq!(source, expected, "{c}"),
            other => panic!("{c}: {other:?}"),
        }
    }
}

#[test]
fn request_object_jti_replay_is_refused() {
    let h = Harness::new();
    let c = claims("replayed");
    h.ticket(&signed(&c, &[]), t0());
    assert!(matches!(
        object_error(&h, &signed(&c, &[])),
        RequestObjectError::Claims {
            source: ClaimError::Replayed
        }
    ));
}

#[test]
fn encrypted_or_malformed_request_objects_are_invalid_request() {
    let h = Harness::new();
    let req = authed(SIGNED, &[("request", "a.b.c.d.e")], ISSUER, t0());
    assert!(matches!(
        object_error(&h, &req),
        RequestObjectError::Encrypted
    ));
    let req = authed(SIGNED, &[("request", "not-a-jwt")], ISSUER, t0());
    assert!(matches!(
        object_error(&h, &req),
        RequestObjectError::Malformed { .. }
    ));
}

#[test]
fn signed_requests_are_refused_when_the_server_does_not_support_them() {
    let mut config = base_config();
    config.request_signing_algs.clear();
    // The signed client cannot register without a supported algorithm, so it is left out.
    let mut registry = ciba_server::StaticClientRegistry::new();
    let mut signed_client = clients()
        .into_iter()
        .find(|c| c.client_id == SIGNED)
        .unwrap();
    assert!(registry.register(signed_client.clone(), &config).is_err());
    signed_client.backchannel_authentication_request_signing_alg = None;
    registry.register(signed_client, &config).unwrap();
    let server = ciba_server::CibaServer::new(
        config,
        std::sync::Arc::new(registry),
        std::sync::Arc::new(ciba_server::MemoryStore::new()),
        std::sync::Arc::new(minter(&["eddsa"])),
    );
    let req = signed(&claims("unsupported"), &[]);
    let out = block_on(server.authenticate_request(&req.incoming(), t0(), &TestRng::new(1)));
    let BackchannelOutcome::Respond(r) = out else {
        panic!("accepted")
    };
    assert!(matches!(
        r.error,
        BackchannelError::RequestObject(RequestObjectError::NotSupported)
    ));
}

#[test]
fn request_uri_is_not_supported() {
    let h = Harness::new();
    let out = h.backchannel(&bc_request(POLL, &[("request_uri", "urn:x")]), t0());
    let BackchannelOutcome::Respond(r) = out else {
        panic!("accepted")
    };
    assert!(matches!(r.error, BackchannelError::RequestUriNotSupported));
    assert_eq!(json_body(&r.response)["error"], "invalid_request");
}

#[test]
fn empty_members_of_a_signed_request_count_as_absent() {
    // RFC 6749 section 3.1 reads an empty parameter as an omitted one; a request object's
    // members are read the same way, so an empty `login_hint` beside the real hint is not a
    // second hint, and an empty `binding_message` is no binding message.
    let h = Harness::new();
    let mut c = claims("empty-1");
    c["login_hint"] = json!("");
    c["login_hint_token"] = json!("lht-1");
    c["binding_message"] = json!("");
    c["requested_expiry"] = json!("");
    let t = h.ticket(&signed(&c, &[]), t0());
    assert_eq!(
        t.hint,
        UserHint::LoginHintToken {
            value: "lht-1".into()
        }
    );
    assert_eq!(t.binding_message, None);
    assert_eq!(t.requested_expiry, None);
}

/// A registry that hands out its clients without validating them.
struct Unvalidated(Vec<std::sync::Arc<ciba_server::ClientMetadata>>);

impl ciba_server::ClientRegistry for Unvalidated {
    fn client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> ciba_server::BoxFuture<
        'a,
        Result<Option<std::sync::Arc<ciba_server::ClientMetadata>>, ciba_server::RegistryError>,
    > {
        let found = self.0.iter().find(|c| c.client_id == client_id).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }
}

#[test]
fn the_registered_signing_algorithm_must_be_asymmetric_and_enabled() {
    // The registry does not validate, so the endpoint's own check must hold: an algorithm
    // the server does not enable (ES384), or a symmetric one even when the server's list
    // holds it, is no registered algorithm.
    for (registered, server_extra) in [
        ("ES384", None),
        ("HS256", Some(ciba_core::jose::JwsAlgorithm::HS256)),
    ] {
        let mut client = clients()
            .into_iter()
            .find(|c| c.client_id == SIGNED)
            .unwrap();
        client.backchannel_authentication_request_signing_alg = Some(registered.into());
        let mut config = base_config();
        config.id_token_signing_algs = key_set(&["eddsa"]).algorithms();
        config.request_signing_algs.extend(server_extra);
        let store = std::sync::Arc::new(ciba_server::MemoryStore::new());
        let server = ciba_server::CibaServer::new(
            config,
            std::sync::Arc::new(Unvalidated(vec![std::sync::Arc::new(client)])),
            store.clone(),
            std::sync::Arc::new(minter(&["eddsa"])),
        );
        let h = Harness {
            server,
            store,
            op_keys: public_set(&["eddsa"]),
            rng: TestRng::new(7),
        };
        assert!(
            matches!(
                object_error(&h, &signed(&claims(&format!("reg-{registered}")), &[])),
                RequestObjectError::NotRegistered
            ),
            "{registered}"
        );
    }
}

#[test]
fn a_request_object_may_live_exactly_an_hour() {
    let h = Harness::new();
    let now = unix_seconds(t0());
    let mut c = claims("hour-1");
    c["exp"] = json!(now + 3600);
    assert!(matches!(
        h.backchannel(&signed(&c, &[]), t0()),
        BackchannelOutcome::UserIdentification(_)
    ));
    let mut c = claims("hour-2");
    c["exp"] = json!(now + 3601);
    assert!(matches!(
        object_error(&h, &signed(&c, &[])),
        RequestObjectError::Claims {
            source: ClaimError::LifetimeTooLong { max_secs: 3600 }
        }
    ));
}

#[test]
fn a_request_object_jti_may_fill_the_value_limit_and_no_more() {
    let h = Harness::new();
    let mut c = claims(&"j".repeat(2048));
    assert!(matches!(
        h.backchannel(&signed(&c, &[]), t0()),
        BackchannelOutcome::UserIdentification(_)
    ));
    c["jti"] = json!("k".repeat(2049));
    assert!(matches!(
        object_error(&h, &signed(&c, &[])),
        RequestObjectError::Claims {
            source: ClaimError::Malformed { claim: "jti" }
        }
    ));
}
