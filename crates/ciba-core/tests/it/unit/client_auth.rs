//! Tests of the items of `src/client_auth.rs`, one by one.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciba_core::jose::{HmacSigner, JwsAlgorithm};
use ciba_core::wire::basic_authorization;
use ciba_core::{ClientAuth, ClientSecret, Random};

#[test]
fn secrets_are_equal_exactly_when_their_bytes_are() {
    let a = ClientSecret::new("s3cret-value");
    assert_eq!(a, ClientSecret::new("s3cret-value"));
    assert_ne!(a, ClientSecret::new("s3cret-valuE"));
    assert_ne!(a, ClientSecret::new("s3cret-value-and-more"));
    assert_ne!(a, ClientSecret::new(""));
}

#[test]
fn client_secret_basic_encodes_colon_and_percent_in_credentials() {
    let v = basic_authorization("my:client", "p%ss:w rd").unwrap();
    let b64 = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
    assert_eq!(decoded, "my%3Aclient:p%25ss%3Aw+rd");
    assert!(v.is_sensitive());
}

#[test]
fn secrets_are_redacted_in_debug() {
    let auth = ClientAuth::SecretBasic(ClientSecret::new("hunter2"));
    assert!(!format!("{auth:?}").contains("hunter2"));
    assert!(!format!("{:?}", ClientSecret::new("hunter2")).contains("hunter2"));
}

#[test]
fn mtls_methods_send_client_id_only() {
    struct Zero;
    impl Random for Zero {
        fn fill(&self, d: &mut [u8]) -> Result<(), ciba_core::RandomError> {
            d.fill(0);
            Ok(())
        }
    }
    let mut h = http::HeaderMap::new();
    let mut p = Vec::new();
    ClientAuth::TlsClientAuth
        .apply(
            "c1",
            "https://op",
            SystemTime::UNIX_EPOCH,
            &Zero,
            &mut h,
            &mut p,
        )
        .unwrap();
    assert!(h.is_empty());
    assert_eq!(p, vec![("client_id".to_owned(), "c1".to_owned())]);
    assert!(ClientAuth::TlsClientAuth.uses_mtls());
}

#[test]
fn each_method_has_its_registered_name_and_only_tls_ones_use_mtls() {
    let secret = || ClientSecret::new("a-client-secret-of-at-least-32-bytes!!");
    let cases = [
        (ClientAuth::None, "none", false),
        (
            ClientAuth::SecretBasic(secret()),
            "client_secret_basic",
            false,
        ),
        (
            ClientAuth::SecretPost(secret()),
            "client_secret_post",
            false,
        ),
        (
            ClientAuth::secret_jwt(JwsAlgorithm::HS256, &secret()).unwrap(),
            "client_secret_jwt",
            false,
        ),
        (
            ClientAuth::private_key_jwt(HmacSigner::new(JwsAlgorithm::HS256, &[7; 32]).unwrap()),
            "private_key_jwt",
            false,
        ),
        (ClientAuth::TlsClientAuth, "tls_client_auth", true),
        (
            ClientAuth::SelfSignedTlsClientAuth,
            "self_signed_tls_client_auth",
            true,
        ),
    ];
    for (auth, name, mtls) in cases {
        assert_eq!(auth.method_name(), name);
        assert_eq!(format!("{auth:?}"), format!("ClientAuth({name})"));
        assert_eq!(auth.uses_mtls(), mtls, "{name}");
    }
}

#[test]
fn expose_gives_the_secret_and_client_secret_post_sends_it() {
    let secret = ClientSecret::new("p%ss w:rd");
    assert_eq!(secret.expose(), "p%ss w:rd");
    let mut h = http::HeaderMap::new();
    let mut p = Vec::new();
    ClientAuth::SecretPost(secret)
        .apply(
            "c1",
            "https://op",
            SystemTime::UNIX_EPOCH,
            &ZeroRandom,
            &mut h,
            &mut p,
        )
        .unwrap();
    assert_eq!(
        p,
        vec![
            ("client_id".to_owned(), "c1".to_owned()),
            ("client_secret".to_owned(), "p%ss w:rd".to_owned()),
        ]
    );
    assert!(h.is_empty());
}

struct ZeroRandom;
impl Random for ZeroRandom {
    fn fill(&self, d: &mut [u8]) -> Result<(), ciba_core::RandomError> {
        d.fill(0);
        Ok(())
    }
}
