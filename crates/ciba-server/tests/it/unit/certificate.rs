//! The certificate's public key against a JWK (src/certificate.rs).

use ciba_core::jose::Jwk;
use ciba_server::__internals::{certificate_key_matches, strip_zeros};

#[test]
fn garbage_and_truncated_input_match_nothing() {
    let jwk = Jwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some("AAAA".into()),
        ..Jwk::default()
    };
    assert!(!certificate_key_matches(&[], &jwk));
    assert!(!certificate_key_matches(
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        &jwk
    ));
    assert!(!certificate_key_matches(&[0x30, 0x03, 0x30, 0x01], &jwk));
    for n in 0..64u8 {
        let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
        assert!(!certificate_key_matches(&bytes, &jwk));
    }
}

#[test]
fn integers_lose_their_sign_padding() {
    assert_eq!(strip_zeros(&[0, 0, 1, 2]), &[1, 2]);
    assert_eq!(strip_zeros(&[0]), &[0]);
}
