//! JOSE: JWS compact serialization, JWKs, signing and verification; JWE for encrypted ID tokens
//! ([`jwe`]).
//!
//! The cryptography comes from jsonwebtoken 11 (`default-features = false`), through the provider
//! this crate's features select: `aws-lc-rs` (default) or `rust-crypto`. jsonwebtoken panics at
//! run time when its process-wide provider cannot be chosen (both of its backends enabled, or
//! neither) and nobody installed one. ciba-core never asks for that process-wide provider and
//! never installs one: it calls the provider of the backend it was built with directly (see
//! [`backend`]), and prefers aws-lc-rs when feature unification turns on both backends. Building
//! with neither feature is a compile error rather than a run-time panic.
//!
//! JWS serialization, header checks, algorithm allow-lists and key selection are our own code:
//! jsonwebtoken supplies only the signature primitives.

pub mod alg;
pub mod backend;
pub(crate) mod der;
pub mod hash;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod signer;
pub mod verify;

pub use alg::JwsAlgorithm;
pub use jwk::{Jwk, JwkSet};
pub use jws::{CompactJws, JwsHeader};
pub use signer::{HmacSigner, JwkSigner, Signer};
pub use verify::{AlgorithmPolicy, verify_jws};
/// The wrapper of [`Jwk`]'s private members (from the `zeroize` crate): wiped on drop.
pub use zeroize::Zeroizing;

/// Errors of the JOSE layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The compact serialization is malformed (not three base64url parts, bad JSON header...).
    #[error("malformed JWS: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The token is larger than the configured limit.
    #[error("JWS of {actual} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The size received.
        actual: usize,
    },
    /// The `alg` is `none`, unknown, or not on the allow-list for this use.
    #[error("algorithm {alg:?} is not allowed here")]
    AlgorithmNotAllowed {
        /// The `alg` header value as sent (truncated).
        alg: String,
    },
    /// The header lists `crit` extensions we do not understand (RFC 7515 section 4.1.11).
    #[error("unsupported critical header parameter {name:?}")]
    UnsupportedCritical {
        /// The first unknown name.
        name: String,
    },
    /// No key in the JWK Set matches the token's `kid` / `alg`.
    #[error("no usable key for kid {kid:?} and alg {alg}")]
    NoMatchingKey {
        /// The `kid` header, if any.
        kid: Option<String>,
        /// The algorithm.
        alg: JwsAlgorithm,
    },
    /// Several keys match and the token has no `kid` to choose between them.
    #[error("several keys match alg {alg} and the token has no kid")]
    AmbiguousKey {
        /// The algorithm.
        alg: JwsAlgorithm,
    },
    /// The key cannot be used with the algorithm (wrong `kty`, curve, `use` or `key_ops`).
    #[error("key is not usable with {alg}: {reason}")]
    KeyMismatch {
        /// The algorithm.
        alg: JwsAlgorithm,
        /// Why.
        reason: &'static str,
    },
    /// A JWK is malformed or lacks members.
    #[error("invalid JWK: {reason}")]
    InvalidKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// The signer failed to produce a signature (for example an HSM error).
    #[error("signing failed: {reason}")]
    SigningFailed {
        /// What the signer reported.
        reason: String,
    },
}
