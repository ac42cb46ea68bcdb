//! Our client against our authorization server, over loopback sockets: ciba-client's
//! `CibaClient` through each transport adapter (this crate's and ciba-hyper's) against
//! ciba-hyper's `AuthorizationServer`, its notifications through ciba-hyper's receiver.
//!
//! The matrix: poll, ping and push, each to tokens, to `access_denied` and to expiry; an
//! unknown user refused at initiation; the caller's `client_notification_token` sent and bound
//! (ping) and kept (push); progress reported; a ping waking the flow before the next poll; a
//! push for another request leaving this wait alone; a push client without a registry refused.
//! Every request the client sends is recorded, so that the rows also say how often it polled.

#![allow(missing_docs)]

/// The harness: ciba-hyper's authorization server and the notification receiver.
use ciba_test::harness as common;
/// The two adapters behind one trait, `on_both_transports!`.
use ciba_test::{client as support, on_both_transports};

use std::future::IntoFuture;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ciba_client::{
    CibaClient, ClientOptions, Error, FlowProgress, HttpSend, PollPhase, TransportError,
};
use ciba_core::notification::PushErrorCode;
use ciba_core::poll::PollError;
use ciba_core::{AuthRequest, DeliveryMode, ErrorCode, ValidatedTokens};
use ciba_hyper::server::DeliveryOutcome;
use ciba_server::{AuthenticationResult, Authorization};
use common::{AsOptions, POLL, TestAs, alice, json_post, ms, secs};
use serde_json::json;
use support::Adapter;
use tokio::sync::watch;
use tokio::time::Instant;

on_both_transports!(
    poll_flow_ends_in_tokens_and_reports_progress,
    poll_denial_is_access_denied,
    poll_request_expires_after_one_poll,
    ping_wakes_the_flow_before_the_next_poll,
    ping_denial_is_access_denied_at_once,
    ping_request_expires_without_a_token_request,
    push_delivers_validated_tokens_without_polling,
    push_denial_is_a_pushed_access_denied,
    push_request_expires_without_a_delivery,
    a_push_for_another_request_leaves_the_wait_alone,
    unknown_user_is_refused_at_initiation,
    the_callers_notification_token_is_sent_and_bound,
    the_callers_notification_token_is_kept_for_push,
    a_push_client_without_a_registry_is_refused_at_once,
);

/// The adapter `S`, recording the path of every request it sends and when.
struct Recording<S> {
    inner: S,
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl<S: HttpSend> HttpSend for Recording<S> {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let path = request.uri().path().to_owned();
        self.seen.lock().unwrap().push((path, Instant::now()));
        self.inner.send(request).await
    }
}

/// A server and a client of `mode` over the adapter, whose requests are recorded.
struct Setup<S: HttpSend> {
    env: TestAs,
    client: CibaClient<Recording<S>>,
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl<S: HttpSend> Setup<S> {
    async fn start<A: Adapter<Http = S>>(a: A, options: AsOptions, mode: DeliveryMode) -> Self {
        let env = TestAs::with(options).await;
        let seen = Arc::default();
        let http = Recording {
            inner: a.default_http(),
            seen: Arc::clone(&seen),
        };
        let client = env.client_over(http, mode).await;
        Setup { env, client, seen }
    }

    /// When the client's token requests were sent.
    fn token_requests(&self) -> Vec<Instant> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(path, _)| path == "/token")
            .map(|(_, at)| *at)
            .collect()
    }

    /// The user decides on the authentication device after `after`, on the only pending
    /// request; for ping and push this returns once the notification was delivered.
    async fn decide(&self, after: Duration, result: AuthenticationResult) -> DeliveryOutcome {
        tokio::time::sleep(after).await;
        let pending = self.env.pending().await;
        assert_eq!(pending.len(), 1, "{pending:?}");
        self.env
            .handle
            .complete(&pending[0].auth_req_id, result)
            .await
            .unwrap()
    }

    fn registrations(&self) -> usize {
        self.client.notifications().unwrap().len()
    }

    async fn stop(self) {
        self.env.stop().await;
    }
}

fn approve() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new("alice"))
}

fn with_interval(interval: u64) -> AsOptions {
    AsOptions {
        interval,
        ..AsOptions::default()
    }
}

fn short_lived() -> AuthRequest {
    alice().requested_expiry(NonZeroU32::new(2).unwrap())
}

fn access_denied(result: &Result<ValidatedTokens, Error>) -> bool {
    matches!(
        result.as_ref().map_err(Error::poll_error),
        Err(Some(PollError::AccessDenied(_)))
    )
}

fn expired_locally(result: &Result<ValidatedTokens, Error>) -> bool {
    matches!(
        result.as_ref().map_err(Error::poll_error),
        Err(Some(PollError::ExpiredLocally { .. }))
    )
}

fn pushed_access_denied(result: &Result<ValidatedTokens, Error>) -> bool {
    matches!(result, Err(Error::Pushed(e)) if e.code == PushErrorCode::AccessDenied)
}

/// A token the caller chose (not one the client generated).
const CALLER_TOKEN: &str = "caller-chosen-notification-token-0123456789";

// --- Poll ---------------------------------------------------------------------------------

async fn poll_flow_ends_in_tokens_and_reports_progress<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Poll).await;
    let ack = s.client.initiate(alice()).await.unwrap();
    assert_eq!(ack.interval, secs(1));

    // The device page sees the user, scopes and binding message.
    let pending = s.env.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].subject, "alice");
    assert_eq!(pending[0].client_id, POLL);
    assert_eq!(pending[0].binding_message.as_deref(), Some("W4SCT"));
    assert!(pending[0].scopes.iter().any(|s| s == "email"));
    assert_eq!(pending[0].auth_req_id, ack.auth_req_id.as_str());

    let (progress, watcher) = watch::channel(FlowProgress::default());
    let (tokens, delivery) = tokio::join!(
        s.client
            .wait_for_tokens(&ack)
            .progress(progress)
            .into_future(),
        s.decide(ms(1300), approve()),
    );
    let tokens = tokens.unwrap();
    assert!(
        matches!(delivery, DeliveryOutcome::NotNeeded),
        "{delivery:?}"
    );
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(tokens.id_token.iss, s.env.issuer);
    assert!(tokens.id_token.at_hash.is_some());
    assert!(s.env.pending().await.is_empty());
    let last = watcher.borrow().poll.clone();
    assert_eq!(last.phase, PollPhase::Finished);
    assert_eq!(last.polls_sent, 2, "{last:?}");
    assert_eq!(last.interval, secs(1));
    assert!(last.time_left > secs(10), "{last:?}");
    // Pending once, then tokens, the interval kept between the two.
    let polls = s.token_requests();
    assert_eq!(polls.len(), 2);
    assert!(polls[1] - polls[0] + ms(50) >= secs(1), "{polls:?}");
    s.stop().await;
}

async fn poll_denial_is_access_denied<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Poll).await;
    let ack = s.client.initiate(alice()).await.unwrap();
    let (result, delivery) = tokio::join!(
        s.client.wait_for_tokens(&ack).into_future(),
        s.decide(ms(200), AuthenticationResult::AccessDenied),
    );
    assert!(access_denied(&result), "{result:?}");
    assert!(
        matches!(delivery, DeliveryOutcome::NotNeeded),
        "{delivery:?}"
    );
    s.stop().await;
}

async fn poll_request_expires_after_one_poll<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Poll).await;
    let ack = s.client.initiate(short_lived()).await.unwrap();
    assert_eq!(ack.expires_in, secs(2));
    let started = Instant::now();
    let result = s.client.wait_for_tokens(&ack).await;
    assert!(expired_locally(&result), "{result:?}");
    assert!(started.elapsed() < secs(3), "{:?}", started.elapsed());
    // One poll after an interval; the next would be due at the deadline, so none is sent.
    assert_eq!(s.token_requests().len(), 1);
    s.stop().await;
}

// --- Ping ---------------------------------------------------------------------------------

async fn ping_wakes_the_flow_before_the_next_poll<A: Adapter>(a: A) {
    // A 5 s interval: only the ping can explain tokens sooner.
    let s = Setup::start(a, with_interval(5), DeliveryMode::Ping).await;
    let ack = s.client.initiate(alice()).await.unwrap();
    assert_eq!(s.registrations(), 1);
    let started = Instant::now();
    let (tokens, delivery) = tokio::join!(
        s.client.wait_for_tokens(&ack).into_future(),
        s.decide(ms(200), approve()),
    );
    assert_eq!(tokens.unwrap().id_token.sub, "alice");
    assert!(started.elapsed() < ms(4500), "{:?}", started.elapsed());
    match delivery {
        DeliveryOutcome::Delivered { status, attempts } => {
            assert_eq!(status, 204);
            assert_eq!(attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    // One token request, right after the ping; the flow ended, so its binding is gone.
    assert_eq!(s.token_requests().len(), 1);
    assert_eq!(s.registrations(), 0);
    s.stop().await;
}

async fn ping_denial_is_access_denied_at_once<A: Adapter>(a: A) {
    let s = Setup::start(a, with_interval(10), DeliveryMode::Ping).await;
    let ack = s.client.initiate(alice()).await.unwrap();
    let started = Instant::now();
    let (result, delivery) = tokio::join!(
        s.client.wait_for_tokens(&ack).into_future(),
        s.decide(ms(300), AuthenticationResult::AccessDenied),
    );
    assert!(delivery.is_delivered(), "{delivery:?}");
    assert!(access_denied(&result), "{result:?}");
    // The ping, not the 10 s interval, brought the answer.
    assert!(started.elapsed() < secs(4), "{:?}", started.elapsed());
    assert_eq!(s.token_requests().len(), 1);
    s.stop().await;
}

async fn ping_request_expires_without_a_token_request<A: Adapter>(a: A) {
    let s = Setup::start(a, with_interval(10), DeliveryMode::Ping).await;
    let ack = s.client.initiate(short_lived()).await.unwrap();
    let result = s.client.wait_for_tokens(&ack).await;
    assert!(expired_locally(&result), "{result:?}");
    // No ping came and the interval outlasts the request: nothing was polled.
    assert!(s.token_requests().is_empty());
    assert_eq!(s.registrations(), 0);
    s.stop().await;
}

// --- Push ---------------------------------------------------------------------------------

async fn push_delivers_validated_tokens_without_polling<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Push).await;
    let ack = s.client.initiate(alice()).await.unwrap();
    let (tokens, delivery) = tokio::join!(
        s.client.wait_for_tokens(&ack).into_future(),
        s.decide(ms(200), approve()),
    );
    let tokens = tokens.unwrap();
    assert!(delivery.is_delivered(), "{delivery:?}");
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(
        tokens.id_token.auth_req_id.as_deref(),
        Some(ack.auth_req_id.as_str())
    );
    assert!(s.token_requests().is_empty(), "push clients never poll");
    assert_eq!(s.registrations(), 0);
    s.stop().await;
}

async fn push_denial_is_a_pushed_access_denied<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Push).await;
    let ack = s.client.initiate(alice()).await.unwrap();
    let (result, delivery) = tokio::join!(
        s.client.wait_for_tokens(&ack).into_future(),
        s.decide(ms(200), AuthenticationResult::AccessDenied),
    );
    assert!(delivery.is_delivered(), "{delivery:?}");
    assert!(pushed_access_denied(&result), "{result:?}");
    s.stop().await;
}

async fn push_request_expires_without_a_delivery<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Push).await;
    let ack = s.client.initiate(short_lived()).await.unwrap();
    let started = Instant::now();
    let result = s.client.wait_for_tokens(&ack).await;
    assert!(expired_locally(&result), "{result:?}");
    assert!(started.elapsed() >= ms(1900), "{:?}", started.elapsed());
    assert!(s.token_requests().is_empty());
    assert_eq!(s.registrations(), 0);
    s.stop().await;
}

async fn a_push_for_another_request_leaves_the_wait_alone<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Push).await;
    let first = s.client.initiate(alice()).await.unwrap();
    let second = s.client.initiate(alice()).await.unwrap();
    // The second request is approved first: its push must not end the first wait.
    let approved = s
        .env
        .handle
        .complete(
            &ciba_server::AuthReqId::from_stored(second.auth_req_id.as_str()),
            approve(),
        )
        .await
        .unwrap();
    assert!(approved.is_delivered(), "{approved:?}");
    let deny_first = async {
        tokio::time::sleep(ms(300)).await;
        s.env
            .handle
            .complete(
                &ciba_server::AuthReqId::from_stored(first.auth_req_id.as_str()),
                AuthenticationResult::AccessDenied,
            )
            .await
            .unwrap()
    };
    let (result, denied) = tokio::join!(s.client.wait_for_tokens(&first).into_future(), deny_first);
    assert!(denied.is_delivered(), "{denied:?}");
    assert!(pushed_access_denied(&result), "{result:?}");
    // The second request's tokens waited for their own wait.
    let tokens = s.client.wait_for_tokens(&second).await.unwrap();
    assert_eq!(
        tokens.id_token.auth_req_id.as_deref(),
        Some(second.auth_req_id.as_str())
    );
    s.stop().await;
}

// --- Initiation and notification tokens --------------------------------------------------

async fn unknown_user_is_refused_at_initiation<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Poll).await;
    let request = AuthRequest::new(ciba_core::Hint::LoginHint("mallory".into()));
    match s.client.initiate(request).await {
        Err(Error::Core(ciba_core::Error::OAuth(e))) => {
            assert_eq!(e.code, ErrorCode::UnknownUserId);
            assert_eq!(e.status, 400);
        }
        other => panic!("{other:?}"),
    }
    assert!(s.env.pending().await.is_empty());
    s.stop().await;
}

async fn the_callers_notification_token_is_sent_and_bound<A: Adapter>(a: A) {
    // A 5 s interval: only a ping accepted by the binding can explain tokens sooner.
    let s = Setup::start(a, with_interval(5), DeliveryMode::Ping).await;
    let request = alice().client_notification_token(CALLER_TOKEN);
    let ack = s.client.initiate(request).await.unwrap();
    // The binding expects the caller's token, and only it.
    let url = s.env.receiver.url().to_string();
    let ping = |token: &str| {
        json_post(
            &url,
            Some(&format!("Bearer {token}")),
            json!({ "auth_req_id": ack.auth_req_id.as_str() }),
        )
    };
    let http = ciba_hyper::HttpClient::http();
    let refused = http.send(ping("someone-elses-token-0123456789")).await;
    assert_eq!(refused.unwrap().status(), 401);
    let accepted = http.send(ping(CALLER_TOKEN)).await.unwrap();
    assert_eq!(accepted.status(), 204);
    // The OP received the caller's token too: the ping it sends with it wakes the flow.
    let started = Instant::now();
    let (tokens, delivery) = tokio::join!(
        s.client.wait_for_tokens(&ack).into_future(),
        s.decide(ms(200), approve()),
    );
    assert_eq!(tokens.unwrap().id_token.sub, "alice");
    assert!(started.elapsed() < ms(4500), "{:?}", started.elapsed());
    match delivery {
        DeliveryOutcome::Delivered { status, .. } => assert_eq!(status, 204),
        other => panic!("{other:?}"),
    }
    s.stop().await;
}

async fn the_callers_notification_token_is_kept_for_push<A: Adapter>(a: A) {
    let s = Setup::start(a, AsOptions::default(), DeliveryMode::Push).await;
    let ack = s
        .client
        .initiate(alice().client_notification_token(CALLER_TOKEN))
        .await
        .unwrap();
    // A push error payload (CIBA 12) needs no signature: only the bearer token authenticates
    // it, so only the caller's token may be accepted.
    let url = s.env.receiver.url().to_string();
    let push = |token: &str| {
        json_post(
            &url,
            Some(&format!("Bearer {token}")),
            json!({ "auth_req_id": ack.auth_req_id.as_str(), "error": "access_denied" }),
        )
    };
    let http = ciba_hyper::HttpClient::http();
    let refused = http.send(push("someone-elses-token-0123456789")).await;
    assert_eq!(refused.unwrap().status(), 401);
    let accepted = http.send(push(CALLER_TOKEN)).await.unwrap();
    assert_eq!(accepted.status(), 204);
    let result = s.client.wait_for_tokens(&ack).await;
    assert!(pushed_access_denied(&result), "{result:?}");
    s.stop().await;
}

async fn a_push_client_without_a_registry_is_refused_at_once<A: Adapter>(a: A) {
    let env = TestAs::start().await;
    let config = env.client_config(DeliveryMode::Push);
    let result = CibaClient::discover(
        a.default_http(),
        &env.issuer,
        config,
        ClientOptions::default(),
    )
    .await;
    assert!(
        matches!(result, Err(Error::NoNotificationRegistry)),
        "{result:?}"
    );
    env.stop().await;
}

/// The captured log output of this test binary.
use ciba_test::logs::LogCapture as Capture;

/// A poll flow through this crate's adapter under the binary's one global subscriber (the
/// other tests' lines land there too; this one looks for its own): each exchange has its
/// `ciba_http_send` span with the method, the endpoint and the status, inside ciba-client's
/// spans, and neither the client secret, the `auth_req_id`, the hint nor the tokens appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_exchanges_are_traced_without_credentials_or_tokens() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .finish(),
    )
    .unwrap();
    let env = TestAs::start().await;
    let http = support::Adapter::http(support::Reqwest, secs(5), 1 << 20);
    let client = env.client_over(http, DeliveryMode::Poll).await;
    let ack = client.initiate(alice()).await.unwrap();
    env.handle
        .complete(
            &ciba_server::AuthReqId::from_stored(ack.auth_req_id.as_str()),
            AuthenticationResult::Authorized(Authorization::new("alice")),
        )
        .await
        .unwrap();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    let issuer = env.issuer.clone();
    env.stop().await;
    let text = capture.text();
    let mut secrets = vec![
        common::SECRET.to_owned(),
        ack.auth_req_id.as_str().to_owned(),
        tokens.response.access_token.clone(),
        "alice@example.com".to_owned(),
    ];
    secrets.extend(tokens.response.id_token.clone());
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the output holds {secret:?}"
        );
    }
    let issuer = issuer.as_str();
    let has = |parts: &[&str]| text.lines().any(|l| parts.iter().all(|p| l.contains(p)));
    assert!(
        has(&[
            "ciba_client_initiate{client_id=\"poll-rp\"",
            &format!("ciba_http_send{{method=POST endpoint={issuer}/bc status=200}}"),
            "ciba_reqwest",
        ]),
        "{text}"
    );
    assert!(
        has(&[
            "ciba_client_wait{client_id=\"poll-rp\"",
            &format!("ciba_http_send{{method=POST endpoint={issuer}/token status=200}}"),
        ]),
        "{text}"
    );
}
