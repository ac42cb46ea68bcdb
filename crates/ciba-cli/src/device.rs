//! The development provider's authentication device: it is told of every issued request
//! (ciba-hyper's `AuthorizationHooks::authentication_requested`), answers automatically
//! (`approve:SECS`, `deny`) or leaves the request to a person or a script, and records the
//! decision through ciba-hyper's `AsHandle`, which also sends the ping or push.
//!
//! The list of pending requests comes from the store (`AsHandle::pending`), and decisions
//! go through it: instances that share a store list, approve and deny the same requests,
//! whichever instance acknowledged them.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use ciba_hyper::server::{AsHandle, PendingRequest};
use ciba_server::store::StoreError;
use ciba_server::{AuthenticationResult, Authorization, CompleteError};
use tokio::sync::broadcast;

use crate::cli::AutoDecision;

/// The user's answer on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The user authenticated and approved.
    Approve,
    /// The user denied.
    Deny,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        })
    }
}

/// How the device answers without a person: a decision after a delay, or nothing.
pub(crate) type Automatic = Option<(Decision, Duration)>;

/// The automatic answer `--auto` asks for (`deny` answers at once).
pub(crate) fn automatic(auto: AutoDecision) -> Automatic {
    match auto {
        AutoDecision::Manual => None,
        AutoDecision::Deny => Some((Decision::Deny, Duration::ZERO)),
        AutoDecision::Approve(after) => Some((Decision::Approve, after)),
    }
}

/// Why a decision was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecisionError {
    /// No such pending request (unknown, already decided, or expired).
    NotPending,
    /// The store did not answer (a shared store that is unreachable or too slow); the
    /// text says why. Worth retrying.
    Unavailable(String),
    /// The authorization server refused or failed; the text says why.
    Failed(String),
}

/// The most pending requests the device lists at once.
pub(crate) const LIST_LIMIT: usize = 200;

/// A decision that was recorded.
#[derive(Debug, Clone)]
pub(crate) struct DecisionEvent {
    /// The request.
    pub(crate) request: PendingRequest,
    /// What the user answered.
    pub(crate) decision: Decision,
    /// When the user answered (before the notification, if any, was sent).
    pub(crate) at: Instant,
}

/// The authentication device over a running authorization server. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    handle: AsHandle,
    events: broadcast::Sender<DecisionEvent>,
}

impl Device {
    /// The device of the server `handle` belongs to; decisions are announced on `events`.
    pub(crate) fn new(handle: AsHandle, events: broadcast::Sender<DecisionEvent>) -> Device {
        Device { handle, events }
    }

    /// The authorization server this device answers for.
    pub(crate) fn handle(&self) -> &AsHandle {
        &self.handle
    }

    /// The requests waiting for a decision (at most [`LIST_LIMIT`]), soonest expiry first,
    /// from the store.
    pub(crate) async fn pending(&self) -> Result<Vec<PendingRequest>, StoreError> {
        self.handle.pending(None, LIST_LIMIT).await
    }

    /// Decisions as they are recorded.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<DecisionEvent> {
        self.events.subscribe()
    }

    /// Records the user's decision for `auth_req_id` and notifies the client (ping, push).
    pub(crate) async fn decide(
        &self,
        auth_req_id: &str,
        decision: Decision,
    ) -> Result<(), DecisionError> {
        let request = self
            .handle
            .pending_request(auth_req_id)
            .await
            .map_err(|e| DecisionError::Unavailable(e.to_string()))?
            .ok_or(DecisionError::NotPending)?;
        let now = SystemTime::now();
        let result = match decision {
            Decision::Approve => {
                let mut authorization = Authorization::new(request.subject.clone());
                authorization.auth_time = Some(now);
                authorization.amr = vec!["user".to_owned()];
                AuthenticationResult::Authorized(authorization)
            }
            Decision::Deny => AuthenticationResult::AccessDenied,
        };
        let at = Instant::now();
        match self.handle.complete(auth_req_id, result).await {
            Ok(delivery) => {
                tracing::debug!(?delivery, "decision recorded");
                let _ = self.events.send(DecisionEvent {
                    request,
                    decision,
                    at,
                });
                Ok(())
            }
            Err(
                CompleteError::UnknownRequest
                | CompleteError::AlreadyCompleted
                | CompleteError::Expired,
            ) => Err(DecisionError::NotPending),
            Err(e) => Err(DecisionError::Failed(e.to_string())),
        }
    }

    /// Answers `auth_req_id` as `auto` says, after its delay.
    pub(crate) async fn answer_automatically(&self, auth_req_id: &str, auto: Automatic) {
        let Some((decision, after)) = auto else {
            return;
        };
        tokio::time::sleep(after).await;
        if let Err(DecisionError::Failed(why) | DecisionError::Unavailable(why)) =
            self.decide(auth_req_id, decision).await
        {
            tracing::warn!(error = %why, "the automatic decision was not recorded");
        }
    }
}
