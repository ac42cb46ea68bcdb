//! The integration with jsonwebtoken, the crate that supplies the signature primitives: the
//! choice of its crypto provider, made at compile time from this crate's features. The provider
//! itself stays inside ciba-core; only the backend's name is public.

use jsonwebtoken::crypto::CryptoProvider;

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "ciba-core needs a JOSE backend: enable feature `aws-lc-rs` (the default) or `rust-crypto`"
);

/// The provider ciba-core signs and verifies with. When both backends are enabled (feature
/// unification in a larger build), aws-lc-rs wins; the process-wide provider of jsonwebtoken is
/// never consulted or installed.
pub(crate) fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
}

/// Name of the backend in use, for diagnostics.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "rust-crypto"
    }
}
