//! [`HttpClient`]: ciba-client's [`HttpSend`] over reqwest. One request out, one whole
//! response back, within a timeout and a body cap, never following a redirect. No protocol
//! decision is made here.

use std::time::Duration;

use ciba_client::{HttpSend, TransportError, TransportErrorKind, within_timeout};
use tracing::{Instrument as _, debug};

/// Default per-request timeout: 30 seconds for the whole exchange (connect, headers, body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default response body cap: ciba-core's `Limits::DEFAULT.max_body_bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = ciba_core::Limits::DEFAULT.max_body_bytes;

/// The `User-Agent` sent with every request.
const USER_AGENT: &str = concat!("ciba-reqwest/", env!("CARGO_PKG_VERSION"));

/// The reqwest transport of a [`CibaClient`](crate::CibaClient). Cheap to clone: clones
/// share the connection pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    max_body_bytes: usize,
}

/// Builds an [`HttpClient`]; from [`HttpClient::builder`].
#[derive(Debug, Default)]
#[must_use]
pub struct HttpClientBuilder {
    timeout: Option<Duration>,
    max_body_bytes: Option<usize>,
    identity: Option<reqwest::Identity>,
}

impl HttpClientBuilder {
    /// Timeout of each exchange, from sending to the last body byte (default 30 s). While
    /// polling, a timeout is a transient failure that ciba-core's `Poller` retries.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Largest response body read, in bytes (default 256 KiB). Reading stops as soon as the
    /// cap is passed, whatever `Content-Length` says.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = Some(limit);
        self
    }

    /// The TLS client certificate for mutual TLS (`tls_client_auth` or
    /// `self_signed_tls_client_auth`, RFC 8705); build it with `reqwest::Identity::from_pem`.
    /// ciba-core already sends mTLS clients to the OP's `mtls_endpoint_aliases`.
    pub fn identity(mut self, identity: reqwest::Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// A reqwest client that never follows redirects, with these settings.
    pub fn build(self) -> Result<HttpClient, TransportError> {
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .connect_timeout(timeout)
            .timeout(timeout);
        if let Some(identity) = self.identity {
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| {
            TransportError::new(TransportErrorKind::Other, &http::Uri::default()).with_source(e)
        })?;
        Ok(HttpClient {
            client,
            timeout,
            max_body_bytes: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        })
    }
}

impl HttpClient {
    /// A client with the defaults: no redirects, 30 s timeout, 256 KiB body cap. Which URL
    /// schemes are acceptable is ciba-core's `EndpointPolicy` decision (https only unless a
    /// loopback opt-in).
    pub fn new() -> Result<HttpClient, TransportError> {
        HttpClient::builder().build()
    }

    /// A builder for other settings (timeout, body cap, mTLS identity).
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::default()
    }

    /// Sends through `client` (custom roots, proxies, a shared pool) with the default
    /// timeout and body cap. `client` **must** be built with
    /// `redirect(reqwest::redirect::Policy::none())`: a response that arrives from another URL
    /// than the one requested is refused with a [`TransportErrorKind::Other`] error.
    pub fn from_client(client: reqwest::Client) -> HttpClient {
        HttpClient {
            client,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    async fn exchange(
        &self,
        request: reqwest::Request,
        uri: &http::Uri,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let requested = request.url().clone();
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| from_reqwest(e, uri, self.timeout))?;
        if response.url() != &requested {
            return Err(TransportError::new(TransportErrorKind::Other, uri).with_source(
                "the reqwest client followed a redirect (build it with redirect::Policy::none())",
            ));
        }
        let limit = self.max_body_bytes;
        let announced = response.content_length().unwrap_or(0);
        if usize::try_from(announced).map_or(true, |n| n > limit) {
            return Err(TransportError::body_too_large(uri, limit));
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        // Content-Length is only a hint: count what actually arrives.
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0).min(limit));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| from_reqwest(e, uri, self.timeout))?
        {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(TransportError::body_too_large(uri, limit));
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| TransportError::new(TransportErrorKind::Other, uri).with_source(e))
    }
}

impl HttpSend for HttpClient {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let uri = request.uri().clone();
        let method = request.method().clone();
        let endpoint = ciba_client::redacted_endpoint(&uri);
        let request =
            reqwest::Request::try_from(request).map_err(|e| from_reqwest(e, &uri, self.timeout))?;
        // One `DEBUG` span per exchange: the method, the endpoint without its query, and the
        // answered status; never a header or a body.
        let span = tracing::debug_span!(
            "ciba_http_send",
            %method,
            %endpoint,
            status = tracing::field::Empty
        );
        debug!(parent: &span, "sending");
        let result = within_timeout(&uri, self.timeout, self.exchange(request, &uri))
            .instrument(span.clone())
            .await;
        match &result {
            Ok(r) => {
                span.record("status", r.status().as_u16());
                debug!(parent: &span, bytes = r.body().len(), "received")
            }
            Err(e) => debug!(parent: &span, error = %e, "exchange failed"),
        }
        result
    }
}

/// A reqwest error as a transport error. reqwest's message names the URL with its userinfo
/// and query, which may carry credentials: it is kept with scheme, host, port and path only.
fn from_reqwest(e: reqwest::Error, uri: &http::Uri, timeout: Duration) -> TransportError {
    if e.is_timeout() {
        return TransportError::timeout(uri, timeout);
    }
    let e = match e.url().map(stripped) {
        Some(url) => e.with_url(url),
        None => e,
    };
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, uri).with_source(e)
}

/// `url` without userinfo, query and fragment.
fn stripped(url: &url::Url) -> url::Url {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}
