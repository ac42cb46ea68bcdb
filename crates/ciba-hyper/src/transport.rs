//! [`HttpClient`]: ciba-client's [`HttpSend`] over hyper. One request out, one bounded
//! response in, within a timeout. Redirects are never followed (hyper does not follow them); a
//! 3xx goes back to ciba-core like any answer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use ciba_client::{HttpSend, TransportError, TransportErrorKind, within_timeout};

use crate::error::Error;

/// Default per-request timeout: 30 seconds for the whole exchange (connect, headers, body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default response body cap: ciba-core's `Limits::DEFAULT.max_body_bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = ciba_core::Limits::DEFAULT.max_body_bytes;

/// The hyper client, with its connector type erased.
trait Exchange: Send + Sync {
    fn request(&self, request: http::Request<Full<Bytes>>) -> ResponseFuture;
}

impl<C> Exchange for Client<C, Full<Bytes>>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn request(&self, request: http::Request<Full<Bytes>>) -> ResponseFuture {
        Client::request(self, request)
    }
}

/// The HTTP client every part of this crate sends through: a hyper-util legacy client with any
/// connector, a per-request timeout and a response body cap.
///
/// [`HttpClient::http`] speaks plain `http` only (enough for loopback tests and development).
/// For `https`, build a `hyper_util::client::legacy::Client` over a TLS connector (for example
/// `hyper-rustls`'s `HttpsConnector`) and wrap it with [`HttpClient::new`]; this crate picks no
/// TLS stack for you.
///
/// Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<dyn Exchange>,
    timeout: Duration,
    max_body_bytes: usize,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::http()
    }
}

impl HttpClient {
    /// Wraps `client` (any connector: plain, TLS, proxy...), with the default timeout and body
    /// cap.
    pub fn new<C>(client: Client<C, Full<Bytes>>) -> HttpClient
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        HttpClient {
            inner: Arc::new(client),
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// A client over hyper-util's plain `HttpConnector` (no TLS: `https` URLs fail with
    /// [`Error::Transport`]).
    pub fn http() -> HttpClient {
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .build::<_, Full<Bytes>>(HttpConnector::new());
        HttpClient::new(client)
    }

    /// Sets the per-request timeout (connect, headers and the whole body). A timeout while
    /// polling is a transport error that ciba-core's `Poller` backs off from.
    pub fn timeout(mut self, timeout: Duration) -> HttpClient {
        self.timeout = timeout;
        self
    }

    /// Sets the response body cap in bytes. A larger body ends the exchange with a
    /// [`TransportErrorKind::BodyTooLarge`] error.
    pub fn max_body_bytes(mut self, limit: usize) -> HttpClient {
        self.max_body_bytes = limit;
        self
    }

    /// The per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.timeout
    }

    /// The response body cap in bytes.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    /// Sends `request` and reads the whole response, within the timeout and the body cap.
    /// Whatever the status (3xx included), the response is returned as received. The same as
    /// [`HttpSend::send`], with the error as this crate's [`Error`].
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        Ok(HttpSend::send(self, request).await?)
    }

    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        uri: &http::Uri,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let limit = self.max_body_bytes;
        let response = self
            .inner
            .request(request)
            .await
            .map_err(|e| transport_error(uri, e))?;
        let (parts, body) = response.into_parts();
        if body.size_hint().lower() > limit as u64 {
            return Err(TransportError::body_too_large(uri, limit));
        }
        let collected = Limited::new(body, limit).collect().await.map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                TransportError::body_too_large(uri, limit)
            } else {
                TransportError::new(TransportErrorKind::Other, uri).with_source(e)
            }
        })?;
        Ok(http::Response::from_parts(
            parts,
            collected.to_bytes().to_vec(),
        ))
    }
}

impl HttpSend for HttpClient {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let uri = request.uri().clone();
        let request = request.map(|body| Full::new(Bytes::from(body)));
        within_timeout(&uri, self.timeout, self.exchange(request, &uri)).await
    }
}

/// A hyper-util client error: a connect failure, or anything else.
fn transport_error(uri: &http::Uri, e: hyper_util::client::legacy::Error) -> TransportError {
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, uri).with_source(e)
}

#[cfg(feature = "server")]
/// A copy of `request` (for retries: `http::Request` is not `Clone`).
pub(crate) fn copy_request(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}
