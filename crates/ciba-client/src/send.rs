//! [`HttpSend`]: the one thing a transport implements. One `http::Request<Vec<u8>>` out, one
//! whole `http::Response<Vec<u8>>` back, or a [`TransportError`].

use std::fmt;
use std::future::Future;
use std::time::Duration;

/// A boxed error from an HTTP stack, kept as the `source` of a [`TransportError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Sends one HTTP request and reads the whole response.
///
/// This is all a transport crate implements; every protocol decision stays in ciba-core and
/// every waiting policy in [`CibaClient`](crate::CibaClient). An implementation must:
///
/// - **never follow a redirect**: a 3xx is returned like any other response, and ciba-core
///   refuses it;
/// - **bound the exchange in time** (connect, headers and body): past its timeout it returns
///   [`TransportErrorKind::Timeout`];
/// - **cap the body**: reading stops as soon as the body passes the cap, whatever
///   `Content-Length` says, with [`TransportErrorKind::BodyTooLarge`];
/// - **keep credentials out of errors**: [`TransportError::endpoint`] is the URL without
///   userinfo, query or fragment ([`redacted_endpoint`]);
/// - **be cancel-safe**: dropping the returned future aborts the exchange.
///
/// Any status (4xx and 5xx included) is a response, not an error: only "no usable response"
/// is a [`TransportError`].
///
/// ```
/// use ciba_client::{HttpSend, TransportError, TransportErrorKind};
///
/// /// A transport for tests: every request times out.
/// struct Unreachable;
///
/// impl HttpSend for Unreachable {
///     async fn send(
///         &self,
///         request: http::Request<Vec<u8>>,
///     ) -> Result<http::Response<Vec<u8>>, TransportError> {
///         Err(TransportError::new(TransportErrorKind::Timeout, request.uri()))
///     }
/// }
/// ```
pub trait HttpSend: Send + Sync + 'static {
    /// Sends `request` and returns the whole response, or why none could be had.
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, TransportError>> + Send;
}

/// Which part of an HTTP exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No complete response (headers and body) within the transport's timeout.
    Timeout,
    /// No connection could be made (refused, DNS, TLS handshake).
    Connect,
    /// The response body passed the transport's cap; reading stopped there.
    BodyTooLarge,
    /// Anything else: the connection broke mid-exchange, a malformed response, a request the
    /// HTTP stack could not send.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::BodyTooLarge => "body too large",
            TransportErrorKind::Other => "other",
        })
    }
}

/// No usable HTTP response: what failed, where, and the HTTP stack's own error.
#[derive(Debug, thiserror::Error)]
#[error("HTTP exchange with {endpoint} failed ({kind}){}", detail(.timeout, .limit))]
#[non_exhaustive]
pub struct TransportError {
    /// What failed.
    pub kind: TransportErrorKind,
    /// The URL without userinfo, query or fragment.
    pub endpoint: String,
    /// The timeout that passed ([`TransportErrorKind::Timeout`]), when known.
    pub timeout: Option<Duration>,
    /// The body cap in bytes ([`TransportErrorKind::BodyTooLarge`]), when known.
    pub limit: Option<usize>,
    /// The HTTP stack's error (its type is the transport's business).
    #[source]
    pub source: Option<BoxError>,
}

fn detail(timeout: &Option<Duration>, limit: &Option<usize>) -> String {
    match (timeout, limit) {
        (Some(t), _) => format!(": no complete response within {t:?}"),
        (None, Some(l)) => format!(": the body exceeds the {l}-byte limit"),
        (None, None) => String::new(),
    }
}

impl TransportError {
    /// A `kind` failure of the exchange with `uri` (kept without credentials).
    pub fn new(kind: TransportErrorKind, uri: &http::Uri) -> TransportError {
        TransportError {
            kind,
            endpoint: redacted_endpoint(uri),
            timeout: None,
            limit: None,
            source: None,
        }
    }

    /// A timeout after `after`.
    pub fn timeout(uri: &http::Uri, after: Duration) -> TransportError {
        TransportError {
            timeout: Some(after),
            ..TransportError::new(TransportErrorKind::Timeout, uri)
        }
    }

    /// A body larger than `limit` bytes.
    pub fn body_too_large(uri: &http::Uri, limit: usize) -> TransportError {
        TransportError {
            limit: Some(limit),
            ..TransportError::new(TransportErrorKind::BodyTooLarge, uri)
        }
    }

    /// Keeps `source` as the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> TransportError {
        self.source = Some(source.into());
        self
    }

    /// True for the failures a poll treats as transient (the request may have gone unseen):
    /// everything but an oversized body, which would only come again.
    pub fn is_transient(&self) -> bool {
        self.kind != TransportErrorKind::BodyTooLarge
    }
}

/// Runs an adapter's `exchange` with `uri` within `timeout` (connect, headers and body):
/// past it, the exchange is dropped (aborted) and the answer is a
/// [`TransportErrorKind::Timeout`] error.
pub async fn within_timeout<F>(
    uri: &http::Uri,
    timeout: Duration,
    exchange: F,
) -> Result<http::Response<Vec<u8>>, TransportError>
where
    F: Future<Output = Result<http::Response<Vec<u8>>, TransportError>>,
{
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::timeout(uri, timeout)),
    }
}

/// `uri` without userinfo, query or fragment (which may carry credentials), for errors and
/// logs.
pub fn redacted_endpoint(uri: &http::Uri) -> String {
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
