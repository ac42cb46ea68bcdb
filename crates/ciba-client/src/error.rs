//! [`Error`]: the one error type of the client, whatever the transport.

use ciba_core::AuthReqId;
use ciba_core::notification::PushError;
use ciba_core::poll::PollError;

use crate::progress::RefusedNotification;
use crate::send::TransportError;

/// Anything a [`CibaClient`](crate::CibaClient) can return.
///
/// [`Error::Transport`] is the only transport failure (no usable HTTP response); everything
/// about the protocol comes from ciba-core unchanged ([`Error::Core`], [`Error::Poll`],
/// [`Error::Pushed`]). While polling, transient transport failures are not returned: they go
/// to ciba-core's `Poller`, which retries and eventually ends with
/// [`PollError::TooManyFailures`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable HTTP response (timeout, connection, oversized body, ...).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// ciba-core refused a response, the configuration, or a request before sending it
    /// (discovery, issuer mismatch, the OP's OAuth errors at the backchannel endpoint, JWKS
    /// parsing, ...).
    #[error(transparent)]
    Core(#[from] ciba_core::Error),
    /// The wait ended without tokens, as ciba-core's `Poller` decided (denied, expired, too
    /// many transient failures, an unusable answer, an ID token that failed validation), or
    /// a push wait reached the request's expiry. When a notification for this request was
    /// refused meanwhile, `last_refused` says which and why.
    #[error("{error}{}", refused_suffix(.last_refused))]
    Poll {
        /// Why the wait ended.
        #[source]
        error: PollError,
        /// The last notification refused for this request, if any.
        last_refused: Option<Box<RefusedNotification>>,
    },
    /// The OP pushed an error instead of tokens (CIBA Core 12).
    #[error("the OP pushed the error {}", .0.code)]
    Pushed(PushError),
    /// A push client needs a [`NotificationRegistry`](crate::NotificationRegistry) fed by a
    /// notification endpoint; none was configured
    /// ([`ClientOptions::notifications`](crate::ClientOptions::notifications)).
    #[error("push mode needs a notification registry (ClientOptions::notifications)")]
    NoNotificationRegistry,
    /// No registration for this request in the notification registry: it was not initiated
    /// by this client, or its wait already ended.
    #[error("no notification registration for this auth_req_id")]
    NotRegistered,
    /// The OP acknowledged an `auth_req_id` that is already registered for this issuer (a
    /// replayed or reused identifier): refused, so that one request's notifications never
    /// reach another's wait.
    #[error("the auth_req_id {auth_req_id:?} is already registered for this issuer")]
    DuplicateRegistration {
        /// The identifier (shown truncated).
        auth_req_id: AuthReqId,
    },
    /// The poller reported a state this client's loop never leaves it in (a request left
    /// unanswered, or polling already finished): a bug, reported rather than a panic.
    #[error("unexpected poll state: {what}")]
    UnexpectedPollState {
        /// What was seen.
        what: &'static str,
    },
}

fn refused_suffix(last: &Option<Box<RefusedNotification>>) -> String {
    last.as_ref()
        .map(|r| format!(" (last refused notification: {r})"))
        .unwrap_or_default()
}

impl Error {
    /// A `'static` label for traces: `transport_error`, `refused` (ciba-core refused a
    /// response, often the OP's OAuth error), `poll_failed` (the wait ended without tokens:
    /// denied, expired, ...), `pushed_error`, or `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Transport(_) => "transport_error",
            Error::Core(_) => "refused",
            Error::Poll { .. } => "poll_failed",
            Error::Pushed(_) => "pushed_error",
            _ => "error",
        }
    }

    /// True for the transport failures a poll treats as transient (see
    /// [`TransportError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_transient())
    }

    /// The poll error, if the wait ended with one (also through [`Error::Core`]).
    pub fn poll_error(&self) -> Option<&PollError> {
        match self {
            Error::Poll { error, .. } | Error::Core(ciba_core::Error::Poll(error)) => Some(error),
            _ => None,
        }
    }

    /// The last notification refused for the request, when the wait ended with one noted.
    pub fn last_refused(&self) -> Option<&RefusedNotification> {
        match self {
            Error::Poll { last_refused, .. } => last_refused.as_deref(),
            _ => None,
        }
    }
}

impl From<PollError> for Error {
    fn from(error: PollError) -> Self {
        Error::Poll {
            error,
            last_refused: None,
        }
    }
}

impl From<ciba_core::ConfigError> for Error {
    fn from(e: ciba_core::ConfigError) -> Self {
        Error::Core(e.into())
    }
}

impl From<ciba_core::ParseError> for Error {
    fn from(e: ciba_core::ParseError) -> Self {
        Error::Core(e.into())
    }
}
