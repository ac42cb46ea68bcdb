//! [`PendingRequest`]: a request waiting for the user's decision, as an authentication
//! device shows it. Built from what the store keeps (`ciba_server::store::StoredRequest`),
//! so every instance sharing a store shows the same requests.

use std::time::{Duration, SystemTime};

use ciba_server::store::{RequestState, StoredRequest};
use ciba_server::{AuthReqId, DeliveryMode, Ticket};

/// A request waiting for the user's decision. Equality compares the `auth_req_id` first, in
/// constant time, whatever the other fields hold; `Debug` shows only its length (see
/// [`AuthReqId`]).
///
/// The hint the client sent is not kept: once the application identified the user, the
/// `subject` is what names them (and a `login_hint` may be personal data the store need not
/// hold).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingRequest {
    /// The `auth_req_id` (a bearer-like secret: not shown by `Debug`). It stays the first
    /// field, so the derived `==` always compares it in full.
    pub auth_req_id: AuthReqId,
    /// The client that asked.
    pub client_id: String,
    /// The user identified from the hint.
    pub subject: String,
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

impl PendingRequest {
    /// The request `stored`, when it still waits for the user at `now` (state `Pending`,
    /// not expired); `None` otherwise.
    pub fn from_stored(stored: StoredRequest, now: SystemTime) -> Option<PendingRequest> {
        if stored.state != RequestState::Pending || stored.is_expired(now) {
            return None;
        }
        Some(PendingRequest {
            auth_req_id: stored.auth_req_id,
            client_id: stored.client_id,
            subject: stored.subject,
            scopes: stored.scopes,
            acr_values: stored.acr_values,
            binding_message: stored.binding_message,
            delivery_mode: stored.delivery_mode,
            issued_at: stored.issued_at,
            expires_at: stored.expires_at,
        })
    }

    /// The request `CibaServer::issue_inline` is about to store for `ticket` at `now`,
    /// without its `auth_req_id` and expiry: [`acknowledged`](Self::acknowledged) adds them
    /// (the same fields as the store's, without a store round trip).
    pub(crate) fn issuing(ticket: &Ticket, subject: &str, now: SystemTime) -> PendingRequest {
        PendingRequest {
            auth_req_id: AuthReqId::from_stored(String::new()),
            client_id: ticket.client_id.clone(),
            subject: subject.to_owned(),
            scopes: ticket.scopes.clone(),
            acr_values: ticket.acr_values.clone(),
            binding_message: ticket.binding_message.clone(),
            delivery_mode: ticket.delivery_mode,
            issued_at: now,
            expires_at: now,
        }
    }

    /// This request, acknowledged with `auth_req_id` for `expires_in` seconds.
    pub(crate) fn acknowledged(
        mut self,
        auth_req_id: &AuthReqId,
        expires_in: u64,
    ) -> PendingRequest {
        self.auth_req_id = auth_req_id.clone();
        self.expires_at = self
            .issued_at
            .checked_add(Duration::from_secs(expires_in))
            .unwrap_or(self.issued_at);
        self
    }
}
