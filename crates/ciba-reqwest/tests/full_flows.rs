//! Full flows over loopback HTTP against a real authorization server: ciba-server's
//! `CibaServer`, in process, behind this crate's small test HTTP server (discovery, JWKS,
//! backchannel and token endpoints). The authentication device is the test itself, calling
//! `complete`; ping and push notifications are checked with ciba-core and handed to the
//! waiting client as `NotificationEvent`s, as a notification endpoint would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ciba_core::auth_request::generate_client_notification_token;
use ciba_core::notification::PushErrorCode;
use ciba_core::poll::PollError;
use ciba_core::random::OsRandom;
use ciba_core::{
    AuthRequestAck, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, EndpointPolicy,
};
use ciba_reqwest::{CibaClient, ClientOptions, Error, NotificationEvent};
use ciba_server::{
    AuthMethod, AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE,
    CibaServer, ClientMetadata, CompleteOutcome, DefaultTokenMinter, IncomingRequest, IssueOutcome,
    MemoryStore, ServerConfig, StaticClientRegistry, TokenOutcome,
};
use common::*;
use tokio::sync::mpsc;

const NOTIFY: &str = "http://127.0.0.1:9/cb";
const POLL: &str = "poll-client";
const POLL_SECRET: &str = "poll-client-secret-0123456789";
const PING: &str = "ping-client";
const PING_SECRET: &str = "ping-client-secret-0123456789";
const PUSH: &str = "push-client";

/// The AS: a `CibaServer` served over loopback HTTP.
struct As {
    server: Arc<CibaServer>,
    http: TestServer,
}

fn registered(id: &str, method: AuthMethod, mode: DeliveryMode) -> ClientMetadata {
    let mut m = ClientMetadata::new(id);
    m.token_endpoint_auth_method = method;
    m.backchannel_token_delivery_mode = Some(mode);
    if mode.uses_token_endpoint() {
        m.grant_types = vec![CIBA_GRANT_TYPE.into()];
    }
    if mode.uses_notifications() {
        m.backchannel_client_notification_endpoint = Some(NOTIFY.into());
    }
    m
}

impl As {
    /// An AS handing out `interval` (seconds) to poll and ping clients.
    async fn start(interval: u64) -> As {
        let slot: Arc<std::sync::OnceLock<Arc<CibaServer>>> = Arc::default();
        let handler_slot = slot.clone();
        let http = TestServer::start_async(move |base| {
            let mut config = ServerConfig::new(
                "https://op.example",
                "https://op.example/token",
                "https://op.example/bc",
            )
            .unwrap();
            // Plain http on loopback for the test: set after `new`, which insists on https.
            config.issuer = base.to_owned();
            config.token_endpoint = format!("{base}/token");
            config.backchannel_authentication_endpoint = format!("{base}/bc");
            config.jwks_uri = Some(format!("{base}/jwks"));
            config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
            config.interval = interval;
            let mut registry = StaticClientRegistry::new();
            let mut poll = registered(POLL, AuthMethod::ClientSecretBasic, DeliveryMode::Poll);
            poll.client_secret = Some(POLL_SECRET.into());
            let mut ping = registered(PING, AuthMethod::ClientSecretPost, DeliveryMode::Ping);
            ping.client_secret = Some(PING_SECRET.into());
            let mut push = registered(PUSH, AuthMethod::PrivateKeyJwt, DeliveryMode::Push);
            push.jwks = Some(serde_json::from_value(public_set(&[&jwk("es256")])).unwrap());
            for c in [poll, ping, push] {
                registry.register(c, &config).unwrap();
            }
            let minter = DefaultTokenMinter::new(Arc::new(signer("eddsa")));
            let server = Arc::new(CibaServer::new(
                config,
                Arc::new(registry),
                Arc::new(MemoryStore::new()),
                Arc::new(minter),
            ));
            handler_slot.set(server.clone()).unwrap();
            move |r: &Recorded| -> ReplyFuture {
                let (server, r) = (server.clone(), r.clone());
                Box::pin(async move { Reply::from_http(&route(&server, &r).await) })
            }
        })
        .await;
        let server = slot.get().unwrap().clone();
        As { server, http }
    }

    fn issuer(&self) -> String {
        self.http.base.clone()
    }

    async fn client(&self, mode: DeliveryMode) -> CibaClient {
        let (id, auth) = match mode {
            DeliveryMode::Poll => (
                POLL,
                ClientAuth::SecretBasic(ClientSecret::new(POLL_SECRET)),
            ),
            DeliveryMode::Ping => (PING, ClientAuth::SecretPost(ClientSecret::new(PING_SECRET))),
            DeliveryMode::Push => (PUSH, ClientAuth::private_key_jwt(signer("es256"))),
        };
        let mut config = ClientConfig::new(id, auth, mode);
        config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
        if mode.uses_notifications() {
            config.notification_endpoint = Some(NOTIFY.into());
        }
        CibaClient::discover(&self.issuer(), config, ClientOptions::default())
            .await
            .unwrap()
    }

    /// The authentication device: the user decides, and the AS notifies ping and push
    /// clients, whose notification endpoint checks the request and forwards the event.
    async fn decide(
        &self,
        client: &CibaClient,
        ack: &AuthRequestAck,
        cnt: &str,
        result: AuthenticationResult,
        events: &mpsc::Sender<NotificationEvent>,
    ) {
        let id = ack.auth_req_id.as_str().to_owned();
        let outcome = self
            .server
            .complete(&id, result, SystemTime::now(), &OsRandom)
            .await
            .unwrap();
        let lookup = |aid: &str| (aid == id).then(|| cnt.to_owned());
        match outcome {
            CompleteOutcome::NothingToSend => {}
            CompleteOutcome::Ping(request) => {
                let received = client.receive_ping(&request, &lookup);
                assert_eq!(received.response.status(), 204);
                events.send(received.result.unwrap().into()).await.unwrap();
            }
            CompleteOutcome::PushTokens(request) | CompleteOutcome::PushError { request, .. } => {
                let received = client.receive_push(&request, &lookup).await.unwrap();
                assert_eq!(received.response.status(), 204);
                events.send(received.result.unwrap().into()).await.unwrap();
            }
        }
    }
}

async fn route(server: &CibaServer, r: &Recorded) -> http::Response<Vec<u8>> {
    let now = SystemTime::now();
    let request = r.to_http();
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/.well-known/openid-configuration") => server.discovery_response(),
        ("GET", "/jwks") => server.jwks_response(),
        ("POST", "/bc") => {
            match server
                .authenticate_request(&IncomingRequest::from_http(&request), now, &OsRandom)
                .await
            {
                BackchannelOutcome::Respond(r) => r.response,
                BackchannelOutcome::UserIdentification(ticket) => {
                    match server.issue(&*ticket, "alice", now, &OsRandom).await {
                        IssueOutcome::Issued(ack) => ack.response,
                        IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => r.response,
                    }
                }
            }
        }
        ("POST", "/token") => {
            match server
                .token_request(&IncomingRequest::from_http(&request), now, &OsRandom)
                .await
            {
                TokenOutcome::Issued(g) => g.response,
                TokenOutcome::Respond(r) => r.response,
                TokenOutcome::NotCibaGrant { .. } => http::Response::builder()
                    .status(400)
                    .body(br#"{"error":"unsupported_grant_type"}"#.to_vec())
                    .unwrap(),
            }
        }
        _ => http::Response::builder()
            .status(404)
            .body(Vec::new())
            .unwrap(),
    }
}

fn approve() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new("alice"))
}

fn cnt() -> String {
    generate_client_notification_token(&OsRandom).unwrap()
}

/// Starts a flow and returns the client, the acknowledgement and the notification token.
async fn start(
    op: &As,
    mode: DeliveryMode,
    expiry: Option<u32>,
) -> (CibaClient, AuthRequestAck, String) {
    let client = op.client(mode).await;
    let token = cnt();
    let mut request = alice();
    if mode.uses_notifications() {
        request = request.client_notification_token(token.clone());
    }
    if let Some(e) = expiry {
        request = request.requested_expiry(NonZeroU32::new(e).unwrap());
    }
    let ack = client.initiate(request).await.unwrap();
    (client, ack, token)
}

#[tokio::test]
async fn poll_flow_ends_in_validated_tokens() {
    let op = As::start(1).await;
    let (client, ack, cnt) = start(&op, DeliveryMode::Poll, None).await;
    assert_eq!(ack.interval, Duration::from_secs(1));
    let (tx, _rx) = mpsc::channel(4);
    let user = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        op.decide(&client, &ack, &cnt, approve(), &tx).await;
    };
    let (tokens, ()) = tokio::join!(client.poll(&ack), user);
    let tokens = tokens.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(tokens.id_token.iss, op.issuer());
    assert!(tokens.id_token.at_hash.is_some());
    let polls = op.http.requests_to("/token");
    assert_eq!(polls.len(), 2, "pending once, then tokens");
    assert_min_gaps(&polls, &[secs(1.0)]);
}

#[tokio::test]
async fn poll_flow_ends_in_access_denied() {
    let op = As::start(1).await;
    let (client, ack, cnt) = start(&op, DeliveryMode::Poll, None).await;
    let (tx, _rx) = mpsc::channel(4);
    op.decide(&client, &ack, &cnt, AuthenticationResult::AccessDenied, &tx)
        .await;
    let err = client.poll(&ack).await.unwrap_err();
    assert!(
        matches!(err, Error::Poll(PollError::AccessDenied(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn poll_flow_ends_at_expiry() {
    let op = As::start(1).await;
    let (client, ack, _) = start(&op, DeliveryMode::Poll, Some(2)).await;
    assert_eq!(ack.expires_in, Duration::from_secs(2));
    let started = Instant::now();
    let err = client.poll(&ack).await.unwrap_err();
    assert!(
        matches!(err, Error::Poll(PollError::ExpiredLocally { .. })),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // One poll after an interval; the next would be due after the deadline, so none is sent.
    assert_eq!(op.http.requests_to("/token").len(), 1);
}

#[tokio::test]
async fn ping_flow_redeems_the_tokens_right_after_the_ping() {
    // A long interval: only the ping can explain a token request within it.
    let op = As::start(10).await;
    let (client, ack, cnt) = start(&op, DeliveryMode::Ping, None).await;
    let (tx, mut rx) = mpsc::channel(4);
    let started = Instant::now();
    let user = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        op.decide(&client, &ack, &cnt, approve(), &tx).await;
    };
    let (tokens, ()) = tokio::join!(client.poll_with_notifications(&ack, &mut rx), user);
    assert_eq!(tokens.unwrap().id_token.aud, [PING]);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(op.http.requests_to("/token").len(), 1);
}

#[tokio::test]
async fn ping_flow_ends_in_access_denied() {
    let op = As::start(10).await;
    let (client, ack, cnt) = start(&op, DeliveryMode::Ping, None).await;
    let (tx, mut rx) = mpsc::channel(4);
    let user = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        op.decide(&client, &ack, &cnt, AuthenticationResult::AccessDenied, &tx)
            .await;
    };
    let (result, ()) = tokio::join!(
        client
            .wait_for_tokens(&ack)
            .notifications(&mut rx)
            .into_future(),
        user
    );
    assert!(matches!(
        result,
        Err(Error::Poll(PollError::AccessDenied(_)))
    ));
}

#[tokio::test]
async fn ping_flow_expires_without_a_ping() {
    let op = As::start(10).await;
    let (client, ack, _) = start(&op, DeliveryMode::Ping, Some(2)).await;
    let (_tx, mut rx) = mpsc::channel::<NotificationEvent>(4);
    let err = client
        .poll_with_notifications(&ack, &mut rx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Poll(PollError::ExpiredLocally { .. })),
        "{err:?}"
    );
    assert!(op.http.requests_to("/token").is_empty());
}

#[tokio::test]
async fn push_flow_delivers_validated_tokens() {
    let op = As::start(1).await;
    let (client, ack, cnt) = start(&op, DeliveryMode::Push, None).await;
    let (tx, mut rx) = mpsc::channel(4);
    let user = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        op.decide(&client, &ack, &cnt, approve(), &tx).await;
    };
    let (tokens, ()) = tokio::join!(client.poll_with_notifications(&ack, &mut rx), user);
    let tokens = tokens.unwrap();
    assert_eq!(
        tokens.id_token.auth_req_id.as_deref(),
        Some(ack.auth_req_id.as_str())
    );
    assert!(tokens.id_token.rt_hash.is_some());
    assert!(
        op.http.requests_to("/token").is_empty(),
        "push clients never poll"
    );
}

#[tokio::test]
async fn push_flow_reports_access_denied() {
    let op = As::start(1).await;
    let (client, ack, cnt) = start(&op, DeliveryMode::Push, None).await;
    let (tx, mut rx) = mpsc::channel(4);
    op.decide(&client, &ack, &cnt, AuthenticationResult::AccessDenied, &tx)
        .await;
    match client.poll_with_notifications(&ack, &mut rx).await {
        Err(Error::Push(e)) => assert_eq!(e.code, PushErrorCode::AccessDenied),
        other => panic!("expected a pushed access_denied, got {other:?}"),
    }
}

#[tokio::test]
async fn push_flow_expires_without_a_delivery() {
    let op = As::start(1).await;
    let (client, ack, _) = start(&op, DeliveryMode::Push, Some(1)).await;
    let (_tx, mut rx) = mpsc::channel::<NotificationEvent>(4);
    let err = client
        .poll_with_notifications(&ack, &mut rx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Poll(PollError::ExpiredLocally { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn push_events_for_other_requests_are_ignored() {
    let op = As::start(1).await;
    let (client, first, cnt1) = start(&op, DeliveryMode::Push, None).await;
    let (_, second, cnt2) = start(&op, DeliveryMode::Push, None).await;
    let (tx, mut rx) = mpsc::channel(4);
    op.decide(&client, &second, &cnt2, approve(), &tx).await;
    op.decide(
        &client,
        &first,
        &cnt1,
        AuthenticationResult::AccessDenied,
        &tx,
    )
    .await;
    let result = client.poll_with_notifications(&first, &mut rx).await;
    assert!(matches!(result, Err(Error::Push(_))), "{result:?}");
}

#[tokio::test]
async fn push_client_without_a_notification_source_fails_at_once() {
    let op = As::start(1).await;
    let (client, ack, _) = start(&op, DeliveryMode::Push, None).await;
    let err = client.poll(&ack).await.unwrap_err();
    assert!(matches!(err, Error::NotificationsClosed), "{err:?}");
}
