//! `Secret`: comparison, redaction and wiping (src/secret.rs).

use ciba_server::Secret;
use zeroize::{Zeroize, ZeroizeOnDrop};

#[test]
fn matching_by_digest_keeps_the_value_digest_and_forgets_it_when_wiped() {
    let mut s = Secret::new("bench-secret-0123456789abcdef");
    assert!(!s.matches_by_digest("bench-secret-0123456789abcdeX"));
    assert!(!s.matches_by_digest("bench-secret"));
    assert!(!s.matches_by_digest(""));
    assert!(s.matches_by_digest("bench-secret-0123456789abcdef"));
    // Again, from the kept digest; a clone keeps it as well.
    assert!(s.matches_by_digest("bench-secret-0123456789abcdef"));
    assert!(s.clone().matches_by_digest("bench-secret-0123456789abcdef"));
    s.zeroize();
    assert!(!s.matches_by_digest("bench-secret-0123456789abcdef"));
    assert!(s.matches_by_digest(""));
}

#[test]
fn debug_output_hides_the_value() {
    let s = Secret::new("hunter2");
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn zeroize_empties_the_secret_and_runs_on_drop() {
    let mut s = Secret::new("hunter2");
    s.zeroize();
    assert_eq!(s.expose(), "");
    assert!(s.matches(""));
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    wiped_on_drop::<Secret>();
    // A clone is independent: wiping one leaves the other intact.
    let a = Secret::new("hunter2");
    let mut b = a.clone();
    b.zeroize();
    assert_eq!(a.expose(), "hunter2");
}

#[test]
fn equality_compares_the_values() {
    assert_eq!(Secret::new("a"), Secret::new("a"));
    assert_ne!(Secret::new("a"), Secret::new("b"));
    assert!(Secret::new("abc").matches("abc"));
    assert!(!Secret::new("abc").matches("abd"));
}
