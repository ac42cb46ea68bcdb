//! JWS algorithms. `none` has no variant, so it cannot be chosen by accident.

use std::fmt;
use std::str::FromStr;

use super::JoseError;

/// A JWS signature algorithm (RFC 7518, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms)]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// HMAC with SHA-256 (shared secret).
    HS256,
    /// HMAC with SHA-384 (shared secret).
    HS384,
    /// HMAC with SHA-512 (shared secret).
    HS512,
}

/// The family of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// `kty` RSA.
    Rsa,
    /// `kty` EC.
    Ec,
    /// `kty` OKP (Ed25519).
    Okp,
    /// `kty` oct (a shared secret).
    Oct,
}

impl JwsAlgorithm {
    /// Every algorithm, asymmetric first.
    pub const ALL: [JwsAlgorithm; 12] = [
        JwsAlgorithm::RS256,
        JwsAlgorithm::RS384,
        JwsAlgorithm::RS512,
        JwsAlgorithm::PS256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::PS512,
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::EdDSA,
        JwsAlgorithm::HS256,
        JwsAlgorithm::HS384,
        JwsAlgorithm::HS512,
    ];

    /// The asymmetric algorithms: the default allow-list for ID tokens and signed requests.
    pub const ASYMMETRIC: [JwsAlgorithm; 9] = [
        JwsAlgorithm::RS256,
        JwsAlgorithm::RS384,
        JwsAlgorithm::RS512,
        JwsAlgorithm::PS256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::PS512,
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::EdDSA,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlgorithm::RS256 => "RS256",
            JwsAlgorithm::RS384 => "RS384",
            JwsAlgorithm::RS512 => "RS512",
            JwsAlgorithm::PS256 => "PS256",
            JwsAlgorithm::PS384 => "PS384",
            JwsAlgorithm::PS512 => "PS512",
            JwsAlgorithm::ES256 => "ES256",
            JwsAlgorithm::ES384 => "ES384",
            JwsAlgorithm::EdDSA => "EdDSA",
            JwsAlgorithm::HS256 => "HS256",
            JwsAlgorithm::HS384 => "HS384",
            JwsAlgorithm::HS512 => "HS512",
        }
    }

    /// The key family this algorithm needs.
    pub fn key_family(self) -> KeyFamily {
        match self {
            JwsAlgorithm::RS256
            | JwsAlgorithm::RS384
            | JwsAlgorithm::RS512
            | JwsAlgorithm::PS256
            | JwsAlgorithm::PS384
            | JwsAlgorithm::PS512 => KeyFamily::Rsa,
            JwsAlgorithm::ES256 | JwsAlgorithm::ES384 => KeyFamily::Ec,
            JwsAlgorithm::EdDSA => KeyFamily::Okp,
            JwsAlgorithm::HS256 | JwsAlgorithm::HS384 | JwsAlgorithm::HS512 => KeyFamily::Oct,
        }
    }

    /// True for the HMAC algorithms.
    pub fn is_symmetric(self) -> bool {
        self.key_family() == KeyFamily::Oct
    }

    /// Size in bytes of the hash this algorithm uses (for `at_hash`, `rt_hash` and the like).
    /// EdDSA uses SHA-512 per OpenID's convention for Ed25519.
    pub fn hash_len(self) -> usize {
        match self {
            JwsAlgorithm::RS256
            | JwsAlgorithm::PS256
            | JwsAlgorithm::ES256
            | JwsAlgorithm::HS256 => 32,
            JwsAlgorithm::RS384
            | JwsAlgorithm::PS384
            | JwsAlgorithm::ES384
            | JwsAlgorithm::HS384 => 48,
            JwsAlgorithm::RS512
            | JwsAlgorithm::PS512
            | JwsAlgorithm::HS512
            | JwsAlgorithm::EdDSA => 64,
        }
    }

    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            JwsAlgorithm::RS256 => A::RS256,
            JwsAlgorithm::RS384 => A::RS384,
            JwsAlgorithm::RS512 => A::RS512,
            JwsAlgorithm::PS256 => A::PS256,
            JwsAlgorithm::PS384 => A::PS384,
            JwsAlgorithm::PS512 => A::PS512,
            JwsAlgorithm::ES256 => A::ES256,
            JwsAlgorithm::ES384 => A::ES384,
            JwsAlgorithm::EdDSA => A::EdDSA,
            JwsAlgorithm::HS256 => A::HS256,
            JwsAlgorithm::HS384 => A::HS384,
            JwsAlgorithm::HS512 => A::HS512,
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwsAlgorithm {
    type Err = JoseError;

    /// Exact, case-sensitive match. `none` and unknown names are errors.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JwsAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| JoseError::AlgorithmNotAllowed {
                alg: s.chars().take(32).collect(),
            })
    }
}

impl serde::Serialize for JwsAlgorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for JwsAlgorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
