//! No secret, token or credential in the `Debug` (or `Display`) output of ciba-hyper's public
//! types: the client and its builder (client secret, DPoP key), the notification registry, its
//! waiters, notifications and push deliveries (notification tokens, pushed tokens), the
//! receiver, transport errors (credentials in a URL), and the authorization-server side
//! (pending requests, deliveries) (docs/security.md, "Secrets").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[cfg(feature = "server")]
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ciba_core::ack::AuthReqId;
use ciba_core::jose::JwkSigner;
use ciba_core::random::OsRandom;
use ciba_core::{
    ClientAuth, ClientConfig, ClientSecret, DeliveryMode, DpopKey, Limits, ServerMetadata,
};
use ciba_hyper::{
    CibaClient, HttpClient, Notification, NotificationReceiver, NotificationRegistry,
    NotificationService,
};
use serde_json::json;

const CLIENT_SECRET: &str = "SECRET-client-secret-4c1d9e";
const CNT: &str = "SECRET-notification-token-c0ffee";
/// Shorter than 24 bytes: `AuthReqId`'s `Debug` shows none of it.
const AUTH_REQ: &str = "SECRET-auth-req-id-77f0";
const ACCESS: &str = "SECRET-access-token-5be2";
const URL_PASSWORD: &str = "SECRET-url-password-0b1e";

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
    }
}

fn all() -> Vec<&'static str> {
    vec![CLIENT_SECRET, CNT, AUTH_REQ, ACCESS, URL_PASSWORD]
}

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn notification(body: serde_json::Value) -> http::Request<Vec<u8>> {
    http::Request::post("/cb")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CNT}"))
        .body(body.to_string().into_bytes())
        .unwrap()
}

#[test]
fn client_builder_and_client_never_print_the_secret_or_the_dpop_key() {
    let metadata = ServerMetadata::from_json(
        json!({
            "issuer": "https://op.example",
            "token_endpoint": "https://op.example/token",
            "jwks_uri": "https://op.example/jwks",
            "backchannel_authentication_endpoint": "https://op.example/bc",
            "backchannel_token_delivery_modes_supported": ["poll"],
            "grant_types_supported": ["urn:openid:params:grant-type:ciba"],
        })
        .to_string()
        .as_bytes(),
        "https://op.example",
        &Limits::DEFAULT,
    )
    .unwrap();
    let dpop_signer = JwkSigner::generate_ed25519(&OsRandom, None).unwrap();
    let dpop = DpopKey::new(Arc::new(dpop_signer)).unwrap();
    for auth in [
        ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
        ClientAuth::SecretPost(ClientSecret::new(CLIENT_SECRET)),
        ClientAuth::secret_jwt(
            ciba_core::jose::JwsAlgorithm::HS256,
            &ClientSecret::new(CLIENT_SECRET),
        )
        .unwrap(),
    ] {
        let config = ClientConfig::new("client-1", auth, DeliveryMode::Poll);
        let builder = CibaClient::builder(config).dpop(dpop.clone());
        assert_hidden("CibaClientBuilder", &format!("{builder:?}"), &all());
        assert_hidden("CibaClientBuilder {:#?}", &format!("{builder:#?}"), &all());
        let client = builder.build(metadata.clone()).unwrap();
        assert_hidden("CibaClient", &format!("{client:?}"), &all());
        assert_hidden("CibaClient {:#?}", &format!("{client:#?}"), &all());
    }
}

#[tokio::test]
async fn registry_waiters_notifications_and_deliveries_never_print_tokens() {
    let registry = NotificationRegistry::new();
    let service = NotificationService::new(registry.clone());
    let guard = registry.begin_initiation();
    let id = AuthReqId::new(AUTH_REQ);
    let mut waiter = registry.expect_ping(&id, CNT, later());
    assert_hidden("InitiationGuard", &format!("{guard:?}"), &all());
    drop(guard);
    assert_hidden("NotificationRegistry", &format!("{registry:?}"), &all());
    assert_hidden("NotificationService", &format!("{service:?}"), &all());
    assert_hidden("NotificationWaiter", &format!("{waiter:?}"), &all());

    let answer = service
        .handle(notification(json!({"auth_req_id": AUTH_REQ})))
        .await;
    assert_eq!(answer.status(), 204);
    assert_hidden("ping answer", &format!("{answer:?}"), &all());
    let ping = waiter.next().await.unwrap();
    assert!(matches!(ping, Notification::Ping(_)));
    assert_hidden("Notification::Ping", &format!("{ping:?}"), &all());
    drop(waiter);

    // A push delivery: the request it holds carries the notification token and the tokens.
    let mut waiter = registry.expect_push(&id, CNT, later());
    let pushed = {
        let service = service.clone();
        tokio::spawn(async move {
            service
                .handle(notification(json!({
                    "auth_req_id": AUTH_REQ,
                    "access_token": ACCESS,
                    "token_type": "Bearer",
                    "id_token": "SECRET-id-token.x.y",
                })))
                .await
        })
    };
    let push = waiter.next().await.unwrap();
    let mut secrets = all();
    secrets.push("SECRET-id-token");
    assert_hidden("Notification::Push", &format!("{push:?}"), &secrets);
    assert_hidden("Notification::Push {:#?}", &format!("{push:#?}"), &secrets);
    let Notification::Push(delivery) = push else {
        panic!("not a push");
    };
    assert_hidden("PushDelivery", &format!("{delivery:?}"), &secrets);
    let mut no_content = http::Response::new(Vec::new());
    *no_content.status_mut() = http::StatusCode::NO_CONTENT;
    delivery.respond(no_content);
    assert_eq!(pushed.await.unwrap().status(), 204);

    let receiver = NotificationReceiver::bind("127.0.0.1:0").await.unwrap();
    let _waiter = receiver.registry().expect_ping(&id, CNT, later());
    assert_hidden("NotificationReceiver", &format!("{receiver:?}"), &all());
    receiver.shutdown().await;
}

#[tokio::test]
async fn transport_errors_never_print_credentials_of_the_url() {
    // Nothing listens on port 9 of loopback: the exchange fails at connect time.
    let http = HttpClient::http().timeout(Duration::from_secs(5));
    assert_hidden("HttpClient", &format!("{http:?}"), &all());
    let request = http::Request::post(format!(
        "http://user:{URL_PASSWORD}@127.0.0.1:9/cb?token={ACCESS}"
    ))
    .header("authorization", format!("Bearer {CNT}"))
    .body(Vec::new())
    .unwrap();
    let e = http.send(request).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_hidden("Error", &format!("{e} {e:?}"), &all());
}

#[cfg(feature = "server")]
#[tokio::test]
async fn authorization_server_pending_requests_and_deliveries_never_print_secrets() {
    use ciba_hyper::server::NotificationDeliverer;
    use ciba_server::{AuthenticationResult, Authorization, CompleteOutcome};
    use common::*;

    let env = TestAs::start().await;
    assert_hidden("AuthorizationServer", &format!("{:?}", env.service), &all());
    assert_hidden("AsHandle", &format!("{:?}", env.handle), &all());
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client.initiate(alice()).await.unwrap();
    let id = ack.auth_req_id.as_str().to_owned();
    // AuthReqId's Debug may show the first 4 characters of a long id, never more.
    let tail = &id[4..];
    let secrets = [SECRET, tail];
    let pending = env.pending().await;
    assert_eq!(pending.len(), 1);
    assert_hidden("PendingRequest", &format!("{pending:?}"), &secrets);
    assert_hidden("PendingRequest {:#?}", &format!("{pending:#?}"), &secrets);

    // The ping ciba-server builds carries the client's notification token.
    let outcome = env
        .handle
        .server()
        .complete(
            &id,
            AuthenticationResult::Authorized(Authorization::new("alice")),
            SystemTime::now(),
            &OsRandom,
        )
        .await
        .unwrap();
    let CompleteOutcome::Ping(mut ping) = outcome else {
        panic!("not a ping");
    };
    let cnt = ping.headers()["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned();
    let secrets = [SECRET, tail, cnt.as_str(), URL_PASSWORD];
    // Delivered to the receiver: the outcome names neither the token nor the id.
    let deliverer = NotificationDeliverer::new(HttpClient::http()).max_attempts(1);
    assert_hidden("NotificationDeliverer", &format!("{deliverer:?}"), &secrets);
    let delivered = deliverer.deliver(copy(&ping)).await;
    assert!(delivered.is_delivered(), "{delivered:?}");
    assert_hidden("Delivery", &format!("{delivered:?}"), &secrets);
    // An endpoint URL with credentials: the failure names the host, not the password.
    *ping.uri_mut() = format!("http://user:{URL_PASSWORD}@127.0.0.1:9/cb")
        .parse()
        .unwrap();
    let failed = deliverer.deliver(ping).await;
    assert!(!failed.is_delivered());
    assert_hidden("Delivery::GaveUp", &format!("{failed:?}"), &secrets);
    drop(client);
    env.stop().await;
}
