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

mod authenticate;
mod outcome;
mod push;
mod refusal;

use std::time::SystemTime;

pub use authenticate::{
    AuthenticatedNotification, NotificationTokens, authenticate_notification, bearer_token,
};
pub use outcome::NotificationOutcome;
pub use push::{Ping, Push, PushError, PushErrorCode};
pub use refusal::NotificationRefusal;

use crate::id_token::IdTokenValidator;
use crate::limits::Limits;
use outcome::finish;

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
