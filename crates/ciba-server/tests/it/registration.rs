//! Registration-time validation of client metadata.

use crate::common;

use ciba_core::EndpointPolicy;
use ciba_core::ErrorCode;
use ciba_core::jose::JwsAlgorithm;
use ciba_server::UNSUPPORTED_MEMBERS;
use ciba_server::{
    AddressClass, AuthMethod, ClientMetadata, ClientMetadataError, ClientRegistry, DeliveryMode,
    EgressError, EgressPolicy, StaticClientRegistry, validate_client_metadata,
};
use common::*;
use serde_json::json;

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

/// `m` is refused for `member`, a member without effect in its registration.
fn assert_inapplicable(m: &ClientMetadata, member: &str) {
    let e = refused(m);
    assert!(
        matches!(e, ClientMetadataError::InapplicableMember { member: got, .. } if got == member),
        "{member}: {e:?}"
    );
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
    // Loopback http only with the explicit opt-ins: http on loopback, and loopback egress.
    let mut config = base_config();
    config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    assert!(matches!(
        validate_client_metadata(&m, &config),
        Err(ClientMetadataError::NotificationEndpointRefused { .. })
    ));
    config.egress_policy = EgressPolicy::allow_loopback();
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

#[test]
fn notification_endpoints_on_internal_addresses_are_refused() {
    let mut m = ping_client();
    for (url, class) in [
        ("https://127.0.0.1/cb", AddressClass::Loopback),
        ("https://[::1]/cb", AddressClass::Loopback),
        ("https://localhost/cb", AddressClass::Loopback),
        ("https://10.0.0.7/cb", AddressClass::Private),
        ("https://172.20.1.1/cb", AddressClass::Private),
        ("https://192.168.0.10/cb", AddressClass::Private),
        ("https://[fd12::1]/cb", AddressClass::Private),
        ("https://169.254.10.10/cb", AddressClass::LinkLocal),
        ("https://[fe80::1]/cb", AddressClass::LinkLocal),
        ("https://0.0.0.0/cb", AddressClass::Unspecified),
        ("https://100.64.1.1/cb", AddressClass::SharedAddressSpace),
        (
            "https://169.254.169.254/latest/meta-data",
            AddressClass::CloudMetadata,
        ),
        ("https://[fd00:ec2::254]/cb", AddressClass::CloudMetadata),
        (
            "https://metadata.google.internal/cb",
            AddressClass::CloudMetadata,
        ),
        ("https://[::ffff:10.1.1.1]/cb", AddressClass::Private),
    ] {
        m.backchannel_client_notification_endpoint = Some(url.into());
        match refused(&m) {
            ClientMetadataError::NotificationEndpointRefused { source } => {
                assert_eq!(source.class(), Some(class), "{url}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    // The loopback opt-in admits loopback, and nothing else.
    let mut dev = base_config();
    dev.egress_policy = EgressPolicy::allow_loopback();
    m.backchannel_client_notification_endpoint = Some("https://127.0.0.1:8443/cb".into());
    validate_client_metadata(&m, &dev).unwrap();
    m.backchannel_client_notification_endpoint = Some("https://169.254.169.254/cb".into());
    assert!(matches!(
        validate_client_metadata(&m, &dev),
        Err(ClientMetadataError::NotificationEndpointRefused {
            source: EgressError::Address {
                class: AddressClass::CloudMetadata,
                ..
            }
        })
    ));
    m.backchannel_client_notification_endpoint = Some("https://rp.example/cb".into());
    validate_client_metadata(&m, &base_config()).unwrap();
}

#[test]
fn members_the_server_cannot_honour_are_refused() {
    for member in UNSUPPORTED_MEMBERS {
        let mut m = ping_client();
        m.extra.insert(member.into(), json!("x"));
        assert!(
            matches!(
                refused(&m),
                ClientMetadataError::UnsupportedMember { member: got } if got == member
            ),
            "{member}"
        );
    }
    for (member, value) in [
        ("subject_type", json!("pairwise")),
        ("require_auth_time", json!(true)),
        ("jwks_uri", json!("https://rp.example/jwks")),
    ] {
        let mut m = ping_client();
        m.extra.insert(member.into(), value.clone());
        assert!(
            matches!(
                refused(&m),
                ClientMetadataError::UnsupportedMember { member: got } if got == member
            ),
            "{member}: {value}"
        );
    }
    // The values the server does honour, descriptive members and members of the host's
    // other endpoints. (`dpop_bound_access_tokens` and
    // `tls_client_certificate_bound_access_tokens` are modelled members, tested in
    // sender_constrained.rs.)
    let mut m = ping_client();
    for (member, value) in [
        ("subject_type", json!("public")),
        ("require_auth_time", json!(false)),
        ("client_name", json!("RP")),
        ("logo_uri", json!("https://rp.example/logo.png")),
        ("redirect_uris", json!(["https://rp.example/cb"])),
    ] {
        m.extra.insert(member.into(), value);
    }
    validate_client_metadata(&m, &base_config()).unwrap();
}

#[test]
fn members_without_effect_in_the_registration_are_refused() {
    // A poll client receives no notification.
    let mut m = ping_client();
    m.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    assert_inapplicable(&m, "backchannel_client_notification_endpoint");
    // Certificate identities only mean something to tls_client_auth.
    let mut m = ping_client();
    m.tls_client_auth_san_dns = Some("rp.example".into());
    assert_inapplicable(&m, "tls_client_auth_san_dns");
    // An assertion algorithm only means something to the JWT methods, and must suit them.
    let mut m = ping_client();
    m.token_endpoint_auth_signing_alg = Some("ES256".into());
    assert_inapplicable(&m, "token_endpoint_auth_signing_alg");
    m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    m.jwks = Some(public_set(&["es256"]));
    validate_client_metadata(&m, &base_config()).unwrap();
    m.token_endpoint_auth_signing_alg = Some("HS256".into());
    assert!(matches!(
        refused(&m),
        ClientMetadataError::AuthSigningAlgNotAllowed { .. }
    ));
    // A user code the server does not support.
    let mut m = ping_client();
    m.backchannel_user_code_parameter = true;
    let mut config = base_config();
    config.user_code_supported = false;
    assert!(matches!(
        validate_client_metadata(&m, &config),
        Err(ClientMetadataError::InapplicableMember {
            member: "backchannel_user_code_parameter",
            ..
        })
    ));
}

#[test]
fn id_token_signed_response_alg_must_have_a_key() {
    let mut m = ping_client();
    m.id_token_signed_response_alg = Some("ES256".into());
    // The default key set signs RS256 only.
    assert!(matches!(
        refused(&m),
        ClientMetadataError::IdTokenSigningAlgNotSupported { .. }
    ));
    for bad in ["none", "HS256", "nonsense"] {
        let mut config = base_config();
        config.id_token_signing_algs = vec![JwsAlgorithm::RS256, JwsAlgorithm::ES256];
        m.id_token_signed_response_alg = Some(bad.into());
        assert!(
            matches!(
                validate_client_metadata(&m, &config),
                Err(ClientMetadataError::IdTokenSigningAlgNotSupported { .. })
            ),
            "{bad}"
        );
    }
    let mut config = base_config();
    config.id_token_signing_algs = vec![JwsAlgorithm::RS256, JwsAlgorithm::ES256];
    m.id_token_signed_response_alg = Some("ES256".into());
    validate_client_metadata(&m, &config).unwrap();
    m.id_token_signed_response_alg = Some("RS256".into());
    validate_client_metadata(&m, &base_config()).unwrap();
}

#[test]
fn client_secret_jwt_needs_a_secret_as_long_as_the_hash() {
    let mut m = ping_client();
    m.token_endpoint_auth_method = AuthMethod::ClientSecretJwt;
    m.client_secret = Some("x".repeat(31).into());
    assert!(matches!(
        refused(&m),
        ClientMetadataError::ClientSecretTooShort {
            alg: JwsAlgorithm::HS256,
            min_bytes: 32
        }
    ));
    m.client_secret = Some("x".repeat(32).into());
    validate_client_metadata(&m, &base_config()).unwrap();
    let mut config = base_config();
    config.auth_signing_algs = vec![JwsAlgorithm::HS384, JwsAlgorithm::HS512];
    for (alg, min) in [("HS384", 48), ("HS512", 64)] {
        m.token_endpoint_auth_signing_alg = Some(alg.into());
        m.client_secret = Some("x".repeat(min - 1).into());
        assert!(
            matches!(
                validate_client_metadata(&m, &config),
                Err(ClientMetadataError::ClientSecretTooShort { min_bytes, .. }) if min_bytes == min
            ),
            "{alg}"
        );
        m.client_secret = Some("x".repeat(min).into());
        validate_client_metadata(&m, &config).unwrap();
    }
    // Without a registered algorithm, the secret must suit every HMAC algorithm allowed.
    m.token_endpoint_auth_signing_alg = None;
    m.client_secret = Some("x".repeat(48).into());
    assert!(matches!(
        validate_client_metadata(&m, &config),
        Err(ClientMetadataError::ClientSecretTooShort { min_bytes: 64, .. })
    ));
}
