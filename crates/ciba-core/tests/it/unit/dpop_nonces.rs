//! Tests of the items of `src/dpop/nonces.rs`, one by one.

use ciba_core::DpopNonces;
use url::Url;

#[test]
fn the_cache_counts_the_origins_it_holds() {
    let mut nonces = DpopNonces::new();
    assert!(nonces.is_empty());
    assert_eq!(nonces.len(), 0);
    let token = Url::parse("https://op.example/token").unwrap();
    assert!(nonces.insert(&token, "n-1"));
    assert!(!nonces.is_empty());
    assert_eq!(nonces.len(), 1);
    nonces.remove(&token);
    assert!(nonces.is_empty());
}
