//! Client metadata as registered (src/client.rs).

use ciba_server::{AuthMethod, ClientMetadata, DeliveryMode};

#[test]
fn metadata_reads_the_standard_names() {
    let m = ClientMetadata::from_json(
        br#"{"client_id":"c1","client_secret":"s3cret","token_endpoint_auth_method":"private_key_jwt",
        "grant_types":["urn:openid:params:grant-type:ciba"],"backchannel_token_delivery_mode":"ping",
        "backchannel_client_notification_endpoint":"https://rp.example/cb",
        "backchannel_authentication_request_signing_alg":"ES256",
        "backchannel_user_code_parameter":true,"scope":"openid email","client_name":"RP"}"#,
    )
    .unwrap();
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::PrivateKeyJwt);
    assert_eq!(m.backchannel_token_delivery_mode, Some(DeliveryMode::Ping));
    assert!(m.has_ciba_grant());
    assert!(m.backchannel_user_code_parameter);
    assert_eq!(
        m.allowed_scopes().unwrap().collect::<Vec<_>>(),
        ["openid", "email"]
    );
    assert_eq!(m.extra.get("client_name").unwrap(), "RP");
    assert!(!format!("{m:?}").contains("s3cret"));
}

/// C-MD-8: the members related to the CIBA ones (ID token signing and encryption, the
/// client's keys, its signing algorithm for assertions, mTLS subject and sender binding)
/// are read under their registered names, and not left in `extra`.
#[test]
fn metadata_reads_the_related_members() {
    let m = ClientMetadata::from_json(
        br#"{"client_id":"c1","token_endpoint_auth_method":"tls_client_auth",
        "token_endpoint_auth_signing_alg":"PS256",
        "id_token_signed_response_alg":"ES256",
        "id_token_encrypted_response_alg":"RSA-OAEP-256","id_token_encrypted_response_enc":"A256GCM",
        "jwks":{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
          "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]},
        "tls_client_auth_san_dns":"rp.example","tls_client_auth_san_uri":"https://rp.example/id",
        "tls_client_auth_san_ip":"192.0.2.7","tls_client_auth_san_email":"ops@rp.example",
        "tls_client_auth_subject_dn":"CN=rp","dpop_bound_access_tokens":true,
        "tls_client_certificate_bound_access_tokens":true}"#,
    )
    .unwrap();
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::TlsClientAuth);
    assert_eq!(m.token_endpoint_auth_signing_alg.as_deref(), Some("PS256"));
    assert_eq!(m.id_token_signed_response_alg.as_deref(), Some("ES256"));
    assert_eq!(
        m.id_token_encrypted_response_alg.as_deref(),
        Some("RSA-OAEP-256")
    );
    assert_eq!(
        m.id_token_encrypted_response_enc.as_deref(),
        Some("A256GCM")
    );
    let jwks = m.jwks.as_ref().unwrap();
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].kid.as_deref(), Some("k1"));
    assert_eq!(m.tls_client_auth_san_dns.as_deref(), Some("rp.example"));
    assert_eq!(
        m.tls_client_auth_san_uri.as_deref(),
        Some("https://rp.example/id")
    );
    assert_eq!(m.tls_client_auth_san_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(
        m.tls_client_auth_san_email.as_deref(),
        Some("ops@rp.example")
    );
    assert_eq!(m.tls_client_auth_subject_dn.as_deref(), Some("CN=rp"));
    assert!(m.dpop_bound_access_tokens);
    assert!(m.tls_client_certificate_bound_access_tokens);
    assert!(m.extra.is_empty(), "{:?}", m.extra);
}

#[test]
fn auth_method_defaults_to_client_secret_basic() {
    let m = ClientMetadata::from_json(br#"{"client_id":"c1"}"#).unwrap();
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
}
