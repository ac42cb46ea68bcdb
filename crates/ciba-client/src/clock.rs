//! [`FlowClock`]: the time a wait hands to ciba-core. Wall-clock time is read once, when the
//! wait starts; from then on it advances with tokio's monotonic clock, so a deadline the core
//! names maps to a `tokio::time::Instant` exactly, a wall-clock jump cannot shorten or stretch
//! a wait, and tests with paused tokio time stay consistent.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Far enough to mean "never" for a sleep.
pub(crate) const FAR: Duration = Duration::from_secs(366 * 24 * 3600);

/// Wall-clock time for one wait, advanced by the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowClock {
    system: SystemTime,
    instant: Instant,
}

impl FlowClock {
    /// Anchors the clock at the current wall-clock time.
    pub(crate) fn start() -> FlowClock {
        FlowClock {
            system: SystemTime::now(),
            instant: Instant::now(),
        }
    }

    /// The current time, for ciba-core.
    pub(crate) fn now(&self) -> SystemTime {
        self.system
            .checked_add(self.instant.elapsed())
            .unwrap_or(self.system)
    }

    /// The instant the clock was anchored at (what [`FlowClock::instant_at`] gives for any
    /// earlier time).
    #[cfg(feature = "test-internals")]
    pub(crate) fn anchor(&self) -> Instant {
        self.instant
    }

    /// The instant at which this clock reads `t` (the anchor when `t` is earlier; at most a
    /// year ahead).
    pub(crate) fn instant_at(&self, t: SystemTime) -> Instant {
        match t.duration_since(self.system) {
            Ok(d) => self.instant.checked_add(d.min(FAR)).unwrap_or(self.instant),
            Err(_) => self.instant,
        }
    }
}
