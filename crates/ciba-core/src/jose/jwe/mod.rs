//! JWE compact serialization (RFC 7516) for encrypted ID tokens: a signed ID token (a JWS)
//! nested inside a JWE, as OpenID Connect Core section 10.2 describes.
//!
//! Supported algorithms (RFC 7518), the ones the OpenID providers and relying parties we
//! interoperate with use for ID tokens:
//!
//! | header | values |
//! |---|---|
//! | `alg` (key management) | `RSA-OAEP-256`, `ECDH-ES+A256KW` (P-256) |
//! | `enc` (content encryption) | `A256GCM`, `A128CBC-HS256` |
//!
//! What is always refused: `zip` (compressed plaintext: a decompression bomb and a
//! compression oracle, and no ID token needs it), any `crit` member, an `alg` or `enc`
//! outside the caller's allow-list, and tokens longer than the configured limit. Every
//! cryptographic failure (a key that does not unwrap, a tag that does not verify, bad
//! padding) is the one [`JweError::DecryptionFailed`], so a peer learns nothing about which
//! step failed.
//!
//! Parsing ([`CompactJwe`], [`JweHeader`]) is always compiled; the cryptography is behind
//! the `jwe` feature.
//!
//! ## Why RustCrypto primitives rather than a JOSE crate
//!
//! jsonwebtoken, the JWS backend, has no JWE. The maintained JOSE crates that have it
//! either bind OpenSSL (josekit) or bring a second JWK model and their own algorithm
//! policy. JWE for these four algorithms is small glue over primitives: RSA-OAEP
//! (`rsa`), ECDH on P-256 (`p256`), AES key wrap (`aes-kw`), AES-GCM (`aes-gcm`), AES-CBC
//! (`aes` + `cbc`) and HMAC-SHA-256 (`hmac`, `sha2`). They are the RustCrypto crates that
//! jsonwebtoken's own `rust_crypto` provider already uses (`rsa`, `p256`, `sha2`, `hmac`)
//! plus the AES modes, all pure Rust, so the feature builds the same under either JWS
//! backend. The Concat KDF of ECDH-ES is one SHA-256 pass and is written here
//! (`concat_kdf`). RSA decryption uses the `rsa` crate's blinding, with randomness the
//! caller supplies.

mod alg;
mod compact;
mod error;
mod header;

#[cfg(feature = "jwe")]
pub(crate) mod concat_kdf;
#[cfg(feature = "jwe")]
pub(crate) mod content;
#[cfg(feature = "jwe")]
mod decrypt;
#[cfg(feature = "jwe")]
mod encrypt;
#[cfg(feature = "jwe")]
mod key_management;
#[cfg(feature = "jwe")]
mod keys;
#[cfg(feature = "jwe")]
mod rng;

pub use alg::{ContentEncryption, KeyManagementAlgorithm};
pub use compact::{CompactJwe, DEFAULT_MAX_JWE_BYTES};
pub use error::JweError;
pub use header::JweHeader;

#[cfg(feature = "jwe")]
pub use decrypt::JweDecrypter;
#[cfg(feature = "jwe")]
pub use encrypt::{encrypt_compact, select_encryption_key};
