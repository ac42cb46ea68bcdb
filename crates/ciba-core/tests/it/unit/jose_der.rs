//! Tests of the items of `src/jose/der.rs`, one by one.

use ciba_core::__internals::{OCTET_STRING, ed25519_pkcs8, tlv, uint};

#[test]
fn ed25519_document_has_the_rfc8410_layout() {
    let seed = [7u8; 32];
    let doc = ed25519_pkcs8(&seed);
    let mut expected = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    expected.extend_from_slice(&seed);
    assert_eq!(*doc, expected);
}

#[test]
fn integers_are_minimal_and_positive() {
    assert_eq!(*uint(&[0, 0, 5]), vec![0x02, 0x01, 0x05]);
    assert_eq!(*uint(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
    assert_eq!(*uint(&[]), vec![0x02, 0x01, 0x00]);
}

#[test]
fn long_lengths_use_the_long_form() {
    let content = vec![0u8; 300];
    let out = tlv(OCTET_STRING, &content);
    assert_eq!(&out[..4], &[0x04, 0x82, 0x01, 0x2c]);
}

#[test]
fn length_form_switches_at_128_and_grows_at_256() {
    for (len, header) in [
        (0usize, &[0x04u8, 0x00][..]),
        (127, &[0x04, 0x7f]),
        (128, &[0x04, 0x81, 0x80]),
        (255, &[0x04, 0x81, 0xff]),
        (256, &[0x04, 0x82, 0x01, 0x00]),
        (65_535, &[0x04, 0x82, 0xff, 0xff]),
        (65_536, &[0x04, 0x83, 0x01, 0x00, 0x00]),
    ] {
        let content = vec![0xA5u8; len];
        let out = tlv(OCTET_STRING, &content);
        assert_eq!(&out[..header.len()], header, "content of {len} bytes");
        assert_eq!(&out[header.len()..], &content[..]);
        assert_eq!(out.len(), header.len() + len);
    }
}
