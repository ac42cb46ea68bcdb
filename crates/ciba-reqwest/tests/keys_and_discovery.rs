//! Discovery (issuer check, no redirects), the JWK Set cache (TTL, refetch on an unknown key,
//! rate-limited), the caller's notification token, signed requests, mTLS endpoint aliases and
//! DPoP, against a scripted OP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use ciba_core::dpop::DpopKey;
use ciba_core::id_token::IdTokenError;
use ciba_core::jose::{JoseError, JwkSigner, Signer};
use ciba_core::poll::PollError;
use ciba_core::random::OsRandom;
use ciba_core::{
    ClientAuth, ClientConfig, ClientSecret, ConfigError, DeliveryMode, EndpointPolicy,
    ParseErrorKind,
};
use ciba_reqwest::{CibaClient, ClientOptions, Error};
use common::*;
use serde_json::json;

fn poll_config() -> ClientConfig {
    let mut config = ClientConfig::new(
        CLIENT_ID,
        ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
        DeliveryMode::Poll,
    );
    config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    config
}

#[tokio::test]
async fn discovery_refuses_an_issuer_mismatch() {
    let op = ScriptedOp::start(1, 30).await;
    op.discovery.lock().unwrap()["issuer"] = json!("https://evil.example");
    let err = CibaClient::discover(&op.issuer(), poll_config(), ClientOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Core(ciba_core::Error::Config(ConfigError::IssuerMismatch { .. }))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn discovery_does_not_follow_a_redirect() {
    let target = ScriptedOp::start(1, 30).await;
    let location = target.server.url("/.well-known/openid-configuration");
    let redirecting = TestServer::start(move |_| {
        move |_: &Recorded| Reply::with(301, &[("location", location.as_str())], b"")
    })
    .await;
    let err = CibaClient::discover(&redirecting.base, poll_config(), ClientOptions::default())
        .await
        .unwrap_err();
    match err {
        Error::Core(ciba_core::Error::Parse(e)) => {
            assert_eq!(e.kind, ParseErrorKind::UnexpectedStatus { status: 301 })
        }
        other => panic!("expected a typed 301 refusal, got {other:?}"),
    }
    assert!(target.server.requests().is_empty());
}

#[tokio::test]
async fn plain_http_is_refused_without_the_loopback_opt_in() {
    let op = ScriptedOp::start(1, 30).await;
    let mut config = poll_config();
    config.endpoint_policy = EndpointPolicy::HTTPS_ONLY;
    let err = CibaClient::discover(&op.issuer(), config, ClientOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Core(ciba_core::Error::Config(
                ConfigError::InsecureEndpoint { .. }
            ))
        ),
        "{err:?}"
    );
    assert!(op.server.requests().is_empty());
}

#[tokio::test]
async fn jwks_is_cached_for_its_ttl_then_fetched_again() {
    let op = ScriptedOp::start(1, 30).await;
    let options = ClientOptions::default().jwks_ttl(Duration::from_millis(300));
    let client = op.client(options).await;
    assert_eq!(client.jwks().await.unwrap().keys.len(), 1);
    client.jwks().await.unwrap();
    assert_eq!(client.jwks_fetches().await, 1, "served from the cache");
    tokio::time::sleep(Duration::from_millis(400)).await;
    client.jwks().await.unwrap();
    assert_eq!(client.jwks_fetches().await, 2, "refetched after the TTL");
    assert_eq!(op.server.requests_to("/jwks").len(), 2);
}

fn rotated_key() -> JwkSigner {
    JwkSigner::generate_ed25519(&OsRandom, Some("rotated-1".into())).unwrap()
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_and_validates() {
    let op = ScriptedOp::start(1, 30).await;
    let new_key = rotated_key();
    op.script_token([op.tokens_signed_by(&new_key, "Bearer")]);
    let options = ClientOptions::default().jwks_refresh_cooldown(Duration::from_millis(200));
    let client = op.client(options).await;
    let ack = client.initiate(alice()).await.unwrap();
    let poll = client.poll(&ack);
    // The key rotates after the client cached the old set.
    let rotate = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        *op.jwks.lock().unwrap() = public_set(&[&jwk("es256"), &new_key.public_jwk().unwrap()]);
    };
    let (tokens, ()) = tokio::join!(poll, rotate);
    assert_eq!(tokens.unwrap().id_token.kid.as_deref(), Some("rotated-1"));
    assert_eq!(client.jwks_fetches().await, 2);
}

#[tokio::test]
async fn an_unknown_kid_missing_from_the_refetched_set_fails_after_one_refetch() {
    let op = ScriptedOp::start(1, 30).await;
    op.script_token([op.tokens_signed_by(&rotated_key(), "Bearer")]);
    let options = ClientOptions::default().jwks_refresh_cooldown(Duration::ZERO);
    let client = op.client(options).await;
    let ack = client.initiate(alice()).await.unwrap();
    let err = client.poll(&ack).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Poll(PollError::IdToken(IdTokenError::KeyUnavailable(
                JoseError::NoMatchingKey { .. }
            )))
        ),
        "{err:?}"
    );
    assert_eq!(
        client.jwks_fetches().await,
        2,
        "first fetch and one refetch"
    );
    assert_eq!(op.token_requests().len(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited() {
    let op = ScriptedOp::start(1, 30).await;
    let new_key = rotated_key();
    op.script_token([op.tokens_signed_by(&new_key, "Bearer")]);
    *op.jwks.lock().unwrap() = public_set(&[&jwk("es256")]);
    let client = op.client(ClientOptions::default()).await; // cooldown 60 s
    let ack = client.initiate(alice()).await.unwrap();
    let err = client.poll(&ack).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Poll(PollError::IdToken(IdTokenError::KeyUnavailable(
                JoseError::NoMatchingKey { .. }
            )))
        ),
        "{err:?}"
    );
    assert_eq!(
        client.jwks_fetches().await,
        1,
        "no refetch within the cooldown"
    );
}

#[tokio::test]
async fn the_callers_notification_token_is_sent_and_is_what_pings_must_bear() {
    const CALLER_TOKEN: &str = "caller-chosen-notification-token-0123456789";
    let op = ScriptedOp::start(1, 30).await;
    let client = op
        .client_with(
            ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
            DeliveryMode::Ping,
            ClientOptions::default(),
        )
        .await;
    let request = alice().client_notification_token(CALLER_TOKEN);
    assert_eq!(request.get_client_notification_token(), Some(CALLER_TOKEN));
    let ack = client.initiate(request).await.unwrap();
    let bc = &op.server.requests_to("/bc")[0];
    assert_eq!(
        bc.form_value("client_notification_token").as_deref(),
        Some(CALLER_TOKEN)
    );
    // The application's binding holds the caller's token: a ping bearing it is accepted,
    // another is refused.
    let binding = |id: &str| (id == ack.auth_req_id.as_str()).then(|| CALLER_TOKEN.to_owned());
    let ping = |token: &str| {
        http::Request::post("/cb")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(
                json!({ "auth_req_id": AUTH_REQ_ID })
                    .to_string()
                    .into_bytes(),
            )
            .unwrap()
    };
    let accepted = client.receive_ping(&ping(CALLER_TOKEN), &binding);
    assert_eq!(accepted.result.unwrap().auth_req_id, ack.auth_req_id);
    let refused = client.receive_ping(&ping("someone-elses-token-0123456789"), &binding);
    assert!(refused.result.is_err());
    assert_eq!(refused.response.status(), 401);
}

#[tokio::test]
async fn a_ping_request_without_a_notification_token_is_refused_before_sending() {
    // This client never invents a token: the application's endpoint could not know it.
    let op = ScriptedOp::start(1, 30).await;
    let client = op
        .client_with(
            ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
            DeliveryMode::Ping,
            ClientOptions::default(),
        )
        .await;
    let err = client.initiate(alice()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Core(ciba_core::Error::Request(
                ciba_core::RequestError::MissingClientNotificationToken { .. }
            ))
        ),
        "{err:?}"
    );
    assert!(op.server.requests_to("/bc").is_empty());
}

#[tokio::test]
async fn signed_request_sends_only_the_request_object() {
    let op = ScriptedOp::start(1, 30).await;
    let client = op
        .client_with(
            ClientAuth::private_key_jwt(signer("es256")),
            DeliveryMode::Poll,
            ClientOptions::default(),
        )
        .await;
    let ack = client
        .initiate_signed(alice(), &signer("es256"))
        .await
        .unwrap();
    assert_eq!(ack.auth_req_id.as_str(), AUTH_REQ_ID);
    let bc = &op.server.requests_to("/bc")[0];
    assert!(bc.form_value("request").is_some());
    assert!(bc.form_value("client_assertion").is_some());
    assert!(bc.form_value("login_hint").is_none());
    assert!(bc.form_value("binding_message").is_none());
}

#[tokio::test]
async fn mtls_clients_use_the_mtls_endpoint_aliases() {
    let op = ScriptedOp::start(1, 30).await;
    op.script_token([op.tokens()]);
    let client = op
        .client_with(
            ClientAuth::TlsClientAuth,
            DeliveryMode::Poll,
            ClientOptions::default(),
        )
        .await;
    let ack = client.initiate(alice()).await.unwrap();
    client.poll(&ack).await.unwrap();
    assert_eq!(op.server.requests_to("/mtls/bc").len(), 1);
    assert_eq!(op.server.requests_to("/mtls/token").len(), 1);
    assert!(op.server.requests_to("/bc").is_empty());
    assert!(op.token_requests().is_empty());
}

fn proof_claims(proof: &str) -> serde_json::Value {
    let payload = proof.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn dpop_proofs_are_sent_and_the_nonce_retry_waits_the_interval() {
    let op = ScriptedOp::start(1, 30).await;
    let key = DpopKey::from_signer(signer("es256")).unwrap();
    op.script_token([
        Reply::with(
            400,
            &[("content-type", "application/json"), ("dpop-nonce", "n-1")],
            br#"{"error":"use_dpop_nonce"}"#,
        ),
        op.tokens_signed_by(&signer("es256"), "DPoP"),
    ]);
    let client = op.client(ClientOptions::default().dpop(key)).await;
    let ack = client.initiate(alice()).await.unwrap();
    let tokens = client.poll(&ack).await.unwrap();
    assert_eq!(tokens.response.token_type, ciba_core::TokenType::DPoP);
    let requests = op.token_requests();
    assert_eq!(requests.len(), 2);
    let first = proof_claims(requests[0].header("dpop").unwrap());
    let second = proof_claims(requests[1].header("dpop").unwrap());
    assert_eq!(first["htm"], "POST");
    assert!(first.get("nonce").is_none());
    assert_eq!(second["nonce"], "n-1");
    assert_ne!(first["jti"], second["jti"]);
    // CIBA 7.3: the nonce retry is a poll like any other, an interval (1 s) later.
    assert!(gaps(&requests)[0] >= Duration::from_millis(900));
}
