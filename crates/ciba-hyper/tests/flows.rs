//! The ciba-hyper client against the ciba-hyper authorization server, over loopback sockets:
//! poll, ping and push, each to tokens, to denial and to expiry, and the caller's
//! `client_notification_token` kept and bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use ciba_core::notification::PushErrorCode;
use ciba_core::poll::PollError;
use ciba_core::{DeliveryMode, ErrorCode};
use ciba_hyper::server::Delivery;
use ciba_hyper::{Error, HttpClient, PollPhase, PollProgress};
use ciba_server::{AuthenticationResult, Authorization};
use common::*;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

fn approve() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new("alice"))
}

/// Completes the only pending request after `after`.
async fn complete_after(env: &TestAs, after: Duration, result: AuthenticationResult) -> Delivery {
    tokio::time::sleep(after).await;
    let pending = env.pending().await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    env.handle
        .complete(&pending[0].auth_req_id, result)
        .await
        .unwrap()
}

#[tokio::test]
async fn poll_flow_ends_in_tokens_and_reports_progress() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Poll).await;
    let ack = client.initiate(alice()).await.unwrap();
    assert_eq!(ack.interval, secs(1));

    // The device page sees the user, scopes and binding message.
    let pending = env.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].subject, "alice");
    assert_eq!(pending[0].client_id, POLL);
    assert_eq!(pending[0].binding_message.as_deref(), Some("W4SCT"));
    assert!(pending[0].scopes.iter().any(|s| s == "email"));
    assert_eq!(pending[0].auth_req_id, ack.auth_req_id.as_str());

    let (progress, watcher) = watch::channel(PollProgress::default());
    let (tokens, delivery) = tokio::join!(
        client.tokens_with_progress(&ack, &progress),
        complete_after(&env, ms(1300), approve()),
    );
    let tokens = tokens.unwrap();
    assert!(matches!(delivery, Delivery::NotNeeded));
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(tokens.id_token.iss, env.issuer);
    assert!(env.pending().await.is_empty());
    let last = watcher.borrow().clone();
    assert_eq!(last.phase, PollPhase::Finished);
    assert!(last.polls_sent >= 2, "{last:?}");
    assert_eq!(last.interval, secs(1));
    assert!(last.time_left > secs(10));
    env.stop().await;
}

#[tokio::test]
async fn ping_wakes_the_flow_before_the_next_poll() {
    // A 5 s interval: only the ping can explain tokens sooner.
    let env = TestAs::with(AsOptions {
        interval: 5,
        ..AsOptions::default()
    })
    .await;
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client.initiate(alice()).await.unwrap();
    let started = Instant::now();
    let (tokens, delivery) = tokio::join!(
        client.tokens(&ack),
        complete_after(&env, ms(200), approve())
    );
    assert_eq!(tokens.unwrap().id_token.sub, "alice");
    assert!(started.elapsed() < ms(4500), "{:?}", started.elapsed());
    match delivery {
        Delivery::Delivered { status, attempts } => {
            assert_eq!(status, 204);
            assert_eq!(attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    // The flow ended: its binding is gone.
    assert!(client.notifications().unwrap().is_empty());
    env.stop().await;
}

/// A token the caller chose (not one ciba-core generated).
const CALLER_TOKEN: &str = "caller-chosen-notification-token-0123456789";

#[tokio::test]
async fn the_callers_notification_token_is_sent_and_bound() {
    // A 5 s interval: only a ping accepted by the binding can explain tokens sooner.
    let env = TestAs::with(AsOptions {
        interval: 5,
        ..AsOptions::default()
    })
    .await;
    let client = env.client(DeliveryMode::Ping).await;
    let request = alice().client_notification_token(CALLER_TOKEN);
    let ack = client.initiate(request).await.unwrap();
    // The binding expects the caller's token, and only it.
    let url = env.receiver.url().to_string();
    let ping = |token: &str| {
        json_post(
            &url,
            Some(&format!("Bearer {token}")),
            json!({ "auth_req_id": ack.auth_req_id.as_str() }),
        )
    };
    let http = HttpClient::http();
    let refused = http.send(ping("someone-elses-token-0123456789")).await;
    assert!(refused.unwrap().status().is_client_error());
    let accepted = http.send(ping(CALLER_TOKEN)).await.unwrap();
    assert_eq!(accepted.status(), 204);
    // The OP received the caller's token too: the ping it sends with it wakes the flow.
    let started = Instant::now();
    let (tokens, delivery) = tokio::join!(
        client.tokens(&ack),
        complete_after(&env, ms(200), approve())
    );
    assert_eq!(tokens.unwrap().id_token.sub, "alice");
    assert!(started.elapsed() < ms(4500), "{:?}", started.elapsed());
    match delivery {
        Delivery::Delivered { status, .. } => assert_eq!(status, 204),
        other => panic!("{other:?}"),
    }
    env.stop().await;
}

#[tokio::test]
async fn the_callers_notification_token_is_kept_for_push() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Push).await;
    let ack = client
        .initiate(alice().client_notification_token(CALLER_TOKEN))
        .await
        .unwrap();
    // A push error payload (CIBA 12) needs no signature: only the bearer token authenticates
    // it, so only the caller's token may be accepted.
    let url = env.receiver.url().to_string();
    let push = |token: &str| {
        json_post(
            &url,
            Some(&format!("Bearer {token}")),
            json!({ "auth_req_id": ack.auth_req_id.as_str(), "error": "access_denied" }),
        )
    };
    let http = HttpClient::http();
    let refused = http.send(push("someone-elses-token-0123456789")).await;
    assert!(refused.unwrap().status().is_client_error());
    let accepted = http.send(push(CALLER_TOKEN)).await.unwrap();
    assert_eq!(accepted.status(), 204);
    match client.tokens(&ack).await {
        Err(Error::Pushed(e)) => assert_eq!(e.code, PushErrorCode::AccessDenied),
        other => panic!("{other:?}"),
    }
    env.stop().await;
}

#[tokio::test]
async fn push_delivers_validated_tokens() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Push).await;
    let ack = client.initiate(alice()).await.unwrap();
    let (tokens, delivery) = tokio::join!(
        client.tokens(&ack),
        complete_after(&env, ms(200), approve())
    );
    let tokens = tokens.unwrap();
    assert!(delivery.is_delivered(), "{delivery:?}");
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(
        tokens.id_token.auth_req_id.as_deref(),
        Some(ack.auth_req_id.as_str())
    );
    assert!(client.notifications().unwrap().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn poll_denial_is_access_denied() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Poll).await;
    let ack = client.initiate(alice()).await.unwrap();
    let (result, _) = tokio::join!(
        client.tokens(&ack),
        complete_after(&env, ms(200), AuthenticationResult::AccessDenied)
    );
    assert!(
        matches!(result, Err(Error::Poll(PollError::AccessDenied(_)))),
        "{result:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn ping_denial_is_access_denied() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client.initiate(alice()).await.unwrap();
    let (result, delivery) = tokio::join!(
        client.tokens(&ack),
        complete_after(&env, ms(200), AuthenticationResult::AccessDenied)
    );
    assert!(delivery.is_delivered());
    assert!(
        matches!(result, Err(Error::Poll(PollError::AccessDenied(_)))),
        "{result:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn push_denial_is_a_pushed_access_denied() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Push).await;
    let ack = client.initiate(alice()).await.unwrap();
    let (result, delivery) = tokio::join!(
        client.tokens(&ack),
        complete_after(&env, ms(200), AuthenticationResult::AccessDenied)
    );
    assert!(delivery.is_delivered());
    match result {
        Err(Error::Pushed(e)) => assert_eq!(e.code, PushErrorCode::AccessDenied),
        other => panic!("{other:?}"),
    }
    env.stop().await;
}

fn short_lived() -> ciba_core::AuthRequest {
    alice().requested_expiry(NonZeroU32::new(2).unwrap())
}

fn is_expiry(result: &Result<ciba_core::ValidatedTokens, Error>) -> bool {
    matches!(
        result,
        Err(Error::Poll(
            PollError::ExpiredLocally { .. } | PollError::ExpiredToken(_)
        ))
    )
}

#[tokio::test]
async fn poll_request_expires() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Poll).await;
    let ack = client.initiate(short_lived()).await.unwrap();
    assert_eq!(ack.expires_in, secs(2));
    let started = Instant::now();
    let result = client.tokens(&ack).await;
    assert!(is_expiry(&result), "{result:?}");
    assert!(started.elapsed() < secs(6));
    env.stop().await;
}

#[tokio::test]
async fn ping_request_expires() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client.initiate(short_lived()).await.unwrap();
    let result = client.tokens(&ack).await;
    assert!(is_expiry(&result), "{result:?}");
    assert!(client.notifications().unwrap().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn push_request_expires() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Push).await;
    let ack = client.initiate(short_lived()).await.unwrap();
    let started = Instant::now();
    let result = client.tokens(&ack).await;
    assert!(
        matches!(result, Err(Error::Poll(PollError::ExpiredLocally { .. }))),
        "{result:?}"
    );
    assert!(started.elapsed() >= ms(1900));
    env.stop().await;
}

#[tokio::test]
async fn unknown_user_is_refused_at_initiation() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Poll).await;
    let request = ciba_core::AuthRequest::new(ciba_core::Hint::LoginHint("mallory".into()));
    match client.initiate(request).await {
        Err(Error::Core(ciba_core::Error::OAuth(e))) => {
            assert_eq!(e.code, ErrorCode::UnknownUserId);
            assert_eq!(e.status, 400);
        }
        other => panic!("{other:?}"),
    }
    assert!(env.pending().await.is_empty());
    env.stop().await;
}
