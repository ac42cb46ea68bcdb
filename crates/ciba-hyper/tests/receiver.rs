//! The notification receiver over loopback: ciba-core's answers (401, 400, 405, 204, never a
//! redirect), duplicate deliveries, and the bare service.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::SystemTime;

use bytes::Bytes;
use ciba_core::DeliveryMode;
use ciba_core::ack::AuthRequestAck;
use ciba_core::notification::Push;
use ciba_core::random::OsRandom;
use ciba_hyper::server::Delivery;
use ciba_hyper::{HttpClient, Notification, NotificationRegistry, NotificationService};
use ciba_server::{AuthenticationResult, Authorization, CompleteOutcome};
use common::*;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tower_service::Service;

fn approve() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new("alice"))
}

#[tokio::test]
async fn bad_notifications_get_core_answers_and_never_a_redirect() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client.initiate(alice()).await.unwrap();
    let url = env.receiver.url().to_string();
    let http = HttpClient::http();
    let id = ack.auth_req_id.as_str();
    let cases = [
        (
            json_post(
                &url,
                Some("Bearer not-the-token"),
                json!({"auth_req_id": id}),
            ),
            401,
        ),
        (json_post(&url, None, json!({"auth_req_id": id})), 401),
        (
            json_post(&url, Some("Bearer x"), json!({"auth_req_id": "unknown-id"})),
            401,
        ),
        (
            json_post(&url, Some("Bearer x"), json!(["not", "an", "object"])),
            400,
        ),
        (
            http::Request::get(url.as_str()).body(Vec::new()).unwrap(),
            405,
        ),
    ];
    for (request, expected) in cases {
        let response = http.send(request).await.unwrap();
        assert_eq!(response.status(), expected);
    }
    // The flow was not woken: its binding is still there.
    assert_eq!(client.notifications().unwrap().len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn duplicate_push_is_refused_and_harmless() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Push).await;
    let ack = client.initiate(alice()).await.unwrap();
    let outcome = env
        .handle
        .server()
        .complete(
            ack.auth_req_id.as_str(),
            approve(),
            SystemTime::now(),
            &OsRandom,
        )
        .await
        .unwrap();
    let CompleteOutcome::PushTokens(push) = outcome else {
        panic!("{outcome:?}");
    };
    let http = HttpClient::http();
    assert_eq!(http.send(copy(&push)).await.unwrap().status(), 204);
    assert_eq!(http.send(copy(&push)).await.unwrap().status(), 401);
    let tokens = client.tokens(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(http.send(push).await.unwrap().status(), 401);
    assert!(client.notifications().unwrap().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn duplicate_ping_redeems_once() {
    let env = TestAs::with(AsOptions {
        interval: 5,
        ..AsOptions::default()
    })
    .await;
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client.initiate(alice()).await.unwrap();
    let outcome = env
        .handle
        .server()
        .complete(
            ack.auth_req_id.as_str(),
            approve(),
            SystemTime::now(),
            &OsRandom,
        )
        .await
        .unwrap();
    let CompleteOutcome::Ping(ping) = outcome else {
        panic!("{outcome:?}");
    };
    let http = HttpClient::http();
    assert_eq!(http.send(copy(&ping)).await.unwrap().status(), 204);
    assert_eq!(http.send(copy(&ping)).await.unwrap().status(), 204);
    let started = tokio::time::Instant::now();
    let tokens = client.tokens(&ack).await.unwrap();
    assert!(started.elapsed() < secs(4));
    assert_eq!(tokens.id_token.sub, "alice");
    // After the flow, the binding is gone: a late duplicate is refused.
    assert_eq!(http.send(ping).await.unwrap().status(), 401);
    env.stop().await;
}

#[tokio::test]
async fn bare_service_answers_through_tower() {
    let mut service = NotificationService::new(NotificationRegistry::new());
    let request = http::Request::post("/anywhere")
        .header("content-type", "application/json")
        .header("authorization", "Bearer abc")
        .body(Full::new(Bytes::from_static(br#"{"auth_req_id":"nope"}"#)))
        .unwrap();
    let response = service.call(request).await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));

    let huge = http::Request::post("/anywhere")
        .body(Full::new(Bytes::from(vec![b'x'; 300 * 1024])))
        .unwrap();
    let response = service.call(huge).await.unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
}

#[tokio::test]
async fn a_push_expected_by_another_client_is_validated_by_its_waiter() {
    let env = TestAs::start().await;
    // Only for its configuration and ID token validator: this client sends nothing itself.
    let client = env.client(DeliveryMode::Push).await;
    let registry = env.receiver.registry().clone();
    let token = "a-client-notification-token-of-another-client";
    let in_flight = registry.begin_initiation();
    let request = alice()
        .client_notification_token(token)
        .build(client.core(), SystemTime::now(), &OsRandom)
        .unwrap();
    let response = HttpClient::http().send(request).await.unwrap();
    let ack = AuthRequestAck::from_response(&response, SystemTime::now(), client.core().limits())
        .unwrap();
    let mut waiter = registry.expect_push(&ack.auth_req_id, token, ack.expires_at);
    drop(in_flight);

    let handle = env.handle.clone();
    let id = ack.auth_req_id.as_str().to_owned();
    let completed = tokio::spawn(async move { handle.complete(&id, approve()).await });
    let Some(Notification::Push(delivery)) = waiter.next().await else {
        panic!("no push handed over");
    };
    let validator = client.id_token_validator().await.unwrap();
    let push = delivery.validate(&validator, SystemTime::now()).unwrap();
    let Push::Tokens { tokens, .. } = push else {
        panic!("{push:?}");
    };
    assert_eq!(tokens.id_token.sub, "alice");
    let delivery = completed.await.unwrap().unwrap();
    assert!(
        matches!(delivery, Delivery::Delivered { status, .. } if status == 204),
        "{delivery:?}"
    );
    drop(waiter);
    assert!(registry.is_empty());
    env.stop().await;
}
