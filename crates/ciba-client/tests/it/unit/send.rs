//! Transport errors: what they show and which are transient.

use std::time::Duration;

use ciba_client::{TransportError, TransportErrorKind, redacted_endpoint};

#[test]
fn endpoints_lose_userinfo_query_and_fragment() {
    let uri: http::Uri = "https://u:SECRET@op.example:8443/token?code=SECRET"
        .parse()
        .unwrap();
    assert_eq!(redacted_endpoint(&uri), "https://op.example:8443/token");
    let e = TransportError::timeout(&uri, Duration::from_secs(3));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("within 3s"), "{shown}");
}

#[test]
fn only_an_oversized_body_is_not_transient() {
    let uri = http::Uri::from_static("http://127.0.0.1/");
    assert!(TransportError::timeout(&uri, Duration::ZERO).is_transient());
    assert!(TransportError::new(TransportErrorKind::Connect, &uri).is_transient());
    assert!(!TransportError::body_too_large(&uri, 1).is_transient());
}
