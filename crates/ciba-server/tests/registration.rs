//! Registration-time validation of client metadata.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use ciba_core::ErrorCode;
use ciba_core::endpoint::EndpointPolicy;
use ciba_server::{
    ClientMetadata, ClientMetadataError, ClientRegistry, DeliveryMode, StaticClientRegistry,
    validate_client_metadata,
};
use common::*;

fn ping_client() -> ClientMetadata {
    ClientMetadata::from_json(
        br#"{
            "client_id": "rp",
            "client_secret": "s",
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["urn:openid:params:grant-type:ciba"],
            "backchannel_token_delivery_mode": "ping",
            "backchannel_client_notification_endpoint": "https://rp.example/cb"
        }"#,
    )
    .unwrap()
}

fn refused(m: &ClientMetadata) -> ClientMetadataError {
    let e = validate_client_metadata(m, &base_config()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidClientMetadata);
    e
}

#[test]
fn a_well_formed_ping_client_registers_and_can_be_looked_up() {
    let mut registry = StaticClientRegistry::new();
    registry.register(ping_client(), &base_config()).unwrap();
    assert_eq!(
        registry.get("rp").unwrap().backchannel_token_delivery_mode,
        Some(DeliveryMode::Ping)
    );
    assert!(registry.get("other").is_none());
    // The async lookup the server uses answers the same, on its first poll.
    let looked_up = block_on(registry.client("rp")).unwrap().unwrap();
    assert_eq!(
        looked_up.backchannel_token_delivery_mode,
        Some(DeliveryMode::Ping)
    );
    assert!(block_on(registry.client("other")).unwrap().is_none());
    assert!(matches!(
        registry.register(ping_client(), &base_config()),
        Err(ClientMetadataError::DuplicateClientId { .. })
    ));
}

#[test]
fn ping_and_push_clients_need_an_https_notification_endpoint() {
    let mut m = ping_client();
    m.backchannel_client_notification_endpoint = None;
    assert!(matches!(
        refused(&m),
        ClientMetadataError::MissingNotificationEndpoint { .. }
    ));
    m.backchannel_client_notification_endpoint = Some("http://rp.example/cb".into());
    assert!(matches!(
        refused(&m),
        ClientMetadataError::InvalidNotificationEndpoint { .. }
    ));
    m.backchannel_client_notification_endpoint = Some("http://127.0.0.1:8080/cb".into());
    assert!(matches!(
        refused(&m),
        ClientMetadataError::InvalidNotificationEndpoint { .. }
    ));
    // Loopback http only with the explicit opt-in.
    let mut config = base_config();
    config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    validate_client_metadata(&m, &config).unwrap();
    m.backchannel_client_notification_endpoint = Some("http://rp.example/cb".into());
    assert!(validate_client_metadata(&m, &config).is_err());
}

#[test]
fn poll_and_ping_clients_need_the_ciba_grant_but_push_clients_do_not() {
    let mut m = ping_client();
    m.grant_types.clear();
    assert!(matches!(
        refused(&m),
        ClientMetadataError::MissingCibaGrant { .. }
    ));
    m.backchannel_token_delivery_mode = Some(DeliveryMode::Push);
    validate_client_metadata(&m, &base_config()).unwrap();
}

#[test]
fn the_delivery_mode_must_be_offered_by_the_server() {
    let mut config = base_config();
    config.delivery_modes = vec![DeliveryMode::Poll];
    assert!(matches!(
        validate_client_metadata(&ping_client(), &config),
        Err(ClientMetadataError::UnsupportedDeliveryMode {
            mode: DeliveryMode::Ping
        })
    ));
}

#[test]
fn request_signing_alg_must_be_asymmetric_and_supported() {
    let mut m = ping_client();
    m.jwks = Some(public_set(&["es256"]));
    for bad in ["none", "HS256", "ES512", "es256"] {
        m.backchannel_authentication_request_signing_alg = Some(bad.into());
        assert!(
            matches!(
                refused(&m),
                ClientMetadataError::RequestSigningAlgNotAllowed { .. }
            ),
            "{bad}"
        );
    }
    m.backchannel_authentication_request_signing_alg = Some("ES256".into());
    validate_client_metadata(&m, &base_config()).unwrap();
    m.jwks = None;
    assert!(matches!(
        refused(&m),
        ClientMetadataError::MissingJwks { .. }
    ));
}

#[test]
fn ciba_clients_must_authenticate_with_a_usable_method() {
    let mut m = ping_client();
    m.token_endpoint_auth_method = ciba_server::AuthMethod::None;
    assert!(matches!(
        refused(&m),
        ClientMetadataError::AuthMethodNotAllowed { .. }
    ));
    m.token_endpoint_auth_method = ciba_server::AuthMethod::from_name("magic_auth");
    assert!(matches!(
        refused(&m),
        ClientMetadataError::AuthMethodNotAllowed { .. }
    ));
    m.token_endpoint_auth_method = ciba_server::AuthMethod::ClientSecretPost;
    m.client_secret = None;
    assert!(matches!(
        refused(&m),
        ClientMetadataError::MissingClientSecret { .. }
    ));
    m.token_endpoint_auth_method = ciba_server::AuthMethod::PrivateKeyJwt;
    assert!(matches!(
        refused(&m),
        ClientMetadataError::MissingJwks { .. }
    ));
    m.token_endpoint_auth_method = ciba_server::AuthMethod::TlsClientAuth;
    assert!(matches!(
        refused(&m),
        ClientMetadataError::TlsIdentity { found: 0 }
    ));
    m.tls_client_auth_san_dns = Some("rp.example".into());
    validate_client_metadata(&m, &base_config()).unwrap();
    m.tls_client_auth_subject_dn = Some("CN=rp".into());
    assert!(matches!(
        refused(&m),
        ClientMetadataError::TlsIdentity { found: 2 }
    ));
}

#[test]
fn registered_scope_must_be_well_formed() {
    let mut m = ping_client();
    m.scope = Some("openid \"quoted\"".into());
    assert!(matches!(refused(&m), ClientMetadataError::MalformedScope));
}

#[test]
fn an_http_issuer_is_accepted_only_on_loopback_with_the_opt_in() {
    use ciba_server::ServerConfig;
    let urls = (
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/token",
        "http://127.0.0.1:8080/bc",
    );
    assert!(ServerConfig::new(urls.0, urls.1, urls.2).is_err());
    let config =
        ServerConfig::with_policy(urls.0, urls.1, urls.2, EndpointPolicy::ALLOW_HTTP_LOOPBACK)
            .unwrap();
    assert_eq!(config.issuer, urls.0);
    assert!(
        ServerConfig::with_policy(
            "http://op.example",
            "http://op.example/token",
            "http://op.example/bc",
            EndpointPolicy::ALLOW_HTTP_LOOPBACK
        )
        .is_err()
    );
}
