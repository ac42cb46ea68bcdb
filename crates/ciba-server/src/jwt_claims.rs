//! Claim checks shared by client assertions, signed authentication requests and ID token
//! hints.

use serde_json::{Map, Value};

/// A JWT claim is missing, malformed or unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// A required claim is absent.
    #[error("the {claim} claim is required")]
    Missing {
        /// The claim name.
        claim: &'static str,
    },
    /// A claim has the wrong type or an empty value.
    #[error("the {claim} claim is malformed")]
    Malformed {
        /// The claim name.
        claim: &'static str,
    },
    /// `exp` has passed.
    #[error("the JWT has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the JWT is not valid yet")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("the JWT was issued in the future")]
    IssuedInFuture,
    /// The JWT is valid for longer than allowed.
    #[error("the JWT lifetime exceeds {max_secs} seconds")]
    LifetimeTooLong {
        /// The maximum in seconds.
        max_secs: u64,
    },
    /// `aud` does not name this server as required.
    #[error("the aud claim does not identify this server")]
    AudienceMismatch,
    /// `iss` is not the expected value.
    #[error("the iss claim is not the expected issuer")]
    IssuerMismatch,
    /// `sub` is not the expected value (or, for request objects, is the client id).
    #[error("the sub claim is not acceptable")]
    SubjectMismatch,
    /// The `jti` was seen before.
    #[error("the jti has been used before")]
    Replayed,
    /// The `nbf` claim is further in the past than the profile allows (FAPI-CIBA: 60
    /// minutes).
    #[error("the nbf claim is more than {max_secs} seconds in the past")]
    NotBeforeTooOld {
        /// The limit.
        max_secs: u64,
    },
}

/// An optional string claim; present but not a non-empty string is an error.
pub(crate) fn opt_string<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'a str>, ClaimError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(ClaimError::Malformed { claim }),
    }
}

/// A required string claim.
pub(crate) fn req_string<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<&'a str, ClaimError> {
    opt_string(claims, claim)?.ok_or(ClaimError::Missing { claim })
}

/// An optional NumericDate claim (fractions are truncated).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn opt_time(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, ClaimError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
                    _ => Err(ClaimError::Malformed { claim }),
                }
            }
        }
        Some(_) => Err(ClaimError::Malformed { claim }),
    }
}

/// A required NumericDate claim.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn req_time(claims: &Map<String, Value>, claim: &'static str) -> Result<i64, ClaimError> {
    opt_time(claims, claim)?.ok_or(ClaimError::Missing { claim })
}

/// The time rules every JWT here is held to.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Now, in seconds since the epoch.
    pub now: i64,
    /// Allowed clock difference, in seconds.
    pub skew: i64,
}

#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
impl Clock {
    /// `exp` must be in the future (within the skew).
    pub fn check_exp(&self, exp: i64) -> Result<(), ClaimError> {
        if self.now.saturating_sub(self.skew) < exp {
            Ok(())
        } else {
            Err(ClaimError::Expired)
        }
    }

    /// `nbf` must not be in the future (within the skew).
    pub fn check_nbf(&self, nbf: i64) -> Result<(), ClaimError> {
        if nbf <= self.now.saturating_add(self.skew) {
            Ok(())
        } else {
            Err(ClaimError::NotYetValid)
        }
    }

    /// `iat` must not be in the future (within the skew).
    pub fn check_iat(&self, iat: i64) -> Result<(), ClaimError> {
        if iat <= self.now.saturating_add(self.skew) {
            Ok(())
        } else {
            Err(ClaimError::IssuedInFuture)
        }
    }
}

/// True when `aud` (a string or an array of strings) contains one of `accepted`. With
/// `single`, only a lone value equal to it is accepted (a string, or a one-element array).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn audience_ok(claims: &Map<String, Value>, accepted: &[&str], single: bool) -> bool {
    match claims.get("aud") {
        Some(Value::String(s)) => accepted.contains(&s.as_str()),
        Some(Value::Array(items)) => {
            if items.is_empty() || !items.iter().all(Value::is_string) {
                return false;
            }
            if single && items.len() != 1 {
                return false;
            }
            items
                .iter()
                .filter_map(Value::as_str)
                .any(|a| accepted.contains(&a))
        }
        _ => false,
    }
}
