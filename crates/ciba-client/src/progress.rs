//! What a wait publishes while it runs: ciba-core's [`PollProgress`] snapshot, and the last
//! notification refused for the request, at once, so a user interface can say why nothing
//! happens instead of waiting out the expiry in silence.

use std::fmt;
use std::time::SystemTime;

use ciba_core::NotificationRefusal;
use ciba_core::{PollPhase, PollProgress};
use tokio::sync::watch;

use crate::clock::FlowClock;

/// Which kind of notification was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotificationKind {
    /// A ping (CIBA Core 10.2).
    Ping,
    /// A push delivery (CIBA Core 10.3).
    Push,
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotificationKind::Ping => "ping",
            NotificationKind::Push => "push",
        })
    }
}

/// A notification for a registered request that the registry refused: a wrong bearer token,
/// a pushed ID token that failed validation (`at_hash`, an `auth_req_id` claim naming another
/// request, a bad signature, ...). The request stays open: an honest delivery may still come,
/// and a forged one must not be able to end the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefusedNotification {
    /// Ping or push.
    pub kind: NotificationKind,
    /// Why ciba-core refused it (never holds the token or the body).
    pub reason: NotificationRefusal,
    /// When it was refused.
    pub at: SystemTime,
}

impl fmt::Display for RefusedNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} was refused: {}", self.kind, self.reason)
    }
}

/// A snapshot of a wait, published on the `watch` channel given to
/// [`TokenWait::progress`](crate::TokenWait::progress).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FlowProgress {
    /// ciba-core's snapshot: phase, polls sent, interval, time left, ...
    pub poll: PollProgress,
    /// The last notification refused for this request, if any.
    pub last_refused: Option<RefusedNotification>,
    /// Notifications refused for this request so far.
    pub refused: u32,
}

/// Publishes snapshots when someone listens.
pub(crate) struct Reporter {
    sender: Option<watch::Sender<FlowProgress>>,
    clock: FlowClock,
    current: FlowProgress,
}

impl Reporter {
    pub(crate) fn new(
        sender: Option<watch::Sender<FlowProgress>>,
        clock: FlowClock,
        start: PollProgress,
    ) -> Reporter {
        Reporter {
            sender,
            clock,
            current: FlowProgress {
                poll: start,
                ..FlowProgress::default()
            },
        }
    }

    /// A snapshot of `poller` (computed by ciba-core).
    pub(crate) fn poller(
        &mut self,
        poller: &ciba_core::Poller,
        phase: PollPhase,
        next: Option<SystemTime>,
    ) {
        self.current.poll = poller.progress(phase, next, self.clock.now());
        self.publish();
    }

    /// The last snapshot, in a new phase (push waits, the end of a push wait).
    pub(crate) fn phase(&mut self, phase: PollPhase) {
        let now = self.clock.now();
        let poll = &mut self.current.poll;
        poll.phase = phase;
        poll.next_request_at = None;
        poll.time_left = poll.expires_at.duration_since(now).unwrap_or_default();
        self.publish();
    }

    /// Notes refusals the registry reported (`count` in total so far, `last` the newest).
    pub(crate) fn refused(&mut self, count: u32, last: Option<RefusedNotification>) {
        if count == self.current.refused {
            return;
        }
        self.current.refused = count;
        self.current.last_refused = last;
        self.publish();
    }

    /// The last refused notification, for the final error.
    pub(crate) fn last_refused(&self) -> Option<RefusedNotification> {
        self.current.last_refused.clone()
    }

    fn publish(&self) {
        if let Some(sender) = &self.sender {
            sender.send_replace(self.current.clone());
        }
    }
}
