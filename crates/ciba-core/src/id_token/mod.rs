//! ID token validation (OpenID Connect Core 3.1.3.7) with the CIBA additions (CIBA Core 10.3.1
//! and the `urn:openid:params:jwt:claim:*` claims).
//!
//! An [`IdTokenValidator`] holds what does not change between tokens: the issuer, the
//! `client_id`, the OP's JWK Set (fetched by the caller's transport), the algorithm allow-list and
//! the time rules. [`IdTokenValidator::validate`] checks one token against an [`IdTokenContext`]
//! (the `auth_req_id` and the tokens it came with) at the caller's `now`, and returns the
//! [`IdTokenClaims`] or the first [`IdTokenError`] found.
//!
//! The signature is always verified, for every delivery mode: OpenID Connect would let a poll or
//! ping client rely on TLS instead, but FAPI-CIBA does not, and push mode never may. Keys come
//! only from the configured JWK Set: `jwk`, `jku`, `x5u` and `x5c` headers are ignored, never
//! fetched or trusted. `none` cannot be allowed, and HMAC algorithms are accepted only when the
//! client registered one explicitly as `id_token_signed_response_alg` and configured its secret.

pub(crate) mod claims;
mod context;
mod error;
pub(crate) mod validator;

use std::time::Duration;

pub use claims::IdTokenClaims;
pub use context::{IdTokenContext, IdTokenSource};
pub use error::{DecryptError, IdTokenDecrypter, IdTokenError};
pub use validator::IdTokenValidator;

/// The claim carrying the `auth_req_id` an ID token was issued for (CIBA Core 10.3.1).
pub const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";
/// The claim carrying the hash of the refresh token delivered with the ID token (CIBA Core
/// 10.3.1).
pub const RT_HASH_CLAIM: &str = "urn:openid:params:jwt:claim:rt_hash";
/// Default clock skew tolerated on `exp`, `iat` and `nbf`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Default maximum age of `iat`: ID tokens are minted when delivered, so an old one is stale or
/// replayed.
pub const DEFAULT_MAX_IAT_AGE: Duration = Duration::from_secs(600);
