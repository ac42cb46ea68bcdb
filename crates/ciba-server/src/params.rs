//! Syntax of individual request parameter values.

use ciba_core::MAX_CLIENT_NOTIFICATION_TOKEN_CHARS;

/// True for an RFC 6749 section 3.3 `scope-token` (`1*NQCHAR`).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Splits a space-delimited `scope` (or `acr_values`) value, dropping empty items and
/// repeats while keeping the order.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn split_list(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in value.split(' ').filter(|t| !t.is_empty()) {
        if !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}

/// True for a valid `client_notification_token`: RFC 6750 `b64token` syntax and at most
/// 1024 characters (CIBA Core section 7.1).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn is_valid_notification_token(token: &str) -> bool {
    if token.is_empty() || token.len() > MAX_CLIENT_NOTIFICATION_TOKEN_CHARS {
        return false;
    }
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Parses `requested_expiry` given as text: a positive decimal integer, digits only.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn parse_requested_expiry(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|v| *v > 0)
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space, `%XX` a byte),
/// as RFC 6749 section 2.3.1 requires for the Basic client id and secret.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn form_decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
                let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
