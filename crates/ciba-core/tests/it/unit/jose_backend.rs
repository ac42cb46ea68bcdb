//! Tests of the items of `src/jose/backend.rs`, one by one.

use ciba_core::__internals::provider;
use ciba_core::jose::backend::backend_name;

#[test]
fn the_name_is_that_of_the_provider_in_use() {
    #[cfg(feature = "aws-lc-rs")]
    let (name, expected) = ("aws-lc-rs", &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER);
    #[cfg(not(feature = "aws-lc-rs"))]
    let (name, expected) = (
        "rust-crypto",
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
    );
    assert_eq!(backend_name(), name);
    assert!(std::ptr::eq(provider(), expected));
}
