//! Client authentication at both endpoints: every supported method, and the ways each can
//! fail.

use crate::common;

use std::sync::Arc;

use base64::Engine as _;
use ciba_core::jose::{HmacSigner, JwsAlgorithm};
use ciba_server::ClaimError;
use ciba_server::{
    AuthMethod, BackchannelError, BackchannelOutcome, BoxFuture, CIBA_GRANT_TYPE, CibaServer,
    ClientMetadata, ClientRegistry, DeliveryMode, MemoryStore, RegistryError, TlsClientCertificate,
    TokenOutcome,
};
use ciba_server::{ClientAuthError, JWT_BEARER_ASSERTION_TYPE, min_hmac_secret_bytes};
use common::*;
use http::HeaderValue;
use serde_json::json;

fn auth_error(outcome: BackchannelOutcome) -> ClientAuthError {
    match outcome {
        BackchannelOutcome::Respond(r) => {
            assert_eq!(r.status(), 401, "{:?}", r.error);
            assert!(r.response.headers().contains_key("www-authenticate"));
            match r.error {
                BackchannelError::ClientAuth(e) => e,
                other => panic!("not a client auth error: {other:?}"),
            }
        }
        BackchannelOutcome::UserIdentification(t) => panic!("accepted {t:?}"),
    }
}

fn with_assertion(client_id: &str, jwt: &str) -> Req {
    Req::form(&[
        ("scope", "openid"),
        ("login_hint", "alice"),
        ("client_notification_token", CNT),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", jwt),
        ("client_id", client_id),
    ])
}

#[test]
fn basic_credentials_are_form_decoded_before_comparison() {
    // The secret has a space, a colon, '&' and '='; basic_header form-encodes them (the
    // space becomes '+', the colon %3A), so this succeeds only if the server decodes.
    let h = Harness::new();
    let t = h.ticket(&bc_request(POLL, &[]), t0());
    assert_eq!(t.client_id, POLL);
    // A broken percent-escape is a malformed header, not a wrong secret.
    let raw = format!("{POLL}:{}", POLL_SECRET.replace(' ', "%2"));
    let mut req = bc_request(POLL, &[]);
    req.headers.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
        .unwrap(),
    );
    assert!(matches!(
        auth_error(h.backchannel(&req, t0())),
        ClientAuthError::MalformedAuthorization
    ));
}

#[test]
fn wrong_or_missing_credentials_are_invalid_client_with_a_challenge() {
    let h = Harness::new();
    assert!(matches!(
        auth_error(h.backchannel(&bc_request(POLL, &[]).basic(POLL, "nope"), t0())),
        ClientAuthError::InvalidSecret
    ));
    let no_creds = Req::form(&[("scope", "openid"), ("login_hint", "alice")]);
    assert!(matches!(
        auth_error(h.backchannel(&no_creds, t0())),
        ClientAuthError::NoCredentials
    ));
    let unknown = Req::form(&[("scope", "openid"), ("login_hint", "a")]).basic("nobody", "x");
    assert!(matches!(
        auth_error(h.backchannel(&unknown, t0())),
        ClientAuthError::UnknownClient
    ));
}

#[test]
fn client_secret_post_works_and_must_be_the_registered_method() {
    let h = Harness::new();
    assert_eq!(h.ticket(&bc_request(PING, &[]), t0()).client_id, PING);
    // The poll client registered client_secret_basic: post is refused.
    let post = Req::form(&[
        ("scope", "openid"),
        ("login_hint", "alice"),
        ("client_id", POLL),
        ("client_secret", POLL_SECRET),
    ]);
    assert!(matches!(
        auth_error(h.backchannel(&post, t0())),
        ClientAuthError::MethodNotRegistered { .. }
    ));
}

#[test]
fn using_two_methods_at_once_is_refused() {
    let h = Harness::new();
    let both = bc_request(PING, &[]).basic(PING, PING_SECRET);
    assert!(matches!(
        auth_error(h.backchannel(&both, t0())),
        ClientAuthError::MultipleMethods
    ));
}

#[test]
fn form_client_id_must_match_the_basic_identity() {
    let h = Harness::new();
    let req = bc_request(POLL, &[("client_id", SCOPED)]);
    assert!(matches!(
        auth_error(h.backchannel(&req, t0())),
        ClientAuthError::ClientIdMismatch
    ));
}

#[test]
fn public_clients_cannot_use_the_backchannel_endpoint() {
    let h = Harness::new();
    let req = bc_request(PUBLIC, &[]);
    assert!(matches!(
        auth_error(h.backchannel(&req, t0())),
        ClientAuthError::MethodNotAccepted { .. }
    ));
}

#[test]
fn private_key_jwt_accepts_issuer_token_and_backchannel_audiences() {
    let h = Harness::new();
    let s = signer("es256");
    for (i, aud) in [
        json!(ISSUER),
        json!(TOKEN_ENDPOINT),
        json!(BC_ENDPOINT),
        json!([ISSUER]),
    ]
    .into_iter()
    .enumerate()
    {
        let jwt = assertion(&s, PUSH, aud.clone(), t0(), &format!("aud-{i}"));
        let out = h.backchannel(&with_assertion(PUSH, &jwt), t0());
        assert!(
            matches!(out, BackchannelOutcome::UserIdentification(_)),
            "{aud}"
        );
    }
    let jwt = assertion(&s, PUSH, json!("https://other.example"), t0(), "aud-x");
    assert!(matches!(
        auth_error(h.backchannel(&with_assertion(PUSH, &jwt), t0())),
        ClientAuthError::AssertionClaims {
            source: ClaimError::AudienceMismatch
        }
    ));
}

#[test]
fn a_multi_valued_assertion_audience_is_refused_unless_opted_in() {
    let s = signer("es256");
    let multi = json!(["https://other.example", ISSUER]);
    let h = Harness::new();
    let jwt = assertion(&s, PUSH, multi.clone(), t0(), "multi-1");
    assert!(matches!(
        auth_error(h.backchannel(&with_assertion(PUSH, &jwt), t0())),
        ClientAuthError::AssertionClaims {
            source: ClaimError::AudienceMismatch
        }
    ));
    let mut config = base_config();
    config.multi_valued_assertion_audience = true;
    let h = Harness::with(config, Default::default(), "eddsa");
    let jwt = assertion(&s, PUSH, multi, t0(), "multi-2");
    assert!(matches!(
        h.backchannel(&with_assertion(PUSH, &jwt), t0()),
        BackchannelOutcome::UserIdentification(_)
    ));
}

#[test]
fn client_secret_jwt_refuses_a_secret_shorter_than_the_hash() {
    // A registry that does not validate: the authentication check stands on its own.
    let mut short = ClientMetadata::new("short-secret");
    short.token_endpoint_auth_method = AuthMethod::ClientSecretJwt;
    short.client_secret = Some("only-31-bytes-long-secret-value".into());
    short.grant_types = vec![CIBA_GRANT_TYPE.into()];
    short.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    let registry = RawClients(vec![Arc::new(short)]);
    let server = CibaServer::new(
        base_config(),
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(minter(&[])),
    );
    let hs256 = HmacSigner::new(JwsAlgorithm::HS256, b"only-31-bytes-long-secret-value").unwrap();
    let jwt = assertion(&hs256, "short-secret", json!(ISSUER), t0(), "hs-1");
    let req = Req::form(&[
        ("scope", "openid"),
        ("login_hint", "alice@example.com"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", &jwt),
    ]);
    let out = block_on(server.authenticate_request(&req.incoming(), t0(), &TestRng::new(1)));
    assert!(matches!(
        auth_error(out),
        ClientAuthError::SecretTooShort {
            alg: JwsAlgorithm::HS256
        }
    ));
    assert_eq!(min_hmac_secret_bytes(JwsAlgorithm::HS384), Some(48));
    assert_eq!(min_hmac_secret_bytes(JwsAlgorithm::HS512), Some(64));
}

/// A registry that hands out its clients without validating them.
struct RawClients(Vec<Arc<ClientMetadata>>);

impl ClientRegistry for RawClients {
    fn client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ClientMetadata>>, RegistryError>> {
        let found = self.0.iter().find(|c| c.client_id == client_id).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }
}

#[test]
fn backchannel_endpoint_is_not_an_audience_at_the_token_endpoint() {
    let h = Harness::new();
    let jwt = assertion(&signer("ps256"), SIGNED, json!(BC_ENDPOINT), t0(), "tok-1");
    let req = Req::form(&[
        ("grant_type", ciba_server::CIBA_GRANT_TYPE),
        ("auth_req_id", "x"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", &jwt),
    ]);
    assert_eq!(
        token_error(&h.token(&req, t0())),
        (401, "invalid_client".into())
    );
    let jwt = assertion(
        &signer("ps256"),
        SIGNED,
        json!(TOKEN_ENDPOINT),
        t0(),
        "tok-2",
    );
    let req = Req::form(&[
        ("grant_type", ciba_server::CIBA_GRANT_TYPE),
        ("auth_req_id", "x"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", &jwt),
    ]);
    // Authenticated: the unknown auth_req_id is what fails now.
    assert_eq!(
        token_error(&h.token(&req, t0())),
        (400, "invalid_grant".into())
    );
}

#[test]
fn strict_audience_mode_accepts_only_the_issuer() {
    let mut config = base_config();
    config.strict_assertion_audience = true;
    let h = Harness::with(config, Default::default(), "eddsa");
    let s = signer("es256");
    let ok = assertion(&s, PUSH, json!(ISSUER), t0(), "s-1");
    assert!(matches!(
        h.backchannel(&with_assertion(PUSH, &ok), t0()),
        BackchannelOutcome::UserIdentification(_)
    ));
    for (i, aud) in [json!(TOKEN_ENDPOINT), json!([ISSUER, TOKEN_ENDPOINT])]
        .into_iter()
        .enumerate()
    {
        let jwt = assertion(&s, PUSH, aud, t0(), &format!("s-bad-{i}"));
        assert!(matches!(
            auth_error(h.backchannel(&with_assertion(PUSH, &jwt), t0())),
            ClientAuthError::AssertionClaims {
                source: ClaimError::AudienceMismatch
            }
        ));
    }
}

#[test]
fn assertion_jti_replay_is_refused() {
    let h = Harness::new();
    let jwt = assertion(&signer("es256"), PUSH, json!(ISSUER), t0(), "once");
    assert!(matches!(
        h.backchannel(&with_assertion(PUSH, &jwt), t0()),
        BackchannelOutcome::UserIdentification(_)
    ));
    assert!(matches!(
        auth_error(h.backchannel(&with_assertion(PUSH, &jwt), t0() + secs(1))),
        ClientAuthError::AssertionClaims {
            source: ClaimError::Replayed
        }
    ));
    // The replay entry expires with the assertion (exp + skew): a new assertion with the
    // same jti is accepted afterwards.
    let later = t0() + secs(200);
    let jwt = assertion(&signer("es256"), PUSH, json!(ISSUER), later, "once");
    assert!(matches!(
        h.backchannel(&with_assertion(PUSH, &jwt), later),
        BackchannelOutcome::UserIdentification(_)
    ));
}

#[test]
fn assertion_time_and_identity_claims_are_enforced() {
    let h = Harness::new();
    let s = signer("es256");
    let now = ciba_core::wire::unix_seconds(t0());
    let base = json!({"iss": PUSH, "sub": PUSH, "aud": ISSUER, "exp": now + 60, "jti": "j"});
    let with = |k: &str, v: serde_json::Value| {
        let mut c = base.clone();
        c[k] = v;
        c["jti"] = json!(format!("j-{k}-{}", c[k]));
        c
    };
    let without = |k: &str| {
        let mut c = base.clone();
        if k != "jti" {
            c["jti"] = json!(format!("j-no-{k}"));
        }
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let cases = [
        (with("exp", json!(now - 31)), ClaimError::Expired),
        (without("exp"), ClaimError::Missing { claim: "exp" }),
        (
            with("exp", json!(now + 3600)),
            ClaimError::LifetimeTooLong { max_secs: 600 },
        ),
        (with("nbf", json!(now + 120)), ClaimError::NotYetValid),
        (with("iat", json!(now + 120)), ClaimError::IssuedInFuture),
        (without("jti"), ClaimError::Missing { claim: "jti" }),
        (
            with("sub", json!("someone-else")),
            ClaimError::SubjectMismatch,
        ),
    ];
    for (claims, expected) in cases {
        let jwt = claims_assertion(&s, claims.clone());
        match auth_error(h.backchannel(&with_assertion(PUSH, &jwt), t0())) {
            ClientAuthError::AssertionClaims { source } => assert_eq!(source, expected, "{claims}"),
            other => panic!("{claims}: {other:?}"),
        }
    }
}

#[test]
fn assertion_signed_by_another_key_or_with_hmac_is_refused() {
    let h = Harness::new();
    // Right client, wrong key.
    let jwt = assertion(&signer("eddsa"), PUSH, json!(ISSUER), t0(), "k-1");
    assert!(matches!(
        auth_error(h.backchannel(&with_assertion(PUSH, &jwt), t0())),
        ClientAuthError::AssertionSignature { .. }
    ));
    // A private_key_jwt client cannot switch to an HMAC assertion.
    let jwt = assertion(&hmac("guess"), PUSH, json!(ISSUER), t0(), "k-2");
    assert!(matches!(
        auth_error(h.backchannel(&with_assertion(PUSH, &jwt), t0())),
        ClientAuthError::MethodNotRegistered { .. }
    ));
    // Wrong assertion type.
    let jwt = assertion(&signer("es256"), PUSH, json!(ISSUER), t0(), "k-3");
    let mut req = with_assertion(PUSH, &jwt);
    req.body = String::from_utf8(req.body)
        .unwrap()
        .replace("jwt-bearer", "saml2-bearer")
        .into_bytes();
    assert!(matches!(
        auth_error(h.backchannel(&req, t0())),
        ClientAuthError::UnsupportedAssertionType
    ));
}

#[test]
fn client_secret_jwt_verifies_with_the_shared_secret() {
    let h = Harness::new();
    assert_eq!(
        h.ticket(&bc_request(SECRET_JWT, &[]), t0()).client_id,
        SECRET_JWT
    );
    let jwt = assertion(
        &hmac("not-the-secret"),
        SECRET_JWT,
        json!(ISSUER),
        t0(),
        "h-1",
    );
    assert!(matches!(
        auth_error(h.backchannel(&with_assertion(SECRET_JWT, &jwt), t0())),
        ClientAuthError::AssertionSignature { .. }
    ));
}

#[test]
fn tls_client_auth_matches_the_registered_subject() {
    let h = Harness::new();
    assert_eq!(h.ticket(&bc_request(TLS, &[]), t0()).client_id, TLS);
    let mut wrong = bc_request(TLS, &[]);
    wrong.cert = Some(TlsClientCertificate {
        subject_dn: Some("CN=someone-else".into()),
        ..TlsClientCertificate::default()
    });
    assert!(matches!(
        auth_error(h.backchannel(&wrong, t0())),
        ClientAuthError::CertificateMismatch
    ));
    let mut none = bc_request(TLS, &[]);
    none.cert = None;
    assert!(matches!(
        auth_error(h.backchannel(&none, t0())),
        ClientAuthError::MissingCertificate
    ));
}

#[test]
fn token_endpoint_client_auth_failure_is_401_with_www_authenticate() {
    let h = Harness::new();
    let TokenOutcome::Respond(r) =
        h.token(&token_request(POLL, "x", t0()).basic(POLL, "bad"), t0())
    else {
        panic!("expected a refusal")
    };
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.response.headers()["www-authenticate"],
        format!("Basic realm=\"{ISSUER}\"").as_str()
    );
}

/// S-MD-6: the authentication methods and assertion algorithms the server is configured with
/// govern both endpoints at request time, also for clients a registry hands over that were
/// registered under a looser configuration. Here only `private_key_jwt` with ES256 is allowed:
/// the ES256 client is served; the PS256 `private_key_jwt` client and the `client_secret_basic`
/// client are refused with 401 `invalid_client` at the backchannel and the token endpoint,
/// where the permissive server takes them (a token request for an unknown `auth_req_id` gets
/// past client authentication to 400 `invalid_grant` there).
#[test]
fn configured_auth_methods_and_algorithms_govern_both_endpoints() {
    let permissive = base_config();
    let mut restricted = base_config();
    restricted.auth_methods = vec![AuthMethod::PrivateKeyJwt];
    restricted.auth_signing_algs = vec![JwsAlgorithm::ES256];
    let keys = key_set(&["eddsa"]);
    restricted.id_token_signing_algs = keys.algorithms();
    let mut registry = ciba_server::StaticClientRegistry::new();
    for c in clients() {
        registry.register(c, &permissive).unwrap();
    }
    let store = Arc::new(MemoryStore::default());
    let strict = Harness {
        server: CibaServer::new(
            restricted,
            Arc::new(registry),
            store.clone(),
            Arc::new(ciba_server::DefaultTokenMinter::new(keys)),
        ),
        store,
        op_keys: public_set(&["rs256", "eddsa"]),
        rng: TestRng::new(7),
    };
    let loose = Harness::new();

    // The allowed method and algorithm: served.
    strict.ticket(&bc_request(PUSH, &[]), t0());
    for client in [SIGNED, POLL] {
        // Backchannel: the permissive server takes the client, the strict one refuses it.
        loose.ticket(&bc_request(client, &[]), t0());
        let BackchannelOutcome::Respond(r) = strict.backchannel(&bc_request(client, &[]), t0())
        else {
            panic!("{client}: the strict server took a method or algorithm it does not allow")
        };
        assert_eq!(r.status(), 401, "{client}");
        assert_eq!(
            json_body(&r.response)["error"],
            "invalid_client",
            "{client}"
        );
        // Token endpoint: past client authentication on the permissive server, not on the
        // strict one.
        let TokenOutcome::Respond(r) =
            loose.token(&token_request(client, "unknown-id", t0()), t0())
        else {
            panic!("{client}: expected a refusal")
        };
        assert_eq!(json_body(&r.response)["error"], "invalid_grant", "{client}");
        let TokenOutcome::Respond(r) =
            strict.token(&token_request(client, "unknown-id", t0()), t0())
        else {
            panic!("{client}: expected a refusal")
        };
        assert_eq!(r.status(), 401, "{client}");
        assert_eq!(
            json_body(&r.response)["error"],
            "invalid_client",
            "{client}"
        );
    }
}

#[test]
fn tls_client_auth_matches_each_registered_alternative_name_exactly() {
    // RFC 8705 section 2.1.2: the client registers one name, and a certificate matches when
    // one of its names of that type is exactly it.
    type Set = fn(&mut ClientMetadata, &str);
    type Put = fn(&mut TlsClientCertificate, Vec<String>);
    let cases: [(&str, Set, Put); 3] = [
        (
            "https://rp.example/client",
            |m, v| m.tls_client_auth_san_uri = Some(v.into()),
            |c, v| c.san_uri = v,
        ),
        (
            "192.0.2.7",
            |m, v| m.tls_client_auth_san_ip = Some(v.into()),
            |c, v| c.san_ip = v,
        ),
        (
            "client@rp.example",
            |m, v| m.tls_client_auth_san_email = Some(v.into()),
            |c, v| c.san_email = v,
        ),
    ];
    for (name, set, put) in cases {
        let h = Harness::with_clients(base_config(), Default::default(), "eddsa", |list| {
            let tls = list.iter_mut().find(|c| c.client_id == TLS).unwrap();
            tls.tls_client_auth_subject_dn = None;
            set(tls, name);
        });
        let presenting = |names: &[&str]| {
            let mut cert = TlsClientCertificate::default();
            put(&mut cert, names.iter().map(|n| (*n).to_owned()).collect());
            let mut req = bc_request(TLS, &[]);
            req.cert = Some(cert);
            h.backchannel(&req, t0())
        };
        assert!(
            matches!(
                presenting(&["other.example", name]),
                BackchannelOutcome::UserIdentification(_)
            ),
            "{name}: one matching name among others is enough"
        );
        assert!(
            matches!(
                auth_error(presenting(&["other.example"])),
                ClientAuthError::CertificateMismatch
            ),
            "{name}: a certificate without the name is refused"
        );
        assert!(
            matches!(
                auth_error(presenting(&[])),
                ClientAuthError::CertificateMismatch
            ),
            "{name}: a certificate without names of that type is refused"
        );
    }
}

#[test]
fn a_bare_assertion_member_beside_basic_credentials_is_two_methods() {
    // Either half of the JWT assertion method announces it: with HTTP Basic beside it the
    // request uses two methods (RFC 6749 section 2.3), whichever half came.
    let h = Harness::new();
    for half in [
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"),
    ] {
        let req = bc_request(POLL, &[half]);
        assert!(
            matches!(
                auth_error(h.backchannel(&req, t0())),
                ClientAuthError::MultipleMethods
            ),
            "{}",
            half.0
        );
    }
}

#[test]
fn the_authorization_header_may_fill_its_limit_and_not_a_byte_more() {
    // The default limit is 8 KiB. A header of exactly that size is read (and its secret found
    // wrong); one byte more is refused unread.
    let h = Harness::new();
    let header_of = |len: usize| {
        let prefix = "Basic ";
        // Unpadded base64 of n bytes is ceil(4n/3) characters; pick n to land on `len`.
        let encoded_len = len - prefix.len();
        let raw_len = encoded_len * 3 / 4;
        let raw = format!("{POLL}:{}", "x".repeat(raw_len - POLL.len() - 1));
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
        assert_eq!(
            encoded.len(),
            encoded_len,
            "choose a length base64 can reach"
        );
        format!("{prefix}{encoded}")
    };
    let sent = |len: usize| {
        let mut req = bc_request(POLL, &[]);
        req.headers.insert(
            "authorization",
            HeaderValue::from_str(&header_of(len)).unwrap(),
        );
        auth_error(h.backchannel(&req, t0()))
    };
    assert!(matches!(sent(8192), ClientAuthError::InvalidSecret));
    assert!(matches!(
        sent(8193),
        ClientAuthError::MalformedAuthorization
    ));
}

#[test]
fn assertion_lifetime_and_jti_length_are_bounded_exactly_at_their_limits() {
    // The longest lifetime accepted is max_assertion_lifetime (600 s here) from now, and the
    // longest jti is a parameter value's limit (2,048 bytes).
    let h = Harness::new();
    let s = signer("es256");
    let now = ciba_core::wire::unix_seconds(t0());
    let send = |exp: i64, jti: &str| {
        let claims = json!({"iss": PUSH, "sub": PUSH, "aud": ISSUER, "exp": exp, "jti": jti});
        h.backchannel(&with_assertion(PUSH, &claims_assertion(&s, claims)), t0())
    };
    let accepted = |o: BackchannelOutcome| matches!(o, BackchannelOutcome::UserIdentification(_));
    assert!(accepted(send(now + 600, "lifetime-at-limit")));
    assert!(matches!(
        auth_error(send(now + 601, "lifetime-over")),
        ClientAuthError::AssertionClaims {
            source: ClaimError::LifetimeTooLong { max_secs: 600 }
        }
    ));
    assert!(accepted(send(now + 60, &"j".repeat(2048))));
    // An empty jti is no jti: a string claim must have content.
    assert!(matches!(
        auth_error(send(now + 60, "")),
        ClientAuthError::AssertionClaims {
            source: ClaimError::Malformed { claim: "jti" }
        }
    ));
    assert!(matches!(
        auth_error(send(now + 60, &"k".repeat(2049))),
        ClientAuthError::AssertionClaims {
            source: ClaimError::Malformed { claim: "jti" }
        }
    ));
}
