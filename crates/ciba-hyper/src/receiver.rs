//! The client notification endpoint (CIBA Core 10.2, 10.3): a hyper service that hands every
//! ping and push to ciba-core (`receive_ping`, `receive_push`) and wakes the flow waiting for
//! that `auth_req_id`.
//!
//! - [`NotificationRegistry`]: `auth_req_id` -> (the `client_notification_token` sent with the
//!   request, the waiting flow). [`CibaClient::initiate`](crate::CibaClient::initiate) fills
//!   it; a flow removes its binding when it ends or is dropped. Any other client (another
//!   HTTP stack, your own flow) registers its requests with
//!   [`NotificationRegistry::expect_ping`] / [`NotificationRegistry::expect_push`] and reads
//!   them from the returned [`NotificationWaiter`].
//! - [`NotificationService`]: the bare service (`tower_service::Service`), to mount on your own
//!   server (axum, hyper, behind a TLS terminator).
//! - [`NotificationReceiver`]: the service on its own loopback or LAN listener.
//!
//! Every answer is ciba-core's: 204 when accepted, 401 for a missing or wrong bearer token and
//! for an unknown or completed `auth_req_id`, 400 for a malformed body, 405 for a method other
//! than `POST`; never a redirect. A second push for the same request gets 401 and changes
//! nothing; a second ping only allows one more immediate token request.
//!
//! ## Receiving for another client
//!
//! ```text
//!  begin_initiation() ─► send the request (any client) ─► expect_ping / expect_push(id, token, exp)
//!  NotificationService: bearer checked by ciba-core ─► NotificationWaiter::next()
//!      Notification::Ping(ping)       already answered 204
//!      Notification::Push(delivery)   the caller validates (its own client, or
//!                                     PushDelivery::validate) and answers: respond(response)
//! ```
//!
//! The registry does not validate pushed ID tokens for such bindings: it hands over the
//! bearer-checked request, so the caller validates with its own client (its JWK Set cache,
//! its validator settings) and the OP gets the answer that validation produced. Until the
//! caller answers (at most [`PUSH_ANSWER_TIMEOUT`]), concurrent deliveries for the same
//! request get 401; a 5xx answer (or none) leaves the request open for a retry, any other
//! answer completes it.

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
use ciba_core::ct::ct_eq;
use ciba_core::id_token::{IdTokenError, IdTokenValidator};
use ciba_core::notification::{NotificationError, Ping, Push, receive_ping, receive_push};
use http_body_util::Full;
use hyper::body::Body;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use url::Url;

use crate::error::BoxError;
use crate::jwks::JwksCache;
use crate::serve::{RunningServer, ServiceFuture, collect_request, full, spawn_server};

/// How long a notification for an unknown `auth_req_id` waits while an authentication request
/// of this registry is still in flight (the OP may notify before the client has read the
/// acknowledgement): 5 seconds.
pub const DEFAULT_BINDING_GRACE: Duration = Duration::from_secs(5);

/// How long a push for a [`NotificationRegistry::expect_push`] binding waits for the caller's
/// answer ([`PushDelivery::respond`]) before the OP gets 503: 10 seconds.
pub const PUSH_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Notifications a [`NotificationWaiter`] holds before new pings are dropped (one pending ping
/// is as good as several).
const WAITER_CAPACITY: usize = 8;

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
    /// A [`NotificationWaiter`] of [`NotificationRegistry::expect_ping`] or `expect_push`.
    Channel(Arc<ChannelSlot>),
}

/// Where a push for a [`NotificationWaiter`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeliveryState {
    /// Waiting for a delivery.
    Open,
    /// A delivery went to the waiter; its answer is awaited.
    Delivering,
    /// A delivery was answered (other than 5xx): later ones get 401.
    Done,
}

/// The sending side of a [`NotificationWaiter`].
pub(crate) struct ChannelSlot {
    push: bool,
    sender: mpsc::Sender<Notification>,
    state: Mutex<DeliveryState>,
}

impl ChannelSlot {
    fn state(&self) -> MutexGuard<'_, DeliveryState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Open -> Delivering; false when a delivery is under way or done.
    fn begin_delivery(&self) -> bool {
        let mut state = self.state();
        let open = *state == DeliveryState::Open;
        if open {
            *state = DeliveryState::Delivering;
        }
        open
    }

    fn end_delivery(&self, completed: bool) {
        *self.state() = if completed {
            DeliveryState::Done
        } else {
            DeliveryState::Open
        };
    }
}

/// A notification for a request registered with [`NotificationRegistry::expect_ping`] or
/// [`NotificationRegistry::expect_push`]; its bearer token was checked by ciba-core.
#[derive(Debug)]
#[non_exhaustive]
pub enum Notification {
    /// An authenticated ping: the result is ready at the token endpoint. Already answered
    /// (204).
    Ping(Ping),
    /// An authenticated push delivery, not yet validated: the OP waits for
    /// [`PushDelivery::respond`] (or [`PushDelivery::validate`]).
    Push(Box<PushDelivery>),
}

impl Notification {
    /// The request the notification is about.
    pub fn auth_req_id(&self) -> &AuthReqId {
        match self {
            Notification::Ping(ping) => &ping.auth_req_id,
            Notification::Push(delivery) => delivery.auth_req_id(),
        }
    }
}

/// A push delivery whose bearer token matched its request's `client_notification_token`.
/// Validate it (for example with ciba-reqwest's `CibaClient::receive_push`, or with
/// [`PushDelivery::validate`]) and answer with the response validation produced. Dropping it
/// unanswered answers 503, and the request stays open for the OP's retry.
pub struct PushDelivery {
    request: http::Request<Vec<u8>>,
    auth_req_id: AuthReqId,
    token: String,
    limits: Limits,
    answer: oneshot::Sender<http::Response<Vec<u8>>>,
}

impl fmt::Debug for PushDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body holds tokens and the header the notification token: leave them out.
        f.debug_struct("PushDelivery")
            .field("auth_req_id", &self.auth_req_id)
            .finish_non_exhaustive()
    }
}

impl PushDelivery {
    /// The request the delivery is about.
    pub fn auth_req_id(&self) -> &AuthReqId {
        &self.auth_req_id
    }

    /// The delivery as received (body read, within the registry's limits).
    pub fn request(&self) -> &http::Request<Vec<u8>> {
        &self.request
    }

    /// Sends `response` to the OP. A 5xx leaves the request open for another delivery; any
    /// other status completes it (later deliveries get 401).
    pub fn respond(self, response: http::Response<Vec<u8>>) {
        let _ = self.answer.send(response);
    }

    /// Validates the delivery with ciba-core's `receive_push` (pushed ID tokens against
    /// `validator`, at `now`), answers the OP with ciba-core's response, and returns what the
    /// delivery carried. No JWK Set refresh happens here: when the ID token names a key
    /// `validator` lacks, the error is `IdToken(KeyUnavailable)`; use [`PushDelivery::request`]
    /// and [`PushDelivery::respond`] to refresh and retry with your own client instead.
    pub fn validate(
        self,
        validator: &IdTokenValidator,
        now: SystemTime,
    ) -> Result<Push, NotificationError> {
        let id = self.auth_req_id.as_str();
        let lookup =
            |asked: &str| ct_eq(asked.as_bytes(), id.as_bytes()).then(|| self.token.clone());
        let outcome = receive_push(&self.request, &lookup, validator, now, &self.limits);
        let _ = self.answer.send(outcome.response);
        outcome.result
    }
}

/// Notifications for one request registered with [`NotificationRegistry::expect_ping`] or
/// [`NotificationRegistry::expect_push`]. Dropping it forgets the binding: later
/// notifications for the request get 401.
pub struct NotificationWaiter {
    auth_req_id: AuthReqId,
    events: mpsc::Receiver<Notification>,
    _binding: BindingGuard,
}

impl fmt::Debug for NotificationWaiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationWaiter")
            .field("auth_req_id", &self.auth_req_id)
            .finish_non_exhaustive()
    }
}

impl NotificationWaiter {
    /// The request this waiter receives for.
    pub fn auth_req_id(&self) -> &AuthReqId {
        &self.auth_req_id
    }

    /// The next notification; `None` once none can come (the binding expired and was
    /// forgotten, or was replaced). Cancel-safe: dropping the future loses nothing.
    pub async fn next(&mut self) -> Option<Notification> {
        self.events.recv().await
    }
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
            Waker::Channel(slot) => slot.push && *slot.state() != DeliveryState::Open,
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

    /// Marks an authentication request as in flight until the guard drops: meanwhile a
    /// notification for an `auth_req_id` not yet registered waits (up to the grace period)
    /// for its binding, since the OP may notify before the client has read the
    /// acknowledgement. Hold it from before sending the request until after
    /// [`NotificationRegistry::expect_ping`] / [`NotificationRegistry::expect_push`].
    pub fn begin_initiation(&self) -> InitiationGuard {
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

    /// Receives the pings for `auth_req_id`, authenticated by `client_notification_token`,
    /// until `expires_at` or until the waiter is dropped. One waiter per `auth_req_id`: a
    /// second registration replaces the first.
    pub fn expect_ping(
        &self,
        auth_req_id: &AuthReqId,
        client_notification_token: impl Into<String>,
        expires_at: SystemTime,
    ) -> NotificationWaiter {
        self.expect(
            auth_req_id,
            client_notification_token.into(),
            expires_at,
            false,
        )
    }

    /// Receives the push delivery for `auth_req_id`, authenticated by
    /// `client_notification_token`, until `expires_at` or until the waiter is dropped. The
    /// delivery comes unvalidated, as a [`PushDelivery`] to validate and answer.
    pub fn expect_push(
        &self,
        auth_req_id: &AuthReqId,
        client_notification_token: impl Into<String>,
        expires_at: SystemTime,
    ) -> NotificationWaiter {
        self.expect(
            auth_req_id,
            client_notification_token.into(),
            expires_at,
            true,
        )
    }

    fn expect(
        &self,
        auth_req_id: &AuthReqId,
        token: String,
        expires_at: SystemTime,
        push: bool,
    ) -> NotificationWaiter {
        let (sender, events) = mpsc::channel(WAITER_CAPACITY);
        let slot = ChannelSlot {
            push,
            sender,
            state: Mutex::new(DeliveryState::Open),
        };
        self.bind(
            auth_req_id,
            token,
            expires_at,
            Waker::Channel(Arc::new(slot)),
        );
        NotificationWaiter {
            auth_req_id: auth_req_id.clone(),
            events,
            _binding: BindingGuard {
                registry: self.clone(),
                auth_req_id: auth_req_id.as_str().to_owned(),
            },
        }
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

/// Keeps an authentication request counted as in flight (see
/// [`NotificationRegistry::begin_initiation`]) until dropped.
#[derive(Debug)]
pub struct InitiationGuard {
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
        let ping = match outcome.result {
            Ok(ping) => ping,
            Err(e) => {
                tracing::info!(status = outcome.response.status().as_u16(), error = %e,
                    "notification refused");
                return outcome.response;
            }
        };
        let auth_req_id = ping.auth_req_id.clone();
        match registry.waker(auth_req_id.as_str()) {
            Some(Waker::Ping(notify)) => {
                tracing::info!(?auth_req_id, "ping received");
                notify.notify_one();
                outcome.response
            }
            Some(Waker::Push(slot)) => self.push(&request, &auth_req_id, &slot).await,
            Some(Waker::Channel(slot)) if !slot.push => {
                tracing::info!(?auth_req_id, "ping received");
                // A full channel already holds pings: one more adds nothing.
                let _ = slot.sender.try_send(Notification::Ping(ping));
                outcome.response
            }
            Some(Waker::Channel(slot)) => self.hand_over(request, auth_req_id, &slot).await,
            None => outcome.response,
        }
    }

    /// Hands a bearer-checked push to its [`NotificationWaiter`] and answers what the waiter
    /// answers (503 when it does not in time).
    async fn hand_over(
        &self,
        request: http::Request<Vec<u8>>,
        auth_req_id: AuthReqId,
        slot: &ChannelSlot,
    ) -> http::Response<Vec<u8>> {
        let registry = &self.registry;
        let limits = *registry.limits();
        let token = registry.token_for(auth_req_id.as_str());
        let Some(token) = token.filter(|_| slot.begin_delivery()) else {
            // Another delivery is under way or was accepted: as for a completed request.
            let none = |_: &str| None;
            return receive_ping(&request, &none, &limits).response;
        };
        let (answer, answered) = oneshot::channel();
        let delivery = PushDelivery {
            request,
            auth_req_id: auth_req_id.clone(),
            token,
            limits,
            answer,
        };
        if slot
            .sender
            .try_send(Notification::Push(Box::new(delivery)))
            .is_err()
        {
            slot.end_delivery(false);
            return unavailable();
        }
        match tokio::time::timeout(PUSH_ANSWER_TIMEOUT, answered).await {
            Ok(Ok(response)) => {
                let status = response.status();
                slot.end_delivery(!status.is_server_error());
                tracing::info!(?auth_req_id, status = status.as_u16(), "push answered");
                response
            }
            _ => {
                slot.end_delivery(false);
                tracing::warn!(?auth_req_id, "push not answered by its waiter");
                unavailable()
            }
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

/// 503: the push could not be handled now; the OP may deliver again.
fn unavailable() -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    response
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

    fn push(id: &str, token: &str) -> http::Request<Vec<u8>> {
        http::Request::post("/cb")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(format!(r#"{{"auth_req_id":"{id}","error":"access_denied"}}"#).into_bytes())
            .unwrap()
    }

    fn no_content() -> http::Response<Vec<u8>> {
        let mut response = http::Response::new(Vec::new());
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        response
    }

    #[tokio::test]
    async fn an_expected_ping_reaches_its_waiter_and_a_wrong_token_does_not() {
        let registry = NotificationRegistry::new();
        let service = NotificationService::new(registry.clone());
        let mut waiter = registry.expect_ping(&AuthReqId::new("id-3"), "tok", later());
        assert_eq!(service.handle(ping("id-3", "other")).await.status(), 401);
        assert_eq!(service.handle(ping("id-3", "tok")).await.status(), 204);
        let Some(Notification::Ping(received)) = waiter.next().await else {
            panic!("no ping");
        };
        assert_eq!(received.auth_req_id.as_str(), "id-3");
        assert!(
            waiter.events.try_recv().is_err(),
            "the refused ping was handed over"
        );
        drop(waiter);
        assert!(registry.is_empty());
        assert_eq!(service.handle(ping("id-3", "tok")).await.status(), 401);
    }

    #[tokio::test]
    async fn an_expected_push_waits_for_its_waiters_answer() {
        let registry = NotificationRegistry::new();
        let service = NotificationService::new(registry.clone());
        let mut waiter = registry.expect_push(&AuthReqId::new("id-4"), "tok", later());
        let first = {
            let service = service.clone();
            tokio::spawn(async move { service.handle(push("id-4", "tok")).await })
        };
        let Some(Notification::Push(delivery)) = waiter.next().await else {
            panic!("no push");
        };
        assert_eq!(delivery.auth_req_id().as_str(), "id-4");
        // While the waiter decides, a duplicate is refused.
        assert_eq!(service.handle(push("id-4", "tok")).await.status(), 401);
        // A 5xx answer leaves the request open for the OP's retry.
        delivery.respond(unavailable());
        assert_eq!(first.await.unwrap().status(), 503);

        let second = {
            let service = service.clone();
            tokio::spawn(async move { service.handle(push("id-4", "tok")).await })
        };
        let Some(Notification::Push(delivery)) = waiter.next().await else {
            panic!("no second push");
        };
        assert!(delivery.request().body().starts_with(b"{\"auth_req_id\""));
        delivery.respond(no_content());
        assert_eq!(second.await.unwrap().status(), 204);
        // Answered: later deliveries find the request completed.
        assert_eq!(service.handle(push("id-4", "tok")).await.status(), 401);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_push_gets_503_and_stays_open() {
        let registry = NotificationRegistry::new();
        let service = NotificationService::new(registry.clone());
        let mut waiter = registry.expect_push(&AuthReqId::new("id-5"), "tok", later());
        let answer = {
            let service = service.clone();
            tokio::spawn(async move { service.handle(push("id-5", "tok")).await })
        };
        let held = waiter.next().await;
        assert!(matches!(held, Some(Notification::Push(_))));
        assert_eq!(answer.await.unwrap().status(), 503);
        drop(held);
        let dropped = {
            let service = service.clone();
            tokio::spawn(async move { service.handle(push("id-5", "tok")).await })
        };
        drop(waiter.next().await);
        assert_eq!(dropped.await.unwrap().status(), 503);
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
