//! Why an ID token was refused, and the decryption hook's contract.

use super::*;
use crate::jose::JoseError;
use crate::jose::jwe::JweError;

/// Decrypting an ID token failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The built-in JWE decryption (`jose::jwe::JweDecrypter`,
    /// feature `jwe`) refused the token.
    #[error("ID token decryption failed: {0}")]
    Jwe(#[from] JweError),
    /// A decrypter of the caller's own failed.
    #[error("ID token decryption failed: {reason}")]
    Other {
        /// What the decrypter reported.
        reason: String,
    },
}

/// Turns an encrypted ID token (a five-part compact JWE) into the signed ID token inside it.
///
/// With feature `jwe`, `jose::jwe::JweDecrypter` implements it with the
/// client's private keys (RSA-OAEP-256 and ECDH-ES+A256KW; A256GCM and A128CBC-HS256).
/// Another implementation (an HSM, say) can be plugged in instead. Once a decrypter is
/// configured the validator refuses unencrypted ID tokens (OIDC Core 3.1.3.7 step 1) and
/// validates the inner JWS as usual.
pub trait IdTokenDecrypter: Send + Sync {
    /// Decrypts `jwe` (compact serialization) and returns the nested compact JWS.
    fn decrypt(&self, jwe: &str) -> Result<String, DecryptError>;
}

/// Why an ID token was refused. Each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// A token response or push delivery carried no `id_token`.
    #[error("no id_token was delivered")]
    Missing,
    /// The token is an encrypted JWE (five parts) and no [`IdTokenDecrypter`] is configured.
    #[error("the ID token is encrypted and no decrypter is configured")]
    Encrypted,
    /// A decrypter is configured (encryption was registered) but the token is not encrypted.
    #[error("the ID token is not encrypted although encryption is configured")]
    NotEncrypted,
    /// The decrypter failed.
    #[error(transparent)]
    Decryption(#[from] DecryptError),
    /// The token is not a well-formed compact JWS (or is too large).
    #[error("malformed ID token: {0}")]
    Malformed(#[source] JoseError),
    /// The `alg` is `none`, unknown, or not on the allow-list (including HMAC without an
    /// explicitly registered HS* algorithm).
    #[error("ID token algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` header as sent (truncated).
        alg: String,
    },
    /// No key of the JWK Set can verify the token (no matching `kid`, ambiguous, wrong type).
    #[error("no usable key for the ID token: {0}")]
    KeyUnavailable(#[source] JoseError),
    /// The signature does not verify.
    #[error("the ID token signature does not verify")]
    BadSignature,
    /// The payload is not a JSON object (or repeats a claim).
    #[error("the ID token payload is not a JSON object")]
    ClaimsNotAnObject,
    /// A required claim is absent.
    #[error("the ID token has no {claim} claim")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type or an unusable value.
    #[error("ID token claim {claim} is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `iss` is not exactly the expected issuer.
    #[error("ID token issuer {found:?} is not {expected:?}")]
    IssuerMismatch {
        /// The issuer configured.
        expected: String,
        /// The `iss` received (truncated).
        found: String,
    },
    /// `aud` does not contain the `client_id`.
    #[error("ID token audience does not contain the client_id")]
    AudienceMismatch {
        /// The audiences received (each truncated).
        found: Vec<String>,
    },
    /// `aud` names a party other than the client that is not configured as trusted.
    #[error("ID token audience {audience:?} is not trusted")]
    UntrustedAudience {
        /// The first untrusted audience (truncated).
        audience: String,
    },
    /// `aud` has several values and `azp` is absent.
    #[error("ID token has several audiences and no azp")]
    MissingAzp,
    /// `azp` is present and is not the `client_id`.
    #[error("ID token azp {found:?} is not the client_id")]
    AzpMismatch {
        /// The `azp` received (truncated).
        found: String,
    },
    /// `exp` is in the past (beyond the clock skew).
    #[error("the ID token expired at {exp}")]
    Expired {
        /// `exp`, in seconds since the epoch.
        exp: i64,
    },
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the ID token is not valid before {nbf}")]
    NotYetValid {
        /// `nbf`, in seconds since the epoch.
        nbf: i64,
    },
    /// `iat` is in the future (beyond the clock skew).
    #[error("the ID token was issued in the future ({iat})")]
    IssuedInFuture {
        /// `iat`, in seconds since the epoch.
        iat: i64,
    },
    /// `iat` is older than the configured maximum age.
    #[error("the ID token was issued too long ago ({iat})")]
    IssuedTooLongAgo {
        /// `iat`, in seconds since the epoch.
        iat: i64,
    },
    /// The `auth_req_id` claim is required (push) and absent.
    #[error("the ID token has no {AUTH_REQ_ID_CLAIM} claim")]
    MissingAuthReqId,
    /// The `auth_req_id` claim differs from the expected `auth_req_id`.
    #[error("the ID token {AUTH_REQ_ID_CLAIM} claim does not match the auth_req_id")]
    AuthReqIdMismatch,
    /// `at_hash` is required (push, or by configuration) and absent.
    #[error("the ID token has no at_hash claim")]
    MissingAtHash,
    /// `at_hash` does not match the access token.
    #[error("the ID token at_hash does not match the access token")]
    AtHashMismatch,
    /// `rt_hash` is required (push with a refresh token) and absent.
    #[error("the ID token has no {RT_HASH_CLAIM} claim")]
    MissingRtHash,
    /// `rt_hash` does not match the refresh token.
    #[error("the ID token {RT_HASH_CLAIM} claim does not match the refresh token")]
    RtHashMismatch,
    /// `acr` is absent or not one of the expected values.
    #[error("the ID token acr {found:?} is not one of the expected values")]
    AcrNotAccepted {
        /// The `acr` received (truncated), if any.
        found: Option<String>,
    },
    /// `auth_time` is required and absent.
    #[error("the ID token has no auth_time claim")]
    MissingAuthTime,
    /// The hash of a token could not be computed.
    #[error("hashing failed: {0}")]
    Hash(#[source] JoseError),
}

impl IdTokenError {
    /// True when the token names a `kid` that no usable key of the JWK Set has: the one
    /// refusal a freshly fetched JWK Set can cure (the OP rotated its signing keys). A bad
    /// signature, a refused algorithm, a token without `kid`, an ambiguous choice or a broken
    /// key are not: fetching the set again would not change them.
    pub fn is_unknown_kid(&self) -> bool {
        matches!(
            self,
            IdTokenError::KeyUnavailable(JoseError::NoMatchingKey { kid: Some(_), .. })
        )
    }
}
