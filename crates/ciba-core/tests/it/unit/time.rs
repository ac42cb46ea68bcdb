//! Tests of the items of `src/time.rs`, one by one.

use std::time::{Duration, UNIX_EPOCH};

use ciba_core::wire::{from_unix_seconds, parse_http_date, unix_seconds};

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

#[test]
fn the_three_http_date_formats_parse_to_the_same_instant() {
    for s in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ] {
        assert_eq!(
            parse_http_date(s).map(unix_seconds),
            Some(784_111_777),
            "{s}"
        );
    }
}

#[test]
fn malformed_http_dates_are_refused() {
    for s in [
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 31 Feb 2024 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "tomorrow",
    ] {
        assert_eq!(parse_http_date(s), None, "{s}");
    }
    assert!(parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").is_some());
}
