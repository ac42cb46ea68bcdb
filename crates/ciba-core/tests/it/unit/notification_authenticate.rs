//! Tests of the items of `src/notification/authenticate.rs`, one by one.

use ciba_core::notification::bearer_token;
use ciba_core::{Limits, NotificationRefusal};
use http::{HeaderValue, header};

fn headers(auth: &[&str]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for a in auth {
        h.append(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
    }
    h
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    assert_eq!(
        bearer_token(&headers(&["bEaReR abc"]), &Limits::DEFAULT).unwrap(),
        "abc"
    );
}

#[test]
fn other_schemes_and_repeated_headers_are_malformed() {
    for h in [
        headers(&["Basic abc"]),
        headers(&["Bearer"]),
        headers(&["Bearer a b"]),
        headers(&["Bearer a", "Bearer a"]),
    ] {
        assert_eq!(
            bearer_token(&h, &Limits::DEFAULT),
            Err(NotificationRefusal::MalformedAuthorization)
        );
    }
    assert_eq!(
        bearer_token(&headers(&[]), &Limits::DEFAULT),
        Err(NotificationRefusal::MissingBearer)
    );
}

#[test]
fn an_authorization_header_exactly_at_the_limit_is_read() {
    let token = "t".repeat(93);
    let value = format!("Bearer {token}");
    assert_eq!(value.len(), 100);
    let at_limit = Limits::DEFAULT.with_max_header_bytes(100);
    assert_eq!(
        bearer_token(&headers(&[&value]), &at_limit),
        Ok(token.as_str())
    );
    let below = Limits::DEFAULT.with_max_header_bytes(99);
    assert_eq!(
        bearer_token(&headers(&[&value]), &below),
        Err(NotificationRefusal::MalformedAuthorization)
    );
}
