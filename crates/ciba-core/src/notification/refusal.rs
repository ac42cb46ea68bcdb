//! Why a notification was refused, and the HTTP status each refusal is answered with.

use http::StatusCode;

use crate::error::ParseError;
use crate::id_token::IdTokenError;
use crate::token_response::TokenResponseError;

/// Why a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationRefusal {
    /// The method is not `POST`.
    #[error("notifications must be POSTed, got {method}")]
    MethodNotAllowed {
        /// The method received (truncated).
        method: String,
    },
    /// There is no `Authorization` header.
    #[error("the notification has no Authorization header")]
    MissingBearer,
    /// The `Authorization` header is not one well-formed `Bearer` credential.
    #[error("the notification's Authorization header is not a Bearer token")]
    MalformedAuthorization,
    /// The body is not a JSON object with an `auth_req_id`, or a pushed error payload is
    /// malformed.
    #[error(transparent)]
    Body(#[from] ParseError),
    /// No pending request has this `auth_req_id` (never issued, or already completed).
    #[error("the notification names an unknown or completed auth_req_id")]
    UnknownAuthReqId,
    /// The bearer token is not the `client_notification_token` of this request.
    #[error("the bearer token is not the one bound to this auth_req_id")]
    WrongToken,
    /// A push payload carries both tokens and an `error`.
    #[error("the push payload mixes tokens and an error")]
    MixedPayload,
    /// The pushed token response is malformed.
    #[error(transparent)]
    TokenResponse(#[from] TokenResponseError),
    /// The pushed ID token failed validation.
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
}

impl NotificationRefusal {
    /// The HTTP status answered for this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            NotificationRefusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            NotificationRefusal::MissingBearer
            | NotificationRefusal::MalformedAuthorization
            | NotificationRefusal::UnknownAuthReqId
            | NotificationRefusal::WrongToken => StatusCode::UNAUTHORIZED,
            NotificationRefusal::Body(_)
            | NotificationRefusal::MixedPayload
            | NotificationRefusal::TokenResponse(_)
            | NotificationRefusal::IdToken(_) => StatusCode::BAD_REQUEST,
        }
    }
}
