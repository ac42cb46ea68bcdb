//! Tests of the items of `src/wire.rs`, one by one.

use ciba_core::wire::ct_eq;

#[test]
fn equal_strings_compare_equal() {
    assert!(ct_eq(b"secret-token", b"secret-token"));
}

#[test]
fn different_strings_or_lengths_compare_unequal() {
    assert!(!ct_eq(b"secret-token", b"secret-tokeN"));
    assert!(!ct_eq(b"secret", b"secret-token"));
    assert!(!ct_eq(b"", b"x"));
}
