//! Conversions between the caller's `SystemTime` and the wire's times: JWT NumericDate seconds
//! and HTTP-dates (RFC 9110 section 5.6.7, as in `Retry-After`).
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

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Parses an HTTP-date in any of the three formats RFC 9110 section 5.6.7 requires recipients
/// to accept: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    if let Some((day, rest)) = s.split_once(", ") {
        let fields: Vec<&str> = rest.split(' ').collect();
        match fields.as_slice() {
            [d, mon, y, time, "GMT"] if DAYS.contains(&day) => {
                if d.len() != 2 || y.len() != 4 {
                    return None;
                }
                civil(number(y)?, month(mon)?, number(d)?, time)
            }
            [date, time, "GMT"] if LONG_DAYS.contains(&day) => {
                let mut parts = date.split('-');
                let (Some(d), Some(mon), Some(y), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return None;
                };
                if d.len() != 2 || y.len() != 2 {
                    return None;
                }
                // Two-digit years: the RFC says to pick the most recent past century that is
                // not more than 50 years ahead; 1970..=2069 is close enough for Retry-After.
                let yy = number(y)?;
                let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
                civil(year, month(mon)?, number(d)?, time)
            }
            _ => None,
        }
    } else {
        let fields: Vec<&str> = s.split_whitespace().collect();
        match fields.as_slice() {
            [day, mon, d, time, y] if DAYS.contains(day) => {
                if d.len() > 2 || y.len() != 4 {
                    return None;
                }
                civil(number(y)?, month(mon)?, number(d)?, time)
            }
            _ => None,
        }
    }
}

fn number(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month(s: &str) -> Option<i64> {
    let i = MONTHS.iter().position(|m| *m == s)?;
    i64::try_from(i).ok().map(|i| i + 1)
}

/// Seconds since the epoch of a UTC calendar date and `HH:MM:SS` time.
fn civil(year: i64, month: i64, day: i64, time: &str) -> Option<SystemTime> {
    let mut hms = time.split(':');
    let (Some(h), Some(m), Some(sec), None) = (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return None;
    };
    if h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec) = (number(h)?, number(m)?, number(sec)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&month) || day < 1 || day > month_days || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from 1970-01-01 to the date (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(from_unix_seconds(days * 86_400 + h * 3600 + m * 60 + sec))
}
