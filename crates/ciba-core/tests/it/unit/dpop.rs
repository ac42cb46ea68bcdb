//! Tests of the items of `src/dpop.rs`, one by one.

use ciba_core::__internals::strip_query;
use ciba_core::dpop::is_nonce;
use url::Url;

#[test]
fn nonce_syntax_follows_rfc9449() {
    assert!(is_nonce("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
    assert!(!is_nonce(""));
    assert!(!is_nonce("a b"));
    assert!(!is_nonce("a\"b"));
}

#[test]
fn htu_loses_query_and_fragment() {
    let u = Url::parse("https://rs.example/a/b?x=1#frag").unwrap();
    assert_eq!(strip_query(&u).as_str(), "https://rs.example/a/b");
}
