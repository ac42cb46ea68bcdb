//! [`AuthReqId`]: the identifier the server mints for each backchannel authentication
//! request (CIBA Core section 7.3), as the store, the token endpoint and the notifications
//! carry it.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use ciba_core::random::{IDENTIFIER_BYTES, Random, RandomError, random_identifier};
use ciba_core::wire::ct_eq;
use serde::{Deserialize, Serialize};

/// An `auth_req_id` the server minted.
///
/// Until it is redeemed, whoever holds it (with the client's credentials) can take the
/// tokens at the token endpoint, so it is handled like a bearer credential:
///
/// - `Debug` prints `AuthReqId(<redacted>, N bytes)`: no character of the value, only its
///   length. Logs that need to tell requests apart use the short hash of
///   [`observe`](crate::observe), which cannot be redeemed; a prefix of the value would add
///   nothing but a piece of the secret.
/// - There is no `Display`: [`AuthReqId::as_str`] gives the value where it is really needed
///   (the response body, a notification, a store key).
/// - `==` compares in constant time. `Hash` hashes the value (a map key, not a comparison).
///
/// Serde reads and writes it as a plain string (the stores' records), without checks: what
/// a store reads back is what the server wrote.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthReqId(String);

/// Why a text is not an `auth_req_id` ([`AuthReqId::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthReqIdError {
    /// The text is empty.
    #[error("the auth_req_id is empty")]
    Empty,
    /// The text is longer than the bound given to [`AuthReqId::parse`].
    #[error("the auth_req_id is longer than {max_bytes} bytes")]
    TooLong {
        /// The bound.
        max_bytes: usize,
    },
    /// A character other than `A-Z a-z 0-9 . - _` (CIBA Core section 7.3).
    #[error("the auth_req_id holds a character other than A-Z a-z 0-9 . - _")]
    InvalidCharacter,
}

impl AuthReqId {
    /// Length in characters of a minted identifier: [`IDENTIFIER_BYTES`] (20, that is 160
    /// random bits) in unpadded base64url.
    pub const MINTED_LEN: usize = 27;

    /// The bound [`FromStr`] and `TryFrom<&str>` apply: the default of
    /// [`RequestLimits::max_value_bytes`](crate::RequestLimits::max_value_bytes).
    pub const DEFAULT_MAX_BYTES: usize = 2048;

    /// Mints a new identifier from `rng`: [`IDENTIFIER_BYTES`] random bytes (160 bits) in
    /// unpadded base64url, [`AuthReqId::MINTED_LEN`] characters.
    pub fn mint(rng: &dyn Random) -> Result<AuthReqId, RandomError> {
        random_identifier(rng, IDENTIFIER_BYTES).map(AuthReqId)
    }

    /// Checks a text received from a peer (the token request's `auth_req_id`, a device's
    /// decision): non-empty, at most `max_bytes` bytes, only `A-Z a-z 0-9 . - _`.
    pub fn parse(value: &str, max_bytes: usize) -> Result<AuthReqId, AuthReqIdError> {
        if value.is_empty() {
            return Err(AuthReqIdError::Empty);
        }
        if value.len() > max_bytes {
            return Err(AuthReqIdError::TooLong { max_bytes });
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        {
            return Err(AuthReqIdError::InvalidCharacter);
        }
        Ok(AuthReqId(value.to_owned()))
    }

    /// Wraps a value read back from storage (a store's row or key), without checks: only for
    /// values the server minted and stored earlier. A value received from a peer goes
    /// through [`AuthReqId::parse`].
    pub fn from_stored(value: impl Into<String>) -> AuthReqId {
        AuthReqId(value.into())
    }

    /// The value, for the wire and for store keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for AuthReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthReqId(<redacted>, {} bytes)", self.0.len())
    }
}

impl PartialEq for AuthReqId {
    fn eq(&self, other: &AuthReqId) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for AuthReqId {}

impl PartialEq<str> for AuthReqId {
    fn eq(&self, other: &str) -> bool {
        ct_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl PartialEq<&str> for AuthReqId {
    fn eq(&self, other: &&str) -> bool {
        ct_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl Hash for AuthReqId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl FromStr for AuthReqId {
    type Err = AuthReqIdError;

    /// [`AuthReqId::parse`] with [`AuthReqId::DEFAULT_MAX_BYTES`].
    fn from_str(value: &str) -> Result<AuthReqId, AuthReqIdError> {
        AuthReqId::parse(value, AuthReqId::DEFAULT_MAX_BYTES)
    }
}

impl TryFrom<&str> for AuthReqId {
    type Error = AuthReqIdError;

    /// [`AuthReqId::parse`] with [`AuthReqId::DEFAULT_MAX_BYTES`].
    fn try_from(value: &str) -> Result<AuthReqId, AuthReqIdError> {
        AuthReqId::parse(value, AuthReqId::DEFAULT_MAX_BYTES)
    }
}
