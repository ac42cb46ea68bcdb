//! Progress of a flow waiting for its result, as snapshots a transport publishes (for example
//! on a `tokio::sync::watch` channel) so a user interface can show a spinner with the time left.
//!
//! The snapshot is computed here from the [`Poller`]'s own counters; a transport only says what
//! it is doing ([`PollPhase`]) and what time it is.

use std::time::{Duration, SystemTime};

use crate::ack::AuthRequestAck;
use crate::poll::Poller;

/// What a flow is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PollPhase {
    /// Not started yet.
    #[default]
    Starting,
    /// Sleeping until the next token request is allowed (or a notification arrives).
    Waiting,
    /// A token request is in flight.
    Requesting,
    /// The token response's ID token named a key the cached JWK Set lacks: the set is being
    /// fetched again.
    FetchingKeys,
    /// Push mode: waiting for the OP to deliver the result.
    AwaitingPush,
    /// The flow ended (with tokens or an error).
    Finished,
}

/// A snapshot of a flow's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollProgress {
    /// What the flow is doing.
    pub phase: PollPhase,
    /// Token requests sent so far (not counting DPoP nonce retries).
    pub polls_sent: u32,
    /// The current polling interval (grown by each `slow_down`).
    pub interval: Duration,
    /// `slow_down` answers received.
    pub slow_downs: u32,
    /// Pings received so far.
    pub pings_received: u32,
    /// Transient failures in a row (timeouts, connection errors, 5xx).
    pub consecutive_failures: u32,
    /// When the next token request may go out, while waiting for one.
    pub next_request_at: Option<SystemTime>,
    /// When the request expires.
    pub expires_at: SystemTime,
    /// Time left before `expires_at` when the snapshot was taken.
    pub time_left: Duration,
}

impl Default for PollProgress {
    fn default() -> Self {
        PollProgress {
            phase: PollPhase::Starting,
            polls_sent: 0,
            interval: Duration::ZERO,
            slow_downs: 0,
            pings_received: 0,
            consecutive_failures: 0,
            next_request_at: None,
            expires_at: SystemTime::UNIX_EPOCH,
            time_left: Duration::ZERO,
        }
    }
}

impl PollProgress {
    /// The snapshot of a flow that has its acknowledgement and nothing else yet (also the
    /// snapshot of a push flow, which never polls), in `phase`.
    pub fn from_ack(ack: &AuthRequestAck, phase: PollPhase, now: SystemTime) -> PollProgress {
        PollProgress {
            phase,
            interval: ack.interval,
            expires_at: ack.expires_at,
            time_left: ack.remaining(now),
            ..PollProgress::default()
        }
    }
}

impl Poller {
    /// A snapshot of this poller in `phase`, taken at `now`. `next_request_at` is the deadline
    /// the transport sleeps until, while it waits.
    pub fn progress(
        &self,
        phase: PollPhase,
        next_request_at: Option<SystemTime>,
        now: SystemTime,
    ) -> PollProgress {
        PollProgress {
            phase,
            polls_sent: self.polls_sent(),
            interval: self.interval(),
            slow_downs: self.slow_downs(),
            pings_received: self.pings_received(),
            consecutive_failures: self.consecutive_failures(),
            next_request_at,
            expires_at: self.expires_at(),
            time_left: self
                .expires_at()
                .duration_since(now)
                .unwrap_or(Duration::ZERO),
        }
    }
}
