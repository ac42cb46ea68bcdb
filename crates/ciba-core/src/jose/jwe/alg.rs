//! The JWE algorithms this crate implements (RFC 7518 sections 4 and 5).

use std::fmt;
use std::str::FromStr;

use super::JweError;

/// Key management algorithm: how the content encryption key reaches the recipient (`alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyManagementAlgorithm {
    /// `RSA-OAEP-256`: RSAES-OAEP with SHA-256 and MGF1 with SHA-256 (RFC 7518 4.3).
    RsaOaep256,
    /// `ECDH-ES+A256KW`: ephemeral-static ECDH on P-256, Concat KDF, AES-256 key wrap
    /// (RFC 7518 4.6).
    EcdhEsA256Kw,
}

impl KeyManagementAlgorithm {
    /// Every supported algorithm, in the order discovery lists them.
    pub const ALL: [KeyManagementAlgorithm; 2] = [
        KeyManagementAlgorithm::RsaOaep256,
        KeyManagementAlgorithm::EcdhEsA256Kw,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyManagementAlgorithm::RsaOaep256 => "RSA-OAEP-256",
            KeyManagementAlgorithm::EcdhEsA256Kw => "ECDH-ES+A256KW",
        }
    }

    /// The JWK `kty` a recipient key must have.
    pub fn key_type(self) -> &'static str {
        match self {
            KeyManagementAlgorithm::RsaOaep256 => "RSA",
            KeyManagementAlgorithm::EcdhEsA256Kw => "EC",
        }
    }
}

impl fmt::Display for KeyManagementAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyManagementAlgorithm {
    type Err = JweError;

    fn from_str(s: &str) -> Result<Self, JweError> {
        KeyManagementAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| JweError::AlgorithmNotAllowed { alg: clip(s) })
    }
}

/// Content encryption algorithm: how the plaintext is encrypted and authenticated (`enc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentEncryption {
    /// `A128CBC-HS256`: AES-128-CBC with HMAC-SHA-256 truncated to 128 bits (RFC 7518 5.2.3).
    /// The default `id_token_encrypted_response_enc` of OpenID Connect Dynamic Client
    /// Registration.
    A128CbcHs256,
    /// `A256GCM`: AES-256 in Galois/Counter Mode (RFC 7518 5.3).
    A256Gcm,
}

impl ContentEncryption {
    /// Every supported algorithm, in the order discovery lists them.
    pub const ALL: [ContentEncryption; 2] =
        [ContentEncryption::A128CbcHs256, ContentEncryption::A256Gcm];

    /// The `enc` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentEncryption::A128CbcHs256 => "A128CBC-HS256",
            ContentEncryption::A256Gcm => "A256GCM",
        }
    }

    /// Length of the content encryption key in bytes (32 for both).
    pub fn key_len(self) -> usize {
        32
    }

    /// Length of the initialization vector in bytes.
    pub fn iv_len(self) -> usize {
        match self {
            ContentEncryption::A128CbcHs256 => 16,
            ContentEncryption::A256Gcm => 12,
        }
    }

    /// Length of the authentication tag in bytes (16 for both).
    pub fn tag_len(self) -> usize {
        16
    }
}

impl fmt::Display for ContentEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContentEncryption {
    type Err = JweError;

    fn from_str(s: &str) -> Result<Self, JweError> {
        ContentEncryption::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| JweError::EncryptionNotAllowed { enc: clip(s) })
    }
}

/// A header value shortened for an error message.
pub(super) fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}
