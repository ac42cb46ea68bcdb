//! The server side of the FAPI-CIBA profile (`ServerConfig::fapi_ciba`): a conforming flow
//! gets sender-constrained tokens, and each request of the profile's negative list is refused
//! with the error the profile and CIBA Core call for.

use crate::common;

use std::sync::Arc;

use ciba_core::dpop::DpopKey;
use ciba_core::jose::JwsAlgorithm;
use ciba_core::wire::unix_seconds;
use ciba_server::{
    AuthMethod, AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE,
    CibaServer, ClientMetadata, ClientMetadataError, DeliveryMode, IssueOutcome, MemoryStore,
    Profile, ServerConfig, StaticClientRegistry, TokenOutcome,
};
use common::*;
use http::HeaderValue;
use serde_json::{Value, json};
use url::Url;

/// A private_key_jwt poll client that signs its requests with PS256 (the `SIGNED` client of
/// the common harness, registered under the profile).
fn fapi_client() -> ClientMetadata {
    let mut m = ClientMetadata::new(SIGNED);
    m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    m.jwks = Some(public_set(&["ps256", "rs256"]));
    m.backchannel_authentication_request_signing_alg = Some("PS256".into());
    m.id_token_signed_response_alg = Some("ES256".into());
    m.grant_types = vec![CIBA_GRANT_TYPE.into()];
    m.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    m
}

fn fapi_config() -> ServerConfig {
    with_es256_id_tokens(base_config().fapi_ciba().unwrap())
}

/// FAPI ID tokens are PS256 or ES256; every key set also has RS256.
fn with_es256_id_tokens(mut config: ServerConfig) -> ServerConfig {
    config.id_token_signing_algs = vec![JwsAlgorithm::RS256, JwsAlgorithm::ES256];
    config
}

struct Fapi {
    server: CibaServer,
    rng: TestRng,
}

fn fapi() -> Fapi {
    let config = fapi_config();
    let mut registry = StaticClientRegistry::new();
    registry.register(fapi_client(), &config).unwrap();
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(minter(&["es256"])),
    );
    Fapi {
        server,
        rng: TestRng::new(3),
    }
}

fn object_claims(jti: &str) -> Value {
    let now = unix_seconds(t0());
    json!({
        "iss": SIGNED, "aud": ISSUER, "exp": now + 300, "nbf": now, "iat": now, "jti": jti,
        "scope": "openid", "login_hint": "alice@example.com", "binding_message": "FAPI-1",
    })
}

fn signed_with(name: &str, claims: &Value) -> Req {
    let jwt = claims_assertion(&signer(name), claims.clone());
    authed(SIGNED, &[("request", jwt.as_str())], ISSUER, t0())
}

impl Fapi {
    fn backchannel(&self, req: &Req) -> BackchannelOutcome {
        block_on(
            self.server
                .authenticate_request(&req.incoming(), t0(), &self.rng),
        )
    }

    fn approved(&self) -> String {
        let BackchannelOutcome::UserIdentification(ticket) =
            self.backchannel(&signed_with("ps256", &object_claims("ok")))
        else {
            panic!("refused")
        };
        let IssueOutcome::Issued(ack) =
            block_on(self.server.issue(&*ticket, "alice", t0(), &self.rng))
        else {
            panic!("not issued")
        };
        let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
        block_on(
            self.server
                .complete(&ack.auth_req_id, approval, t0(), &self.rng),
        )
        .unwrap();
        ack.auth_req_id.into_string()
    }

    fn token(&self, req: &Req) -> TokenOutcome {
        block_on(
            self.server
                .token_request(&req.incoming(), t0() + secs(5), &self.rng),
        )
    }
}

fn token_req(auth_req_id: &(impl IdArg + ?Sized), aud: &str) -> Req {
    authed(
        SIGNED,
        &[
            ("grant_type", CIBA_GRANT_TYPE),
            ("auth_req_id", auth_req_id.text()),
        ],
        aud,
        t0() + secs(5),
    )
}

fn with_proof(mut req: Req, key_name: &str) -> Req {
    let key = DpopKey::from_signer(signer(key_name)).unwrap();
    let proof = key
        .proof(
            &http::Method::POST,
            &Url::parse(TOKEN_ENDPOINT).unwrap(),
            t0() + secs(5),
            &TestRng::new(u64::from(key_name.len() as u8)),
            None,
            None,
        )
        .unwrap();
    req.headers
        .insert("dpop", HeaderValue::from_str(&proof).unwrap());
    req
}

#[test]
fn fapi_conforming_flow_gets_dpop_bound_tokens() {
    let f = fapi();
    assert_eq!(f.server.config().profile, Profile::FapiCiba);
    let id = f.approved();
    let TokenOutcome::Issued(grant) = f.token(&with_proof(token_req(&id, ISSUER), "es256")) else {
        panic!("refused")
    };
    assert_eq!(json_body(&grant.response)["token_type"], "DPoP");
}

#[test]
fn fapi_unsigned_request_is_invalid_request() {
    let f = fapi();
    let req = authed(
        SIGNED,
        &[
            ("scope", "openid"),
            ("login_hint", "alice@example.com"),
            ("binding_message", "FAPI-1"),
        ],
        ISSUER,
        t0(),
    );
    assert_eq!(
        bc_error(&f.backchannel(&req)),
        (400, "invalid_request".into())
    );
}

#[test]
fn fapi_request_without_binding_message_is_invalid_request() {
    let f = fapi();
    let mut c = object_claims("nobm");
    c.as_object_mut().unwrap().remove("binding_message");
    assert_eq!(
        bc_error(&f.backchannel(&signed_with("ps256", &c))),
        (400, "invalid_request".into())
    );
}

#[test]
fn fapi_request_object_signed_with_rs256_is_invalid_request() {
    let f = fapi();
    assert_eq!(
        bc_error(&f.backchannel(&signed_with("rs256", &object_claims("rs")))),
        (400, "invalid_request".into())
    );
}

#[test]
fn fapi_request_object_lifetime_over_60_minutes_is_invalid_request() {
    let f = fapi();
    let mut c = object_claims("long");
    c["exp"] = json!(unix_seconds(t0()) + 3601);
    assert_eq!(
        bc_error(&f.backchannel(&signed_with("ps256", &c))),
        (400, "invalid_request".into())
    );
}

#[test]
fn fapi_request_object_nbf_older_than_60_minutes_is_invalid_request() {
    let now = unix_seconds(t0());
    // exp just past (within the 30 s clock skew), lifetime 59 min 50 s: only the nbf rule
    // refuses it.
    let mut c = object_claims("old-nbf");
    c["exp"] = json!(now - 20);
    c["nbf"] = json!(now - 3610);
    c["iat"] = json!(now - 3610);
    let f = fapi();
    assert_eq!(
        bc_error(&f.backchannel(&signed_with("ps256", &c))),
        (400, "invalid_request".into())
    );
    // The same request is accepted without the profile.
    let config = with_es256_id_tokens(base_config());
    let mut registry = StaticClientRegistry::new();
    registry.register(fapi_client(), &config).unwrap();
    let plain = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(minter(&["es256"])),
    );
    let mut c2 = c.clone();
    c2["jti"] = json!("old-nbf-2");
    let out = block_on(plain.authenticate_request(
        &signed_with("ps256", &c2).incoming(),
        t0(),
        &TestRng::new(1),
    ));
    assert!(matches!(out, BackchannelOutcome::UserIdentification(_)));
}

#[test]
fn fapi_request_object_audience_other_than_the_issuer_is_invalid_request() {
    let f = fapi();
    let mut c = object_claims("aud");
    c["aud"] = json!(BC_ENDPOINT);
    assert_eq!(
        bc_error(&f.backchannel(&signed_with("ps256", &c))),
        (400, "invalid_request".into())
    );
}

#[test]
fn fapi_client_assertion_audience_must_be_the_issuer() {
    let f = fapi();
    let id = f.approved();
    let out = f.token(&with_proof(token_req(&id, TOKEN_ENDPOINT), "es256"));
    assert_eq!(token_error(&out), (401, "invalid_client".into()));
}

#[test]
fn fapi_client_assertion_signed_with_rs256_is_invalid_client() {
    let f = fapi();
    let id = f.approved();
    let now = t0() + secs(5);
    let jwt = assertion(&signer("rs256"), SIGNED, json!(ISSUER), now, "rs-assert");
    let req = Req::form(&[
        ("grant_type", CIBA_GRANT_TYPE),
        ("auth_req_id", id.as_str()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", jwt.as_str()),
    ]);
    assert_eq!(
        token_error(&f.token(&with_proof(req, "es256"))),
        (401, "invalid_client".into())
    );
}

#[test]
fn fapi_token_request_without_sender_constraint_is_invalid_request() {
    let f = fapi();
    let id = f.approved();
    assert_eq!(
        token_error(&f.token(&token_req(&id, ISSUER))),
        (400, "invalid_request".into())
    );
    // The refusal did not use the request up.
    assert!(matches!(
        f.token(&with_proof(token_req(&id, ISSUER), "ps256")),
        TokenOutcome::Issued(_)
    ));
}

#[test]
fn fapi_dpop_proof_signed_with_eddsa_is_invalid_dpop_proof() {
    let f = fapi();
    let id = f.approved();
    assert_eq!(
        token_error(&f.token(&with_proof(token_req(&id, ISSUER), "eddsa"))),
        (400, "invalid_dpop_proof".into())
    );
}

#[test]
fn fapi_registration_refuses_push_secrets_and_weak_algorithms() {
    let config = fapi_config();
    let register = |m: ClientMetadata| StaticClientRegistry::new().register(m, &config);
    let mut push = fapi_client();
    push.backchannel_token_delivery_mode = Some(DeliveryMode::Push);
    push.backchannel_client_notification_endpoint = Some(PUSH_ENDPOINT.into());
    assert!(matches!(
        register(push),
        Err(ClientMetadataError::UnsupportedDeliveryMode { .. })
    ));
    let mut basic = fapi_client();
    basic.token_endpoint_auth_method = AuthMethod::ClientSecretBasic;
    basic.client_secret = Some("a-long-enough-client-secret-for-basic".into());
    assert!(matches!(
        register(basic),
        Err(ClientMetadataError::AuthMethodNotAllowed { .. })
    ));
    let mut rs = fapi_client();
    rs.backchannel_authentication_request_signing_alg = Some("RS256".into());
    assert!(matches!(
        register(rs),
        Err(ClientMetadataError::RequestSigningAlgNotAllowed { .. })
    ));
    let mut assertion_rs = fapi_client();
    assertion_rs.token_endpoint_auth_signing_alg = Some(JwsAlgorithm::RS256.as_str().into());
    assert!(matches!(
        register(assertion_rs),
        Err(ClientMetadataError::AuthSigningAlgNotAllowed { .. })
    ));
    // ID tokens: PS256 or ES256 registered; none at all would mean RS256.
    let mut rs_id_tokens = fapi_client();
    rs_id_tokens.id_token_signed_response_alg = Some("RS256".into());
    let mut default_id_tokens = fapi_client();
    default_id_tokens.id_token_signed_response_alg = None;
    for m in [rs_id_tokens, default_id_tokens] {
        assert!(matches!(
            register(m),
            Err(ClientMetadataError::IdTokenSigningAlgNotSupported { ref alg }) if alg == "RS256"
        ));
    }
    assert!(register(fapi_client()).is_ok());
}

#[test]
fn fapi_request_object_nbf_may_be_exactly_60_minutes_old() {
    let now = unix_seconds(t0());
    let f = fapi();
    let aged = |jti: &str, age: i64| {
        let mut c = object_claims(jti);
        c["exp"] = json!(now - 20);
        c["nbf"] = json!(now - age);
        c["iat"] = json!(now - age);
        f.backchannel(&signed_with("ps256", &c))
    };
    assert!(matches!(
        aged("nbf-3600", 3600),
        BackchannelOutcome::UserIdentification(_)
    ));
    assert_eq!(
        bc_error(&aged("nbf-3601", 3601)),
        (400, "invalid_request".into())
    );
}
