//! What the store keeps, and the answers of its atomic operations.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth_req_id::AuthReqId;
use crate::client::DeliveryMode;
use crate::secret::Secret;

/// What the user granted: the data tokens are minted from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The authenticated user's subject identifier.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The authentication context class reached, if any.
    pub acr: Option<String>,
    /// Authentication methods used.
    pub amr: Vec<String>,
    /// When the user authenticated.
    pub auth_time: Option<SystemTime>,
    /// Extra ID token claims.
    pub claims: Map<String, Value>,
}

/// The fingerprint (base64url SHA-256) of an issued token and when the token expires, so
/// its revocation need only be remembered until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFingerprint {
    /// base64url(SHA-256(token)).
    pub fingerprint: String,
    /// When the token expires.
    pub expires_at: SystemTime,
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RequestState {
    /// Waiting for the user.
    Pending,
    /// The user approved; tokens not yet redeemed (poll and ping).
    Authorized(Box<Grant>),
    /// The user denied (poll and ping); not yet reported to the client.
    Denied,
    /// The authentication device gave no result (poll and ping); not yet reported.
    Failed,
    /// The tokens were redeemed at the token endpoint.
    Redeemed {
        /// Fingerprints of what was issued (empty until attached).
        tokens: Vec<TokenFingerprint>,
        /// True once a second redemption was attempted (the tokens are then revoked).
        replayed: bool,
    },
    /// Push mode: the result (tokens or an error) was handed over for delivery.
    Delivered {
        /// Fingerprints of the pushed tokens (empty for an error payload).
        tokens: Vec<TokenFingerprint>,
    },
    /// A denial or failure was reported to the client; nothing more to say.
    Consumed,
}

/// A backchannel authentication request, from `issue` until it is forgotten. Its `Debug` form
/// shows neither the `auth_req_id` (an [`AuthReqId`]) nor the notification token (a
/// [`Secret`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRequest {
    /// The `auth_req_id`.
    pub auth_req_id: AuthReqId,
    /// The client that made the request.
    pub client_id: String,
    /// The user the AS identified from the hint.
    pub subject: String,
    /// The client's delivery mode when the request was made.
    pub delivery_mode: DeliveryMode,
    /// Where ping and push notifications go.
    pub notification_endpoint: Option<String>,
    /// The bearer token for notifications.
    pub client_notification_token: Option<Secret>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Requested `acr_values`.
    pub acr_values: Vec<String>,
    /// The binding message, to show on the authentication device.
    pub binding_message: Option<String>,
    /// When the request was acknowledged.
    pub issued_at: SystemTime,
    /// When the `auth_req_id` expires (`issued_at + expires_in`).
    pub expires_at: SystemTime,
    /// The current polling interval in seconds (grows by 5 with each `slow_down`).
    pub interval: u64,
    /// When the client last called the token endpoint for this request.
    pub last_poll: Option<SystemTime>,
    /// Where the request stands.
    pub state: RequestState,
}

impl StoredRequest {
    /// True at and after `expires_at`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }
}

/// The result to record with [`Store::complete`](super::Store::complete).
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// Poll and ping: the user approved; tokens are minted at redemption.
    Authorized(Box<Grant>),
    /// Poll and ping: the user denied.
    Denied,
    /// Poll and ping: no result could be obtained.
    Failed,
    /// Push: the result is being delivered (with these token fingerprints, if any).
    Delivered(Vec<TokenFingerprint>),
}

/// The answer of [`Store::complete`](super::Store::complete).
#[derive(Debug, Clone, PartialEq)]
pub enum CompleteStatus {
    /// The result was recorded; the request as it was before.
    Completed(Box<StoredRequest>),
    /// The request had expired; the request as it was.
    Expired(Box<StoredRequest>),
    /// A result was recorded earlier.
    AlreadyCompleted,
    /// No such request (never issued, or forgotten).
    Unknown,
}

/// The answer of [`Store::poll`](super::Store::poll).
#[derive(Debug, Clone, PartialEq)]
pub enum PollStatus {
    /// Unknown, forgotten, or another client's request.
    Unknown,
    /// Still waiting for the user; the poll time was recorded.
    Pending,
    /// Still waiting, and the client polled before its interval elapsed: the stored
    /// interval grew to `interval` seconds.
    SlowDown {
        /// The new interval.
        interval: u64,
    },
    /// The request expired (kept as a tombstone).
    Expired,
    /// The user denied; reported once, after which the request is consumed.
    Denied,
    /// No result could be obtained; reported once, after which the request is consumed.
    Failed,
    /// The user approved and this caller redeemed the request: mint tokens now and attach
    /// their fingerprints. Only one caller ever gets this.
    Authorized(Box<StoredRequest>),
    /// Already redeemed or reported: the tokens the first redemption issued are now revoked.
    AlreadyUsed,
}

/// What a remembered `jti` protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReplayPurpose {
    /// A client assertion (`private_key_jwt`, `client_secret_jwt`).
    ClientAssertion,
    /// A signed authentication request (`request` parameter).
    RequestObject,
    /// A DPoP proof at the token endpoint (RFC 9449 section 11.1).
    DpopProof,
}

/// A `jti` in the replay cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReplayKey {
    /// The client that issued the JWT.
    pub client_id: String,
    /// What kind of JWT.
    pub purpose: ReplayPurpose,
    /// The `jti` value.
    pub jti: String,
}
