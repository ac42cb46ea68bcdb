//! The notification receiver over hyper: ciba-core's answers, the bearer token checked before
//! the body, the head timeout, and the connection cap; and with this crate's authorization
//! server: bad and duplicate notifications of a registered flow, the bare tower service, one
//! registry shared by several clients, and 200 trickling notifications cut off while a ping
//! flow completes. (ciba-client's scenarios test the body timeout too.)

#![allow(missing_docs)]

use crate::common;

use std::future::IntoFuture;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ciba_core::random::OsRandom;
use ciba_core::{AuthRequestAck, DeliveryMode};
use ciba_hyper::server::DeliveryOutcome;
use ciba_hyper::{
    CibaClient, HttpClient, NotificationReceiver, NotificationRegistry, NotificationService,
    ReceiverOptions, ServeOptions,
};
use ciba_server::{AuthenticationResult, Authorization, CompleteOutcome};
use common::slow_client::{post_head, trickle};
use common::*;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower_service::Service;

/// Sends `raw` on a fresh connection and reads the answer's status line (empty when the
/// connection closed without one).
async fn exchange(receiver: &NotificationReceiver, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(receiver.local_addr()).await.unwrap();
    stream.write_all(raw).await.unwrap();
    status_line(&mut stream).await
}

async fn status_line(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

async fn serve(options: ReceiverOptions) -> NotificationReceiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    NotificationReceiver::serve_with(listener, NotificationRegistry::new(), options).unwrap()
}

#[tokio::test]
async fn bad_notifications_get_core_answers_and_never_a_redirect() {
    let receiver = serve(ReceiverOptions::default()).await;
    let get = exchange(&receiver, b"GET /cb HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(get.contains(" 405 "), "{get}");
    let no_bearer = exchange(
        &receiver,
        b"POST /cb HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    )
    .await;
    assert!(no_bearer.contains(" 401 "), "{no_bearer}");
    receiver.shutdown().await;
}

#[tokio::test]
async fn an_unknown_bearer_is_refused_before_the_body_is_sent() {
    let receiver = serve(ReceiverOptions::default()).await;
    // The head announces a body that never comes: the answer must not wait for it.
    let status = tokio::time::timeout(
        Duration::from_secs(3),
        exchange(
            &receiver,
            b"POST /cb HTTP/1.1\r\nhost: x\r\nauthorization: Bearer nobody\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
        ),
    )
    .await
    .expect("the receiver waited for the body");
    assert!(status.contains(" 401 "), "{status}");
}

#[tokio::test]
async fn a_slow_head_is_cut_off() {
    let options = ReceiverOptions::default().header_timeout(Duration::from_millis(300));
    let receiver = serve(options).await;
    let mut stream = TcpStream::connect(receiver.local_addr()).await.unwrap();
    stream
        .write_all(b"POST /cb HTTP/1.1\r\nhost")
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), status_line(&mut stream))
        .await
        .expect("the connection stayed open past the header timeout");
    // hyper answers 408 or simply closes.
    assert!(answer.is_empty() || answer.contains(" 408 "), "{answer}");
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let receiver = serve(ReceiverOptions::default().max_connections(1)).await;
    let idle = TcpStream::connect(receiver.local_addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = TcpStream::connect(receiver.local_addr()).await.unwrap();
    second
        .write_all(b"GET /cb HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), status_line(&mut second)).await;
    assert!(early.is_err(), "served past the connection cap: {early:?}");
    drop(idle);
    let answer = tokio::time::timeout(Duration::from_secs(5), status_line(&mut second))
        .await
        .expect("not served once the slot was free");
    assert!(answer.contains(" 405 "), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_notifications_are_cut_off_while_a_ping_flow_completes() {
    let limits = ServeOptions::default()
        .max_connections(256)
        .header_timeout(Duration::from_secs(2))
        .body_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(4));
    let env = TestAs::with(AsOptions {
        limits,
        ..AsOptions::default()
    })
    .await;
    let (client, ack) = ping_with_caller_token(&env).await;
    // Another flow that stays pending: its bearer token lets the slow connections' bodies
    // be read, for as long as the test runs.
    const SLOW_TOKEN: &str = "the-token-of-a-flow-that-stays-pending-0123456789";
    let _pending = client
        .initiate(alice().client_notification_token(SLOW_TOKEN))
        .await
        .unwrap();
    // 200 connections with that token, each trickling its body.
    let bound = Duration::from_secs(12);
    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let head = post_head(
            "/",
            "application/json",
            &format!("authorization: Bearer {SLOW_TOKEN}\r\n"),
        );
        slow.spawn(trickle(env.receiver.local_addr(), head, bound));
    }
    // Meanwhile the AS pings and the client redeems.
    let delivery = env
        .handle
        .complete(&sid(ack.auth_req_id.as_str()), approve())
        .await
        .unwrap();
    assert!(
        matches!(delivery, DeliveryOutcome::Delivered { .. }),
        "{delivery:?}"
    );
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    let mut ended = 0;
    while let Some(cutoff) = slow.join_next().await {
        let cutoff = cutoff
            .unwrap()
            .expect("a slow notification was still open past the bound");
        assert!(cutoff.after < bound, "{cutoff:?}");
        assert!(
            cutoff.answer.is_empty() || cutoff.answer.starts_with("HTTP/1.1 408 "),
            "{cutoff:?}"
        );
        ended += 1;
    }
    assert_eq!(ended, 200);
    env.stop().await;
}

fn approve() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new("alice"))
}

/// The server's answer to the user's approval of `ack`'s request, now (the notification it
/// would send, not sent).
async fn approved_now(env: &TestAs, ack: &AuthRequestAck) -> CompleteOutcome {
    env.handle
        .server()
        .complete(
            &sid(ack.auth_req_id.as_str()),
            approve(),
            SystemTime::now(),
            &OsRandom,
        )
        .await
        .unwrap()
}

/// A token the caller chose for its request.
const CALLER_TOKEN: &str = "caller-chosen-notification-token-0123456789";

/// A ping client of `env`, and the acknowledgement of its request with [`CALLER_TOKEN`].
async fn ping_with_caller_token(env: &TestAs) -> (CibaClient, AuthRequestAck) {
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client
        .initiate(alice().client_notification_token(CALLER_TOKEN))
        .await
        .unwrap();
    (client, ack)
}

#[tokio::test]
async fn bad_notifications_for_a_registered_flow_get_core_answers_and_leave_it_waiting() {
    let env = TestAs::start().await;
    let (client, ack) = ping_with_caller_token(&env).await;
    let url = env.receiver.url().to_string();
    let caller = format!("Bearer {CALLER_TOKEN}");
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
        // An unknown bearer is refused before the body is looked at.
        (
            json_post(&url, Some("Bearer x"), json!(["not", "an", "object"])),
            401,
        ),
        (
            json_post(&url, Some(&caller), json!(["not", "an", "object"])),
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
    let outcome = approved_now(&env, &ack).await;
    let CompleteOutcome::PushTokens { request: push, .. } = outcome else {
        panic!("{outcome:?}");
    };
    let http = HttpClient::http();
    assert_eq!(http.send(copy(&push)).await.unwrap().status(), 204);
    assert_eq!(http.send(copy(&push)).await.unwrap().status(), 401);
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
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
    let outcome = approved_now(&env, &ack).await;
    let CompleteOutcome::Ping(ping) = outcome else {
        panic!("{outcome:?}");
    };
    let http = HttpClient::http();
    assert_eq!(http.send(copy(&ping)).await.unwrap().status(), 204);
    assert_eq!(http.send(copy(&ping)).await.unwrap().status(), 204);
    let started = tokio::time::Instant::now();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert!(started.elapsed() < secs(4));
    assert_eq!(tokens.id_token.sub, "alice");
    // After the flow, the binding is gone: a late duplicate is refused.
    assert_eq!(http.send(ping).await.unwrap().status(), 401);
    env.stop().await;
}

#[tokio::test]
async fn bare_service_answers_through_tower() {
    let env = TestAs::start().await;
    let (client, ack) = ping_with_caller_token(&env).await;
    let mut service = NotificationService::new(env.receiver.registry().clone());
    let request = http::Request::post("/anywhere")
        .header("content-type", "application/json")
        .header("authorization", "Bearer abc")
        .body(Full::new(Bytes::from_static(br#"{"auth_req_id":"nope"}"#)))
        .unwrap();
    let response = service.call(request).await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));

    // A known bearer gets its body read, up to the cap.
    let huge = http::Request::post("/anywhere")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CALLER_TOKEN}"))
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
    // Neither answer touched the flow.
    assert_eq!(client.notifications().unwrap().len(), 1);
    let ping = json_post(
        "/anywhere",
        Some(&format!("Bearer {CALLER_TOKEN}")),
        json!({"auth_req_id": ack.auth_req_id.as_str()}),
    );
    let (parts, body) = ping.into_parts();
    let response = service
        .call(http::Request::from_parts(
            parts,
            Full::new(Bytes::from(body)),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    env.stop().await;
}

/// Two push clients share one receiver's registry: each push reaches the wait of the
/// client that registered its request, and is validated there.
#[tokio::test]
async fn a_push_expected_by_another_client_is_validated_by_its_waiter() {
    let env = TestAs::start().await;
    let first = env.client(DeliveryMode::Push).await;
    let second = env.client(DeliveryMode::Push).await;
    let registry = env.receiver.registry().clone();
    let first_ack = first.initiate(alice()).await.unwrap();
    let second_ack = second.initiate(alice()).await.unwrap();
    assert_eq!(registry.len(), 2);

    let handle = env.handle.clone();
    let id = second_ack.auth_req_id.as_str().to_owned();
    let complete = async move {
        tokio::time::sleep(ms(200)).await;
        handle.complete(&sid(&id), approve()).await.unwrap()
    };
    let (tokens, delivery) =
        tokio::join!(second.wait_for_tokens(&second_ack).into_future(), complete);
    let tokens = tokens.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(
        tokens.id_token.auth_req_id.as_deref(),
        Some(second_ack.auth_req_id.as_str())
    );
    assert!(
        matches!(delivery, DeliveryOutcome::Delivered { status, .. } if status == 204),
        "{delivery:?}"
    );
    // The first request is still registered, waiting for its own push.
    assert_eq!(registry.len(), 1);
    env.handle
        .complete(
            &sid(first_ack.auth_req_id.as_str()),
            AuthenticationResult::AccessDenied,
        )
        .await
        .unwrap();
    let denied = first.wait_for_tokens(&first_ack).await;
    assert!(
        matches!(denied, Err(ciba_hyper::Error::Pushed(_))),
        "{denied:?}"
    );
    assert!(registry.is_empty());
    env.stop().await;
}
