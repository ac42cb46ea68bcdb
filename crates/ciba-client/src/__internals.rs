//! Internals for this crate's own integration tests (feature `test-internals`). Not part of
//! the API: anything here may change in any release. Each item is a thin view of a private
//! type, so the types themselves stay private.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ciba_core::AuthReqId;
use tokio::time::Instant;

use crate::Error;
use crate::NotificationRegistry;
use crate::registry::{Registration, Slot};

/// Registers a ping flow (no push check) of `issuer`'s `auth_req_id`, as a waiting flow does.
pub fn register_ping(
    registry: &NotificationRegistry,
    issuer: &str,
    auth_req_id: &AuthReqId,
    token: &str,
    expires_at: SystemTime,
) -> Result<(), Error> {
    registry.register(issuer, auth_req_id, token.to_owned(), expires_at, None)
}

/// A registration's slot as its flow watches it; dropping it removes the registration.
pub struct Watched {
    slot: Arc<Slot>,
    _registration: Registration,
}

impl Watched {
    /// Pings received and not yet seen by the flow.
    pub fn pings(&self) -> u32 {
        self.slot.state().pings
    }

    /// Notifications refused so far.
    pub fn refused(&self) -> u32 {
        self.slot.state().refused
    }
}

/// Watches a registration, as its flow does (`None`: not registered).
pub fn watch(
    registry: &NotificationRegistry,
    issuer: &str,
    auth_req_id: &AuthReqId,
) -> Option<Watched> {
    let (slot, registration) = registry.watch(issuer, auth_req_id)?;
    Some(Watched {
        slot,
        _registration: registration,
    })
}

/// How far ahead a flow clock maps a deadline at most.
pub const FLOW_CLOCK_HORIZON: Duration = crate::clock::FAR;

/// A flow's clock: wall-clock time read once, advanced by tokio's monotonic clock.
pub struct FlowClock(crate::clock::FlowClock);

impl FlowClock {
    /// Anchors a clock now.
    pub fn start() -> FlowClock {
        FlowClock(crate::clock::FlowClock::start())
    }

    /// The clock's current time.
    pub fn now(&self) -> SystemTime {
        self.0.now()
    }

    /// The instant at which the clock reads `t`.
    pub fn instant_at(&self, t: SystemTime) -> Instant {
        self.0.instant_at(t)
    }

    /// The instant the clock was anchored at.
    pub fn anchor(&self) -> Instant {
        self.0.anchor()
    }
}
