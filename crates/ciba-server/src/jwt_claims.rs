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
pub(crate) fn opt_time(
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
pub(crate) fn req_time(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<i64, ClaimError> {
    opt_time(claims, claim)?.ok_or(ClaimError::Missing { claim })
}

/// The time rules every JWT here is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Now, in seconds since the epoch.
    pub(crate) now: i64,
    /// Allowed clock difference, in seconds.
    pub(crate) skew: i64,
}

impl Clock {
    /// `exp` must be in the future (within the skew).
    pub(crate) fn check_exp(&self, exp: i64) -> Result<(), ClaimError> {
        if self.now.saturating_sub(self.skew) < exp {
            Ok(())
        } else {
            Err(ClaimError::Expired)
        }
    }

    /// `nbf` must not be in the future (within the skew).
    pub(crate) fn check_nbf(&self, nbf: i64) -> Result<(), ClaimError> {
        if nbf <= self.now.saturating_add(self.skew) {
            Ok(())
        } else {
            Err(ClaimError::NotYetValid)
        }
    }

    /// `iat` must not be in the future (within the skew).
    pub(crate) fn check_iat(&self, iat: i64) -> Result<(), ClaimError> {
        if iat <= self.now.saturating_add(self.skew) {
            Ok(())
        } else {
            Err(ClaimError::IssuedInFuture)
        }
    }
}

/// True when `aud` (a string or an array of strings) contains one of `accepted`. With
/// `single`, only a lone value equal to it is accepted (a string, or a one-element array).
pub(crate) fn audience_ok(claims: &Map<String, Value>, accepted: &[&str], single: bool) -> bool {
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn audience_may_be_a_string_or_an_array_of_strings() {
        let accepted = ["https://op.example"];
        assert!(audience_ok(
            &map(json!({"aud": "https://op.example"})),
            &accepted,
            false
        ));
        assert!(audience_ok(
            &map(json!({"aud": ["x", "https://op.example"]})),
            &accepted,
            false
        ));
        assert!(!audience_ok(
            &map(json!({"aud": ["x", "https://op.example"]})),
            &accepted,
            true
        ));
        assert!(!audience_ok(
            &map(json!({"aud": ["https://op.example", 1]})),
            &accepted,
            false
        ));
        assert!(!audience_ok(
            &map(json!({"aud": "other"})),
            &accepted,
            false
        ));
        assert!(!audience_ok(&map(json!({})), &accepted, false));
    }

    #[test]
    fn time_checks_allow_the_skew_and_no_more() {
        let c = Clock {
            now: 1000,
            skew: 30,
        };
        assert!(c.check_exp(1001).is_ok());
        assert!(c.check_exp(971).is_ok());
        assert_eq!(c.check_exp(970), Err(ClaimError::Expired));
        assert!(c.check_nbf(1030).is_ok());
        assert_eq!(c.check_nbf(1031), Err(ClaimError::NotYetValid));
        assert_eq!(c.check_iat(1031), Err(ClaimError::IssuedInFuture));
    }

    #[test]
    fn numeric_dates_accept_fractions_but_not_strings() {
        let m = map(json!({"a": 5.9, "b": "5", "c": 7}));
        assert_eq!(opt_time(&m, "a"), Ok(Some(5)));
        assert!(opt_time(&m, "b").is_err());
        assert_eq!(req_time(&m, "c"), Ok(7));
        assert_eq!(req_time(&m, "d"), Err(ClaimError::Missing { claim: "d" }));
    }

    #[test]
    fn fractional_dates_must_lie_within_a_quadrillion_seconds() {
        // Floats are accepted below 10^15 in magnitude (about 31 million years), which keeps
        // every accepted value exact in an i64 after truncation.
        let m = map(json!({
            "inside": 999_999_999_999_999.5, "edge": 1e15, "negative_edge": -1e15,
            "huge": 1e20, "negative_inside": -999_999_999_999_999.5,
        }));
        assert_eq!(opt_time(&m, "inside"), Ok(Some(999_999_999_999_999)));
        assert_eq!(
            opt_time(&m, "negative_inside"),
            Ok(Some(-999_999_999_999_999))
        );
        for claim in ["edge", "negative_edge", "huge"] {
            assert_eq!(
                opt_time(&m, claim),
                Err(ClaimError::Malformed { claim }),
                "{claim}"
            );
        }
    }
}
