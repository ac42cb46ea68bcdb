//! Tests of the items of `src/metadata.rs`, one by one.

use ciba_core::{
    ConfigError, DeliveryMode, DiscoveryDocument, EndpointPolicy, Error, Limits, ServerMetadata,
    discovery_request,
};

const DOC: &str = r#"{
    "issuer": "https://op.example",
    "token_endpoint": "https://op.example/token",
    "jwks_uri": "https://op.example/jwks",
    "backchannel_authentication_endpoint": "https://op.example/bc",
    "backchannel_token_delivery_modes_supported": ["poll", "ping", "future"],
    "backchannel_user_code_parameter_supported": true,
    "grant_types_supported": ["urn:openid:params:grant-type:ciba"],
    "dpop_signing_alg_values_supported": ["ES256"],
    "mtls_endpoint_aliases": {"token_endpoint": "https://mtls.op.example/token"},
    "x_vendor": {"a": 1}
}"#;

#[test]
fn parses_every_ciba_member_and_keeps_unknown_ones() {
    let md =
        ServerMetadata::from_json(DOC.as_bytes(), "https://op.example", &Limits::DEFAULT).unwrap();
    assert_eq!(
        md.delivery_modes(),
        vec![DeliveryMode::Poll, DeliveryMode::Ping]
    );
    assert!(md.backchannel_user_code_parameter_supported);
    assert!(
        md.backchannel_authentication_request_signing_alg_values_supported
            .is_none()
    );
    assert_eq!(md.extra.get("x_vendor").unwrap()["a"], 1);
    assert_eq!(
        md.dpop_signing_alg_values_supported.as_deref(),
        Some(&["ES256".to_owned()][..])
    );
}

#[test]
fn issuer_mismatch_is_refused() {
    let err = ServerMetadata::from_json(DOC.as_bytes(), "https://op.example/", &Limits::DEFAULT)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::IssuerMismatch { .. })
    ));
}

#[test]
fn mtls_aliases_are_used_only_for_mtls() {
    let md =
        ServerMetadata::from_json(DOC.as_bytes(), "https://op.example", &Limits::DEFAULT).unwrap();
    let p = EndpointPolicy::HTTPS_ONLY;
    assert_eq!(
        md.endpoint("token_endpoint", true, &p).unwrap().as_str(),
        "https://mtls.op.example/token"
    );
    assert_eq!(
        md.endpoint("token_endpoint", false, &p).unwrap().as_str(),
        "https://op.example/token"
    );
    assert_eq!(
        md.endpoint("backchannel_authentication_endpoint", true, &p)
            .unwrap()
            .as_str(),
        "https://op.example/bc"
    );
}

#[test]
fn wrong_member_types_are_parse_errors() {
    let err = ServerMetadata::from_json(
        br#"{"issuer":"https://op.example","backchannel_user_code_parameter_supported":"yes"}"#,
        "https://op.example",
        &Limits::DEFAULT,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Parse(_)));
}

#[test]
fn discovery_urls_follow_both_specs() {
    let p = EndpointPolicy::HTTPS_ONLY;
    let r = discovery_request(
        "https://op.example/tenant/",
        DiscoveryDocument::OpenIdConfiguration,
        &p,
    )
    .unwrap();
    assert_eq!(
        r.uri(),
        "https://op.example/tenant/.well-known/openid-configuration"
    );
    let r = discovery_request(
        "https://op.example/tenant",
        DiscoveryDocument::OAuthAuthorizationServer,
        &p,
    )
    .unwrap();
    assert_eq!(
        r.uri(),
        "https://op.example/.well-known/oauth-authorization-server/tenant"
    );
    assert!(
        discovery_request(
            "http://op.example",
            DiscoveryDocument::OpenIdConfiguration,
            &p
        )
        .is_err()
    );
}
