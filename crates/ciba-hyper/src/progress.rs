//! Progress of a waiting flow, published through a `tokio::sync::watch` channel so a command
//! line tool can draw a spinner with the time left.

use std::time::{Duration, SystemTime};

/// What the flow is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PollPhase {
    /// Not started yet.
    #[default]
    Starting,
    /// Sleeping until the next token request is allowed (or a ping arrives).
    Waiting,
    /// A token request is in flight.
    Requesting,
    /// The token response's ID token named a key the cached JWK Set lacks: the set is being
    /// fetched again.
    FetchingKeys,
    /// Waiting for the OP to push the result (push mode).
    AwaitingPush,
    /// The flow ended (tokens or an error).
    Finished,
}

/// A snapshot of a flow's progress. See
/// [`CibaClient::tokens_with_progress`](crate::CibaClient::tokens_with_progress).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollProgress {
    /// What the flow is doing.
    pub phase: PollPhase,
    /// Token requests sent so far (not counting DPoP nonce retries).
    pub polls_sent: u32,
    /// The current polling interval (grown by each `slow_down`).
    pub interval: Duration,
    /// Pings received so far.
    pub pings_received: u32,
    /// Transient failures in a row (timeouts, connection errors, 503).
    pub consecutive_failures: u32,
    /// When the next token request may go out, while waiting.
    pub next_request_at: Option<SystemTime>,
    /// When the request expires.
    pub expires_at: SystemTime,
    /// Time left before `expires_at`, when this snapshot was taken.
    pub time_left: Duration,
}

impl Default for PollProgress {
    fn default() -> Self {
        PollProgress {
            phase: PollPhase::Starting,
            polls_sent: 0,
            interval: Duration::ZERO,
            pings_received: 0,
            consecutive_failures: 0,
            next_request_at: None,
            expires_at: SystemTime::UNIX_EPOCH,
            time_left: Duration::ZERO,
        }
    }
}
