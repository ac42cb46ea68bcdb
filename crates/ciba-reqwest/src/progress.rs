//! Progress of a wait for tokens, for a spinner or a status line.

use std::time::{Duration, SystemTime};

use ciba_core::AuthRequestAck;

/// What the wait is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollPhase {
    /// Not started yet.
    Starting,
    /// Sleeping until the next token request is due (or a notification arrives).
    Waiting,
    /// A token request is in flight.
    Requesting,
    /// The token response's ID token named a key the cached JWK Set lacks: the set is being
    /// fetched again.
    FetchingKeys,
    /// Push mode: waiting for the delivery.
    AwaitingPush,
    /// The wait ended (with tokens or an error).
    Finished,
}

/// A snapshot of a wait for tokens, published on a `tokio::sync::watch` channel given to
/// [`TokenWait::progress`](crate::TokenWait::progress).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollProgress {
    /// What the wait is doing.
    pub phase: PollPhase,
    /// Token requests sent so far (not counting DPoP nonce retries).
    pub polls_sent: u32,
    /// The current polling interval (grown by each `slow_down`).
    pub interval: Duration,
    /// When the next token request is due, while waiting for one.
    pub next_request_at: Option<SystemTime>,
    /// The request's deadline.
    pub expires_at: SystemTime,
    /// Time left before the deadline, when the snapshot was taken.
    pub time_left: Duration,
    /// `slow_down` answers received.
    pub slow_downs: u32,
    /// Transient failures in a row (timeouts, resets, 5xx without an OAuth error).
    pub consecutive_failures: u32,
}

impl PollProgress {
    /// The snapshot before the wait starts: nothing sent, the acknowledgement's interval.
    pub fn initial(ack: &AuthRequestAck) -> PollProgress {
        PollProgress {
            phase: PollPhase::Starting,
            polls_sent: 0,
            interval: ack.interval,
            next_request_at: None,
            expires_at: ack.expires_at,
            time_left: ack.remaining(SystemTime::now()),
            slow_downs: 0,
            consecutive_failures: 0,
        }
    }
}
