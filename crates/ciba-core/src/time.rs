//! Conversions between the caller's `SystemTime` and JWT NumericDate seconds.
//!
//! ciba-core never reads a clock: every function that needs the time takes `now` from the caller.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch for `t`, negative for times before 1970.
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The `SystemTime` for a NumericDate, saturating at the representable range.
pub fn from_unix_seconds(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_whole_seconds() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(unix_seconds(t), 1_700_000_000);
        assert_eq!(from_unix_seconds(1_700_000_000), t);
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        let t = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(unix_seconds(t), -10);
    }
}
