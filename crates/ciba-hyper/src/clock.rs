//! The clock a flow hands to ciba-core: wall-clock time anchored once, then advanced by
//! tokio's monotonic clock, so deadlines map to `tokio::time::Instant`s exactly (and tests with
//! paused tokio time stay consistent).

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Far enough to mean "never" for a sleep.
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Wall-clock time for one flow.
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
        let elapsed = self.instant.elapsed();
        self.system.checked_add(elapsed).unwrap_or(self.system)
    }

    /// The tokio instant at which the wall clock reads `t` (now or the anchor when `t` is
    /// earlier).
    pub(crate) fn instant_at(&self, t: SystemTime) -> Instant {
        match t.duration_since(self.system) {
            Ok(d) => self.instant.checked_add(d.min(FAR)).unwrap_or(self.instant),
            Err(_) => self.instant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadlines_map_to_instants_on_the_same_clock() {
        let clock = FlowClock::start();
        let t0 = clock.now();
        let deadline = t0 + Duration::from_secs(5);
        tokio::time::sleep_until(clock.instant_at(deadline)).await;
        assert!(clock.now() >= deadline);
        assert_eq!(clock.instant_at(t0 - Duration::from_secs(1)), clock.instant);
    }
}
