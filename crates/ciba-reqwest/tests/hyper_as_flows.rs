//! Interop over real sockets: this crate's client against ciba-hyper's `AuthorizationServer`
//! on loopback. Ping and push notifications travel over HTTP from the AS's deliverer to a small
//! notification endpoint of the test, which checks them with ciba-core and forwards them to
//! the waiting client as `NotificationEvent`s, as an application's endpoint would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ciba_core::auth_request::generate_client_notification_token;
use ciba_core::id_token::IdTokenValidator;
use ciba_core::jose::JwkSigner;
use ciba_core::notification::{PushErrorCode, receive_ping, receive_push};
use ciba_core::poll::PollError;
use ciba_core::random::OsRandom;
use ciba_core::{
    AuthRequestAck, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, EndpointPolicy, Limits,
};
use ciba_hyper::RunningServer;
use ciba_hyper::server::{AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture};
use ciba_reqwest::{CibaClient, ClientOptions, Error, NotificationEvent};
use ciba_server::{
    AuthMethod, AuthenticationResult, Authorization, CIBA_GRANT_TYPE, CibaServer, ClientMetadata,
    DefaultTokenMinter, FailReason, MemoryStore, ServerConfig, StaticClientRegistry, Ticket,
};
use common::*;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const SECRET: &str = "a-long-random-client-secret-for-tests";

struct Hooks;

impl AuthorizationHooks for Hooks {
    fn identify_user<'a>(
        &'a self,
        ticket: &'a Ticket,
    ) -> BoxFuture<'a, Result<String, FailReason>> {
        Box::pin(std::future::ready(match ticket.hint.value() {
            "alice@example.com" => Ok("alice".into()),
            _ => Err(FailReason::UnknownUserId),
        }))
    }
}

/// The client's notification endpoint: bindings (`auth_req_id` -> notification token), the
/// push validator, and the channel to the waiting flow.
#[derive(Clone)]
struct Endpoint {
    bindings: Arc<Mutex<HashMap<String, String>>>,
    validator: Arc<Mutex<Option<IdTokenValidator>>>,
    events: mpsc::UnboundedSender<NotificationEvent>,
}

impl Endpoint {
    fn answer(&self, r: &Recorded) -> Reply {
        let request = r.to_http();
        let bindings = self.bindings.lock().unwrap().clone();
        let lookup = |id: &str| bindings.get(id).cloned();
        let validator = self.validator.lock().unwrap().clone();
        let response = match validator {
            None => {
                let outcome = receive_ping(&request, &lookup, &Limits::DEFAULT);
                if let Ok(ping) = outcome.result {
                    self.events.send(ping.into()).unwrap();
                }
                outcome.response
            }
            Some(validator) => {
                let outcome = receive_push(
                    &request,
                    &lookup,
                    &validator,
                    SystemTime::now(),
                    &Limits::DEFAULT,
                );
                if let Ok(push) = outcome.result {
                    // Completed: a second delivery finds no binding (CIBA 10.3 replay rule).
                    self.bindings
                        .lock()
                        .unwrap()
                        .remove(push.auth_req_id().as_str());
                    self.events.send(push.into()).unwrap();
                }
                outcome.response
            }
        };
        Reply::from_http(&response)
    }
}

struct Setup {
    issuer: String,
    handle: AsHandle,
    _as: RunningServer,
    endpoint: Endpoint,
    receiver: TestServer,
    events: mpsc::UnboundedReceiver<NotificationEvent>,
}

impl Setup {
    async fn start(interval: u64) -> Setup {
        let (tx, events) = mpsc::unbounded_channel();
        let endpoint = Endpoint {
            bindings: Arc::default(),
            validator: Arc::default(),
            events: tx,
        };
        let answering = endpoint.clone();
        let receiver = TestServer::start(move |_| move |r: &Recorded| answering.answer(r)).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let mut config = ServerConfig::with_policy(
            issuer.clone(),
            format!("{issuer}/token"),
            format!("{issuer}/bc"),
            EndpointPolicy::ALLOW_HTTP_LOOPBACK,
        )
        .unwrap();
        config.jwks_uri = Some(format!("{issuer}/jwks"));
        config.interval = interval;
        let mut registry = StaticClientRegistry::new();
        for mode in [DeliveryMode::Poll, DeliveryMode::Ping, DeliveryMode::Push] {
            let mut m = ClientMetadata::new(mode.as_str());
            m.client_secret = Some(SECRET.into());
            m.token_endpoint_auth_method = AuthMethod::ClientSecretPost;
            m.backchannel_token_delivery_mode = Some(mode);
            if mode.uses_token_endpoint() {
                m.grant_types = vec![CIBA_GRANT_TYPE.into()];
            }
            if mode.uses_notifications() {
                m.backchannel_client_notification_endpoint = Some(receiver.url("/cb"));
            }
            registry.register(m, &config).unwrap();
        }
        let key = JwkSigner::generate_ed25519(&OsRandom, Some("op-key-1".into())).unwrap();
        let server = CibaServer::new(
            config,
            Arc::new(registry),
            Arc::new(MemoryStore::new()),
            Arc::new(DefaultTokenMinter::new(Arc::new(key))),
        );
        let service = AuthorizationServer::new(server, Hooks);
        let handle = service.handle();
        let running = service.serve(listener).unwrap();
        Setup {
            issuer,
            handle,
            _as: running,
            endpoint,
            receiver,
            events,
        }
    }

    /// A client of `mode`, and a started request for alice (`requested_expiry` when given).
    async fn start_flow(
        &self,
        mode: DeliveryMode,
        expiry: Option<u32>,
    ) -> (CibaClient, AuthRequestAck) {
        let mut config = ClientConfig::new(
            mode.as_str(),
            ClientAuth::SecretPost(ClientSecret::new(SECRET)),
            mode,
        );
        config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
        if mode.uses_notifications() {
            config.notification_endpoint = Some(self.receiver.url("/cb"));
        }
        let client = CibaClient::discover(&self.issuer, config, ClientOptions::default())
            .await
            .unwrap();
        let token = generate_client_notification_token(&OsRandom).unwrap();
        let mut request = alice();
        if mode.uses_notifications() {
            request = request.client_notification_token(token.clone());
        }
        if let Some(e) = expiry {
            request = request.requested_expiry(NonZeroU32::new(e).unwrap());
        }
        let ack = client.initiate(request).await.unwrap();
        self.endpoint
            .bindings
            .lock()
            .unwrap()
            .insert(ack.auth_req_id.as_str().to_owned(), token);
        if mode == DeliveryMode::Push {
            *self.endpoint.validator.lock().unwrap() =
                Some(client.id_token_validator().await.unwrap());
        }
        (client, ack)
    }

    /// The user decides on the authentication device after `after`.
    async fn decide(&self, ack: &AuthRequestAck, result: AuthenticationResult, after: Duration) {
        tokio::time::sleep(after).await;
        // For ping and push, this returns once the notification was delivered (or refused).
        let _delivery = self
            .handle
            .complete(ack.auth_req_id.as_str(), result)
            .await
            .unwrap();
    }
}

fn approve() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new("alice"))
}

#[tokio::test]
async fn hyper_as_poll_flow_ends_in_tokens() {
    let s = Setup::start(1).await;
    let (client, ack) = s.start_flow(DeliveryMode::Poll, None).await;
    let (tokens, ()) = tokio::join!(
        client.poll(&ack),
        s.decide(&ack, approve(), Duration::from_millis(1500))
    );
    let tokens = tokens.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(tokens.id_token.iss, s.issuer);
}

#[tokio::test]
async fn hyper_as_poll_flow_ends_in_access_denied() {
    let s = Setup::start(1).await;
    let (client, ack) = s.start_flow(DeliveryMode::Poll, None).await;
    let (result, ()) = tokio::join!(
        client.poll(&ack),
        s.decide(
            &ack,
            AuthenticationResult::AccessDenied,
            Duration::from_millis(500)
        )
    );
    assert!(
        matches!(result, Err(Error::Poll(PollError::AccessDenied(_)))),
        "{result:?}"
    );
}

#[tokio::test]
async fn hyper_as_poll_flow_ends_at_expiry() {
    let s = Setup::start(1).await;
    let (client, ack) = s.start_flow(DeliveryMode::Poll, Some(2)).await;
    let result = client.poll(&ack).await;
    assert!(
        matches!(result, Err(Error::Poll(PollError::ExpiredLocally { .. }))),
        "{result:?}"
    );
}

#[tokio::test]
async fn hyper_as_ping_over_http_triggers_the_token_request() {
    let mut s = Setup::start(10).await;
    let (client, ack) = s.start_flow(DeliveryMode::Ping, None).await;
    let started = Instant::now();
    let mut events = std::mem::replace(&mut s.events, mpsc::unbounded_channel().1);
    let (tokens, ()) = tokio::join!(
        client.poll_with_notifications(&ack, &mut events),
        s.decide(&ack, approve(), Duration::from_millis(500))
    );
    assert_eq!(tokens.unwrap().id_token.aud, ["ping"]);
    // The interval is 10 s: only the ping explains tokens this early.
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(s.receiver.requests_to("/cb").len(), 1);
}

#[tokio::test]
async fn hyper_as_push_over_http_delivers_validated_tokens() {
    let mut s = Setup::start(1).await;
    let (client, ack) = s.start_flow(DeliveryMode::Push, None).await;
    let mut events = std::mem::replace(&mut s.events, mpsc::unbounded_channel().1);
    let (tokens, ()) = tokio::join!(
        client.poll_with_notifications(&ack, &mut events),
        s.decide(&ack, approve(), Duration::from_millis(300))
    );
    let tokens = tokens.unwrap();
    assert_eq!(
        tokens.id_token.auth_req_id.as_deref(),
        Some(ack.auth_req_id.as_str())
    );
    assert_eq!(s.receiver.requests_to("/cb").len(), 1);
}

#[tokio::test]
async fn hyper_as_push_over_http_reports_access_denied() {
    let mut s = Setup::start(1).await;
    let (client, ack) = s.start_flow(DeliveryMode::Push, None).await;
    let mut events = std::mem::replace(&mut s.events, mpsc::unbounded_channel().1);
    let (result, ()) = tokio::join!(
        client.poll_with_notifications(&ack, &mut events),
        s.decide(
            &ack,
            AuthenticationResult::AccessDenied,
            Duration::from_millis(300)
        )
    );
    match result {
        Err(Error::Push(e)) => assert_eq!(e.code, PushErrorCode::AccessDenied),
        other => panic!("expected a pushed access_denied, got {other:?}"),
    }
}

#[tokio::test]
async fn hyper_as_ping_over_http_reports_access_denied() {
    let mut s = Setup::start(10).await;
    let (client, ack) = s.start_flow(DeliveryMode::Ping, None).await;
    let started = Instant::now();
    let mut events = std::mem::replace(&mut s.events, mpsc::unbounded_channel().1);
    let (result, ()) = tokio::join!(
        client.poll_with_notifications(&ack, &mut events),
        s.decide(
            &ack,
            AuthenticationResult::AccessDenied,
            Duration::from_millis(300)
        )
    );
    assert!(
        matches!(result, Err(Error::Poll(PollError::AccessDenied(_)))),
        "{result:?}"
    );
    // The ping, not the 10 s interval, brought the answer.
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(s.receiver.requests_to("/cb").len(), 1);
}

#[tokio::test]
async fn hyper_as_ping_flow_ends_at_expiry_without_a_ping() {
    let mut s = Setup::start(1).await;
    let (client, ack) = s.start_flow(DeliveryMode::Ping, Some(2)).await;
    let mut events = std::mem::replace(&mut s.events, mpsc::unbounded_channel().1);
    let result = client.poll_with_notifications(&ack, &mut events).await;
    assert!(
        matches!(result, Err(Error::Poll(PollError::ExpiredLocally { .. }))),
        "{result:?}"
    );
    assert!(s.receiver.requests_to("/cb").is_empty());
}

#[tokio::test]
async fn hyper_as_push_flow_ends_at_expiry_without_a_delivery() {
    let mut s = Setup::start(1).await;
    let (client, ack) = s.start_flow(DeliveryMode::Push, Some(2)).await;
    let mut events = std::mem::replace(&mut s.events, mpsc::unbounded_channel().1);
    let result = client.poll_with_notifications(&ack, &mut events).await;
    assert!(
        matches!(result, Err(Error::Poll(PollError::ExpiredLocally { .. }))),
        "{result:?}"
    );
    assert!(s.receiver.requests_to("/cb").is_empty());
}
