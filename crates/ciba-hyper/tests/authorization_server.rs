//! The authorization server service over loopback (and through tower, without a socket), and
//! the notification deliverer against a scripted endpoint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::Bytes;
use ciba_core::client_auth::basic_authorization;
use ciba_core::{DeliveryMode, ErrorCode};
use ciba_hyper::server::{Delivery, DeliveryFailure, NotificationDeliverer};
use ciba_hyper::{Error, HttpClient, TransportError, TransportErrorKind};
use ciba_server::{AuthenticationResult, CompleteError};
use common::*;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tower_service::Service;

#[tokio::test]
async fn discovery_and_jwks_are_served() {
    let env = TestAs::start().await;
    let http = HttpClient::http();
    let get = |path: &str| {
        http::Request::get(format!("{}{path}", env.issuer))
            .body(Vec::new())
            .unwrap()
    };
    let discovery = http
        .send(get("/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    let doc: Value = serde_json::from_slice(discovery.body()).unwrap();
    assert_eq!(doc["issuer"], env.issuer.as_str());
    assert_eq!(
        doc["backchannel_authentication_endpoint"],
        format!("{}/bc", env.issuer)
    );
    let jwks = http.send(get("/jwks")).await.unwrap();
    let keys: Value = serde_json::from_slice(jwks.body()).unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert!(keys["keys"][0].get("d").is_none());
    assert_eq!(http.send(get("/nowhere")).await.unwrap().status(), 404);
    let post = json_post(
        &format!("{}/.well-known/openid-configuration", env.issuer),
        None,
        json!({}),
    );
    assert_eq!(http.send(post).await.unwrap().status(), 405);
    env.stop().await;
}

#[tokio::test]
async fn service_answers_through_tower_without_a_socket() {
    let env = TestAs::start().await;
    let mut service = env.service.clone();
    let request = http::Request::get("/.well-known/openid-configuration")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.call(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["token_endpoint"], format!("{}/token", env.issuer));

    // A token request with another grant type is unsupported_grant_type.
    let other_grant = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_authorization(POLL, SECRET).unwrap())
        .body(Full::new(Bytes::from_static(b"grant_type=password")))
        .unwrap();
    let response = service.call(other_grant).await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"], "unsupported_grant_type");

    let huge = http::Request::post("/bc")
        .body(Full::new(Bytes::from(vec![b'x'; 1024 * 1024])))
        .unwrap();
    assert_eq!(service.call(huge).await.unwrap().status(), 413);
    env.stop().await;
}

#[tokio::test]
async fn full_store_answers_503_with_retry_after() {
    let env = TestAs::with(AsOptions {
        max_entries_per_client: 1,
        ..AsOptions::default()
    })
    .await;
    let client = env.client(DeliveryMode::Poll).await;
    client.initiate(alice()).await.unwrap();
    match client.initiate(alice()).await {
        Err(Error::Core(ciba_core::Error::OAuth(e))) => {
            assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
            assert_eq!(e.status, 503);
        }
        other => panic!("{other:?}"),
    }
    let raw = http::Request::post(format!("{}/bc", env.issuer))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_authorization(POLL, SECRET).unwrap())
        .body(b"scope=openid&login_hint=alice%40example.com".to_vec())
        .unwrap();
    let response = HttpClient::http().send(raw).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    env.stop().await;
}

#[tokio::test]
async fn completing_an_unknown_request_is_refused() {
    let env = TestAs::start().await;
    let result = env
        .handle
        .complete("no-such-request", AuthenticationResult::AccessDenied)
        .await;
    assert!(
        matches!(result, Err(CompleteError::UnknownRequest)),
        "{result:?}"
    );
    env.stop().await;
}

fn status(code: u16) -> Step {
    Step::Raw(code, Vec::new(), Vec::new())
}

async fn deliver(script: Vec<Step>, deliverer: NotificationDeliverer) -> (Delivery, Scripted) {
    let endpoint = Scripted::start(script).await;
    let request = json_post(
        &format!("{}/token", endpoint.base),
        Some("Bearer cnt"),
        json!({"auth_req_id": "x"}),
    );
    (deliverer.deliver(request).await, endpoint)
}

fn fast_deliverer() -> NotificationDeliverer {
    NotificationDeliverer::new(HttpClient::http().timeout(ms(500))).retry_delay(ms(50))
}

#[tokio::test]
async fn deliverer_retries_server_errors_and_resets() {
    let (delivery, endpoint) = deliver(
        vec![status(500), Step::Reset, status(204)],
        fast_deliverer(),
    )
    .await;
    assert!(
        matches!(delivery, Delivery::Delivered { attempts: 3, .. }),
        "{delivery:?}"
    );
    assert_eq!(endpoint.seen("POST /token").len(), 3);
}

#[tokio::test]
async fn deliverer_takes_any_2xx_as_delivered_and_ignores_the_body() {
    // CIBA Core 10.2: the client answers 204 No Content, but any 2xx means the
    // notification arrived; the body the client sends with a 200 is not read.
    for (code, body) in [
        (200, b"{\"whatever\":true}".to_vec()),
        (202, Vec::new()),
        (200, b"not json".to_vec()),
    ] {
        let (delivery, endpoint) = deliver(
            vec![Step::Raw(code, Vec::new(), body), status(500)],
            fast_deliverer(),
        )
        .await;
        match delivery {
            Delivery::Delivered { status, attempts } => {
                assert_eq!(status, code);
                assert_eq!(attempts, 1, "a 2xx must not be retried");
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(endpoint.seen("POST /token").len(), 1);
    }
}

#[tokio::test]
async fn deliverer_gives_up_after_its_attempts() {
    let (delivery, endpoint) = deliver(
        vec![status(503), status(502), status(500)],
        fast_deliverer().max_attempts(2),
    )
    .await;
    match delivery {
        Delivery::GaveUp {
            attempts: 2,
            last: DeliveryFailure::Status(s),
        } => assert_eq!(s, 502),
        other => panic!("{other:?}"),
    }
    assert_eq!(endpoint.seen("POST /token").len(), 2);

    let (delivery, _) = deliver(
        vec![Step::Delay(secs(2), Box::new(status(204)))],
        fast_deliverer().max_attempts(1),
    )
    .await;
    assert!(
        matches!(
            delivery,
            Delivery::GaveUp {
                attempts: 1,
                last: DeliveryFailure::Transport(Error::Transport(TransportError {
                    kind: TransportErrorKind::Timeout,
                    ..
                }))
            }
        ),
        "{delivery:?}"
    );
}

#[tokio::test]
async fn deliverer_never_retries_4xx_nor_follows_redirects() {
    let (delivery, endpoint) = deliver(vec![status(401), status(204)], fast_deliverer()).await;
    assert!(
        matches!(delivery, Delivery::Refused { attempts: 1, .. }),
        "{delivery:?}"
    );
    assert_eq!(endpoint.seen("POST /token").len(), 1);

    let redirect = Step::Raw(307, vec![("location", "/elsewhere".into())], Vec::new());
    let (delivery, endpoint) = deliver(vec![redirect], fast_deliverer()).await;
    match delivery {
        Delivery::Refused { status, attempts } => {
            assert_eq!(status, 307);
            assert_eq!(attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(endpoint.requests(), 1, "the redirect was followed");
}
