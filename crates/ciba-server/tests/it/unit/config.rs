//! The server configuration and its checks (src/config.rs).

use ciba_core::jose::JwsAlgorithm;
use ciba_core::{ConfigError, EndpointPolicy, Profile};
use ciba_server::{AuthMethod, DeliveryMode, ServerConfig, ServerConfigError};

fn config() -> ServerConfig {
    ServerConfig::new(
        "https://op.example",
        "https://op.example/token",
        "https://op.example/bc",
    )
    .unwrap()
}

/// S-EP-1 and 3.9: each of the three URLs must be https on its own; the error names the
/// one at fault. Plain http is taken only on a loopback host, and only by opt-in.
#[test]
fn plain_http_endpoints_are_refused() {
    let (issuer, token, bc) = (
        "https://op.example",
        "https://op.example/token",
        "https://op.example/bc",
    );
    assert!(ServerConfig::new(issuer, token, bc).is_ok());
    for (i, t, b, at_fault) in [
        ("http://op.example", token, bc, "http://op.example"),
        (
            issuer,
            "http://op.example/token",
            bc,
            "http://op.example/token",
        ),
        (
            issuer,
            token,
            "http://op.example/bc",
            "http://op.example/bc",
        ),
    ] {
        match ServerConfig::new(i, t, b) {
            Err(ServerConfigError::Endpoint(ConfigError::InsecureEndpoint { url })) => {
                assert_eq!(url.trim_end_matches('/'), at_fault);
            }
            other => panic!("{at_fault}: expected InsecureEndpoint, got {other:?}"),
        }
    }
    // Loopback http: refused by default, taken with the explicit policy.
    let local = (
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/token",
        "http://127.0.0.1:8080/bc",
    );
    assert!(ServerConfig::new(local.0, local.1, local.2).is_err());
    assert!(
        ServerConfig::with_policy(
            local.0,
            local.1,
            local.2,
            EndpointPolicy::ALLOW_HTTP_LOOPBACK
        )
        .is_ok()
    );
    // The opt-in covers loopback only.
    assert!(
        ServerConfig::with_policy(
            "https://op.example",
            "http://op.example/token",
            bc,
            EndpointPolicy::ALLOW_HTTP_LOOPBACK
        )
        .is_err()
    );
}

#[test]
fn requested_expiry_is_capped_by_the_server_maximum() {
    let c = config();
    assert_eq!(c.expires_in_for(Some(10)), 10);
    assert_eq!(c.expires_in_for(Some(1_000_000)), 1800);
    assert_eq!(c.expires_in_for(None), 300);
}

#[test]
fn fapi_ciba_profile_refuses_push_weak_algorithms_and_secret_methods() {
    let fapi = config().fapi_ciba().unwrap();
    assert_eq!(fapi.profile, Profile::FapiCiba);
    assert!(!fapi.delivery_modes.contains(&DeliveryMode::Push));
    assert!(!fapi.auth_methods.contains(&AuthMethod::ClientSecretBasic));
    assert!(fapi.strict_assertion_audience);
    let mut push = fapi.clone();
    push.delivery_modes.push(DeliveryMode::Push);
    assert!(matches!(
        push.validate(),
        Err(ServerConfigError::ProfileViolation {
            field: "delivery_modes",
            ..
        })
    ));
    let mut rs256 = fapi.clone();
    rs256.request_signing_algs.push(JwsAlgorithm::RS256);
    assert!(rs256.validate().is_err());
    let mut basic = fapi.clone();
    basic.auth_methods.push(AuthMethod::ClientSecretBasic);
    assert!(basic.validate().is_err());
    let mut hs = fapi;
    hs.auth_signing_algs.push(JwsAlgorithm::HS256);
    assert!(hs.validate().is_err());
}

#[test]
fn hmac_request_signing_is_refused() {
    let mut c = config();
    c.request_signing_algs.push(JwsAlgorithm::HS256);
    assert!(c.validate().is_err());
}
