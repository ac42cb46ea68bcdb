//! Tests of the items of `src/poll.rs`, one by one.

use std::time::Duration;

use ciba_core::__internals::retry_after;
use ciba_core::wire::from_unix_seconds;

#[test]
fn retry_after_reads_seconds_and_dates() {
    let now = from_unix_seconds(784_111_700);
    let mut h = http::HeaderMap::new();
    h.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
    assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
    h.insert(
        http::header::RETRY_AFTER,
        "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
    );
    assert_eq!(retry_after(&h, now), Some(Duration::from_secs(77)));
    h.insert(http::header::RETRY_AFTER, "-5".parse().unwrap());
    assert_eq!(retry_after(&h, now), None);
    h.insert(
        http::header::RETRY_AFTER,
        "99999999999999999999999".parse().unwrap(),
    );
    assert_eq!(retry_after(&h, now), Some(Duration::from_secs(u64::MAX)));
}
