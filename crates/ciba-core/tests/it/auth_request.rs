//! The backchannel authentication request: what goes on the wire, signed and unsigned, and
//! every refusal made before anything is sent.

use std::num::NonZeroU32;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciba_core::AUTH_REQUEST_RESERVED_PARAMETERS as RESERVED_PARAMETERS;
use ciba_core::JWT_BEARER_ASSERTION_TYPE;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{AlgorithmPolicy, CompactJws, HmacSigner, JwkSet, JwsAlgorithm};
use ciba_core::wire::is_b64token;
use ciba_core::wire::parse_form;
use ciba_core::{
    AuthRequest, Client, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Error, Hint, Limits,
    RequestError, ServerMetadata,
};
use ciba_core::{MAX_REQUEST_LIFETIME, generate_client_notification_token};
use ciba_test::random::Counter;
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://op.example";
const BACKCHANNEL: &str = "https://op.example/bc-authorize";

/// Deterministic, but a different byte pattern on every call (so `jti`s differ).
fn rng() -> Counter {
    Counter::new(7)
}

use ciba_test::clock::t0 as now;
use ciba_test::keys::{jwk as key, signer};

fn metadata_with(extra: Value) -> ServerMetadata {
    let mut doc = json!({
        "issuer": ISSUER,
        "token_endpoint": "https://op.example/token",
        "backchannel_authentication_endpoint": BACKCHANNEL,
        "backchannel_token_delivery_modes_supported": ["poll", "ping", "push"],
        "backchannel_authentication_request_signing_alg_values_supported": ["ES256", "PS256"],
        "backchannel_user_code_parameter_supported": true,
        "mtls_endpoint_aliases": {
            "backchannel_authentication_endpoint": "https://mtls.op.example/bc-authorize"
        }
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            doc.as_object_mut().unwrap().remove(k);
        } else {
            doc[k] = v.clone();
        }
    }
    ServerMetadata::from_json(&serde_json::to_vec(&doc).unwrap(), ISSUER, &Limits::DEFAULT).unwrap()
}

fn client_with(
    auth: ClientAuth,
    mode: DeliveryMode,
    user_code: bool,
    md: ServerMetadata,
) -> Client {
    let mut config = ClientConfig::new("client-1", auth, mode);
    config.user_code_parameter = user_code;
    if mode.uses_notifications() {
        config.notification_endpoint = Some("https://rp.example/cb".into());
    }
    Client::new(config, md).unwrap()
}

fn poll_client() -> Client {
    client_with(
        ClientAuth::SecretPost(ClientSecret::new("s3cret")),
        DeliveryMode::Poll,
        false,
        metadata_with(json!({})),
    )
}

fn login_hint() -> AuthRequest {
    AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
}

fn form(req: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
    parse_form(req.body(), 1 << 20, 100).unwrap()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn refusal(result: Result<http::Request<Vec<u8>>, Error>) -> RequestError {
    match result {
        Err(Error::Request(e)) => e,
        other => panic!("expected a RequestError, got {other:?}"),
    }
}

#[test]
fn poll_request_is_a_form_post_to_the_backchannel_endpoint() {
    let req = login_hint()
        .scope(["openid email", "profile"])
        .acr_values(["urn:acr:high", "urn:acr:low"])
        .binding_message("W4SCT")
        .requested_expiry(NonZeroU32::new(120).unwrap())
        .build(&poll_client(), now(), &rng())
        .unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), BACKCHANNEL);
    assert_eq!(
        req.headers()[http::header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    let p = form(&req);
    assert_eq!(param(&p, "scope"), Some("openid email profile"));
    assert_eq!(param(&p, "login_hint"), Some("alice@example.com"));
    assert_eq!(param(&p, "acr_values"), Some("urn:acr:high urn:acr:low"));
    assert_eq!(param(&p, "binding_message"), Some("W4SCT"));
    assert_eq!(param(&p, "requested_expiry"), Some("120"));
    assert_eq!(param(&p, "client_id"), Some("client-1"));
    assert_eq!(param(&p, "client_secret"), Some("s3cret"));
    assert_eq!(param(&p, "client_notification_token"), None);
    assert_eq!(param(&p, "request"), None);
}

#[test]
fn each_hint_kind_is_sent_under_its_own_name() {
    for (hint, name) in [
        (Hint::LoginHint("alice".into()), "login_hint"),
        (Hint::IdTokenHint("eyJ.a.b".into()), "id_token_hint"),
        (Hint::LoginHintToken("eyJ.c.d".into()), "login_hint_token"),
    ] {
        let value = hint.value().to_owned();
        let req = AuthRequest::new(hint)
            .build(&poll_client(), now(), &rng())
            .unwrap();
        let p = form(&req);
        assert_eq!(param(&p, name), Some(value.as_str()));
        let hints = p
            .iter()
            .filter(|(k, _)| {
                ["login_hint", "id_token_hint", "login_hint_token"].contains(&k.as_str())
            })
            .count();
        assert_eq!(hints, 1);
    }
}

#[test]
fn signed_request_keeps_every_parameter_inside_the_jwt() {
    let client_key = signer("es256");
    let client = client_with(
        ClientAuth::private_key_jwt(signer("ps256")),
        DeliveryMode::Ping,
        true,
        metadata_with(json!({})),
    );
    let req = AuthRequest::new(Hint::LoginHintToken("eyJhbGciOiJub25lIn0.e30.".into()))
        .scope(["openid", "payments"])
        .client_notification_token("8d67dc78-7faa-4d41-aabd-67707b374255")
        .acr_values(["urn:acr:high"])
        .binding_message("W4SCT")
        .user_code("1234")
        .requested_expiry(NonZeroU32::new(300).unwrap())
        .extra("request_context", "ctx-1")
        .extra_json(
            "authorization_details",
            json!([{"type": "payment_initiation", "amount": 10}]),
        )
        .build_signed(&client, &client_key, now(), &rng())
        .unwrap();
    assert_eq!(req.uri(), BACKCHANNEL);

    // Outside the JWT: only `request` and client authentication.
    let p = form(&req);
    let mut names: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["client_assertion", "client_assertion_type", "request"]
    );

    // Inside: a JWT signed by the client's request-signing key.
    let jws = CompactJws::parse(param(&p, "request").unwrap(), &Limits::DEFAULT).unwrap();
    let set = JwkSet {
        keys: vec![key("es256").to_public()],
    };
    let alg = verify_with_set(&jws, &set, &AlgorithmPolicy::default()).unwrap();
    assert_eq!(alg, JwsAlgorithm::ES256);
    let c = jws.claims(&Limits::DEFAULT).unwrap();
    let t = 1_700_000_000;
    assert_eq!(c["aud"], ISSUER);
    assert_eq!(c["iss"], "client-1");
    assert_eq!(c["iat"], t);
    assert_eq!(c["nbf"], t);
    assert_eq!(c["exp"], t + 300);
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 22));
    assert!(c.get("sub").is_none());
    assert_eq!(c["scope"], "openid payments");
    assert_eq!(c["login_hint_token"], "eyJhbGciOiJub25lIn0.e30.");
    assert_eq!(
        c["client_notification_token"],
        "8d67dc78-7faa-4d41-aabd-67707b374255"
    );
    assert_eq!(c["acr_values"], "urn:acr:high");
    assert_eq!(c["binding_message"], "W4SCT");
    assert_eq!(c["user_code"], "1234");
    assert_eq!(c["requested_expiry"], json!(300));
    assert_eq!(c["request_context"], "ctx-1");
    assert_eq!(
        c["authorization_details"],
        json!([{"type": "payment_initiation", "amount": 10}])
    );
    let mut claim_names: Vec<&str> = c.keys().map(String::as_str).collect();
    claim_names.sort_unstable();
    assert_eq!(
        claim_names,
        [
            "acr_values",
            "aud",
            "authorization_details",
            "binding_message",
            "client_notification_token",
            "exp",
            "iat",
            "iss",
            "jti",
            "login_hint_token",
            "nbf",
            "request_context",
            "requested_expiry",
            "scope",
            "user_code",
        ]
    );
}

#[test]
fn signed_request_from_an_mtls_client_sends_client_id_outside_the_jwt() {
    let client = client_with(
        ClientAuth::TlsClientAuth,
        DeliveryMode::Poll,
        false,
        metadata_with(json!({})),
    );
    let req = login_hint()
        .build_signed(&client, &signer("ps256"), now(), &rng())
        .unwrap();
    assert_eq!(req.uri(), "https://mtls.op.example/bc-authorize");
    let p = form(&req);
    let mut names: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["client_id", "request"]);
    assert_eq!(param(&p, "client_id"), Some("client-1"));
}

#[test]
fn signed_request_lifetime_is_configurable() {
    let req = login_hint()
        .request_lifetime(Duration::from_secs(60 * 60))
        .request_object(&poll_client(), &signer("es256"), now(), &rng())
        .unwrap();
    let c = CompactJws::parse(&req, &Limits::DEFAULT)
        .unwrap()
        .claims(&Limits::DEFAULT)
        .unwrap();
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(),
        3600
    );
}

#[test]
fn client_secret_basic_request_carries_authorization_basic_and_no_secret_in_the_body() {
    let client = client_with(
        ClientAuth::SecretBasic(ClientSecret::new("top-secret")),
        DeliveryMode::Poll,
        false,
        metadata_with(json!({})),
    );
    let req = login_hint().build(&client, now(), &rng()).unwrap();
    let auth = req.headers()[http::header::AUTHORIZATION].to_str().unwrap();
    let b64 = auth.strip_prefix("Basic ").unwrap();
    assert_eq!(STANDARD.decode(b64).unwrap(), b"client-1:top-secret");
    let body = String::from_utf8(req.body().clone()).unwrap();
    assert!(!body.contains("top-secret"));
    assert!(!body.contains("client_secret"));
    assert!(!body.contains("client_id"));
}

#[test]
fn private_key_jwt_request_carries_a_client_assertion_signed_for_the_issuer() {
    let client = client_with(
        ClientAuth::private_key_jwt(signer("rs256")),
        DeliveryMode::Poll,
        false,
        metadata_with(json!({})),
    );
    let req = login_hint().build(&client, now(), &rng()).unwrap();
    let p = form(&req);
    assert_eq!(
        param(&p, "client_assertion_type"),
        Some(JWT_BEARER_ASSERTION_TYPE)
    );
    let jws = CompactJws::parse(param(&p, "client_assertion").unwrap(), &Limits::DEFAULT).unwrap();
    let set = JwkSet {
        keys: vec![key("rs256").to_public()],
    };
    verify_with_set(&jws, &set, &AlgorithmPolicy::default()).unwrap();
    let c = jws.claims(&Limits::DEFAULT).unwrap();
    assert_eq!(c["aud"], ISSUER);
    assert_eq!(c["iss"], "client-1");
    assert_eq!(c["sub"], "client-1");
    assert_eq!(param(&p, "login_hint"), Some("alice@example.com"));
}

#[test]
fn scope_without_openid_is_refused() {
    let e = refusal(
        login_hint()
            .scope(["email", "profile"])
            .build(&poll_client(), now(), &rng()),
    );
    assert_eq!(e, RequestError::MissingOpenidScope);
    // `openid` as a substring is not `openid`.
    let e = refusal(
        login_hint()
            .scope(["openidx"])
            .build(&poll_client(), now(), &rng()),
    );
    assert_eq!(e, RequestError::MissingOpenidScope);
}

#[test]
fn scope_with_characters_outside_the_scope_token_syntax_is_refused() {
    let e = refusal(login_hint().scope(["openid", "bad\"scope"]).build(
        &poll_client(),
        now(),
        &rng(),
    ));
    assert!(matches!(
        e,
        RequestError::InvalidToken { param: "scope", .. }
    ));
}

#[test]
fn acr_value_with_forbidden_characters_is_refused() {
    let e = refusal(
        login_hint()
            .acr_values(["caf\u{e9}"])
            .build(&poll_client(), now(), &rng()),
    );
    assert!(matches!(
        e,
        RequestError::InvalidToken {
            param: "acr_values",
            ..
        }
    ));
}

#[test]
fn empty_hint_is_refused() {
    for hint in [
        Hint::LoginHint(String::new()),
        Hint::IdTokenHint(String::new()),
        Hint::LoginHintToken(String::new()),
    ] {
        let name = hint.param_name().to_owned();
        let e = refusal(AuthRequest::new(hint).build(&poll_client(), now(), &rng()));
        assert_eq!(e, RequestError::EmptyParameter { name });
    }
}

#[test]
fn a_second_hint_through_an_extra_parameter_is_refused() {
    let e = refusal(login_hint().extra("id_token_hint", "eyJ.a.b").build(
        &poll_client(),
        now(),
        &rng(),
    ));
    assert_eq!(
        e,
        RequestError::SecondHint {
            hint: "login_hint",
            extra: "id_token_hint"
        }
    );
}

#[test]
fn ping_and_push_clients_without_a_notification_token_are_refused() {
    for mode in [DeliveryMode::Ping, DeliveryMode::Push] {
        let client = client_with(
            ClientAuth::SecretPost(ClientSecret::new("s")),
            mode,
            false,
            metadata_with(json!({})),
        );
        let e = refusal(login_hint().build(&client, now(), &rng()));
        assert_eq!(e, RequestError::MissingClientNotificationToken { mode });
    }
}

#[test]
fn ping_client_sends_its_notification_token() {
    let client = client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        DeliveryMode::Ping,
        false,
        metadata_with(json!({})),
    );
    let cnt = generate_client_notification_token(&rng()).unwrap();
    let req = login_hint()
        .client_notification_token(cnt.clone())
        .build(&client, now(), &rng())
        .unwrap();
    assert_eq!(
        param(&form(&req), "client_notification_token"),
        Some(cnt.as_str())
    );
}

fn notification_client(mode: DeliveryMode) -> Client {
    client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        mode,
        false,
        metadata_with(json!({})),
    )
}

#[test]
fn the_notification_token_set_by_the_caller_can_be_read_back() {
    assert_eq!(login_hint().get_client_notification_token(), None);
    let r = login_hint().client_notification_token("caller-token-0123456789");
    assert_eq!(
        r.get_client_notification_token(),
        Some("caller-token-0123456789")
    );
}

#[test]
fn ensuring_a_notification_token_never_replaces_the_callers() {
    for mode in [DeliveryMode::Ping, DeliveryMode::Push] {
        let client = notification_client(mode);
        let req = login_hint()
            .client_notification_token("caller-token-0123456789")
            .ensure_client_notification_token(&client, &rng())
            .unwrap();
        assert_eq!(
            req.get_client_notification_token(),
            Some("caller-token-0123456789")
        );
        let sent = req.build(&client, now(), &rng()).unwrap();
        assert_eq!(
            param(&form(&sent), "client_notification_token"),
            Some("caller-token-0123456789")
        );
    }
}

#[test]
fn ensuring_a_notification_token_generates_one_only_for_ping_and_push_when_absent() {
    for mode in [DeliveryMode::Ping, DeliveryMode::Push] {
        let client = notification_client(mode);
        let req = login_hint()
            .ensure_client_notification_token(&client, &rng())
            .unwrap();
        let token = req.get_client_notification_token().unwrap().to_owned();
        assert!(is_b64token(&token) && token.len() >= 27, "{token}");
        let sent = req.build(&client, now(), &rng()).unwrap();
        assert_eq!(
            param(&form(&sent), "client_notification_token"),
            Some(token.as_str())
        );
    }
    let req = login_hint()
        .ensure_client_notification_token(&poll_client(), &rng())
        .unwrap();
    assert_eq!(req.get_client_notification_token(), None);
}

#[test]
fn notification_token_longer_than_1024_characters_is_refused() {
    let client = client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        DeliveryMode::Push,
        false,
        metadata_with(json!({})),
    );
    let ok = "a".repeat(1024);
    assert!(
        login_hint()
            .client_notification_token(ok)
            .build(&client, now(), &rng())
            .is_ok()
    );
    let e = refusal(
        login_hint()
            .client_notification_token("a".repeat(1025))
            .build(&client, now(), &rng()),
    );
    assert_eq!(
        e,
        RequestError::ClientNotificationTokenTooLong {
            chars: 1025,
            max: 1024
        }
    );
}

#[test]
fn notification_token_outside_the_b64token_syntax_is_refused() {
    let client = client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        DeliveryMode::Ping,
        false,
        metadata_with(json!({})),
    );
    for bad in ["", "has space", "a=b", "===", "quote\"", "tab\t", "ünï"] {
        let e = refusal(
            login_hint()
                .client_notification_token(bad)
                .build(&client, now(), &rng()),
        );
        assert_eq!(e, RequestError::MalformedClientNotificationToken, "{bad:?}");
    }
    // A poll client that volunteers a token gets it checked too.
    let e = refusal(login_hint().client_notification_token("has space").build(
        &poll_client(),
        now(),
        &rng(),
    ));
    assert_eq!(e, RequestError::MalformedClientNotificationToken);
}

#[test]
fn generated_notification_token_is_a_b64token_with_160_bits() {
    let cnt = generate_client_notification_token(&rng()).unwrap();
    assert!(is_b64token(&cnt));
    // 20 random bytes in unpadded base64url.
    assert_eq!(cnt.len(), 27);
}

#[test]
fn requested_expiry_zero_is_unrepresentable_and_positive_values_are_sent_in_decimal() {
    // Zero cannot be asked for: `requested_expiry` takes a `NonZeroU32`.
    let req = login_hint()
        .requested_expiry(NonZeroU32::MAX)
        .build(&poll_client(), now(), &rng())
        .unwrap();
    assert_eq!(param(&form(&req), "requested_expiry"), Some("4294967295"));
}

#[test]
fn empty_binding_message_is_refused() {
    let e = refusal(
        login_hint()
            .binding_message("")
            .build(&poll_client(), now(), &rng()),
    );
    assert_eq!(
        e,
        RequestError::EmptyParameter {
            name: "binding_message".into()
        }
    );
}

#[test]
fn user_code_without_client_registration_is_refused() {
    // The OP supports user codes, the client did not register for them.
    let e = refusal(
        login_hint()
            .user_code("1234")
            .build(&poll_client(), now(), &rng()),
    );
    assert_eq!(e, RequestError::UserCodeNotRegistered);
}

#[test]
fn user_code_without_op_support_is_refused() {
    let client = client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        DeliveryMode::Poll,
        true,
        metadata_with(json!({"backchannel_user_code_parameter_supported": null})),
    );
    let e = refusal(login_hint().user_code("1234").build(&client, now(), &rng()));
    assert_eq!(e, RequestError::UserCodeNotSupported);
}

#[test]
fn user_code_is_sent_when_client_and_op_both_support_it() {
    let client = client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        DeliveryMode::Poll,
        true,
        metadata_with(json!({})),
    );
    let req = login_hint()
        .user_code("1234")
        .build(&client, now(), &rng())
        .unwrap();
    assert_eq!(param(&form(&req), "user_code"), Some("1234"));
    let e = refusal(login_hint().user_code("").build(&client, now(), &rng()));
    assert_eq!(
        e,
        RequestError::EmptyParameter {
            name: "user_code".into()
        }
    );
}

#[test]
fn reserved_names_are_refused_as_extra_parameters() {
    let hints = ["login_hint", "id_token_hint", "login_hint_token"];
    for name in RESERVED_PARAMETERS.iter().filter(|n| !hints.contains(n)) {
        let e = refusal(
            login_hint()
                .extra(*name, "x")
                .build(&poll_client(), now(), &rng()),
        );
        assert_eq!(
            e,
            RequestError::ReservedParameter {
                name: (*name).to_owned()
            }
        );
    }
    // Names a client must never smuggle in, refused by the builder itself (not only by being
    // listed).
    for name in [
        "grant_type",
        "client_assertion",
        "request",
        "client_secret",
        "sub",
    ] {
        assert_eq!(
            refusal(
                login_hint()
                    .extra(name, "x")
                    .build(&poll_client(), now(), &rng())
            ),
            RequestError::ReservedParameter {
                name: name.to_owned()
            }
        );
    }
}

#[test]
fn repeated_extra_parameter_is_refused() {
    let e = refusal(
        login_hint()
            .extra("resource", "https://a.example")
            .extra("resource", "https://b.example")
            .build(&poll_client(), now(), &rng()),
    );
    assert_eq!(
        e,
        RequestError::DuplicateParameter {
            name: "resource".into()
        }
    );
}

#[test]
fn empty_or_null_extra_parameter_is_refused() {
    let e = refusal(
        login_hint()
            .extra("request_context", "")
            .build(&poll_client(), now(), &rng()),
    );
    assert!(matches!(e, RequestError::EmptyParameter { .. }));
    let e = refusal(login_hint().extra_json("claims", Value::Null).build(
        &poll_client(),
        now(),
        &rng(),
    ));
    assert!(matches!(e, RequestError::EmptyParameter { .. }));
}

#[test]
fn extra_parameters_are_sent_and_json_values_become_json_text() {
    let req = login_hint()
        .extra("request_context", "ctx")
        .extra_json("authorization_details", json!([{"type": "x"}]))
        .build(&poll_client(), now(), &rng())
        .unwrap();
    let p = form(&req);
    assert_eq!(param(&p, "request_context"), Some("ctx"));
    let details: Value = serde_json::from_str(param(&p, "authorization_details").unwrap()).unwrap();
    assert_eq!(details, json!([{"type": "x"}]));
}

#[test]
fn signed_request_is_refused_when_the_op_lists_no_signing_algorithms() {
    let client = client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        DeliveryMode::Poll,
        false,
        metadata_with(json!({
            "backchannel_authentication_request_signing_alg_values_supported": null
        })),
    );
    let e = refusal(login_hint().build_signed(&client, &signer("es256"), now(), &rng()));
    assert_eq!(e, RequestError::SignedRequestsNotSupported);
}

#[test]
fn signed_request_with_an_hmac_signer_is_refused() {
    let hmac = HmacSigner::new(JwsAlgorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
    let client = client_with(
        ClientAuth::SecretPost(ClientSecret::new("s")),
        DeliveryMode::Poll,
        false,
        metadata_with(json!({
            "backchannel_authentication_request_signing_alg_values_supported": ["HS256", "ES256"]
        })),
    );
    let e = refusal(login_hint().build_signed(&client, &hmac, now(), &rng()));
    assert_eq!(
        e,
        RequestError::SymmetricSigningAlgorithm {
            alg: JwsAlgorithm::HS256
        }
    );
}

#[test]
fn signed_request_with_an_algorithm_the_op_does_not_list_is_refused() {
    let e = refusal(login_hint().build_signed(&poll_client(), &signer("rs256"), now(), &rng()));
    assert_eq!(
        e,
        RequestError::SigningAlgorithmNotSupported {
            alg: JwsAlgorithm::RS256
        }
    );
}

#[test]
fn request_lifetime_of_zero_or_over_sixty_minutes_is_refused() {
    for lifetime in [
        Duration::ZERO,
        MAX_REQUEST_LIFETIME + Duration::from_secs(1),
    ] {
        let e = refusal(login_hint().request_lifetime(lifetime).build_signed(
            &poll_client(),
            &signer("es256"),
            now(),
            &rng(),
        ));
        assert_eq!(
            e,
            RequestError::InvalidRequestLifetime {
                lifetime,
                max: MAX_REQUEST_LIFETIME
            }
        );
    }
}

#[test]
fn signed_request_validates_parameters_like_the_unsigned_one() {
    let e = refusal(login_hint().scope(["email"]).build_signed(
        &poll_client(),
        &signer("es256"),
        now(),
        &rng(),
    ));
    assert_eq!(e, RequestError::MissingOpenidScope);
}

#[test]
fn debug_output_hides_secrets_and_hint_values() {
    let r = AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
        .client_notification_token("cnt-value")
        .user_code("9876");
    let s = format!("{r:?}");
    assert!(!s.contains("alice"));
    assert!(!s.contains("cnt-value"));
    assert!(!s.contains("9876"));
}

#[test]
fn claims_of_a_signed_request_are_a_json_object_without_nested_request() {
    let jwt = login_hint()
        .request_object(&poll_client(), &signer("es256"), now(), &rng())
        .unwrap();
    let c: Map<String, Value> = CompactJws::parse(&jwt, &Limits::DEFAULT)
        .unwrap()
        .claims(&Limits::DEFAULT)
        .unwrap();
    assert!(c.get("request").is_none());
    assert!(c.get("request_uri").is_none());
    assert!(c.get("client_id").is_none() || c["client_id"] == "client-1");
}

#[test]
fn request_object_has_no_sub_so_it_cannot_double_as_a_client_assertion() {
    // JAR (RFC 9101) 10.8, checklist C-SRQ-7: a request object with sub = client_id, iss =
    // client_id and aud = the issuer would also be a valid client assertion.
    let jwt = login_hint()
        .request_object(&poll_client(), &signer("es256"), now(), &rng())
        .unwrap();
    let c: Map<String, Value> = CompactJws::parse(&jwt, &Limits::DEFAULT)
        .unwrap()
        .claims(&Limits::DEFAULT)
        .unwrap();
    assert!(c.get("sub").is_none(), "{c:?}");
    // Not even through an extra parameter.
    let smuggled = login_hint().extra("sub", "client-1").request_object(
        &poll_client(),
        &signer("es256"),
        now(),
        &rng(),
    );
    assert!(smuggled.is_err());
}

/// C-REQ-7: `acr_values` go out space-separated in the caller's order of preference: not
/// sorted, not deduplicated away from their place, and an item holding spaces is split where
/// it stands.
#[test]
fn acr_values_go_out_space_separated_in_order_of_preference() {
    let req = login_hint()
        .acr_values(["urn:acr:z-first", "urn:acr:b urn:acr:a", "urn:acr:m"])
        .build(&poll_client(), now(), &rng())
        .unwrap();
    assert_eq!(
        param(&form(&req), "acr_values"),
        Some("urn:acr:z-first urn:acr:b urn:acr:a urn:acr:m")
    );
}
