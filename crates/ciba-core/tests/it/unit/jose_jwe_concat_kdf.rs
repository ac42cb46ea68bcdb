//! Tests of the items of `src/jose/jwe/concat_kdf.rs`, one by one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::__internals::derive;

/// RFC 7518 Appendix C: ECDH-ES with A128GCM, apu "Alice", apv "Bob".
#[test]
fn derives_the_rfc_7518_appendix_c_key() {
    let z: Vec<u8> = (0..32)
        .map(|i| {
            let hex = "9e56d91d817135d372834283bf84269cfb316ea3da806a48f6daa7798cfe90c4";
            u8::from_str_radix(hex.get(i * 2..i * 2 + 2).unwrap(), 16).unwrap()
        })
        .collect();
    let key = derive(&z, "A128GCM", b"Alice", b"Bob", 128).unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(key.as_slice()),
        "VqqN6vgjbSBcIijNcacQGg"
    );
}

#[test]
fn lengths_above_one_round_are_refused() {
    assert!(derive(&[1; 32], "ECDH-ES+A256KW", &[], &[], 512).is_err());
    assert!(derive(&[1; 32], "ECDH-ES+A256KW", &[], &[], 0).is_err());
}
