//! [`NotificationRegistry`]: pending ping and push requests, and what their notifications
//! bring.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ciba_core::AuthReqId;
use ciba_core::Limits;
use ciba_core::NotificationRefusal;
use ciba_core::notification::{NotificationOutcome, Ping, Push, receive_ping};
use ciba_core::wire::ct_eq;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::error::Error;
use crate::progress::{NotificationKind, RefusedNotification};

/// How long a notification for an unknown `auth_req_id` waits while an initiation of this
/// registry is in flight: 5 seconds.
pub const DEFAULT_BINDING_GRACE: Duration = Duration::from_secs(5);

/// Validates an authenticated push for one registration (the client's JWK Set and
/// validator). `Err` when it cannot be validated now (no key set to be had): the OP gets 503
/// and may deliver again.
pub(crate) trait PushCheck: Send + Sync {
    fn check<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<NotificationOutcome<Push>, Error>> + Send + 'a>>;
}

/// What the registry has gathered for one waiting flow.
#[derive(Default)]
pub(crate) struct SlotState {
    /// Pings not yet seen by the flow.
    pub(crate) pings: u32,
    /// The accepted push, until the flow takes it.
    pub(crate) pushed: Option<Push>,
    /// Set once a push was accepted: later notifications find the request completed.
    pub(crate) completed: bool,
    /// Refused notifications so far, and the last one.
    pub(crate) refused: u32,
    pub(crate) last_refused: Option<RefusedNotification>,
}

/// Where a registration's notifications wait for its flow.
pub(crate) struct Slot {
    push: Option<Arc<dyn PushCheck>>,
    state: Mutex<SlotState>,
    changed: Notify,
}

impl Slot {
    pub(crate) fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves when something was added since the last call (a stored permit, so nothing
    /// is missed between two waits). Cancel-safe.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    fn kind(&self) -> NotificationKind {
        match self.push {
            Some(_) => NotificationKind::Push,
            None => NotificationKind::Ping,
        }
    }

    fn refuse(&self, reason: NotificationRefusal) {
        let mut state = self.state();
        state.refused = state.refused.saturating_add(1);
        state.last_refused = Some(RefusedNotification {
            kind: self.kind(),
            reason,
            at: SystemTime::now(),
        });
        drop(state);
        self.changed.notify_one();
    }
}

struct Entry {
    issuer: String,
    token: String,
    expires_at: SystemTime,
    slot: Arc<Slot>,
}

impl Entry {
    fn is_live(&self, now: SystemTime) -> bool {
        self.expires_at > now && !self.slot.state().completed
    }
}

struct Shared {
    /// `auth_req_id` -> its registrations (one per issuer).
    entries: Mutex<HashMap<String, Vec<Entry>>>,
    initiating: AtomicUsize,
    changes: watch::Sender<u64>,
    limits: Limits,
    grace: Duration,
}

/// The pending ping and push requests of one or more clients, and the one place a
/// notification endpoint hands what it receives. Cheap to clone; clones share the
/// registrations.
///
/// A [`CibaClient`](crate::CibaClient) given a registry
/// ([`ClientOptions::notifications`](crate::ClientOptions::notifications)) registers every
/// ping or push request it initiates: (issuer, `auth_req_id`) -> the
/// `client_notification_token` sent with it and the waiting flow. A registration for a pair
/// already registered is refused ([`Error::DuplicateRegistration`]), so one request's
/// notifications can never reach another's wait. The wait removes its registration when it
/// ends or is dropped; registrations nobody waits on are forgotten at their expiry.
///
/// A notification endpoint (ciba-hyper's `NotificationReceiver`, or a route of yours):
///
/// 1. calls [`NotificationRegistry::check_bearer`] with the request headers **before reading
///    the body**: a request whose bearer token belongs to no pending request is answered 401
///    at once;
/// 2. reads the body (under a cap) and calls [`NotificationRegistry::handle`], which asks
///    ciba-core ([`receive_ping`], [`receive_push`]) and returns the response to send.
///
/// `handle` checks the bearer token against the named request before anything else, so a
/// push never causes a key fetch unless it is authenticated. A refused notification for a
/// registered request (a wrong token, a pushed ID token with a bad `at_hash` or an
/// `auth_req_id` claim naming another request) reaches the waiting flow at once, as
/// [`FlowProgress::last_refused`](crate::FlowProgress), and the request stays open: an honest
/// delivery may follow, and a forged one cannot end the flow. When the flow then ends without
/// tokens, its error names that refusal.
///
/// The OP may notify before the client has read the acknowledgement: while an initiation is
/// in flight ([`NotificationRegistry::begin_initiation`]), a notification for an unknown
/// `auth_req_id` waits up to the grace period ([`DEFAULT_BINDING_GRACE`]) for its
/// registration.
///
/// [`receive_ping`]: ciba_core::notification::receive_ping
/// [`receive_push`]: ciba_core::notification::receive_push
#[derive(Clone)]
pub struct NotificationRegistry {
    shared: Arc<Shared>,
}

impl fmt::Debug for NotificationRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationRegistry")
            .field("registrations", &self.len())
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

    /// An empty registry parsing notifications within `limits` and waiting up to `grace` for
    /// a registration while an initiation is in flight.
    pub fn with_settings(limits: Limits, grace: Duration) -> NotificationRegistry {
        NotificationRegistry {
            shared: Arc::new(Shared {
                entries: Mutex::new(HashMap::new()),
                initiating: AtomicUsize::new(0),
                changes: watch::channel(0).0,
                limits,
                grace,
            }),
        }
    }

    /// Registrations kept (pending requests, and completed ones whose flow has not yet
    /// collected the result).
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The limits notifications are parsed with (a receiver caps bodies at
    /// `max_body_bytes`).
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Entry>>> {
        self.shared
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Marks an initiation as in flight until the guard drops (see [`NotificationRegistry`]). [`CibaClient`](crate::CibaClient) does this itself.
    pub fn begin_initiation(&self) -> InitiationGuard {
        self.shared.initiating.fetch_add(1, Ordering::SeqCst);
        InitiationGuard {
            registry: self.clone(),
        }
    }

    /// Checks the `Authorization` header of a notification before its body is read: `Ok`
    /// when it carries the bearer token of some pending request (waiting for a registration
    /// while an initiation is in flight), otherwise the 401 to answer at once.
    pub async fn check_bearer(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<(), http::Response<Vec<u8>>> {
        let Some(bearer) = bearer_token(headers, &self.shared.limits) else {
            return Err(self.unauthorized());
        };
        let mut changes = self.shared.changes.subscribe();
        let deadline = tokio::time::Instant::now() + self.shared.grace;
        loop {
            if self.knows_token(bearer) {
                return Ok(());
            }
            if !self.wait_for_registration(&mut changes, deadline).await {
                return Err(self.unauthorized());
            }
        }
    }

    /// Answers one notification whose body was read (see [`NotificationRegistry`]): 204 when accepted, 401 for a wrong token or an unknown
    /// or completed request, 400 for a malformed body or a push that failed validation, 405
    /// for another method, 503 when a push cannot be validated now. Never a redirect.
    pub async fn handle(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let limits = self.shared.limits;
        let bearer = bearer_token(request.headers(), &limits).map(str::to_owned);
        let asked = Mutex::new(None::<String>);
        let lookup = |id: &str| {
            *asked.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_owned());
            self.token_for(id, bearer.as_deref())
        };
        let mut changes = self.shared.changes.subscribe();
        let deadline = tokio::time::Instant::now() + self.shared.grace;
        let mut outcome = receive_ping(&request, &lookup, &limits);
        while matches!(outcome.result, Err(NotificationRefusal::UnknownAuthReqId))
            && self.wait_for_registration(&mut changes, deadline).await
        {
            outcome = receive_ping(&request, &lookup, &limits);
        }
        let asked = asked.into_inner().unwrap_or_else(|p| p.into_inner());
        let ping = match outcome.result {
            Ok(ping) => ping,
            Err(e) => {
                info!(status = outcome.response.status().as_u16(), error = %e, "notification refused");
                if e == NotificationRefusal::WrongToken
                    && let Some(id) = asked
                {
                    for slot in self.slots(&id) {
                        slot.refuse(e.clone());
                    }
                }
                return outcome.response;
            }
        };
        let Some((slot, token)) = self.matching(&ping, bearer.as_deref()) else {
            return self.unauthorized();
        };
        match &slot.push {
            None => {
                info!(auth_req_id = ?ping.auth_req_id, "ping received");
                let mut state = slot.state();
                state.pings = state.pings.saturating_add(1);
                drop(state);
                slot.changed.notify_one();
                outcome.response
            }
            Some(check) => {
                self.push(&request, &ping, &slot, check.as_ref(), &token)
                    .await
            }
        }
    }

    async fn push(
        &self,
        request: &http::Request<Vec<u8>>,
        ping: &Ping,
        slot: &Slot,
        check: &dyn PushCheck,
        token: &str,
    ) -> http::Response<Vec<u8>> {
        let auth_req_id = &ping.auth_req_id;
        let outcome = match check.check(request, token).await {
            Ok(outcome) => outcome,
            Err(e) => {
                warn!(?auth_req_id, error = %e, "cannot validate the push now; answering 503");
                let mut unavailable = http::Response::new(Vec::new());
                *unavailable.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                return unavailable;
            }
        };
        match outcome.result {
            Ok(push) => {
                let mut state = slot.state();
                if state.completed {
                    // A concurrent duplicate was accepted first.
                    return self.unauthorized();
                }
                state.completed = true;
                state.pushed = Some(push);
                drop(state);
                info!(?auth_req_id, "push received");
                slot.changed.notify_one();
                outcome.response
            }
            Err(e) => {
                warn!(?auth_req_id, error = %e, "push refused");
                slot.refuse(e);
                outcome.response
            }
        }
    }

    /// Registers `auth_req_id` of `issuer` with `token` until `expires_at`. `push` validates
    /// pushes for a push client; `None` for ping.
    pub(crate) fn register(
        &self,
        issuer: &str,
        auth_req_id: &AuthReqId,
        token: String,
        expires_at: SystemTime,
        push: Option<Arc<dyn PushCheck>>,
    ) -> Result<(), Error> {
        let now = SystemTime::now();
        let mut entries = self.lock();
        entries.retain(|_, list| {
            list.retain(|e| e.expires_at > now);
            !list.is_empty()
        });
        let list = entries.entry(auth_req_id.as_str().to_owned()).or_default();
        if list.iter().any(|e| e.issuer == issuer) {
            return Err(Error::DuplicateRegistration {
                auth_req_id: auth_req_id.clone(),
            });
        }
        list.push(Entry {
            issuer: issuer.to_owned(),
            token,
            expires_at,
            slot: Arc::new(Slot {
                push,
                state: Mutex::new(SlotState::default()),
                changed: Notify::new(),
            }),
        });
        drop(entries);
        self.shared.changes.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// The slot of a registration, and a guard that removes the registration when dropped.
    pub(crate) fn watch(
        &self,
        issuer: &str,
        auth_req_id: &AuthReqId,
    ) -> Option<(Arc<Slot>, Registration)> {
        let entries = self.lock();
        let slot = entries
            .get(auth_req_id.as_str())?
            .iter()
            .find(|e| e.issuer == issuer)?
            .slot
            .clone();
        Some((
            slot,
            Registration {
                registry: self.clone(),
                issuer: issuer.to_owned(),
                auth_req_id: auth_req_id.as_str().to_owned(),
            },
        ))
    }

    fn unregister(&self, issuer: &str, auth_req_id: &str) {
        let mut entries = self.lock();
        if let Some(list) = entries.get_mut(auth_req_id) {
            list.retain(|e| e.issuer != issuer);
            if list.is_empty() {
                entries.remove(auth_req_id);
            }
        }
    }

    /// ciba-core's token lookup: the token of the live registration of `id` that `bearer`
    /// matches, or else of any live one (so that the core answers "wrong token").
    fn token_for(&self, id: &str, bearer: Option<&str>) -> Option<String> {
        let now = SystemTime::now();
        let entries = self.lock();
        let live: Vec<&Entry> = entries.get(id)?.iter().filter(|e| e.is_live(now)).collect();
        let matching = bearer.and_then(|b| {
            live.iter()
                .find(|e| ct_eq(e.token.as_bytes(), b.as_bytes()))
        });
        matching.or(live.first()).map(|e| e.token.clone())
    }

    /// The live registration `ping` authenticated as.
    fn matching(&self, ping: &Ping, bearer: Option<&str>) -> Option<(Arc<Slot>, String)> {
        let bearer = bearer?;
        let now = SystemTime::now();
        let entries = self.lock();
        entries
            .get(ping.auth_req_id.as_str())?
            .iter()
            .find(|e| e.is_live(now) && ct_eq(e.token.as_bytes(), bearer.as_bytes()))
            .map(|e| (e.slot.clone(), e.token.clone()))
    }

    fn slots(&self, id: &str) -> Vec<Arc<Slot>> {
        let now = SystemTime::now();
        self.lock()
            .get(id)
            .map(|list| {
                list.iter()
                    .filter(|e| e.is_live(now))
                    .map(|e| e.slot.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn knows_token(&self, bearer: &str) -> bool {
        let now = SystemTime::now();
        // Compared with every live token, whether or not one matched earlier.
        self.lock()
            .values()
            .flatten()
            .filter(|e| e.is_live(now))
            .fold(false, |found, e| {
                ct_eq(e.token.as_bytes(), bearer.as_bytes()) | found
            })
    }

    /// After a miss: true at once if registrations changed since `changes` last looked;
    /// otherwise, while an initiation is in flight, waits until `deadline` for a change.
    async fn wait_for_registration(
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

    /// ciba-core's 401 (`WWW-Authenticate: Bearer error="invalid_token"`).
    fn unauthorized(&self) -> http::Response<Vec<u8>> {
        let mut request = http::Request::new(Vec::new());
        *request.method_mut() = http::Method::POST;
        let none = |_: &str| None;
        receive_ping(&request, &none, &self.shared.limits).response
    }
}

/// The token of a single well-formed `Authorization: Bearer` header (ciba-core's reading).
fn bearer_token<'h>(headers: &'h http::HeaderMap, limits: &Limits) -> Option<&'h str> {
    ciba_core::notification::bearer_token(headers, limits).ok()
}

/// Keeps an initiation counted as in flight until dropped (see
/// [`NotificationRegistry::begin_initiation`]).
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

/// Removes a registration when its wait ends or is dropped.
pub(crate) struct Registration {
    registry: NotificationRegistry,
    issuer: String,
    auth_req_id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.unregister(&self.issuer, &self.auth_req_id);
    }
}
