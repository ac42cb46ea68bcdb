//! The client notification endpoint: ping (CIBA Core 10.2) and push (10.3, 10.3.1, 12).
//!
//! The transport hands over the incoming `http::Request<Vec<u8>>`; [`receive_ping`] or
//! [`receive_push`] decides, and returns a [`NotificationOutcome`]: what the notification carried
//! (or why it was refused) together with the `http::Response<Vec<u8>>` to send back. The answers
//! are:
//!
//! | situation | status |
//! |---|---|
//! | accepted (ping, pushed tokens, pushed error) | 204 |
//! | method other than `POST` | 405 with `Allow: POST` |
//! | missing or malformed `Authorization: Bearer`, unknown `auth_req_id`, wrong token | 401 with `WWW-Authenticate: Bearer error="invalid_token"` |
//! | not `application/json`, body not a JSON object, no `auth_req_id`, a malformed push payload, pushed tokens that fail validation | 400 |
//!
//! No answer is ever a redirect.
//!
//! # The order of the checks, and keys only at the end
//!
//! Method, then the `Authorization: Bearer` syntax, then the body (JSON object with an
//! `auth_req_id`), then the binding: the bearer token must be the one of that `auth_req_id`.
//! Only a push that passed all of these, and that delivers tokens, needs the OP's JWK Set. The
//! steps are public so that a receiver can act between them:
//!
//! 1. [`bearer_token`] reads the credential from the headers alone, before the body is read
//!    (a receiver can refuse a request without one, or whose token it holds for no request,
//!    without reading a byte of body);
//! 2. [`authenticate_notification`] runs every check that needs no key and returns an
//!    [`AuthenticatedNotification`];
//! 3. [`AuthenticatedNotification::ping`], or [`AuthenticatedNotification::push`] with an
//!    [`IdTokenValidator`]: only now does a receiver that fetches keys on demand need them,
//!    and only when [`AuthenticatedNotification::is_token_delivery`] says so;
//! 4. [`NotificationOutcome::from_result`] pairs the result with the response to send.
//!
//! [`receive_ping`] and [`receive_push`] run the steps in one call.
//!
//! # The binding lookup, and duplicate deliveries
//!
//! The caller keeps, for every request still pending, the `client_notification_token` it sent
//! with it, and exposes them through [`NotificationTokens`] (a closure
//! `Fn(&str) -> Option<String>` will do). The bearer token is compared in constant time with the
//! one bound to the body's `auth_req_id`, so a token is only good for its own request.
//!
//! Contract: once a request is completed (tokens received, or a terminal error), the caller
//! **removes its binding**. A second delivery for the same `auth_req_id` (the OP retrying, or a
//! replay) then finds no binding and gets a 401; it can never start a second token redemption
//! or deliver a second set of tokens.

use std::fmt;
use std::time::SystemTime;

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::ack::AuthReqId;
use crate::body::{APPLICATION_JSON, check_content_type, parse_json_object, req_str};
use crate::ct::ct_eq;
use crate::error::ParseError;
use crate::id_token::{IdTokenContext, IdTokenError, IdTokenValidator};
use crate::limits::Limits;
use crate::oauth_error::{ErrorCode, error_members};
use crate::token_response::{TokenResponse, TokenResponseError, ValidatedTokens};

/// Looks up the `client_notification_token` bound to a pending `auth_req_id`. The returned copy
/// is wiped from memory once compared.
pub trait NotificationTokens {
    /// The token sent with the authentication request that returned `auth_req_id`, while that
    /// request is pending; `None` for unknown or completed requests.
    fn client_notification_token(&self, auth_req_id: &str) -> Option<String>;
}

impl<F> NotificationTokens for F
where
    F: Fn(&str) -> Option<String>,
{
    fn client_notification_token(&self, auth_req_id: &str) -> Option<String> {
        self(auth_req_id)
    }
}

/// Why a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
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

impl NotificationError {
    /// The HTTP status answered for this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            NotificationError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            NotificationError::MissingBearer
            | NotificationError::MalformedAuthorization
            | NotificationError::UnknownAuthReqId
            | NotificationError::WrongToken => StatusCode::UNAUTHORIZED,
            NotificationError::Body(_)
            | NotificationError::MixedPayload
            | NotificationError::TokenResponse(_)
            | NotificationError::IdToken(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// The result of processing one notification, and the response to send back.
#[derive(Debug)]
pub struct NotificationOutcome<T> {
    /// What the notification carried, or why it was refused.
    pub result: Result<T, NotificationError>,
    /// The HTTP response to send (204, 400, 401 or 405; never 3xx).
    pub response: http::Response<Vec<u8>>,
}

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
#[non_exhaustive]
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
    /// ([`sanitize_text`](crate::oauth_error::sanitize_text)).
    pub description: Option<String>,
    /// `error_uri`, if sent, cleaned the same way.
    pub uri: Option<String>,
}

/// What an authenticated push delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

impl<T> NotificationOutcome<T> {
    /// Pairs `result` with the response it calls for: 204 when accepted, otherwise the status
    /// of [`NotificationError::status`] (401 with `WWW-Authenticate: Bearer
    /// error="invalid_token"`, 405 with `Allow: POST`, 400 with an `invalid_request` body).
    pub fn from_result(result: Result<T, NotificationError>) -> NotificationOutcome<T> {
        finish(result)
    }
}

/// A ping or push whose bearer token is the `client_notification_token` bound to its
/// `auth_req_id` (see [`authenticate_notification`]); its payload is not interpreted yet.
/// `Debug` shows the `auth_req_id` (redacted) and the names of the body's members only.
pub struct AuthenticatedNotification<'r> {
    auth_req_id: AuthReqId,
    body: Map<String, Value>,
    raw: &'r [u8],
}

impl fmt::Debug for AuthenticatedNotification<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedNotification")
            .field("auth_req_id", &self.auth_req_id)
            .field("members", &self.body.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AuthenticatedNotification<'_> {
    /// The request the notification is about.
    pub fn auth_req_id(&self) -> &AuthReqId {
        &self.auth_req_id
    }

    /// True when the body delivers tokens (a push with any token member and no `error`): the
    /// only case in which [`AuthenticatedNotification::push`] uses the validator's keys.
    pub fn is_token_delivery(&self) -> bool {
        !self.body.contains_key("error") && TOKEN_MEMBERS.iter().any(|m| self.body.contains_key(*m))
    }

    /// Reads it as a ping (CIBA Core 10.2): other body members are ignored.
    pub fn ping(self) -> Ping {
        Ping {
            auth_req_id: self.auth_req_id,
        }
    }

    /// Reads it as a push (CIBA Core 10.3, 12) received at `now`: an error payload, or a token
    /// response whose ID token `validator` checks fully (see [`receive_push`]).
    pub fn push(
        self,
        validator: &IdTokenValidator,
        now: SystemTime,
        limits: &Limits,
    ) -> Result<Push, NotificationError> {
        push_payload(
            self.auth_req_id,
            self.body,
            self.raw,
            validator,
            now,
            limits,
        )
    }
}

/// Runs every check a ping or push needs before its payload: the method is `POST`; there is
/// one `Authorization: Bearer` header (scheme in any case; see [`bearer_token`]); the body is
/// `application/json`, a JSON object with an `auth_req_id`; and the bearer token equals, in
/// constant time, the `client_notification_token` `tokens` holds for that `auth_req_id`. No key
/// is needed.
pub fn authenticate_notification<'r>(
    req: &'r http::Request<Vec<u8>>,
    tokens: &dyn NotificationTokens,
    limits: &Limits,
) -> Result<AuthenticatedNotification<'r>, NotificationError> {
    let (auth_req_id, body) = authenticate(req, tokens, limits)?;
    Ok(AuthenticatedNotification {
        auth_req_id,
        body,
        raw: req.body(),
    })
}

/// Processes a ping notification (CIBA Core 10.2): a `POST` with `Authorization: Bearer` (scheme
/// in any case) carrying the `client_notification_token` bound to the body's `auth_req_id`, and
/// a JSON body whose other members are ignored.
pub fn receive_ping(
    req: &http::Request<Vec<u8>>,
    tokens: &dyn NotificationTokens,
    limits: &Limits,
) -> NotificationOutcome<Ping> {
    finish(authenticate_notification(req, tokens, limits).map(AuthenticatedNotification::ping))
}

/// Processes a push notification (CIBA Core 10.3, 12) received at `now`.
///
/// After the checks of [`receive_ping`], the body is either an error payload (`error`, with
/// `error_description` and `error_uri` optional, and no token members) or a token response
/// whose ID token is fully validated with `validator`: signature, the
/// `urn:openid:params:jwt:claim:auth_req_id` claim equal to the body's `auth_req_id`, `at_hash`
/// present and matching the access token, and `urn:openid:params:jwt:claim:rt_hash` present and
/// matching when a refresh token is delivered.
pub fn receive_push(
    req: &http::Request<Vec<u8>>,
    tokens: &dyn NotificationTokens,
    validator: &IdTokenValidator,
    now: SystemTime,
    limits: &Limits,
) -> NotificationOutcome<Push> {
    let result =
        authenticate_notification(req, tokens, limits).and_then(|n| n.push(validator, now, limits));
    finish(result)
}

/// Members that make a push payload a token delivery.
const TOKEN_MEMBERS: [&str; 5] = [
    "access_token",
    "token_type",
    "id_token",
    "refresh_token",
    "expires_in",
];

fn push_payload(
    auth_req_id: AuthReqId,
    mut map: Map<String, Value>,
    raw: &[u8],
    validator: &IdTokenValidator,
    now: SystemTime,
    limits: &Limits,
) -> Result<Push, NotificationError> {
    map.remove("auth_req_id");
    if map.contains_key("error") {
        if TOKEN_MEMBERS.iter().any(|m| map.contains_key(*m)) {
            return Err(NotificationError::MixedPayload);
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

/// The checks common to ping and push: method, bearer syntax, body, binding. Returns the
/// `auth_req_id` and the whole body object.
fn authenticate(
    req: &http::Request<Vec<u8>>,
    tokens: &dyn NotificationTokens,
    limits: &Limits,
) -> Result<(AuthReqId, Map<String, Value>), NotificationError> {
    if req.method() != Method::POST {
        return Err(NotificationError::MethodNotAllowed {
            method: req.method().as_str().chars().take(32).collect(),
        });
    }
    let bearer = bearer_token(req.headers(), limits)?;
    let body = req.body();
    check_content_type(req.headers(), APPLICATION_JSON, body, limits)?;
    let map = parse_json_object(body, limits)?;
    let fail = |kind| ParseError::new(kind, body, limits.max_body_bytes);
    let id = req_str(&map, "auth_req_id").map_err(fail)?;
    let auth_req_id = AuthReqId::from_wire(id, limits).map_err(fail)?;
    let expected = tokens
        .client_notification_token(auth_req_id.as_str())
        .map(Zeroizing::new)
        .ok_or(NotificationError::UnknownAuthReqId)?;
    if !ct_eq(bearer.as_bytes(), expected.as_bytes()) {
        return Err(NotificationError::WrongToken);
    }
    Ok((auth_req_id, map))
}

/// The token of the single `Authorization: Bearer <token>` header (RFC 6750 2.1; the scheme is
/// case-insensitive), read from the headers alone: a receiver can call it before it reads the
/// body. [`NotificationError::MissingBearer`] without the header,
/// [`NotificationError::MalformedAuthorization`] for a repeated, oversize or non-Bearer one.
/// Whether the token is the right one is for [`authenticate_notification`] to say.
pub fn bearer_token<'h>(
    headers: &'h http::HeaderMap,
    limits: &Limits,
) -> Result<&'h str, NotificationError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(NotificationError::MissingBearer)?;
    if values.next().is_some() || value.len() > limits.max_header_bytes {
        return Err(NotificationError::MalformedAuthorization);
    }
    let text = value
        .to_str()
        .map_err(|_| NotificationError::MalformedAuthorization)?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or(NotificationError::MalformedAuthorization)?;
    let token = token.trim_matches(' ');
    if !scheme.eq_ignore_ascii_case("Bearer") || token.is_empty() || token.contains(' ') {
        return Err(NotificationError::MalformedAuthorization);
    }
    Ok(token)
}

fn finish<T>(result: Result<T, NotificationError>) -> NotificationOutcome<T> {
    let response = match &result {
        Ok(_) => respond(StatusCode::NO_CONTENT, None, Vec::new()),
        Err(e) => error_response(e),
    };
    NotificationOutcome { result, response }
}

fn error_response(e: &NotificationError) -> http::Response<Vec<u8>> {
    let status = e.status();
    match status {
        StatusCode::UNAUTHORIZED => respond(
            status,
            Some((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            )),
            Vec::new(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => respond(
            status,
            Some((header::ALLOW, HeaderValue::from_static("POST"))),
            Vec::new(),
        ),
        _ => {
            let body = br#"{"error":"invalid_request"}"#.to_vec();
            let mut r = respond(status, None, body);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(APPLICATION_JSON),
            );
            r
        }
    }
}

fn respond(
    status: StatusCode,
    extra: Option<(header::HeaderName, HeaderValue)>,
    body: Vec<u8>,
) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some((name, value)) = extra {
        h.insert(name, value);
    }
    r
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn headers(auth: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for a in auth {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(
            bearer_token(&headers(&["bEaReR abc"]), &Limits::DEFAULT).unwrap(),
            "abc"
        );
    }

    #[test]
    fn other_schemes_and_repeated_headers_are_malformed() {
        for h in [
            headers(&["Basic abc"]),
            headers(&["Bearer"]),
            headers(&["Bearer a b"]),
            headers(&["Bearer a", "Bearer a"]),
        ] {
            assert_eq!(
                bearer_token(&h, &Limits::DEFAULT),
                Err(NotificationError::MalformedAuthorization)
            );
        }
        assert_eq!(
            bearer_token(&headers(&[]), &Limits::DEFAULT),
            Err(NotificationError::MissingBearer)
        );
    }
}
