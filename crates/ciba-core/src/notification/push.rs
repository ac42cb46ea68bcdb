//! What an authenticated ping or push carries: the ping, and the push's tokens (validated) or
//! error payload.

use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::*;
use crate::ack::AuthReqId;
use crate::error::ParseError;
use crate::id_token::{IdTokenContext, IdTokenValidator};
use crate::limits::Limits;
use crate::oauth_error::{ErrorCode, error_members};
use crate::token_response::{TokenResponse, ValidatedTokens};

/// An authenticated ping: the result for `auth_req_id` is ready at the token endpoint (redeem it
/// once, for example with [`Poller::ping_received`](crate::poll::Poller::ping_received)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ping {
    /// The request the ping is about.
    pub auth_req_id: AuthReqId,
}

/// The `error` of a push error payload (CIBA Core 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushErrorCode {
    /// `access_denied`: the end-user denied the request.
    AccessDenied,
    /// `expired_token`: the request expired before the end-user decided.
    ExpiredToken,
    /// `transaction_failed`: the OP could not get a result.
    TransactionFailed,
    /// Any other code: a terminal failure of unknown meaning.
    Other(String),
}

/// A push error payload: the request ended without tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushError {
    /// The `error` code.
    pub code: PushErrorCode,
    /// `error_description`, if sent, cleaned of control characters and bounded
    /// ([`sanitize_text`](crate::wire::sanitize_text)).
    pub description: Option<String>,
    /// `error_uri`, if sent, cleaned the same way.
    pub uri: Option<String>,
}

/// What an authenticated push delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// Tokens whose ID token passed full validation.
    Tokens {
        /// The request they were issued for.
        auth_req_id: AuthReqId,
        /// The tokens and the ID token's claims.
        tokens: Box<ValidatedTokens>,
    },
    /// The request ended with an error (CIBA Core 12).
    Error {
        /// The request that ended.
        auth_req_id: AuthReqId,
        /// What the OP reported.
        error: PushError,
    },
}

impl Push {
    /// The request the delivery is about.
    pub fn auth_req_id(&self) -> &AuthReqId {
        match self {
            Push::Tokens { auth_req_id, .. } | Push::Error { auth_req_id, .. } => auth_req_id,
        }
    }
}

impl fmt::Display for PushErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushErrorCode::AccessDenied => "access_denied",
            PushErrorCode::ExpiredToken => "expired_token",
            PushErrorCode::TransactionFailed => "transaction_failed",
            PushErrorCode::Other(code) => code,
        })
    }
}

/// Members that make a push payload a token delivery.
pub(super) const TOKEN_MEMBERS: [&str; 5] = [
    "access_token",
    "token_type",
    "id_token",
    "refresh_token",
    "expires_in",
];

pub(super) fn push_payload(
    auth_req_id: AuthReqId,
    mut map: Map<String, Value>,
    raw: &[u8],
    validator: &IdTokenValidator,
    now: SystemTime,
    limits: &Limits,
) -> Result<Push, NotificationRefusal> {
    map.remove("auth_req_id");
    if map.contains_key("error") {
        if TOKEN_MEMBERS.iter().any(|m| map.contains_key(*m)) {
            return Err(NotificationRefusal::MixedPayload);
        }
        let (code, description, uri) = error_members(&map)
            .map_err(|kind| ParseError::new(kind, raw, limits.max_body_bytes))?;
        let code = match code {
            ErrorCode::AccessDenied => PushErrorCode::AccessDenied,
            ErrorCode::ExpiredToken => PushErrorCode::ExpiredToken,
            ErrorCode::TransactionFailed => PushErrorCode::TransactionFailed,
            other => PushErrorCode::Other(other.as_str().to_owned()),
        };
        return Ok(Push::Error {
            auth_req_id,
            error: PushError {
                code,
                description,
                uri,
            },
        });
    }
    let response = TokenResponse::from_members(map, raw, None, limits)?;
    let ctx = IdTokenContext::push(auth_req_id.as_str(), "", None);
    let tokens = response.validate(validator, &ctx, now)?;
    Ok(Push::Tokens {
        auth_req_id,
        tokens: Box::new(tokens),
    })
}
