//! The error type of this crate: transport failures kept apart from protocol errors.

use std::time::Duration;

use ciba_core::notification::PushError;
use ciba_core::poll::PollError;

/// Any error a [`CibaClient`](crate::CibaClient) can return.
///
/// Transport failures ([`Error::Transport`], [`Error::Timeout`], [`Error::BodyTooLarge`],
/// [`Error::RedirectFollowed`]) are this crate's own; everything about the protocol comes from
/// ciba-core unchanged ([`Error::Core`], [`Error::Poll`], [`Error::Push`]). No reqwest type
/// appears here: a reqwest error is kept as a boxed `source`.
///
/// While polling, transport failures and timeouts are not returned: they are reported to the
/// core's [`Poller`](ciba_core::Poller), which retries with backoff and eventually ends with
/// [`PollError::TooManyFailures`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be sent or its response could not be read.
    #[error("HTTP transport failed ({kind}): {message}")]
    Transport {
        /// What failed.
        kind: TransportErrorKind,
        /// The underlying error's message.
        message: String,
        /// The underlying error (a `reqwest::Error` today; do not rely on the type).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// No complete response arrived within the per-request timeout.
    #[error("no complete response within {after:?}")]
    Timeout {
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The response body was larger than the configured cap; reading stopped at the cap.
    #[error("the response body exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The response came from another URL than the one requested: an HTTP client supplied with
    /// [`ClientOptions::http_client`](crate::ClientOptions::http_client) follows redirects.
    /// Redirects must never be followed.
    #[error("the HTTP client followed a redirect (configure it with redirect::Policy::none())")]
    RedirectFollowed,
    /// The protocol core refused a request, a response or the configuration (discovery,
    /// issuer mismatch, an OAuth error from the backchannel endpoint, JWKS parsing, ...).
    #[error(transparent)]
    Core(#[from] ciba_core::Error),
    /// Polling ended without tokens (denied, expired, refused, too many failures, an
    /// unusable answer such as a redirect, or an ID token that failed validation).
    #[error(transparent)]
    Poll(#[from] PollError),
    /// A push delivery reported that the request ended without tokens (CIBA Core 12).
    #[error("the OP pushed an error: {}", .0.code)]
    Push(PushError),
    /// Push mode: the notification source closed before a delivery for this request arrived.
    #[error("the notification source closed before the push delivery arrived")]
    NotificationsClosed,
    /// The poll state machine asked for something this driver never causes (a bug).
    #[error("unexpected poll state: {what}")]
    UnexpectedPollState {
        /// What was seen.
        what: &'static str,
    },
}

impl Error {
    /// True for the failures a poller treats as transient (no HTTP response at all).
    pub(crate) fn is_transient_transport(&self) -> bool {
        matches!(self, Error::Transport { .. } | Error::Timeout { .. })
    }

    pub(crate) fn from_reqwest(e: reqwest::Error, timeout: Duration) -> Error {
        // reqwest's message and `Debug` name the URL with its userinfo and query, which may
        // carry credentials: keep scheme, host, port and path only.
        let e = match e.url().map(crate::transport::stripped) {
            Some(url) => e.with_url(url),
            None => e,
        };
        if e.is_timeout() {
            return Error::Timeout { after: timeout };
        }
        let kind = if e.is_builder() {
            TransportErrorKind::InvalidRequest
        } else if e.is_connect() {
            TransportErrorKind::Connect
        } else if e.is_body() || e.is_decode() {
            TransportErrorKind::Body
        } else if e.is_request() {
            TransportErrorKind::Request
        } else {
            TransportErrorKind::Other
        };
        Error::Transport {
            kind,
            message: e.to_string(),
            source: Some(Box::new(e)),
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

/// Which part of an HTTP exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The request could not be turned into an HTTP request, or the HTTP client could not be
    /// built (TLS set-up, an invalid identity).
    InvalidRequest,
    /// No connection could be made (refused, DNS, TLS handshake).
    Connect,
    /// The connection failed while sending the request or waiting for the response (reset,
    /// closed early, malformed response head).
    Request,
    /// The connection failed while reading the response body.
    Body,
    /// Anything else.
    Other,
}

impl std::fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportErrorKind::InvalidRequest => "invalid request",
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Request => "request",
            TransportErrorKind::Body => "body",
            TransportErrorKind::Other => "other",
        })
    }
}
