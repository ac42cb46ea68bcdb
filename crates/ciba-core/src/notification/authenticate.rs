//! The checks before any payload is read: the method, the `Authorization: Bearer` credential,
//! the body's `auth_req_id` and the token bound to it, compared in constant time.

use std::fmt;
use std::time::SystemTime;

use http::{Method, header};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::push::{TOKEN_MEMBERS, push_payload};
use super::*;
use crate::ack::AuthReqId;
use crate::body::{APPLICATION_JSON, check_content_type, parse_json_object, req_str};
use crate::error::ParseError;
use crate::id_token::IdTokenValidator;
use crate::limits::Limits;
use crate::wire::ct_eq;

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
    ) -> Result<Push, NotificationRefusal> {
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
) -> Result<AuthenticatedNotification<'r>, NotificationRefusal> {
    let (auth_req_id, body) = authenticate(req, tokens, limits)?;
    Ok(AuthenticatedNotification {
        auth_req_id,
        body,
        raw: req.body(),
    })
}

/// The checks common to ping and push: method, bearer syntax, body, binding. Returns the
/// `auth_req_id` and the whole body object.
fn authenticate(
    req: &http::Request<Vec<u8>>,
    tokens: &dyn NotificationTokens,
    limits: &Limits,
) -> Result<(AuthReqId, Map<String, Value>), NotificationRefusal> {
    if req.method() != Method::POST {
        return Err(NotificationRefusal::MethodNotAllowed {
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
        .ok_or(NotificationRefusal::UnknownAuthReqId)?;
    if !ct_eq(bearer.as_bytes(), expected.as_bytes()) {
        return Err(NotificationRefusal::WrongToken);
    }
    Ok((auth_req_id, map))
}

/// The token of the single `Authorization: Bearer <token>` header (RFC 6750 2.1; the scheme is
/// case-insensitive), read from the headers alone: a receiver can call it before it reads the
/// body. [`NotificationRefusal::MissingBearer`] without the header,
/// [`NotificationRefusal::MalformedAuthorization`] for a repeated, oversize or non-Bearer one.
/// Whether the token is the right one is for [`authenticate_notification`] to say.
pub fn bearer_token<'h>(
    headers: &'h http::HeaderMap,
    limits: &Limits,
) -> Result<&'h str, NotificationRefusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(NotificationRefusal::MissingBearer)?;
    if values.next().is_some() || value.len() > limits.max_header_bytes {
        return Err(NotificationRefusal::MalformedAuthorization);
    }
    let text = value
        .to_str()
        .map_err(|_| NotificationRefusal::MalformedAuthorization)?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or(NotificationRefusal::MalformedAuthorization)?;
    let token = token.trim_matches(' ');
    if !scheme.eq_ignore_ascii_case("Bearer") || token.is_empty() || token.contains(' ') {
        return Err(NotificationRefusal::MalformedAuthorization);
    }
    Ok(token)
}
