//! The virtual clock: tests pass `now` explicitly, starting from one fixed origin.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the Unix epoch to [`t0`] (14 November 2023).
pub const T0_SECS: u64 = 1_700_000_000;

/// The origin of the virtual clock.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0_SECS)
}

/// `secs` seconds after [`t0`].
pub fn at(secs: u64) -> SystemTime {
    t0() + Duration::from_secs(secs)
}
