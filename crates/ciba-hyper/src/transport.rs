//! [`HttpClient`]: ciba-client's [`HttpSend`] over hyper. One request out, one bounded
//! response in, within a timeout. Redirects are never followed (hyper does not follow them); a
//! 3xx goes back to ciba-core like any answer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper_util::client::legacy::Client;
#[cfg(feature = "tls")]
use hyper_util::client::legacy::connect::dns::GaiResolver;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use ciba_client::{HttpSend, TransportError, TransportErrorKind, within_timeout};
use tracing::Instrument as _;

use crate::error::Error;

/// Default per-request timeout: 30 seconds for the whole exchange (connect, headers, body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default response body cap: ciba-core's `Limits::DEFAULT.max_body_bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = ciba_core::Limits::DEFAULT.max_body_bytes;

/// What an [`Exchange`] answers: the response head, or the transport failure.
type ExchangeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Incoming>, TransportError>> + Send + 'a>>;

/// The hyper client, with its connector type erased.
trait Exchange: Send + Sync {
    fn request(&self, request: http::Request<Full<Bytes>>) -> ExchangeFuture<'_>;
}

impl<C> Exchange for Client<C, Full<Bytes>>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn request(&self, request: http::Request<Full<Bytes>>) -> ExchangeFuture<'_> {
        let uri = request.uri().clone();
        let response = Client::request(self, request);
        Box::pin(async move { response.await.map_err(|e| transport_error(&uri, e)) })
    }
}

/// A hyper-util client with the crate's timers.
fn client_over<C>(connector: C) -> Client<C, Full<Bytes>>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .build::<_, Full<Bytes>>(connector)
}

/// [`HttpClient::https`]: the TLS client is built on the first request, once the roots have
/// been read on the blocking pool (never on an async worker).
#[cfg(feature = "tls")]
struct NativeRootsTls<R> {
    /// How the connector resolves names.
    resolver: R,
    client:
        tokio::sync::OnceCell<Client<hyper_rustls::HttpsConnector<HttpConnector<R>>, Full<Bytes>>>,
}

#[cfg(feature = "tls")]
impl<R> Exchange for NativeRootsTls<R>
where
    R: Clone + Send + Sync + 'static,
    HttpConnector<R>: Connect + Clone + Send + Sync + 'static,
    hyper_rustls::HttpsConnector<HttpConnector<R>>: Connect + Clone + Send + Sync + 'static,
{
    fn request(&self, request: http::Request<Full<Bytes>>) -> ExchangeFuture<'_> {
        Box::pin(async move {
            let uri = request.uri().clone();
            let client = self
                .client
                .get_or_try_init(|| async {
                    let roots = tokio::task::spawn_blocking(crate::tls::load_roots)
                        .await
                        .map_err(|e| {
                            TransportError::new(TransportErrorKind::Other, &uri).with_source(e)
                        })?;
                    let config = crate::tls::client_config(roots).map_err(|e| {
                        TransportError::new(TransportErrorKind::Other, &uri).with_source(e)
                    })?;
                    let http = HttpConnector::new_with_resolver(self.resolver.clone());
                    Ok::<_, TransportError>(client_over(crate::tls::connector_over(config, http)))
                })
                .await?;
            Exchange::request(client, request).await
        })
    }
}

/// The HTTP client every part of this crate sends through: a hyper-util legacy client with any
/// connector, a per-request timeout and a response body cap.
///
/// [`HttpClient::https`] (feature `tls`, on by default) speaks `https` over rustls, trusting
/// the platform's roots or `SSL_CERT_FILE` (see [`crate::tls`]), HTTP/2 or HTTP/1.1 by ALPN,
/// and plain `http` too; [`HttpClient::https_with_config`] takes your own rustls
/// configuration (for example, roots of your own). [`HttpClient::http`] speaks plain `http`
/// only. [`crate::hyper_util_legacy::http_client`] wraps a hyper-util client over any other
/// connector.
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

/// [`HttpClient::https`] with the feature `tls` (the default), else [`HttpClient::http`].
impl Default for HttpClient {
    fn default() -> Self {
        #[cfg(feature = "tls")]
        return HttpClient::https();
        #[cfg(not(feature = "tls"))]
        return HttpClient::http();
    }
}

impl HttpClient {
    /// Wraps `client` (any connector: plain, TLS, proxy...), with the default timeout and body
    /// cap. Public as [`crate::hyper_util_legacy::http_client`].
    pub(crate) fn from_legacy_client<C>(client: Client<C, Full<Bytes>>) -> HttpClient
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        HttpClient::from_exchange(Arc::new(client))
    }

    /// A client over hyper-util's plain `HttpConnector` (no TLS: `https` URLs fail with
    /// [`Error::Transport`]).
    pub fn http() -> HttpClient {
        HttpClient::from_legacy_client(client_over(HttpConnector::new()))
    }

    /// A client for `https` (and plain `http`) over rustls, trusting the roots named by
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, else the platform's store (see
    /// [`crate::tls`]); HTTP/2 or HTTP/1.1 as the server's ALPN answer says. The roots are
    /// read on the first request, on tokio's blocking pool.
    #[cfg(feature = "tls")]
    pub fn https() -> HttpClient {
        HttpClient::from_exchange(Arc::new(NativeRootsTls {
            resolver: GaiResolver::new(),
            client: tokio::sync::OnceCell::new(),
        }))
    }

    /// A client for `https` (and plain `http`) over rustls with `config` (its roots, its
    /// client certificate if any, its crypto provider). Its ALPN list is replaced by `h2`,
    /// `http/1.1`. [`crate::tls::client_config`] builds one from a `RootCertStore`.
    #[cfg(feature = "tls")]
    pub fn https_with_config(config: crate::tls::rustls::ClientConfig) -> HttpClient {
        HttpClient::from_legacy_client(client_over(crate::tls::connector(config)))
    }

    /// Plain `http`, resolving names with `resolver` (the deliverer's egress guard).
    #[cfg(feature = "server")]
    pub(crate) fn http_resolving_with(
        resolver: crate::server::egress::GuardedResolver,
    ) -> HttpClient {
        HttpClient::from_legacy_client(client_over(HttpConnector::new_with_resolver(resolver)))
    }

    /// [`HttpClient::https`], resolving names with `resolver`.
    #[cfg(all(feature = "server", feature = "tls"))]
    pub(crate) fn https_resolving_with(
        resolver: crate::server::egress::GuardedResolver,
    ) -> HttpClient {
        HttpClient::from_exchange(Arc::new(NativeRootsTls {
            resolver,
            client: tokio::sync::OnceCell::new(),
        }))
    }

    /// [`HttpClient::https_with_config`], resolving names with `resolver`.
    #[cfg(all(feature = "server", feature = "tls"))]
    pub(crate) fn https_with_config_resolving_with(
        config: crate::tls::rustls::ClientConfig,
        resolver: crate::server::egress::GuardedResolver,
    ) -> HttpClient {
        let http = HttpConnector::new_with_resolver(resolver);
        HttpClient::from_legacy_client(client_over(crate::tls::connector_over(config, http)))
    }

    fn from_exchange(inner: Arc<dyn Exchange>) -> HttpClient {
        HttpClient {
            inner,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
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
        let response = self.inner.request(request).await?;
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
        // One `DEBUG` span per exchange: the method, the endpoint without its query, and the
        // answered status; never a header or a body.
        let span = tracing::debug_span!(
            "ciba_http_send",
            method = %request.method(),
            endpoint = %ciba_client::redacted_endpoint(&uri),
            status = tracing::field::Empty
        );
        let request = request.map(|body| Full::new(Bytes::from(body)));
        let result = within_timeout(&uri, self.timeout, self.exchange(request, &uri))
            .instrument(span.clone())
            .await;
        if let Ok(response) = &result {
            span.record("status", response.status().as_u16());
        }
        result
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
