//! The client notification endpoint (CIBA Core 10.2, 10.3): a hyper service that hands every
//! ping and push to ciba-core (`receive_ping`, `receive_push`) and wakes the flow waiting for
//! that `auth_req_id`.
//!
//! - [`NotificationRegistry`]: `auth_req_id` -> (the `client_notification_token` sent with the
//!   request, the waiting flow). [`CibaClient::initiate`](crate::CibaClient::initiate) fills
//!   it; a flow removes its binding when it ends or is dropped.
//! - [`NotificationService`]: the bare service (`tower_service::Service`), to mount on your own
//!   server (axum, hyper, behind a TLS terminator).
//! - [`NotificationReceiver`]: the service on its own loopback or LAN listener.
//!
//! Every answer is ciba-core's: 204 when accepted, 401 for a missing or wrong bearer token and
//! for an unknown or completed `auth_req_id`, 400 for a malformed body, 405 for a method other
//! than `POST`; never a redirect. A second push for the same request gets 401 and changes
//! nothing; a second ping only allows one more immediate token request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ciba_core::Limits;
use ciba_core::ack::AuthReqId;
use ciba_core::id_token::{IdTokenError, IdTokenValidator};
use ciba_core::notification::{NotificationError, Push, receive_ping, receive_push};
use http_body_util::Full;
use hyper::body::Body;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Notify, watch};
use url::Url;

use crate::error::BoxError;
use crate::jwks::JwksCache;
use crate::serve::{RunningServer, ServiceFuture, collect_request, full, spawn_server};

/// How long a notification for an unknown `auth_req_id` waits while an authentication request
/// of this registry is still in flight (the OP may notify before the client has read the
/// acknowledgement): 5 seconds.
pub const DEFAULT_BINDING_GRACE: Duration = Duration::from_secs(5);

/// What a push delivered, as ciba-core judged it.
pub(crate) type PushOutcome = Result<Push, NotificationError>;

/// Where a push result waits for its flow.
pub(crate) struct PushSlot {
    pub(crate) validator: IdTokenValidator,
    pub(crate) keys: Arc<JwksCache>,
    pub(crate) result: watch::Sender<Option<PushOutcome>>,
}

/// How a notification wakes its flow.
#[derive(Clone)]
pub(crate) enum Waker {
    Ping(Arc<Notify>),
    Push(Arc<PushSlot>),
}

struct Binding {
    token: String,
    expires_at: SystemTime,
    waker: Waker,
}

impl Binding {
    /// A push binding stops accepting deliveries once one was accepted (or refused after
    /// authentication): later ones find no token and get 401.
    fn is_closed(&self) -> bool {
        match &self.waker {
            Waker::Ping(_) => false,
            Waker::Push(slot) => slot.result.borrow().is_some(),
        }
    }
}

struct Shared {
    bindings: Mutex<HashMap<String, Binding>>,
    initiating: AtomicUsize,
    changes: watch::Sender<u64>,
    limits: Limits,
    grace: Duration,
}

/// The pending ping and push requests of one or more [`CibaClient`](crate::CibaClient)s:
/// `auth_req_id` -> the `client_notification_token` and the waiting flow. Cheap to clone.
#[derive(Clone)]
pub struct NotificationRegistry {
    shared: Arc<Shared>,
}

impl fmt::Debug for NotificationRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationRegistry")
            .field("bindings", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for NotificationRegistry {
    fn default() -> Self {
        NotificationRegistry::new()
    }
}

impl NotificationRegistry {
    /// An empty registry with ciba-core's default limits and [`DEFAULT_BINDING_GRACE`].
    pub fn new() -> NotificationRegistry {
        NotificationRegistry::with_settings(Limits::DEFAULT, DEFAULT_BINDING_GRACE)
    }

    /// An empty registry parsing notifications within `limits`, and holding notifications for
    /// unknown ids up to `grace` while an authentication request is in flight.
    pub fn with_settings(limits: Limits, grace: Duration) -> NotificationRegistry {
        let (changes, _) = watch::channel(0);
        NotificationRegistry {
            shared: Arc::new(Shared {
                bindings: Mutex::new(HashMap::new()),
                initiating: AtomicUsize::new(0),
                changes,
                limits,
                grace,
            }),
        }
    }

    /// Number of bindings kept (pending requests, and finished ones whose flow has not yet
    /// collected the result).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no binding is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The limits notifications are parsed with.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Binding>> {
        self.shared
            .bindings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks an authentication request as in flight until the guard drops.
    pub(crate) fn begin_initiation(&self) -> InitiationGuard {
        self.shared.initiating.fetch_add(1, Ordering::SeqCst);
        InitiationGuard {
            registry: self.clone(),
        }
    }

    /// Binds `auth_req_id` to `token` and `waker` until `expires_at` (or until unbound).
    pub(crate) fn bind(
        &self,
        auth_req_id: &AuthReqId,
        token: String,
        expires_at: SystemTime,
        waker: Waker,
    ) {
        let now = SystemTime::now();
        let mut bindings = self.lock();
        bindings.retain(|_, b| b.expires_at > now);
        bindings.insert(
            auth_req_id.as_str().to_owned(),
            Binding {
                token,
                expires_at,
                waker,
            },
        );
        drop(bindings);
        self.shared.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Forgets `auth_req_id`.
    pub(crate) fn unbind(&self, auth_req_id: &str) {
        self.lock().remove(auth_req_id);
    }

    /// The waker of `auth_req_id`, if bound.
    pub(crate) fn waker(&self, auth_req_id: &str) -> Option<Waker> {
        self.lock().get(auth_req_id).map(|b| b.waker.clone())
    }

    /// The token bound to a pending `auth_req_id` (ciba-core's `NotificationTokens`).
    fn token_for(&self, auth_req_id: &str) -> Option<String> {
        let now = SystemTime::now();
        let bindings = self.lock();
        bindings
            .get(auth_req_id)
            .filter(|b| b.expires_at > now && !b.is_closed())
            .map(|b| b.token.clone())
    }

    /// Subscribes to binding changes (before a lookup that may need to wait for one).
    fn changes(&self) -> watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// After a lookup missed: true at once if bindings changed since `changes` last looked;
    /// otherwise, while an authentication request is in flight, waits until `deadline` for a
    /// change. False when there is nothing to wait for.
    async fn wait_for_binding(
        &self,
        changes: &mut watch::Receiver<u64>,
        deadline: tokio::time::Instant,
    ) -> bool {
        if changes.has_changed().unwrap_or(false) {
            changes.borrow_and_update();
            return true;
        }
        if self.shared.initiating.load(Ordering::SeqCst) == 0 {
            return false;
        }
        matches!(
            tokio::time::timeout_at(deadline, changes.changed()).await,
            Ok(Ok(()))
        )
    }
}

/// Keeps an authentication request counted as in flight.
pub(crate) struct InitiationGuard {
    registry: NotificationRegistry,
}

impl Drop for InitiationGuard {
    fn drop(&mut self) {
        let shared = &self.registry.shared;
        shared.initiating.fetch_sub(1, Ordering::SeqCst);
        shared.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Removes a binding when its flow ends or is dropped.
pub(crate) struct BindingGuard {
    pub(crate) registry: NotificationRegistry,
    pub(crate) auth_req_id: String,
}

impl Drop for BindingGuard {
    fn drop(&mut self) {
        self.registry.unbind(&self.auth_req_id);
    }
}

/// The client notification endpoint as a service: mount it on any server (it ignores the
/// path). Implements `tower_service::Service<http::Request<B>>` for any `http_body::Body`
/// `B`, so `axum::Router::route_service` accepts it.
#[derive(Clone, Debug)]
pub struct NotificationService {
    registry: NotificationRegistry,
    max_body_bytes: usize,
}

impl NotificationService {
    /// A service answering for the bindings of `registry`; bodies are capped at the
    /// registry's `max_body_bytes` limit.
    pub fn new(registry: NotificationRegistry) -> NotificationService {
        let max_body_bytes = registry.limits().max_body_bytes;
        NotificationService {
            registry,
            max_body_bytes,
        }
    }

    /// Answers one notification whose body was already read.
    pub async fn handle(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let registry = &self.registry;
        let lookup = |id: &str| registry.token_for(id);
        let limits = *registry.limits();
        let mut changes = registry.changes();
        let deadline = tokio::time::Instant::now() + registry.shared.grace;
        let mut outcome = receive_ping(&request, &lookup, &limits);
        while matches!(outcome.result, Err(NotificationError::UnknownAuthReqId))
            && registry.wait_for_binding(&mut changes, deadline).await
        {
            outcome = receive_ping(&request, &lookup, &limits);
        }
        let auth_req_id = match outcome.result {
            Ok(ping) => ping.auth_req_id,
            Err(e) => {
                tracing::info!(status = outcome.response.status().as_u16(), error = %e,
                    "notification refused");
                return outcome.response;
            }
        };
        match registry.waker(auth_req_id.as_str()) {
            Some(Waker::Ping(notify)) => {
                tracing::info!(?auth_req_id, "ping received");
                notify.notify_one();
                outcome.response
            }
            Some(Waker::Push(slot)) => self.push(&request, &auth_req_id, &slot).await,
            None => outcome.response,
        }
    }

    async fn push(
        &self,
        request: &http::Request<Vec<u8>>,
        auth_req_id: &AuthReqId,
        slot: &PushSlot,
    ) -> http::Response<Vec<u8>> {
        let registry = &self.registry;
        let lookup = |id: &str| registry.token_for(id);
        let limits = *registry.limits();
        let mut outcome = receive_push(
            request,
            &lookup,
            &slot.validator,
            SystemTime::now(),
            &limits,
        );
        if let Err(NotificationError::IdToken(IdTokenError::KeyUnavailable(_))) = &outcome.result
            && let Some(keys) = slot.keys.refresh().await
        {
            let validator = slot.validator.clone().jwks(keys);
            outcome = receive_push(request, &lookup, &validator, SystemTime::now(), &limits);
        }
        match &outcome.result {
            // The binding went away meanwhile (a concurrent duplicate): nothing to hand over.
            Err(NotificationError::UnknownAuthReqId | NotificationError::WrongToken) => {}
            result => {
                let accepted = slot.result.send_if_modified(|current| {
                    let first = current.is_none();
                    if first {
                        *current = Some(result.clone());
                    }
                    first
                });
                match result {
                    Ok(_) if accepted => tracing::info!(?auth_req_id, "push received"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(?auth_req_id, error = %e, "push refused"),
                }
            }
        }
        outcome.response
    }
}

impl<B> tower_service::Service<http::Request<B>> for NotificationService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> ServiceFuture {
        let this = self.clone();
        Box::pin(async move {
            let response = match collect_request(request, this.max_body_bytes).await {
                Ok(request) => this.handle(request).await,
                Err(refused) => refused,
            };
            Ok(full(response))
        })
    }
}

/// A [`NotificationService`] on its own listener, serving every path until shut down or
/// dropped. Plain HTTP: for anything but loopback, put a TLS terminator in front (CIBA needs
/// an `https` notification endpoint) or mount [`NotificationService`] on your own server.
#[derive(Debug)]
pub struct NotificationReceiver {
    registry: NotificationRegistry,
    server: RunningServer,
}

impl NotificationReceiver {
    /// Binds `addr` (tests use `127.0.0.1:0`) and serves a fresh registry.
    pub async fn bind(addr: impl ToSocketAddrs) -> std::io::Result<NotificationReceiver> {
        let listener = TcpListener::bind(addr).await?;
        NotificationReceiver::serve(listener, NotificationRegistry::new())
    }

    /// Serves `registry` on an already bound `listener`.
    pub fn serve(
        listener: TcpListener,
        registry: NotificationRegistry,
    ) -> std::io::Result<NotificationReceiver> {
        let server = spawn_server(listener, NotificationService::new(registry.clone()))?;
        tracing::info!(addr = %server.local_addr(), "notification receiver listening");
        Ok(NotificationReceiver { registry, server })
    }

    /// The endpoint URL to register as `backchannel_client_notification_endpoint`:
    /// `http://{local_addr}/`.
    pub fn url(&self) -> Url {
        self.server.url()
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// The registry to give to [`CibaClientBuilder::notifications`](crate::CibaClientBuilder::notifications).
    pub fn registry(&self) -> &NotificationRegistry {
        &self.registry
    }

    /// Stops the listener and every connection.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ping(id: &str, token: &str) -> http::Request<Vec<u8>> {
        http::Request::post("/cb")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(format!(r#"{{"auth_req_id":"{id}"}}"#).into_bytes())
            .unwrap()
    }

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn a_ping_racing_the_acknowledgement_waits_for_the_binding() {
        let registry = NotificationRegistry::new();
        let service = NotificationService::new(registry.clone());
        let in_flight = registry.begin_initiation();
        let answer = tokio::spawn(async move { service.handle(ping("id-1", "tok")).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let notify = Arc::new(Notify::new());
        registry.bind(
            &AuthReqId::new("id-1"),
            "tok".into(),
            later(),
            Waker::Ping(notify.clone()),
        );
        drop(in_flight);
        assert_eq!(answer.await.unwrap().status(), 204);
        tokio::time::timeout(Duration::from_secs(1), notify.notified())
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_id_is_refused_after_the_grace_period() {
        let registry = NotificationRegistry::new();
        let service = NotificationService::new(registry.clone());
        let started = tokio::time::Instant::now();
        assert_eq!(service.handle(ping("id-2", "tok")).await.status(), 401);
        assert_eq!(started.elapsed(), Duration::ZERO);

        let _in_flight = registry.begin_initiation();
        assert_eq!(service.handle(ping("id-2", "tok")).await.status(), 401);
        assert!(started.elapsed() >= DEFAULT_BINDING_GRACE);
    }

    #[tokio::test]
    async fn expired_bindings_are_forgotten() {
        let registry = NotificationRegistry::new();
        let service = NotificationService::new(registry.clone());
        let gone = SystemTime::now() - Duration::from_secs(1);
        let waker = Waker::Ping(Arc::new(Notify::new()));
        registry.bind(&AuthReqId::new("old"), "tok".into(), gone, waker.clone());
        assert_eq!(service.handle(ping("old", "tok")).await.status(), 401);
        registry.bind(&AuthReqId::new("new"), "tok".into(), later(), waker);
        assert_eq!(registry.len(), 1);
        assert_eq!(service.handle(ping("new", "tok")).await.status(), 204);
    }
}
