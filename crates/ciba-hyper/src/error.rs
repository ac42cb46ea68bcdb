//! The errors of this crate: transport failures, kept apart from everything ciba-core decides.

use std::time::Duration;

use ciba_core::notification::PushError;
use ciba_core::poll::PollError;

/// A boxed error from the HTTP stack (hyper, the connector, I/O).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Anything [`CibaClient`](crate::CibaClient) (or the notification deliverer) can return.
///
/// The first three variants are transport failures: no usable HTTP response arrived. Every
/// protocol outcome comes from ciba-core, unchanged: [`Error::Core`] for discovery, the
/// acknowledgement and notifications, [`Error::Poll`] for the end of polling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be sent or the response could not be read (connection refused
    /// or reset, DNS, TLS, malformed HTTP, an `https` URL with a plain-http connector, ...).
    #[error("HTTP exchange with {endpoint} failed: {source}")]
    Transport {
        /// The URL without its query (which may carry secrets).
        endpoint: String,
        /// What the HTTP stack reported.
        #[source]
        source: BoxError,
    },
    /// No complete response (headers and body) arrived within the per-request timeout.
    #[error("no complete response from {endpoint} within {after:?}")]
    Timeout {
        /// The URL without its query.
        endpoint: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// The response body is larger than the configured cap; reading stopped there.
    #[error("the response body from {endpoint} exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// The URL without its query.
        endpoint: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// ciba-core refused a response, a notification, the configuration, or a request before
    /// sending it (the OP's OAuth errors are [`ciba_core::Error::OAuth`]).
    #[error(transparent)]
    Core(#[from] ciba_core::Error),
    /// Polling ended without tokens, as ciba-core's `Poller` decided (denied, expired, too many
    /// transient failures, an unusable answer such as a redirect or invalid JSON, ...).
    #[error(transparent)]
    Poll(#[from] PollError),
    /// The OP pushed an error payload instead of tokens (CIBA Core 12).
    #[error("the OP pushed the error {:?}", .0.code)]
    Pushed(PushError),
    /// A push client needs a [`NotificationRegistry`](crate::NotificationRegistry) to receive
    /// its tokens; none was configured.
    #[error("push mode needs a notification registry (CibaClientBuilder::notifications)")]
    NoNotificationRegistry,
    /// No notification binding exists for this `auth_req_id` (it was not started by this
    /// client, or its flow already ended or was dropped).
    #[error("no pending push binding for this auth_req_id")]
    NotBound,
    /// ciba-core returned an action or outcome this version of ciba-hyper does not know
    /// (a newer ciba-core); never happens with the version this crate was built against.
    #[error("ciba-core returned an outcome this version of ciba-hyper does not know")]
    UnknownOutcome,
}

impl Error {
    /// True for the transport failures ([`Error::Transport`], [`Error::Timeout`]) that
    /// ciba-core treats as transient while polling.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transport { .. } | Error::Timeout { .. })
    }
}

/// `uri` without userinfo, query or fragment, for errors and logs (a notification endpoint or
/// a URL given to [`HttpClient::send`](crate::HttpClient::send) may carry credentials).
pub(crate) fn endpoint_of(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_userinfo, host)| host);
    if scheme.is_empty() {
        format!("{authority}{}", uri.path())
    } else {
        format!("{scheme}://{authority}{}", uri.path())
    }
}
