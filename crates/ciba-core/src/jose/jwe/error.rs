//! Errors of JWE parsing, encryption and decryption.

use crate::random::RandomError;

/// Why a JWE could not be parsed, encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    /// The compact serialization is malformed (not five base64url parts, a header that is
    /// not a JSON object, wrong IV or tag length...).
    #[error("malformed JWE: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The token is longer than the limit.
    #[error("JWE of {actual} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The size received.
        actual: usize,
    },
    /// The `alg` is unknown, unsupported or not allowed here.
    #[error("key management algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` header value as sent (truncated).
        alg: String,
    },
    /// The `enc` is unknown, unsupported or not allowed here.
    #[error("content encryption {enc:?} is not allowed")]
    EncryptionNotAllowed {
        /// The `enc` header value as sent (truncated).
        enc: String,
    },
    /// The header has a `zip` member: compressed plaintext is refused.
    #[error("compressed JWE (zip) is refused")]
    Compressed,
    /// The header lists `crit` extensions (none is understood).
    #[error("unsupported critical header parameter {name:?}")]
    UnsupportedCritical {
        /// The first name listed (truncated).
        name: String,
    },
    /// No key can decrypt (or receive) this JWE: none of the right type, `use`, `alg` or `kid`.
    #[error("no usable key for kid {kid:?}")]
    NoMatchingKey {
        /// The `kid` header, if any.
        kid: Option<String>,
    },
    /// A JWK is malformed, too weak, or not usable for encryption.
    #[error("invalid encryption key: {reason}")]
    InvalidKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// Decryption failed: the key did not unwrap the content key, or the ciphertext, tag, IV
    /// or header were altered. One variant for all of them, so as not to be an oracle.
    #[error("JWE decryption failed")]
    DecryptionFailed,
    /// Encryption failed.
    #[error("JWE encryption failed: {reason}")]
    EncryptionFailed {
        /// What failed.
        reason: &'static str,
    },
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}
