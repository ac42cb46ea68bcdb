//! The client side of the FAPI-CIBA profile (`ClientConfig::profile`): each clause that
//! applies to the client, refused before anything is sent.

use crate::support;

use std::time::Duration;

use ciba_core::RequestError;
use ciba_core::jose::{CompactJws, JwsAlgorithm};
use ciba_core::{
    AuthRequest, Client, ClientAuth, ClientConfig, ClientSecret, ConfigError, DeliveryMode,
    DpopKey, Error, Hint, IdTokenValidator, Limits, PollConfig, Poller, Profile, ServerMetadata,
};
use serde_json::json;
use support::*;

fn fapi_metadata() -> ServerMetadata {
    let mut doc = metadata_document();
    doc["backchannel_authentication_request_signing_alg_values_supported"] =
        json!(["PS256", "ES256", "RS256"]);
    ServerMetadata::from_json(doc.to_string().as_bytes(), ISSUER, &Limits::DEFAULT).unwrap()
}

fn fapi_config(auth: ClientAuth, mode: DeliveryMode) -> ClientConfig {
    let mut cfg = ClientConfig::new(CLIENT_ID, auth, mode);
    cfg.profile = Profile::FapiCiba;
    if mode.uses_notifications() {
        cfg.notification_endpoint = Some("https://client.example/cb".into());
    }
    cfg
}

fn fapi_client() -> Client {
    Client::new(
        fapi_config(
            ClientAuth::private_key_jwt(signer("ps256")),
            DeliveryMode::Poll,
        ),
        fapi_metadata(),
    )
    .unwrap()
}

fn refused_reason(result: Result<Client, Error>) -> &'static str {
    match result {
        Err(Error::Config(ConfigError::InvalidClient { reason })) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn request() -> AuthRequest {
    AuthRequest::new(Hint::LoginHint("alice@example.com".into())).binding_message("Pay 10 EUR")
}

#[test]
fn fapi_client_refuses_push_mode() {
    let r = Client::new(
        fapi_config(
            ClientAuth::private_key_jwt(signer("ps256")),
            DeliveryMode::Push,
        ),
        fapi_metadata(),
    );
    assert!(refused_reason(r).contains("push"));
}

#[test]
fn fapi_client_refuses_secret_based_authentication() {
    let secret = ClientSecret::new("s3cret-s3cret-s3cret-s3cret-s3cret");
    for auth in [
        ClientAuth::SecretBasic(secret.clone()),
        ClientAuth::SecretPost(secret.clone()),
        ClientAuth::secret_jwt(JwsAlgorithm::HS256, &secret).unwrap(),
    ] {
        let r = Client::new(fapi_config(auth, DeliveryMode::Poll), fapi_metadata());
        assert!(refused_reason(r).contains("private_key_jwt or mutual TLS"));
    }
    // Mutual TLS is accepted.
    Client::new(
        fapi_config(ClientAuth::SelfSignedTlsClientAuth, DeliveryMode::Ping),
        fapi_metadata(),
    )
    .unwrap();
}

#[test]
fn fapi_client_refuses_algorithms_other_than_ps256_and_es256() {
    for name in ["rs256", "eddsa", "es384"] {
        let r = Client::new(
            fapi_config(
                ClientAuth::private_key_jwt(signer(name)),
                DeliveryMode::Poll,
            ),
            fapi_metadata(),
        );
        assert!(refused_reason(r).contains("PS256 and ES256"), "{name}");
    }
    let mut cfg = fapi_config(
        ClientAuth::private_key_jwt(signer("es256")),
        DeliveryMode::Poll,
    );
    cfg.id_token_signed_response_alg = Some(JwsAlgorithm::RS256);
    assert!(refused_reason(Client::new(cfg, fapi_metadata())).contains("ID tokens"));
    // Request objects too.
    let client = fapi_client();
    let err = request()
        .build_signed(&client, &signer("rs256"), t0(), &rng())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Request(RequestError::AlgorithmNotAllowedByProfile {
            alg: JwsAlgorithm::RS256
        })
    ));
    // And ID tokens, whatever the OP advertises (ES256, RS256, EdDSA, ES384 here).
    let validator = IdTokenValidator::for_client(&client, op_jwks());
    assert_eq!(
        validator.algorithm_policy().allowed(),
        &[JwsAlgorithm::ES256]
    );
    let default = IdTokenValidator::for_client(&support::client(DeliveryMode::Poll), op_jwks());
    assert!(
        default
            .algorithm_policy()
            .allowed()
            .contains(&JwsAlgorithm::RS256)
    );
}

#[test]
fn fapi_client_sends_only_signed_requests_with_a_binding_message() {
    let client = fapi_client();
    let err = request().build(&client, t0(), &rng()).unwrap_err();
    assert!(matches!(
        err,
        Error::Request(RequestError::SignedRequestRequired)
    ));
    let no_message = AuthRequest::new(Hint::LoginHint("alice@example.com".into()));
    let err = no_message
        .build_signed(&client, &signer("ps256"), t0(), &rng())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Request(RequestError::BindingMessageRequired)
    ));
    let req = request()
        .build_signed(&client, &signer("ps256"), t0(), &rng())
        .unwrap();
    let pairs = form(&req);
    assert!(
        param(&pairs, "binding_message").is_none(),
        "only inside the JWT"
    );
    let jwt = param(&pairs, "request").unwrap();
    let claims = CompactJws::parse(jwt, &Limits::DEFAULT)
        .unwrap()
        .claims(&Limits::DEFAULT)
        .unwrap();
    // aud is the issuer, as a string; nbf is now; exp - nbf is at most 60 minutes.
    assert_eq!(claims["aud"], ISSUER);
    assert_eq!(claims["nbf"], unix(t0()));
    assert!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap() <= 3600);
    assert_eq!(claims["binding_message"], "Pay 10 EUR");
    let too_long = request().request_lifetime(Duration::from_secs(3601));
    assert!(
        too_long
            .build_signed(&client, &signer("ps256"), t0(), &rng())
            .is_err()
    );
}

#[test]
fn fapi_client_needs_sender_constrained_tokens() {
    let client = fapi_client();
    let ack = ack(t0(), 120, Some(5));
    let bare = PollConfig::new(IdTokenValidator::for_client(&client, op_jwks()));
    let err = Poller::new(&client, &ack, bare, t0()).unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::InvalidClient { .. })),
        "{err:?}"
    );
    let eddsa_dpop = PollConfig::new(IdTokenValidator::for_client(&client, op_jwks()))
        .dpop(DpopKey::from_signer(signer("eddsa")).unwrap());
    assert!(Poller::new(&client, &ack, eddsa_dpop, t0()).is_err());
    let dpop = PollConfig::new(IdTokenValidator::for_client(&client, op_jwks()))
        .dpop(DpopKey::from_signer(signer("es256")).unwrap());
    Poller::new(&client, &ack, dpop, t0()).unwrap();
    // A mutual-TLS client's tokens are certificate-bound: no DPoP key needed.
    let mtls = Client::new(
        fapi_config(ClientAuth::TlsClientAuth, DeliveryMode::Poll),
        fapi_metadata(),
    )
    .unwrap();
    let bare = PollConfig::new(IdTokenValidator::for_client(&mtls, op_jwks()));
    Poller::new(&mtls, &ack, bare, t0()).unwrap();
}

#[test]
fn the_default_profile_keeps_unsigned_requests_and_secrets() {
    let c = client(DeliveryMode::Poll);
    assert_eq!(c.config().profile, Profile::Default);
    let bare = AuthRequest::new(Hint::LoginHint("alice@example.com".into()));
    bare.build(&c, t0(), &rng()).unwrap();
}
