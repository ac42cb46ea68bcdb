//! Tests of the items of `src/jose/jwe/content.rs`, one by one.

use ciba_core::__internals::{open, seal};
use ciba_core::jose::jwe::{ContentEncryption, JweError};

#[test]
fn both_modes_round_trip_and_detect_any_flipped_bit() {
    for enc in ContentEncryption::ALL {
        let cek = [7u8; 32];
        let iv = vec![9u8; enc.iv_len()];
        let sealed = seal(enc, &cek, &iv, b"aad", b"the plaintext").unwrap();
        let opened = open(enc, &cek, &iv, b"aad", &sealed.ciphertext, &sealed.tag).unwrap();
        assert_eq!(opened.as_slice(), b"the plaintext");
        let mut ct = sealed.ciphertext.clone();
        ct[0] ^= 1;
        assert_eq!(
            open(enc, &cek, &iv, b"aad", &ct, &sealed.tag),
            Err(JweError::DecryptionFailed)
        );
        let mut tag = sealed.tag.clone();
        tag[15] ^= 0x80;
        assert_eq!(
            open(enc, &cek, &iv, b"aad", &sealed.ciphertext, &tag),
            Err(JweError::DecryptionFailed)
        );
        assert_eq!(
            open(enc, &cek, &iv, b"aaD", &sealed.ciphertext, &sealed.tag),
            Err(JweError::DecryptionFailed)
        );
        assert_eq!(
            open(enc, &cek, &iv, b"aad", &sealed.ciphertext, &tag[..8]),
            Err(JweError::DecryptionFailed)
        );
    }
}
