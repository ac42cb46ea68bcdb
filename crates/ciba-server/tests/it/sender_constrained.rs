//! Sender-constrained tokens at the token endpoint: DPoP proofs checked in full and bound as
//! `cnf.jkt` (RFC 9449), certificate-bound tokens as `cnf.x5t#S256` and
//! `self_signed_tls_client_auth` (RFC 8705), RFC 9068 JWT access tokens carrying the binding,
//! and the registration rule that push clients cannot ask for bound tokens.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ciba_core::Limits;
use ciba_core::dpop::DpopKey;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{AlgorithmPolicy, CompactJws, HmacSigner, JwsAlgorithm, Signer};
use ciba_core::wire::unix_seconds;
use ciba_server::certificate_thumbprint;
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{
    AccessTokenFormat, AuthMethod, AuthenticationResult, Authorization, CIBA_GRANT_TYPE,
    CibaServer, ClientMetadata, ClientMetadataError, DeliveryMode, DpopNonceKey, IssueOutcome,
    MemoryStore, ServerConfig, StaticClientRegistry, TlsClientCertificate, TokenOutcome,
};
use common::*;
use http::HeaderValue;
use serde_json::{Map, Value, json};
use url::Url;

const DPOP_CLIENT: &str = "dpop-client";
const DPOP_SECRET: &str = "dpop-client-secret";
const CERT_CLIENT: &str = "cert-client";
const AT_AUDIENCE: &str = "https://api.example";

fn certificate(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/{name}-self-signed.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

struct Bench {
    server: CibaServer,
    rng: TestRng,
    op_keys: ciba_core::jose::JwkSet,
}

fn bench_with(config: ServerConfig) -> Bench {
    let mut registry = StaticClientRegistry::new();
    let mut dpop = ClientMetadata::new(DPOP_CLIENT);
    dpop.client_secret = Some(DPOP_SECRET.into());
    dpop.grant_types = vec![CIBA_GRANT_TYPE.into()];
    dpop.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    dpop.dpop_bound_access_tokens = true;
    registry.register(dpop, &config).unwrap();
    let mut cert = ClientMetadata::new(CERT_CLIENT);
    cert.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth;
    cert.jwks = Some(public_set(&["rs256", "es256"]));
    cert.grant_types = vec![CIBA_GRANT_TYPE.into()];
    cert.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    cert.tls_client_certificate_bound_access_tokens = true;
    registry.register(cert, &config).unwrap();
    for c in clients() {
        registry.register(c, &config).unwrap();
    }
    let mut minter = minter(&["es256"]);
    minter.access_token_format = AccessTokenFormat::Jwt {
        audience: AT_AUDIENCE.into(),
    };
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::with_config(MemoryStoreConfig::default())),
        Arc::new(minter),
    );
    Bench {
        server,
        rng: TestRng::new(11),
        op_keys: public_set(&["rs256", "es256"]),
    }
}

fn bench() -> Bench {
    bench_with(base_config())
}

impl Bench {
    /// Starts a poll request for `client` (authenticated by `req`) and approves it.
    fn approved(&self, req: &Req, now: SystemTime) -> String {
        let ticket = match block_on(self.server.authenticate_request(
            &req.incoming(),
            now,
            &self.rng,
        )) {
            ciba_server::BackchannelOutcome::UserIdentification(t) => t,
            ciba_server::BackchannelOutcome::Respond(r) => {
                panic!("refused: {}", String::from_utf8_lossy(r.response.body()))
            }
        };
        let ack = match block_on(self.server.issue(&*ticket, "alice", now, &self.rng)) {
            IssueOutcome::Issued(ack) => ack,
            other => panic!("{other:?}"),
        };
        let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
        block_on(
            self.server
                .complete(&ack.auth_req_id, approval, now, &self.rng),
        )
        .unwrap();
        ack.auth_req_id.into_string()
    }

    fn token(&self, req: &Req, now: SystemTime) -> TokenOutcome {
        block_on(self.server.token_request(&req.incoming(), now, &self.rng))
    }
}

fn basic_form(client: &str, secret: &str, pairs: &[(&str, &str)]) -> Req {
    Req::form(pairs).basic(client, secret)
}

fn dpop_bc(now: SystemTime) -> Req {
    let _ = now;
    basic_form(
        DPOP_CLIENT,
        DPOP_SECRET,
        &[("scope", "openid"), ("login_hint", "alice@example.com")],
    )
}

fn dpop_token_req(auth_req_id: &(impl IdArg + ?Sized)) -> Req {
    basic_form(
        DPOP_CLIENT,
        DPOP_SECRET,
        &[
            ("grant_type", CIBA_GRANT_TYPE),
            ("auth_req_id", auth_req_id.text()),
        ],
    )
}

fn with_dpop(mut req: Req, proof: &str) -> Req {
    req.headers
        .append("dpop", HeaderValue::from_str(proof).unwrap());
    req
}

fn dpop_key() -> DpopKey {
    DpopKey::from_signer(signer("es256")).unwrap()
}

fn proof(key: &DpopKey, now: SystemTime, rng: &TestRng, nonce: Option<&str>) -> String {
    key.proof(
        &http::Method::POST,
        &Url::parse(TOKEN_ENDPOINT).unwrap(),
        now,
        rng,
        nonce,
        None,
    )
    .unwrap()
}

/// A proof with hand-made header and claims, signed by `signer`.
fn custom_proof(signer: &dyn Signer, header: Value, claims: Value) -> String {
    sign_compact(
        header.as_object().unwrap().clone(),
        claims.as_object().unwrap(),
        signer,
    )
    .unwrap()
}

fn good_claims(now: SystemTime, jti: &str) -> Value {
    json!({"jti": jti, "htm": "POST", "htu": TOKEN_ENDPOINT, "iat": unix_seconds(now)})
}

fn good_header() -> Value {
    json!({"typ": "dpop+jwt", "jwk": jwk("es256").to_public()})
}

fn issued(outcome: TokenOutcome) -> Box<ciba_server::TokenGrant> {
    match outcome {
        TokenOutcome::Issued(g) => g,
        other => panic!("expected tokens, got {other:?}"),
    }
}

fn access_token_claims(
    op_keys: &ciba_core::jose::JwkSet,
    at: &str,
) -> (Map<String, Value>, Option<String>) {
    let jws = CompactJws::parse(at, &Limits::DEFAULT).unwrap();
    verify_with_set(&jws, op_keys, &AlgorithmPolicy::default()).unwrap();
    (
        jws.claims(&Limits::DEFAULT).unwrap(),
        jws.header.typ.clone(),
    )
}

#[test]
fn dpop_proof_yields_dpop_token_type_and_cnf_jkt() {
    let b = bench();
    let now = t0();
    let id = b.approved(&dpop_bc(now), now);
    let key = dpop_key();
    let later = now + secs(5);
    let grant = issued(b.token(
        &with_dpop(dpop_token_req(&id), &proof(&key, later, &b.rng, None)),
        later,
    ));
    let body = json_body(&grant.response);
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        grant.tokens.confirmation.jkt.as_deref(),
        Some(key.thumbprint())
    );
    let (claims, typ) = access_token_claims(&b.op_keys, body["access_token"].as_str().unwrap());
    assert_eq!(typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    assert_eq!(claims["aud"], AT_AUDIENCE);
    assert_eq!(claims["client_id"], DPOP_CLIENT);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], ISSUER);
    assert!(claims["jti"].as_str().unwrap().len() >= 43);
    // The binding is recorded for introspection, for as long as the token lives.
    let at = body["access_token"].as_str().unwrap();
    let recorded = block_on(b.server.token_confirmation(at, later)).unwrap();
    assert_eq!(
        recorded.and_then(|c| c.jkt).as_deref(),
        Some(key.thumbprint())
    );
    let expired = later + secs(3601);
    assert_eq!(
        block_on(b.server.token_confirmation(at, expired)).unwrap(),
        None
    );
    assert_eq!(
        block_on(b.server.token_confirmation("not-a-token", later)).unwrap(),
        None
    );
}

#[test]
fn an_unregistered_client_sending_a_proof_also_gets_a_bound_token() {
    let b = bench();
    let now = t0();
    let ack = {
        let ticket = match block_on(b.server.authenticate_request(
            &bc_request(POLL, &[]).incoming(),
            now,
            &b.rng,
        )) {
            ciba_server::BackchannelOutcome::UserIdentification(t) => t,
            _ => panic!(),
        };
        match block_on(b.server.issue(&*ticket, "alice", now, &b.rng)) {
            IssueOutcome::Issued(ack) => ack,
            _ => panic!(),
        }
    };
    block_on(b.server.complete(
        &ack.auth_req_id,
        AuthenticationResult::Authorized(Authorization::new("alice")),
        now,
        &b.rng,
    ))
    .unwrap();
    let later = now + secs(5);
    let key = dpop_key();
    let req = with_dpop(
        token_request(POLL, &ack.auth_req_id, later),
        &proof(&key, later, &b.rng, None),
    );
    let grant = issued(b.token(&req, later));
    assert_eq!(json_body(&grant.response)["token_type"], "DPoP");
}

#[test]
fn a_dpop_bound_client_without_a_proof_is_invalid_request() {
    let b = bench();
    let now = t0();
    let id = b.approved(&dpop_bc(now), now);
    let later = now + secs(5);
    assert_eq!(
        token_error(&b.token(&dpop_token_req(&id), later)),
        (400, "invalid_request".into())
    );
    // The refusal did not use the request up: a proof now gets the tokens.
    let grant = issued(b.token(
        &with_dpop(
            dpop_token_req(&id),
            &proof(&dpop_key(), later, &b.rng, None),
        ),
        later,
    ));
    assert_eq!(json_body(&grant.response)["token_type"], "DPoP");
}

#[test]
fn every_defective_proof_is_invalid_dpop_proof() {
    let b = bench();
    let now = t0();
    let later = now + secs(5);
    let es = signer("es256");
    let private_header =
        json!({"typ": "dpop+jwt", "jwk": serde_json::to_value(jwk("es256")).unwrap()});
    let hmac = HmacSigner::new(JwsAlgorithm::HS256, &[1u8; 32]).unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong typ",
            custom_proof(
                &es,
                json!({"typ": "JWT", "jwk": jwk("es256").to_public()}),
                good_claims(later, "j1"),
            ),
        ),
        (
            "no jwk",
            custom_proof(&es, json!({"typ": "dpop+jwt"}), good_claims(later, "j2")),
        ),
        (
            "private jwk",
            custom_proof(&es, private_header, good_claims(later, "j3")),
        ),
        (
            "signed by another key",
            custom_proof(
                &signer("ps256"),
                json!({"typ": "dpop+jwt", "jwk": jwk("es256").to_public()}),
                good_claims(later, "j4"),
            ),
        ),
        (
            "hmac",
            custom_proof(
                &hmac,
                json!({"typ": "dpop+jwt", "jwk": jwk("es256").to_public()}),
                good_claims(later, "j5"),
            ),
        ),
        (
            "htm GET",
            custom_proof(
                &es,
                good_header(),
                json!({"jti": "j6", "htm": "GET", "htu": TOKEN_ENDPOINT, "iat": unix_seconds(later)}),
            ),
        ),
        (
            "htu elsewhere",
            custom_proof(
                &es,
                good_header(),
                json!({"jti": "j7", "htm": "POST", "htu": "https://op.example/other", "iat": unix_seconds(later)}),
            ),
        ),
        (
            "iat too old",
            custom_proof(&es, good_header(), good_claims(later - secs(301), "j8")),
        ),
        (
            "iat in the future",
            custom_proof(&es, good_header(), good_claims(later + secs(120), "j9")),
        ),
        (
            "no jti",
            custom_proof(
                &es,
                good_header(),
                json!({"htm": "POST", "htu": TOKEN_ENDPOINT, "iat": unix_seconds(later)}),
            ),
        ),
        ("not a JWT", "not-a-jwt".into()),
    ];
    let id = b.approved(&dpop_bc(now), now);
    for (what, p) in cases {
        let outcome = b.token(&with_dpop(dpop_token_req(&id), &p), later);
        assert_eq!(
            token_error(&outcome),
            (400, "invalid_dpop_proof".into()),
            "{what}"
        );
    }
    // Two DPoP headers.
    let two = with_dpop(
        with_dpop(
            dpop_token_req(&id),
            &proof(&dpop_key(), later, &b.rng, None),
        ),
        &proof(&dpop_key(), later, &b.rng, None),
    );
    assert_eq!(
        token_error(&b.token(&two, later)),
        (400, "invalid_dpop_proof".into())
    );
    // None of it used the request up.
    let grant = issued(b.token(
        &with_dpop(
            dpop_token_req(&id),
            &custom_proof(&es, good_header(), good_claims(later, "fresh")),
        ),
        later,
    ));
    assert_eq!(json_body(&grant.response)["token_type"], "DPoP");
}

#[test]
fn a_replayed_proof_is_refused() {
    let b = bench();
    let now = t0();
    let id = b.approved(&dpop_bc(now), now);
    let later = now + secs(5);
    let p = custom_proof(&signer("es256"), good_header(), good_claims(later, "once"));
    // The first use of the proof meets a pending-free request and gets tokens.
    issued(b.token(&with_dpop(dpop_token_req(&id), &p), later));
    let id2 = b.approved(&dpop_bc(later), later);
    let outcome = b.token(&with_dpop(dpop_token_req(&id2), &p), later + secs(1));
    assert_eq!(token_error(&outcome), (400, "invalid_dpop_proof".into()));
}

#[test]
fn a_required_nonce_is_asked_for_then_accepted() {
    let mut config = base_config();
    config.dpop.nonce = Some(DpopNonceKey::new(&[42u8; 32], Duration::from_secs(60)).unwrap());
    let b = bench_with(config);
    let now = t0();
    let id = b.approved(&dpop_bc(now), now);
    let key = dpop_key();
    let later = now + secs(5);
    let first = b.token(
        &with_dpop(dpop_token_req(&id), &proof(&key, later, &b.rng, None)),
        later,
    );
    let TokenOutcome::Respond(r) = &first else {
        panic!("{first:?}")
    };
    assert_eq!(json_body(&r.response)["error"], "use_dpop_nonce");
    let nonce = r.response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    // A made-up nonce is asked for again.
    let wrong = b.token(
        &with_dpop(
            dpop_token_req(&id),
            &proof(&key, later, &b.rng, Some("made-up")),
        ),
        later,
    );
    assert_eq!(token_error(&wrong), (400, "use_dpop_nonce".into()));
    let grant = issued(b.token(
        &with_dpop(
            dpop_token_req(&id),
            &proof(&key, later, &b.rng, Some(&nonce)),
        ),
        later,
    ));
    assert_eq!(json_body(&grant.response)["token_type"], "DPoP");
    assert!(grant.response.headers().contains_key("dpop-nonce"));
}

fn cert_token_req(auth_req_id: &(impl IdArg + ?Sized), der: Option<Vec<u8>>) -> Req {
    let mut req = Req::form(&[
        ("grant_type", CIBA_GRANT_TYPE),
        ("auth_req_id", auth_req_id.text()),
        ("client_id", CERT_CLIENT),
    ]);
    req.cert = der.map(TlsClientCertificate::from_der);
    req
}

fn cert_bc(der: Vec<u8>) -> Req {
    let mut req = Req::form(&[
        ("scope", "openid"),
        ("login_hint", "alice@example.com"),
        ("client_id", CERT_CLIENT),
    ]);
    req.cert = Some(TlsClientCertificate::from_der(der));
    req
}

#[test]
fn certificate_bound_tokens_carry_the_certificate_thumbprint() {
    let b = bench();
    let now = t0();
    let der = certificate("es256");
    let id = b.approved(&cert_bc(der.clone()), now);
    let later = now + secs(5);
    let grant = issued(b.token(&cert_token_req(&id, Some(der.clone())), later));
    let body = json_body(&grant.response);
    assert_eq!(body["token_type"], "Bearer");
    let (claims, _) = access_token_claims(&b.op_keys, body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["cnf"]["x5t#S256"],
        certificate_thumbprint(&der).unwrap()
    );
    assert_eq!(
        grant.tokens.confirmation.x5t_s256.as_deref(),
        Some(certificate_thumbprint(&der).unwrap().as_str())
    );
}

#[test]
fn self_signed_tls_client_auth_needs_a_registered_key() {
    let b = bench();
    let now = t0();
    // es256 is registered; the eddsa certificate's key is not.
    b.approved(&cert_bc(certificate("es256")), now);
    let refused = block_on(b.server.authenticate_request(
        &cert_bc(certificate("eddsa")).incoming(),
        now,
        &b.rng,
    ));
    assert_eq!(bc_error(&refused), (401, "invalid_client".into()));
    let mut no_cert = cert_bc(certificate("es256"));
    no_cert.cert = None;
    let refused = block_on(
        b.server
            .authenticate_request(&no_cert.incoming(), now, &b.rng),
    );
    assert_eq!(bc_error(&refused), (401, "invalid_client".into()));
    // A certificate known only by its facts (no DER) cannot match a key.
    let mut facts_only = cert_bc(certificate("es256"));
    facts_only.cert = Some(TlsClientCertificate {
        subject_dn: Some("CN=self-signed-es256".into()),
        ..TlsClientCertificate::default()
    });
    let refused = block_on(
        b.server
            .authenticate_request(&facts_only.incoming(), now, &b.rng),
    );
    assert_eq!(bc_error(&refused), (401, "invalid_client".into()));
}

#[test]
fn an_eddsa_self_signed_certificate_matches_its_okp_key() {
    let mut config = base_config();
    config.auth_methods = AuthMethod::SUPPORTED.to_vec();
    let mut registry = StaticClientRegistry::new();
    let mut c = ClientMetadata::new("ed-client");
    c.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth;
    c.jwks = Some(public_set(&["eddsa"]));
    c.grant_types = vec![CIBA_GRANT_TYPE.into()];
    c.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    registry.register(c, &config).unwrap();
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(minter(&["es256"])),
    );
    let mut req = Req::form(&[
        ("scope", "openid"),
        ("login_hint", "a"),
        ("client_id", "ed-client"),
    ]);
    req.cert = Some(TlsClientCertificate::from_der(certificate("eddsa")));
    let out = block_on(server.authenticate_request(&req.incoming(), t0(), &TestRng::new(1)));
    assert!(
        matches!(out, ciba_server::BackchannelOutcome::UserIdentification(_)),
        "{out:?}"
    );
}

#[test]
fn a_certificate_bound_client_without_its_certificate_is_refused() {
    let b = bench();
    let now = t0();
    let id = b.approved(&cert_bc(certificate("es256")), now);
    // Without a certificate the client cannot even authenticate (self-signed mTLS).
    assert_eq!(
        token_error(&b.token(&cert_token_req(&id, None), now + secs(5))),
        (401, "invalid_client".into())
    );
}

#[test]
fn registration_refuses_push_clients_with_bound_tokens() {
    let config = base_config();
    for dpop in [true, false] {
        let mut push = ClientMetadata::new("bound-push");
        push.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
        push.jwks = Some(public_set(&["es256"]));
        push.backchannel_token_delivery_mode = Some(DeliveryMode::Push);
        push.backchannel_client_notification_endpoint = Some(PUSH_ENDPOINT.into());
        push.dpop_bound_access_tokens = dpop;
        push.tls_client_certificate_bound_access_tokens = !dpop;
        let err = StaticClientRegistry::new()
            .register(push, &config)
            .unwrap_err();
        assert!(
            matches!(err, ClientMetadataError::PushWithBoundTokens),
            "{err:?}"
        );
    }
}

#[test]
fn a_certificate_bound_private_key_jwt_client_without_a_certificate_is_invalid_request() {
    let config = base_config();
    let mut registry = StaticClientRegistry::new();
    let mut m = ClientMetadata::new(SIGNED);
    m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    m.jwks = Some(public_set(&["ps256"]));
    m.grant_types = vec![CIBA_GRANT_TYPE.into()];
    m.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    m.tls_client_certificate_bound_access_tokens = true;
    registry.register(m, &config).unwrap();
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(minter(&["es256"])),
    );
    let b = Bench {
        server,
        rng: TestRng::new(5),
        op_keys: public_set(&["rs256", "es256"]),
    };
    let now = t0();
    let id = b.approved(&bc_request(SIGNED, &[]), now);
    let later = now + secs(5);
    let without = token_request(SIGNED, &id, later);
    assert_eq!(
        token_error(&b.token(&without, later)),
        (400, "invalid_request".into())
    );
    let mut with = token_request(SIGNED, &id, later);
    with.cert = Some(TlsClientCertificate::from_der(certificate("es256")));
    let grant = issued(b.token(&with, later));
    assert!(grant.tokens.confirmation.x5t_s256.is_some());
}

mod arbitrary {
    //! Arbitrary certificates and DPoP headers never panic the endpoints.
    use super::*;
    use proptest::prelude::*;

    fn mutated_certificate() -> impl Strategy<Value = Vec<u8>> {
        let original = certificate("es256");
        let len = original.len();
        prop_oneof![
            prop::collection::vec((0..len, any::<u8>()), 1..6).prop_map(move |edits| {
                let mut der = original.clone();
                for (i, b) in edits {
                    der[i] = b;
                }
                der
            }),
            (0..len).prop_map({
                let original = certificate("es256");
                move |cut| original[..cut].to_vec()
            }),
            prop::collection::vec(any::<u8>(), 0..500),
        ]
    }

    fn dpop_header() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,300}",
            "[A-Za-z0-9_-]{1,200}\\.[A-Za-z0-9_-]{1,300}\\.[A-Za-z0-9_-]{0,100}",
            // A real header with a garbled payload or signature.
            ("[A-Za-z0-9_-]{0,200}", "[A-Za-z0-9_-]{0,100}").prop_map(|(payload, sig)| {
                let p = custom_proof(&signer("es256"), good_header(), good_claims(t0(), "x"));
                let header = p.split('.').next().unwrap_or_default().to_owned();
                format!("{header}.{payload}.{sig}")
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_client_certificates_never_panic_self_signed_authentication(
            der in mutated_certificate(),
        ) {
            let b = bench();
            match block_on(b.server.authenticate_request(&cert_bc(der).incoming(), t0(), &b.rng)) {
                ciba_server::BackchannelOutcome::Respond(r) => {
                    prop_assert_eq!(r.response.status().as_u16(), 401);
                }
                // A mutation outside the public key (say, in the signature) still matches.
                ciba_server::BackchannelOutcome::UserIdentification(_) => {}
            }
        }

        #[test]
        fn arbitrary_dpop_headers_never_panic_and_are_invalid_dpop_proof(
            value in dpop_header(),
        ) {
            let b = bench();
            let Ok(header) = HeaderValue::from_str(&value) else { return Ok(()) };
            let mut req = dpop_token_req("unknown-auth-req-id");
            req.headers.insert("dpop", header);
            let (status, error) = token_error(&b.token(&req, t0()));
            prop_assert_eq!(status, 400);
            prop_assert_eq!(error, "invalid_dpop_proof");
        }
    }
}
