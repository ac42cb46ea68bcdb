//! The client against a scripted raw HTTP/1.1 server on loopback: server errors, 503 with
//! Retry-After, resets, slow and oversized answers, redirects, invalid JSON, unknown keys, and
//! cancellation. Every test checks the typed outcome and that polls never come faster than
//! allowed (arrival times recorded on the server side).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use ciba_core::error::ParseErrorKind;
use ciba_core::id_token::IdTokenError;
use ciba_core::poll::PollError;
use ciba_core::{ConfigError, ErrorCode};
use ciba_hyper::{Error, HttpClient};
use common::*;
use serde_json::json;

const TOKEN: &str = "POST /token";

fn html(status: u16) -> Step {
    Step::Raw(
        status,
        vec![("content-type", "text/html".into())],
        b"<html>oops</html>".to_vec(),
    )
}

async fn start_poll(server: &Scripted) -> (ciba_hyper::CibaClient, ciba_core::AuthRequestAck) {
    start_poll_with(server, HttpClient::http(), |b| b).await
}

async fn start_poll_with(
    server: &Scripted,
    http: HttpClient,
    tune: impl FnOnce(ciba_hyper::CibaClientBuilder) -> ciba_hyper::CibaClientBuilder,
) -> (ciba_hyper::CibaClient, ciba_core::AuthRequestAck) {
    let client = server.client(http, tune).await.unwrap();
    let ack = client.initiate(alice()).await.unwrap();
    (client, ack)
}

#[tokio::test]
async fn server_error_page_is_retried_after_a_backoff() {
    let server = Scripted::start(vec![html(500), Step::Tokens(0)]).await;
    let (client, ack) = start_poll(&server).await;
    let tokens = client.poll(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    let arrivals = server.arrivals(TOKEN);
    assert_eq!(arrivals.len(), 2);
    assert_gaps_at_least(&arrivals, secs(1));
}

#[tokio::test]
async fn repeated_server_errors_give_up_with_too_many_failures() {
    let server = Scripted::start(vec![html(502), html(500), html(503)]).await;
    let (client, ack) = start_poll_with(&server, HttpClient::http(), |b| {
        b.poll_config(|c| c.max_consecutive_failures(2))
    })
    .await;
    let result = client.poll(&ack).await;
    assert!(
        matches!(
            result,
            Err(Error::Poll(PollError::TooManyFailures { attempts: 2 }))
        ),
        "{result:?}"
    );
    let arrivals = server.arrivals(TOKEN);
    assert_eq!(arrivals.len(), 2);
    assert_gaps_at_least(&arrivals, secs(1));
}

#[tokio::test]
async fn retry_after_on_503_is_honoured() {
    let unavailable = Step::Raw(
        503,
        vec![
            ("content-type", "application/json".into()),
            ("retry-after", "2".into()),
        ],
        json!({"error": "temporarily_unavailable"})
            .to_string()
            .into_bytes(),
    );
    let server = Scripted::start(vec![unavailable, Step::Tokens(0)]).await;
    let (client, ack) = start_poll(&server).await;
    client.poll(&ack).await.unwrap();
    let arrivals = server.arrivals(TOKEN);
    assert_eq!(arrivals.len(), 2);
    assert_gaps_at_least(&arrivals, secs(2));
}

#[tokio::test]
async fn slow_down_and_pending_keep_the_interval() {
    let slow_down = Step::json(400, json!({"error": "slow_down"}));
    let server = Scripted::start(vec![Step::pending(), slow_down, Step::Tokens(0)]).await;
    let (client, ack) = start_poll(&server).await;
    client.poll(&ack).await.unwrap();
    let arrivals = server.arrivals(TOKEN);
    assert_eq!(arrivals.len(), 3);
    assert_gaps_at_least(&arrivals[..2], secs(1));
    // After slow_down the interval is 1 + 5 seconds.
    assert_gaps_at_least(&arrivals[1..], secs(6));
}

#[tokio::test]
async fn connection_reset_mid_poll_is_a_transient_failure() {
    let server = Scripted::start(vec![Step::Reset, Step::Tokens(0)]).await;
    let (client, ack) = start_poll(&server).await;
    client.poll(&ack).await.unwrap();
    let arrivals = server.arrivals(TOKEN);
    assert_eq!(arrivals.len(), 2);
    assert_gaps_at_least(&arrivals, secs(1));
}

#[tokio::test]
async fn slow_response_past_the_timeout_is_a_transport_failure() {
    let slow = Step::Delay(secs(3), Box::new(Step::Tokens(0)));
    let server = Scripted::start(vec![slow, Step::Tokens(0)]).await;
    let http = HttpClient::http().timeout(ms(400));
    let (client, ack) = start_poll_with(&server, http, |b| b).await;
    client.poll(&ack).await.unwrap();
    let arrivals = server.arrivals(TOKEN);
    assert_eq!(arrivals.len(), 2);
    assert_gaps_at_least(&arrivals, secs(1));
}

#[tokio::test]
async fn timeout_outside_polling_is_a_typed_timeout() {
    let server = Scripted::start(Vec::new()).await;
    server.script_backchannel(vec![Step::Delay(secs(3), Box::new(Step::pending()))]);
    let http = HttpClient::http().timeout(ms(300));
    let client = server.client(http, |b| b).await.unwrap();
    match client.initiate(alice()).await {
        Err(Error::Timeout { endpoint, after }) => {
            assert_eq!(after, ms(300));
            assert!(endpoint.ends_with("/bc"), "{endpoint}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let big = Step::Raw(
        200,
        vec![("content-type", "application/json".into())],
        vec![b' '; 8 * 1024],
    );
    let server = Scripted::start(vec![big]).await;
    let http = HttpClient::http().max_body_bytes(4 * 1024);
    let (client, ack) = start_poll_with(&server, http, |b| b).await;
    match client.poll(&ack).await {
        Err(Error::BodyTooLarge { limit, .. }) => assert_eq!(limit, 4096),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.arrivals(TOKEN).len(), 1);
}

#[tokio::test]
async fn redirect_from_the_token_endpoint_is_not_followed() {
    let redirect = Step::Raw(302, vec![("location", "/elsewhere".into())], Vec::new());
    let server = Scripted::start(vec![redirect]).await;
    let (client, ack) = start_poll(&server).await;
    match client.poll(&ack).await {
        Err(Error::Poll(PollError::Response(e))) => {
            assert_eq!(e.kind, ParseErrorKind::UnexpectedStatus { status: 302 });
        }
        other => panic!("{other:?}"),
    }
    let log = server.log.lock().unwrap().clone();
    assert!(log.iter().all(|s| !s.line.contains("elsewhere")), "{log:?}");
    assert_eq!(server.arrivals(TOKEN).len(), 1);
}

#[tokio::test]
async fn invalid_json_is_a_typed_parse_error() {
    let broken = Step::Raw(
        200,
        vec![("content-type", "application/json".into())],
        b"{\"access_token\": ".to_vec(),
    );
    let server = Scripted::start(vec![broken]).await;
    let (client, ack) = start_poll(&server).await;
    match client.poll(&ack).await {
        Err(Error::Poll(PollError::Response(e))) => {
            assert!(
                matches!(e.kind, ParseErrorKind::InvalidJson { .. }),
                "{:?}",
                e.kind
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dropping_the_poll_future_sends_no_further_request() {
    let server = Scripted::start(Vec::new()).await; // always authorization_pending
    let (client, ack) = start_poll(&server).await;
    // The first poll goes out after 1 s; drop the future while it waits for the second.
    let dropped = tokio::time::timeout(ms(1500), client.poll(&ack)).await;
    assert!(dropped.is_err());
    assert_eq!(server.arrivals(TOKEN).len(), 1);
    tokio::time::sleep(ms(2000)).await;
    assert_eq!(server.arrivals(TOKEN).len(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_the_jwks_once() {
    // Tokens signed by key 1, which the JWKS publishes only after the client cached it.
    let server = Scripted::start(vec![Step::Tokens(1)]).await;
    let (client, ack) = start_poll_with(&server, HttpClient::http(), |b| {
        b.jwks_min_refresh_interval(ms(0))
    })
    .await;
    client.jwks().await.unwrap();
    server.publish(&[0, 1]);
    let tokens = client.poll(&ack).await.unwrap();
    assert_eq!(tokens.id_token.kid.as_deref(), Some("k2"));
    assert_eq!(server.arrivals("GET /jwks").len(), 2);
}

#[tokio::test]
async fn unknown_kid_missing_from_the_refetched_set_fails_after_one_refetch() {
    // Key 1 is never published: the one refetch cannot help, and there is no second.
    let server = Scripted::start(vec![Step::Tokens(1)]).await;
    let (client, ack) = start_poll_with(&server, HttpClient::http(), |b| {
        b.jwks_min_refresh_interval(ms(0))
    })
    .await;
    let result = client.poll(&ack).await;
    assert!(
        matches!(
            result,
            Err(Error::Poll(PollError::IdToken(
                IdTokenError::KeyUnavailable(_)
            )))
        ),
        "{result:?}"
    );
    assert_eq!(
        server.arrivals("GET /jwks").len(),
        2,
        "first fetch and one refetch"
    );
    assert_eq!(server.arrivals(TOKEN).len(), 1);
}

#[tokio::test]
async fn unknown_kid_refetch_is_rate_limited() {
    let server = Scripted::start(vec![Step::Tokens(1)]).await;
    let (client, ack) = start_poll_with(&server, HttpClient::http(), |b| {
        b.jwks_min_refresh_interval(secs(60))
    })
    .await;
    client.jwks().await.unwrap();
    server.publish(&[0, 1]);
    let result = client.poll(&ack).await;
    assert!(
        matches!(
            result,
            Err(Error::Poll(PollError::IdToken(
                IdTokenError::KeyUnavailable(_)
            )))
        ),
        "{result:?}"
    );
    assert_eq!(server.arrivals("GET /jwks").len(), 1);
}

#[tokio::test]
async fn discovery_with_another_issuer_is_refused() {
    let server = Scripted::start(Vec::new()).await;
    let mut config = ciba_core::ClientConfig::new(
        SCRIPTED_CLIENT,
        ciba_core::ClientAuth::SecretBasic(ciba_core::ClientSecret::new(SECRET)),
        ciba_core::DeliveryMode::Poll,
    );
    config.endpoint_policy = ciba_core::EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    let other = server.base.replace("127.0.0.1", "localhost");
    let result = ciba_hyper::CibaClient::builder(config)
        .discover(&other)
        .await;
    assert!(
        matches!(
            result,
            Err(Error::Core(ciba_core::Error::Config(
                ConfigError::IssuerMismatch { .. }
            )))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn oauth_error_at_initiation_is_typed() {
    let server = Scripted::start(Vec::new()).await;
    server.script_backchannel(vec![Step::json(
        400,
        json!({"error": "invalid_binding_message"}),
    )]);
    let client = server.client(HttpClient::http(), |b| b).await.unwrap();
    match client.initiate(alice()).await {
        Err(Error::Core(ciba_core::Error::OAuth(e))) => {
            assert_eq!(e.code, ErrorCode::InvalidBindingMessage);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn jwks_cache_is_refetched_after_its_ttl() {
    let server = Scripted::start(Vec::new()).await;
    let cached = server.client(HttpClient::http(), |b| b).await.unwrap();
    cached.jwks().await.unwrap();
    cached.jwks().await.unwrap();
    assert_eq!(server.arrivals("GET /jwks").len(), 1);
    let expiring = server
        .client(HttpClient::http(), |b| b.jwks_ttl(ms(100)))
        .await
        .unwrap();
    expiring.jwks().await.unwrap();
    tokio::time::sleep(ms(150)).await;
    expiring.jwks().await.unwrap();
    assert_eq!(server.arrivals("GET /jwks").len(), 3);
}

#[tokio::test]
async fn dpop_proofs_go_with_every_token_request() {
    let server = Scripted::start(vec![Step::pending(), Step::DpopTokens(0)]).await;
    let key =
        ciba_core::jose::JwkSigner::generate_ed25519(&ciba_core::random::OsRandom, None).unwrap();
    let key = ciba_core::DpopKey::from_signer(key).unwrap();
    let (client, ack) = start_poll_with(&server, HttpClient::http(), |b| b.dpop(key)).await;
    let tokens = client.poll(&ack).await.unwrap();
    assert_eq!(tokens.response.token_type, ciba_core::TokenType::DPoP);
    let log = server.log.lock().unwrap().clone();
    let token_requests: Vec<_> = log.iter().filter(|s| s.line == TOKEN).collect();
    assert_eq!(token_requests.len(), 2);
    assert!(token_requests.iter().all(|s| s.head.contains("\r\ndpop: ")));
}
