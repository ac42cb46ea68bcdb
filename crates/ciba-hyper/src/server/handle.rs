//! [`AsHandle`]: the application's handle on a running authorization server. It lists the
//! requests waiting for the user from the store (so every instance sharing the store lists
//! the same ones) and records decisions through ciba-server, delivering the ping or push
//! that follows.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use ciba_core::observe::short_hash;
use ciba_core::random::Random;
use ciba_server::store::StoreError;
use ciba_server::{AuthReqId, AuthenticationResult, CibaServer, CompleteError, CompleteOutcome};
use tracing::Instrument as _;

use crate::server::deliver::{DeliveryOutcome, NotificationDeliverer};
use crate::server::hooks::AuthorizationHooks;
use crate::server::pending::PendingRequest;

/// What the service and its handles share.
pub(crate) struct Shared {
    pub(crate) server: Arc<CibaServer>,
    pub(crate) hooks: Arc<dyn AuthorizationHooks>,
    pub(crate) deliverer: NotificationDeliverer,
    pub(crate) rng: Arc<dyn Random>,
}

/// The application's handle on a running [`AuthorizationServer`](super::AuthorizationServer):
/// list pending requests, complete them. Cheap to clone.
///
/// Everything it knows comes from ciba-server's store: an instance can list, approve and
/// deny any request of a shared store, whichever instance acknowledged it.
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

    /// Up to `limit` requests waiting for the user's decision, soonest expiry first; only
    /// those of `subject` when given (what one user's device shows). Read from the store
    /// (`CibaServer::pending_requests`).
    pub async fn pending(
        &self,
        subject: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PendingRequest>, StoreError> {
        let now = SystemTime::now();
        let stored = self
            .shared
            .server
            .pending_requests(subject, limit, now)
            .await?;
        Ok(stored
            .into_iter()
            .filter_map(|r| PendingRequest::from_stored(r, now))
            .collect())
    }

    /// The request `auth_req_id`, if it still waits for the user's decision.
    pub async fn pending_request(
        &self,
        auth_req_id: &AuthReqId,
    ) -> Result<Option<PendingRequest>, StoreError> {
        let now = SystemTime::now();
        let stored = self.shared.server.pending_request(auth_req_id, now).await?;
        Ok(stored.and_then(|r| PendingRequest::from_stored(r, now)))
    }

    /// Records the user's decision with ciba-server (`CibaServer::complete`, through the
    /// store, so any instance may complete any request) and, for ping and push clients,
    /// delivers the notification it builds (with the deliverer's bounded retries). Pushed
    /// tokens that were not delivered are revoked
    /// ([`NotificationDeliverer::deliver_outcome`]). Returns what became of the
    /// notification.
    pub async fn complete(
        &self,
        auth_req_id: &AuthReqId,
        result: AuthenticationResult,
    ) -> Result<DeliveryOutcome, CompleteError> {
        // The decision and its notification share one span, named by the request's short hash.
        let span =
            tracing::info_span!("ciba_decision", auth_req = %short_hash(auth_req_id.as_str()));
        async {
            let shared = &*self.shared;
            let outcome = shared
                .server
                .complete(auth_req_id, result, SystemTime::now(), &*shared.rng)
                .await;
            let outcome = match outcome {
                Ok(CompleteOutcome::NothingToSend) => {
                    tracing::info!("request completed");
                    return Ok(DeliveryOutcome::NotNeeded);
                }
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::warn!(error = %e, "completion refused");
                    return Err(e);
                }
            };
            tracing::info!("request completed: notifying the client");
            Ok(shared
                .deliverer
                .deliver_outcome(&shared.server, outcome)
                .await)
        }
        .instrument(span)
        .await
    }
}
