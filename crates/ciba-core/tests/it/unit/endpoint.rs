//! Tests of the items of `src/endpoint.rs`, one by one.

use ciba_core::{ConfigError, EndpointPolicy};

#[test]
fn https_is_accepted() {
    assert!(
        EndpointPolicy::HTTPS_ONLY
            .parse("x", "https://op.example/bc")
            .is_ok()
    );
}

#[test]
fn http_is_refused_by_default_even_on_loopback() {
    let err = EndpointPolicy::HTTPS_ONLY
        .parse("x", "http://127.0.0.1:8080/bc")
        .unwrap_err();
    assert!(matches!(err, ConfigError::InsecureEndpoint { .. }));
}

#[test]
fn http_loopback_is_accepted_only_with_opt_in() {
    let p = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    assert!(p.parse("x", "http://127.0.0.1:8080/bc").is_ok());
    assert!(p.parse("x", "http://[::1]:8080/bc").is_ok());
    assert!(p.parse("x", "http://localhost/bc").is_ok());
    assert!(p.parse("x", "http://op.example/bc").is_err());
    assert!(p.parse("x", "http://10.0.0.1/bc").is_err());
}

#[test]
fn fragments_and_userinfo_are_refused() {
    let p = EndpointPolicy::HTTPS_ONLY;
    assert!(p.parse("x", "https://op.example/bc#frag").is_err());
    assert!(p.parse("x", "https://user:pw@op.example/bc").is_err());
}
