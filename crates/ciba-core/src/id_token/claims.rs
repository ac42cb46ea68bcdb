//! The claims of a validated ID token, and the readers that take each claim out of the payload
//! with its JSON type checked.

use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::*;
use crate::jose::JwsAlgorithm;

/// The claims of a validated ID token.
///
/// Its `Debug` form redacts the `auth_req_id` claim, like [`AuthReqId`](crate::AuthReqId)
/// does.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// `aud`, as a list even when sent as a single string.
    pub aud: Vec<String>,
    /// `exp`.
    pub exp: SystemTime,
    /// `iat`.
    pub iat: SystemTime,
    /// `auth_time`, if sent.
    pub auth_time: Option<SystemTime>,
    /// `azp`, if sent.
    pub azp: Option<String>,
    /// `acr`, if sent.
    pub acr: Option<String>,
    /// `amr`, if sent.
    pub amr: Option<Vec<String>>,
    /// `at_hash`, if sent.
    pub at_hash: Option<String>,
    /// `urn:openid:params:jwt:claim:rt_hash`, if sent.
    pub rt_hash: Option<String>,
    /// `urn:openid:params:jwt:claim:auth_req_id`, if sent.
    pub auth_req_id: Option<String>,
    /// The algorithm the token was signed with.
    pub alg: JwsAlgorithm,
    /// The `kid` header, if sent.
    pub kid: Option<String>,
    /// Every other claim, as sent.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("auth_time", &self.auth_time)
            .field("azp", &self.azp)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .field("at_hash", &self.at_hash)
            .field("rt_hash", &self.rt_hash)
            .field(
                "auth_req_id",
                &self.auth_req_id.as_ref().map(|_| "<redacted>"),
            )
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("extra", &self.extra)
            .finish()
    }
}

/// Removes and returns an optional string claim; `null` counts as absent.
pub(super) fn take_str(
    claims: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<String>, IdTokenError> {
    match claims.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdTokenError::InvalidClaim {
            claim,
            reason: "not a string",
        }),
    }
}

/// Removes and returns an optional NumericDate claim (a JSON number; fractions are truncated).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn take_date(
    claims: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, IdTokenError> {
    let bad = IdTokenError::InvalidClaim {
        claim,
        reason: "not a NumericDate",
    };
    match claims.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            // Floats beyond this are not dates any clock will reach; refuse rather than saturate.
            (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
            _ => Err(bad),
        },
        Some(_) => Err(bad),
    }
}

/// Removes and returns `aud`: a non-empty string or a non-empty array of strings.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn take_audience(claims: &mut Map<String, Value>) -> Result<Vec<String>, IdTokenError> {
    let bad = |reason| IdTokenError::InvalidClaim {
        claim: "aud",
        reason,
    };
    match claims.remove("aud") {
        None | Some(Value::Null) => Err(IdTokenError::MissingClaim { claim: "aud" }),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(bad("empty array"));
            }
            items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(bad("array member is not a string")),
                })
                .collect()
        }
        Some(_) => Err(bad("not a string or an array of strings")),
    }
}

/// Removes and returns an optional array-of-strings claim.
pub(super) fn take_string_list(
    claims: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<Vec<String>>, IdTokenError> {
    let bad = IdTokenError::InvalidClaim {
        claim,
        reason: "not an array of strings",
    };
    match claims.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad.clone()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad),
    }
}
