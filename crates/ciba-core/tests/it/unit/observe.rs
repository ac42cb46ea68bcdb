//! Tests of the items of `src/observe.rs`, one by one.

use ciba_core::observe::short_hash;

#[test]
fn short_hash_is_the_first_eight_hex_digits_of_sha256() {
    // SHA-256("abc") = ba7816bf 8f01cfea ...
    assert_eq!(short_hash("abc").to_string(), "ba7816bf");
    assert_eq!(format!("{:?}", short_hash("abc")), "ba7816bf");
}

#[test]
fn different_values_give_different_hashes() {
    assert_ne!(short_hash("request-1"), short_hash("request-2"));
}
