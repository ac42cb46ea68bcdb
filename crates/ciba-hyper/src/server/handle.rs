//! The application's side of the authorization server: the hooks it implements (user
//! identification, the authentication device step), the handle it completes requests through,
//! and the index of pending requests a device page can list.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use ciba_core::ack::AuthReqId;
use ciba_core::ct::ct_eq;
use ciba_core::random::Random;
use ciba_server::{
    AuthenticationResult, CibaServer, CompleteError, CompleteOutcome, DeliveryMode, FailReason,
    HintType, Ticket,
};

use crate::server::deliver::{Delivery, NotificationDeliverer};
use crate::server::pending_index::PendingIndex;

/// What the application decides in the CIBA flow.
pub trait AuthorizationHooks: Send + Sync + 'static {
    /// Identifies the user the request's hint names (`ticket.hint`, CIBA Core 7.1): the
    /// subject, or the reason to refuse (for example `FailReason::UnknownUserId`). Called
    /// while the backchannel request waits for its answer: keep it quick.
    fn identify_user(&self, ticket: &Ticket) -> Result<String, FailReason>;

    /// The request was acknowledged: start the user's authentication on their device. Call
    /// [`AsHandle::complete`] with the result later (for example from a spawned task or a
    /// device page). Called before the acknowledgement is sent. The default does nothing:
    /// the request stays in [`AsHandle::pending`] until completed or expired.
    fn authentication_requested(&self, request: &PendingRequest, handle: &AsHandle) {
        let _ = (request, handle);
    }
}

/// A request waiting for the user's decision, as a device page shows it. Equality compares
/// the `auth_req_id` in constant time.
#[derive(Clone)]
#[non_exhaustive]
pub struct PendingRequest {
    /// The `auth_req_id` (a bearer-like secret: not shown by `Debug`).
    pub auth_req_id: String,
    /// The client that asked.
    pub client_id: String,
    /// The user identified from the hint.
    pub subject: String,
    /// Which hint was sent.
    pub hint_type: HintType,
    /// The `login_hint`, when that was the hint.
    pub login_hint: Option<String>,
    /// The requested scopes.
    pub scopes: Vec<String>,
    /// The requested `acr_values`.
    pub acr_values: Vec<String>,
    /// The binding message to show on the device.
    pub binding_message: Option<String>,
    /// The client's delivery mode.
    pub delivery_mode: DeliveryMode,
    /// When the request was acknowledged.
    pub issued_at: SystemTime,
    /// When it expires.
    pub expires_at: SystemTime,
}

impl fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRequest")
            .field("auth_req_id", &AuthReqId::new(self.auth_req_id.clone()))
            .field("client_id", &self.client_id)
            .field("subject", &self.subject)
            .field("hint_type", &self.hint_type)
            .field("scopes", &self.scopes)
            .field("binding_message", &self.binding_message)
            .field("delivery_mode", &self.delivery_mode)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PendingRequest {
    fn eq(&self, other: &Self) -> bool {
        // `&`, not `&&`: the secret is compared in full whatever the other fields hold.
        ct_eq(self.auth_req_id.as_bytes(), other.auth_req_id.as_bytes())
            & (self.client_id == other.client_id
                && self.subject == other.subject
                && self.hint_type == other.hint_type
                && self.login_hint == other.login_hint
                && self.scopes == other.scopes
                && self.acr_values == other.acr_values
                && self.binding_message == other.binding_message
                && self.delivery_mode == other.delivery_mode
                && self.issued_at == other.issued_at
                && self.expires_at == other.expires_at)
    }
}

impl Eq for PendingRequest {}

impl PendingRequest {
    /// A request with only its identifier and times set (the index's unit tests).
    #[cfg(test)]
    pub(crate) fn for_index_test(
        auth_req_id: &str,
        issued_at: SystemTime,
        lifetime_secs: u64,
    ) -> PendingRequest {
        PendingRequest {
            auth_req_id: auth_req_id.to_owned(),
            client_id: "client".to_owned(),
            subject: "subject".to_owned(),
            hint_type: HintType::LoginHint,
            login_hint: None,
            scopes: Vec::new(),
            acr_values: Vec::new(),
            binding_message: None,
            delivery_mode: DeliveryMode::Poll,
            issued_at,
            expires_at: issued_at + std::time::Duration::from_secs(lifetime_secs),
        }
    }

    pub(crate) fn new(
        ticket: &Ticket,
        subject: &str,
        auth_req_id: &str,
        expires_in: u64,
        now: SystemTime,
    ) -> PendingRequest {
        let hint_type = ticket.hint.kind();
        PendingRequest {
            auth_req_id: auth_req_id.to_owned(),
            client_id: ticket.client_id.clone(),
            subject: subject.to_owned(),
            hint_type,
            login_hint: (hint_type == HintType::LoginHint).then(|| ticket.hint.value().to_owned()),
            scopes: ticket.scopes.clone(),
            acr_values: ticket.acr_values.clone(),
            binding_message: ticket.binding_message.clone(),
            delivery_mode: ticket.delivery_mode,
            issued_at: now,
            expires_at: now
                .checked_add(std::time::Duration::from_secs(expires_in))
                .unwrap_or(now),
        }
    }
}

pub(crate) struct Shared {
    pub(crate) server: Arc<CibaServer>,
    pub(crate) hooks: Arc<dyn AuthorizationHooks>,
    pub(crate) deliverer: NotificationDeliverer,
    pub(crate) rng: Arc<dyn Random>,
    pending: Mutex<PendingIndex>,
}

impl Shared {
    pub(crate) fn new(
        server: Arc<CibaServer>,
        hooks: Arc<dyn AuthorizationHooks>,
        deliverer: NotificationDeliverer,
        rng: Arc<dyn Random>,
    ) -> Shared {
        Shared {
            server,
            hooks,
            deliverer,
            rng,
            pending: Mutex::new(PendingIndex::default()),
        }
    }
}

/// The application's handle on a running [`AuthorizationServer`](super::AuthorizationServer):
/// list pending requests, complete them. Cheap to clone.
#[derive(Clone)]
pub struct AsHandle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for AsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsHandle")
            .field("server", &self.shared.server)
            .finish_non_exhaustive()
    }
}

impl AsHandle {
    /// The server helper.
    pub fn server(&self) -> &CibaServer {
        &self.shared.server
    }

    fn index(&self) -> MutexGuard<'_, PendingIndex> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The requests acknowledged by this server and not yet completed or expired, oldest
    /// first.
    pub fn pending(&self) -> Vec<PendingRequest> {
        self.index().live(SystemTime::now())
    }

    /// One pending request.
    pub fn pending_request(&self, auth_req_id: &str) -> Option<PendingRequest> {
        self.index().get(auth_req_id, SystemTime::now()).cloned()
    }

    pub(crate) fn insert_pending(&self, request: PendingRequest) {
        self.index().insert(request, SystemTime::now());
    }

    /// Records the user's decision with ciba-server (`CibaServer::complete`) and, for ping and
    /// push clients, delivers the notification it builds (with the deliverer's bounded
    /// retries). Returns what became of the notification.
    pub async fn complete(
        &self,
        auth_req_id: &str,
        result: AuthenticationResult,
    ) -> Result<Delivery, CompleteError> {
        let id = AuthReqId::new(auth_req_id.to_owned());
        let shared = &*self.shared;
        let outcome = shared
            .server
            .complete(auth_req_id, result, SystemTime::now(), &*shared.rng);
        let finished = matches!(
            outcome,
            Ok(_)
                | Err(CompleteError::UnknownRequest
                    | CompleteError::AlreadyCompleted
                    | CompleteError::Expired)
        );
        if finished {
            self.index().remove(auth_req_id);
        }
        let request = match outcome {
            Ok(CompleteOutcome::NothingToSend) => {
                tracing::info!(auth_req_id = ?id, "request completed");
                return Ok(Delivery::NotNeeded);
            }
            Ok(CompleteOutcome::Ping(request) | CompleteOutcome::PushTokens(request)) => request,
            Ok(CompleteOutcome::PushError { request, .. }) => request,
            Err(e) => {
                tracing::warn!(auth_req_id = ?id, error = %e, "completion refused");
                return Err(e);
            }
        };
        tracing::info!(auth_req_id = ?id, "request completed: notifying the client");
        Ok(shared.deliverer.deliver(request).await)
    }
}
