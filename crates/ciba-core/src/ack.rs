//! The OP's answer to a backchannel authentication request (CIBA Core 7.3, 7.4 and 13).
//!
//! [`AuthRequestAck::from_response`] turns the HTTP response into either the acknowledgement
//! (`auth_req_id`, `expires_in`, `interval`) or a typed error:
//!
//! - 4xx and 5xx: [`Error::OAuth`] with the `error` code, description, URI,
//!   status and any `WWW-Authenticate` challenges (CIBA 13);
//! - any other status but 200 (including redirects, which are never followed):
//!   [`ParseErrorKind::UnexpectedStatus`];
//! - a 200 whose body is not the JSON object CIBA 7.3 describes: a [`ParseError`] that keeps
//!   the raw bytes.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::body::{
    APPLICATION_JSON, check_content_type, parse_json_object, req_str, whole_seconds,
};
use crate::error::{Error, ParseError, ParseErrorKind};
use crate::limits::Limits;
use crate::oauth_error::OAuthError;
use crate::wire::ct_eq;

/// The polling interval a client must use when the OP sends none (CIBA 7.3).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// An `auth_req_id`: the opaque handle of one authentication request.
///
/// It is never parsed or re-encoded. Whoever holds it (with the client's credentials) can
/// redeem the tokens, so it is treated like a bearer token:
///
/// - `Debug` shows at most its first 4 characters, and only when it is at least 24 bytes long
///   (so at least 20 stay hidden), followed by its length; shorter values are fully redacted.
///   There is no `Display`: use [`AuthReqId::as_str`] where the value is really needed.
/// - Equality compares in constant time.
/// - The value is wiped from memory when the `AuthReqId` (or a clone) is dropped.
#[derive(Clone)]
pub struct AuthReqId(Zeroizing<String>);

impl AuthReqId {
    /// Wraps a value without checks (for example one read back from the caller's storage).
    pub fn new(value: impl Into<String>) -> AuthReqId {
        AuthReqId(Zeroizing::new(value.into()))
    }

    /// Checks a value received from a peer: a non-empty string of at most
    /// `limits.max_auth_req_id_bytes` bytes.
    pub fn from_wire(value: String, limits: &Limits) -> Result<AuthReqId, ParseErrorKind> {
        if value.is_empty() {
            return Err(ParseErrorKind::InvalidMember {
                member: "auth_req_id",
                reason: "empty string",
            });
        }
        if value.len() > limits.max_auth_req_id_bytes {
            return Err(ParseErrorKind::InvalidMember {
                member: "auth_req_id",
                reason: "longer than the configured limit",
            });
        }
        Ok(AuthReqId(Zeroizing::new(value)))
    }

    /// The value, exactly as the OP sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as an owned string (no longer wiped on drop: it is the caller's now).
    pub fn into_string(mut self) -> String {
        std::mem::take(&mut *self.0)
    }
}

impl fmt::Debug for AuthReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.0.len();
        let prefix: String = self.0.chars().take(4).collect();
        if len >= 24 {
            write!(f, "AuthReqId({prefix}..., {len} bytes)")
        } else {
            write!(f, "AuthReqId(<redacted>, {len} bytes)")
        }
    }
}

impl PartialEq for AuthReqId {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for AuthReqId {}

impl Hash for AuthReqId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

/// A successful acknowledgement (CIBA 7.3), with the absolute times the client needs to keep
/// (CIBA 7.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthRequestAck {
    /// The request's handle, for polling and for matching ping and push callbacks.
    pub auth_req_id: AuthReqId,
    /// `expires_in`: how long the request lives, counted from when it was received.
    pub expires_in: Duration,
    /// `interval`, or [`DEFAULT_INTERVAL`] when the OP sent none.
    pub interval: Duration,
    /// Whether the OP sent `interval` itself.
    pub interval_sent: bool,
    /// The `now` given to [`AuthRequestAck::from_response`].
    pub received_at: SystemTime,
    /// `received_at + expires_in`: stop polling, or forget the request, after this.
    pub expires_at: SystemTime,
}

impl AuthRequestAck {
    /// Processes the backchannel endpoint's response, received at `now`.
    ///
    /// Success needs status 200, an `application/json` content type and a JSON object without
    /// repeated members, holding `auth_req_id` (a non-empty string within
    /// `limits.max_auth_req_id_bytes`) and `expires_in` (a JSON number of at least one whole
    /// second); `interval`, when present, must be such a number too. A number written with a
    /// fraction part or an exponent (`120.0`, `1.2e2`, `5.9`) is rounded down to whole seconds
    /// (RFC 8259 numbers; what is left must still be positive). Strings, zero, negatives and
    /// `null` are refused. An `expires_in` above `limits.max_ack_expires_in` (one day by
    /// default) is shortened to it. Unknown members are ignored.
    pub fn from_response(
        resp: &http::Response<Vec<u8>>,
        now: SystemTime,
        limits: &Limits,
    ) -> Result<AuthRequestAck, Error> {
        let status = resp.status();
        let body = resp.body();
        if status.is_client_error() || status.is_server_error() {
            return Err(match OAuthError::from_response(resp, limits) {
                Ok(e) => e.into(),
                Err(e) => e.into(),
            });
        }
        let fail = |kind| ParseError::new(kind, body, limits.max_body_bytes);
        if status != http::StatusCode::OK {
            return Err(fail(ParseErrorKind::UnexpectedStatus {
                status: status.as_u16(),
            })
            .into());
        }
        check_content_type(resp.headers(), APPLICATION_JSON, body, limits)?;
        let map = parse_json_object(body, limits)?;
        Self::from_members(&map, now, limits).map_err(|kind| fail(kind).into())
    }

    fn from_members(
        map: &Map<String, Value>,
        now: SystemTime,
        limits: &Limits,
    ) -> Result<AuthRequestAck, ParseErrorKind> {
        let auth_req_id = AuthReqId::from_wire(req_str(map, "auth_req_id")?, limits)?;
        let expires_in = positive_seconds(map, "expires_in")?
            .ok_or(ParseErrorKind::MissingMember {
                member: "expires_in",
            })?
            .min(limits.max_ack_expires_in);
        let sent_interval = positive_seconds(map, "interval")?;
        let expires_at = now
            .checked_add(expires_in)
            .ok_or(ParseErrorKind::InvalidMember {
                member: "expires_in",
                reason: "too large",
            })?;
        Ok(AuthRequestAck {
            auth_req_id,
            expires_in,
            interval: sent_interval.unwrap_or(DEFAULT_INTERVAL),
            interval_sent: sent_interval.is_some(),
            received_at: now,
            expires_at,
        })
    }

    /// True once `now` is at or past [`AuthRequestAck::expires_at`].
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    /// Time left before expiry at `now` (zero once expired).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
    }
}

/// An optional member that must be a JSON number of at least one whole second when present
/// (`null` included: it is present and not a number); see [`whole_seconds`].
fn positive_seconds(
    map: &Map<String, Value>,
    member: &'static str,
) -> Result<Option<Duration>, ParseErrorKind> {
    match map.get(member) {
        None => Ok(None),
        Some(Value::Number(n)) => match whole_seconds(n) {
            Some(v) if v > 0 => Ok(Some(Duration::from_secs(v))),
            _ => Err(ParseErrorKind::InvalidMember {
                member,
                reason: "not a positive number of seconds",
            }),
        },
        Some(_) => Err(ParseErrorKind::InvalidMember {
            member,
            reason: "not a number",
        }),
    }
}
