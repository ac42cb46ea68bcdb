//! Where pending requests, tickets, replay entries and revocations live.
//!
//! Every [`Store`] operation is one atomic step, so two server instances (or two threads)
//! can never both complete, redeem or replay the same thing. [`MemoryStore`] is the embedded
//! default; a shared store (Redis, SQL) implements the same trait for several instances.
//!
//! Each operation takes the caller's `now`. Stores use it both to decide (has this request
//! expired? is this poll too early?) and to forget what has expired.

mod expiry_queue;
pub mod memory;
mod records;

use std::sync::Arc;
use std::time::SystemTime;

pub use memory::{MemoryStore, MemoryStoreConfig};
pub use records::{
    CompleteStatus, Completion, Grant, PollStatus, ReplayKey, ReplayPurpose, RequestState,
    StoredRequest, TokenFingerprint,
};

use crate::ticket::Ticket;

/// A store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The client already has as many entries (tickets, requests, replay entries) as the
    /// store allows one client.
    #[error("client {client_id:?} has reached the limit of {limit} stored entries")]
    ClientLimitReached {
        /// The client.
        client_id: String,
        /// The limit.
        limit: usize,
    },
    /// An entry with this key already exists (a random identifier collided).
    #[error("an entry with this identifier already exists")]
    DuplicateKey,
    /// The storage backend failed.
    #[error("the store backend failed: {source}")]
    Backend {
        /// The backend's error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The `Retry-After` seconds of the 503 `temporarily_unavailable` answer this error
    /// calls for: 60 when the client reached its limit (its entries must expire first), 5
    /// when the backend failed (for example a shared store that is unreachable). `None`
    /// for the errors answered with 500 `server_error`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            StoreError::ClientLimitReached { .. } => Some(60),
            StoreError::Backend { .. } => Some(5),
            StoreError::DuplicateKey => None,
        }
    }
}

/// Storage for the server helper. Implementations must make each method one atomic step
/// and must not panic.
pub trait Store: Send + Sync {
    /// Stores `ticket` until `ticket.expires_at`.
    fn insert_ticket(&self, ticket: &Ticket, now: SystemTime) -> Result<(), StoreError>;

    /// Removes and returns the ticket `id`, or `None` when it is unknown, used or expired.
    fn take_ticket(&self, id: &str, now: SystemTime) -> Result<Option<Ticket>, StoreError>;

    /// Stores a new request and keeps it until `keep_until` (its expiry plus the tombstone
    /// period).
    fn insert_request(
        &self,
        request: &StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError>;

    /// A copy of the request `auth_req_id`, if still kept.
    fn request(
        &self,
        auth_req_id: &str,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, StoreError>;

    /// Records the result of the user's authentication, once. A pending, unexpired request
    /// takes the result ([`CompleteStatus::Completed`]). A push request that has expired is
    /// marked finished so the expiry is reported once ([`CompleteStatus::Expired`]); a poll or
    /// ping request that has expired is left as it is, still answering `expired_token`.
    fn complete(
        &self,
        auth_req_id: &str,
        result: Completion,
        now: SystemTime,
    ) -> Result<CompleteStatus, StoreError>;

    /// A token request for `auth_req_id` by `client_id`: decides the answer and updates the
    /// request in the same step (see [`PollStatus`]). A request that belongs to another
    /// client is [`PollStatus::Unknown`] and is left untouched.
    fn poll(
        &self,
        auth_req_id: &str,
        client_id: &str,
        interval_increment: u64,
        now: SystemTime,
    ) -> Result<PollStatus, StoreError>;

    /// Attaches the fingerprints of the tokens minted for a redeemed request, so a later
    /// replay revokes them. When a replay was already seen, the tokens are revoked at once.
    fn attach_tokens(
        &self,
        auth_req_id: &str,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError>;

    /// True when the token with this fingerprint has been revoked and has not yet expired.
    fn is_revoked(&self, fingerprint: &str, now: SystemTime) -> Result<bool, StoreError>;

    /// Remembers a JWT `jti` until `expires_at`. Returns `false` when it was already
    /// remembered (a replay).
    fn remember_jti(
        &self,
        key: &ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError>;

    /// Removes the ticket `id` if present. Returns whether it was there.
    fn remove_ticket(&self, id: &str) -> Result<bool, StoreError>;
}
