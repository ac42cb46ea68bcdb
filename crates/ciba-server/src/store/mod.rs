//! Where pending requests, tickets, replay entries and revocations live.
//!
//! Every [`Store`] operation is one atomic step, so two server instances (or two threads)
//! can never both complete, redeem or replay the same thing. [`MemoryStore`] is the embedded
//! default; a shared store (Redis, SQL) implements the same trait for several instances.
//!
//! Each operation takes the caller's `now`. Stores use it both to decide (has this request
//! expired? is this poll too early?) and to forget what has expired.
//!
//! Requests are named by an [`AuthReqId`]: a store keys them by
//! [`AuthReqId::as_str`] and rebuilds the identifier it reads back
//! with [`AuthReqId::from_stored`] (or serde, which reads and
//! writes it as a plain string).

#[cfg(feature = "conformance")]
pub mod conformance;
// `pub(crate)`, and `pub` items in them, for `__internals` (feature `test-internals`).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub(crate) mod expiry_queue;
pub(crate) mod memory;
mod observed;
mod records;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

pub use memory::{MemoryStore, MemoryStoreConfig};
pub(crate) use observed::ObservedStore;
pub use records::{
    CompleteStatus, Completion, Grant, PollStatus, ReplayKey, ReplayPurpose, RequestState,
    StoredRequest, TokenFingerprint,
};

use crate::auth_req_id::AuthReqId;
use crate::binding::Confirmation;
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

/// A boxed, `Send` future: what the methods of the async traits ([`Store`],
/// [`ClientRegistry`](crate::ClientRegistry)) return, so that the traits stay usable as
/// `Arc<dyn Store>` without a macro crate.
///
/// An implementation returns `Box::pin(async move { ... })`, or, when it has the answer at
/// once (as [`MemoryStore`] always does), `Box::pin(std::future::ready(answer))`, which
/// completes on its first poll without yielding.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Storage for the server helper. Implementations must make each method one atomic step
/// and must not panic.
///
/// Every method is async, so a store may sit across a network (Redis, SQL). The server
/// helper only awaits what it is given: it never spawns, sleeps or reads a clock. A store
/// that can wait on the network must bound that wait itself and answer
/// [`StoreError::Backend`] when it runs out (the helper then answers 503
/// `temporarily_unavailable` with `Retry-After`).
///
/// Implementing it (each method returns a [`BoxFuture`]):
///
/// ```
/// # use std::time::SystemTime;
/// # use ciba_server::store::{BoxFuture, StoreError};
/// struct MyStore;
/// impl MyStore {
///     fn is_revoked<'a>(&'a self, fingerprint: &'a str, now: SystemTime)
///         -> BoxFuture<'a, Result<bool, StoreError>>
///     {
///         Box::pin(async move {
///             // await your database here
///             let _ = (fingerprint, now);
///             Ok(false)
///         })
///     }
/// }
/// ```
pub trait Store: Send + Sync {
    /// Stores `ticket` until `ticket.expires_at`.
    fn insert_ticket<'a>(
        &'a self,
        ticket: &'a Ticket,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes and returns the ticket `id`, or `None` when it is unknown, used or expired.
    fn take_ticket<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Ticket>, StoreError>>;

    /// Stores a new request and keeps it until `keep_until` (its expiry plus the tombstone
    /// period).
    fn insert_request<'a>(
        &'a self,
        request: &'a StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// A copy of the request `auth_req_id`, if still kept.
    fn request<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<StoredRequest>, StoreError>>;

    /// Up to `limit` requests still waiting for the user (state
    /// [`RequestState::Pending`], not expired at `now`), soonest expiry first; only those of
    /// `subject` when it is given. Every instance that shares the store sees the same list,
    /// whichever instance issued the requests: it is what an authentication device (or a
    /// development device page) shows.
    fn pending_requests<'a>(
        &'a self,
        subject: Option<&'a str>,
        limit: usize,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<StoredRequest>, StoreError>>;

    /// Records the result of the user's authentication, once. A pending, unexpired request
    /// takes the result ([`CompleteStatus::Completed`]). A push request that has expired is
    /// marked finished so the expiry is reported once ([`CompleteStatus::Expired`]); a poll or
    /// ping request that has expired is left as it is, still answering `expired_token`.
    fn complete<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        result: Completion,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CompleteStatus, StoreError>>;

    /// A token request for `auth_req_id` by `client_id`: decides the answer and updates the
    /// request in the same step (see [`PollStatus`]). A request that belongs to another
    /// client is [`PollStatus::Unknown`] and is left untouched. A poll before the interval
    /// has elapsed since the last one adds `interval_increment` to the stored interval, but
    /// never beyond the request's remaining lifetime in whole seconds (rounded up), and
    /// never lowers it.
    fn poll<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        client_id: &'a str,
        interval_increment: u64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<PollStatus, StoreError>>;

    /// Attaches the fingerprints of the tokens minted for a redeemed request, so a later
    /// replay revokes them. When a replay was already seen, the tokens are revoked at once.
    fn attach_tokens<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Revokes the tokens with these fingerprints until each one expires (tokens already
    /// expired at `now` need no record). Idempotent: revoking twice is the same as once. The
    /// server calls it for pushed tokens that never reached the client
    /// ([`CibaServer::push_undelivered`](crate::CibaServer::push_undelivered)).
    fn revoke_tokens<'a>(
        &'a self,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// True when the token with this fingerprint has been revoked and has not yet expired.
    fn is_revoked<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Remembers a JWT `jti` until `expires_at`. Returns `false` when it was already
    /// remembered (a replay).
    fn remember_jti<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Removes the ticket `id` if present. Returns whether it was there.
    fn remove_ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Records what the access token with this fingerprint is bound to (a DPoP key, a client
    /// certificate), until `expires_at`, for introspection
    /// ([`CibaServer::token_confirmation`](crate::CibaServer::token_confirmation)). The
    /// server records bound tokens only. Recording again replaces the record.
    fn record_confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        confirmation: &'a Confirmation,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// What the access token with this fingerprint is bound to, if it was recorded and has
    /// not expired at `now`.
    fn confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Confirmation>, StoreError>>;
}
