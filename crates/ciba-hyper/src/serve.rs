//! Serving a service on a TCP listener until shut down, within [`ServeOptions`] (one bounded
//! accept loop for the authorization server, the notification receiver and [`serve_fn`]), and
//! the body plumbing the services share (request bodies collected under a cap, responses as
//! `Full<Bytes>`).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

use crate::error::BoxError;
use crate::limits::{BodyTimedOut, RequestBody, ServeOptions};

/// The future type of this crate's `tower_service::Service` implementations.
pub type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Full<Bytes>>, Infallible>> + Send>>;

/// A server started by [`AuthorizationServer::bind`](crate::server::AuthorizationServer::bind)
/// or [`serve_fn`], within its [`ServeOptions`]. It serves until
/// [`RunningServer::shutdown`] or until it is dropped; either way the accept loop and every
/// open connection are stopped.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{local_addr}/`.
    pub fn url(&self) -> Url {
        base_url(self.addr)
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `http://{addr}/`.
#[allow(clippy::expect_used)] // not input: a socket address always forms a valid URL
pub(crate) fn base_url(addr: SocketAddr) -> Url {
    Url::parse(&format!("http://{addr}/")).expect("a socket address forms a valid URL")
}

/// Serves `service` on `listener` (HTTP/1.1) within `options`, in a spawned task.
pub(crate) fn spawn_server<S>(
    listener: TcpListener,
    options: ServeOptions,
    service: S,
) -> std::io::Result<RunningServer>
where
    S: tower_service::Service<
            http::Request<RequestBody>,
            Response = http::Response<Full<Bytes>>,
            Error = Infallible,
            Future = ServiceFuture,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    accept_loop(listener, options, Transport::Plain, move || {
        TowerToHyperService::new(service.clone())
    })
}

/// What the accept loop does with each TCP connection before HTTP: nothing, or a TLS
/// handshake (feature `tls`) whose client certificate, if any, goes with every request of
/// the connection as a [`PeerCertificate`] extension.
#[derive(Clone)]
pub(crate) enum Transport {
    /// Plain HTTP/1.1.
    Plain,
    /// HTTP/1.1 over TLS.
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsAcceptor),
}

/// The end-entity certificate (DER) a client presented in the TLS handshake of the
/// connection a request came on. Servers started with TLS put it in each request's
/// extensions; the authorization server hands it to ciba-server for mutual-TLS client
/// authentication and certificate-bound tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate(pub Vec<u8>);

/// Serves `handler` on `listener` (HTTP/1.1) with the default [`ServeOptions`], in a spawned
/// task, until the returned [`RunningServer`] is shut down or dropped. For applications that
/// route a few paths of their own around this crate's services (a development server with
/// extra pages, say).
pub fn serve_fn<H, F>(listener: TcpListener, handler: H) -> std::io::Result<RunningServer>
where
    H: Fn(http::Request<RequestBody>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    serve_fn_with(listener, ServeOptions::default(), handler)
}

/// [`serve_fn`] within `options`: the connection cap, the head, body and whole-request
/// timeouts. The handler's request body ends in an error ([`BodyTimedOut`]) when the body
/// timeout passes.
///
/// [`BodyTimedOut`]: crate::BodyTimedOut
pub fn serve_fn_with<H, F>(
    listener: TcpListener,
    options: ServeOptions,
    handler: H,
) -> std::io::Result<RunningServer>
where
    H: Fn(http::Request<RequestBody>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    accept_loop(listener, options, Transport::Plain, move || {
        let handler = handler.clone();
        hyper::service::service_fn(move |request| {
            // Boxed once, here: the timeout and hyper's dispatcher then move a pointer, not
            // the handler's state machine.
            let response = Box::pin(handler(request));
            async move { Ok::<_, Infallible>(response.await) }
        })
    })
}

/// [`serve_fn_with`] over https (feature `tls`): each connection's TLS handshake uses
/// `config` (feature `server`: see `server::tls::server_config`), and the end-entity
/// certificate a client presented goes with every request of its connection as a
/// [`PeerCertificate`] extension, so an `AuthorizationServer` called from `handler`
/// authenticates mutual-TLS clients and binds tokens to their certificates.
#[cfg(feature = "tls")]
pub fn serve_fn_tls_with<H, F>(
    listener: TcpListener,
    options: ServeOptions,
    config: Arc<tokio_rustls::rustls::ServerConfig>,
    handler: H,
) -> std::io::Result<RunningServer>
where
    H: Fn(http::Request<RequestBody>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    accept_loop(listener, options, Transport::Tls(acceptor), move || {
        let handler = handler.clone();
        hyper::service::service_fn(move |request| {
            // Boxed once, here: the timeout and hyper's dispatcher then move a pointer, not
            // the handler's state machine.
            let response = Box::pin(handler(request));
            async move { Ok::<_, Infallible>(response.await) }
        })
    })
}

/// The request took longer than [`ServeOptions::request_timeout`]: the connection is closed.
#[derive(Debug, thiserror::Error)]
#[error("the request was not answered within the request timeout")]
struct RequestTimedOut;

/// A service under the body and whole-request timeouts: the body becomes a [`RequestBody`],
/// and a request not answered in time ends the connection.
struct Bounded<S> {
    inner: S,
    body_timeout: Duration,
    request_timeout: Duration,
    peer: Option<PeerCertificate>,
}

impl<S> hyper::service::Service<http::Request<Incoming>> for Bounded<S>
where
    S: hyper::service::Service<
            http::Request<RequestBody>,
            Response = http::Response<Full<Bytes>>,
            Error = Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = RequestTimedOut;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, RequestTimedOut>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let mut request = request.map(|body| RequestBody::new(body, self.body_timeout));
        if let Some(peer) = &self.peer {
            request.extensions_mut().insert(peer.clone());
        }
        let answer = self.inner.call(request);
        let timeout = self.request_timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(never)) => match never {},
                Err(_) => Err(RequestTimedOut),
            }
        })
    }
}

/// The accept loop: while fewer than `options.max_connections` are open, accepts and serves
/// each connection in its own task with a fresh service from `make`, under the limits.
pub(crate) fn accept_loop<M, S>(
    listener: TcpListener,
    options: ServeOptions,
    transport: Transport,
    make: M,
) -> std::io::Result<RunningServer>
where
    M: Fn() -> S + Send + 'static,
    S: hyper::service::Service<
            http::Request<RequestBody>,
            Response = http::Response<Full<Bytes>>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            // A slot first, then the connection: past the cap, clients wait in the backlog.
            let (permit, accepted) = tokio::select! {
                _ = &mut stopped => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                next = async {
                    let permit = Arc::clone(&slots).acquire_owned().await;
                    (permit, listener.accept().await)
                } => next,
            };
            let Ok(permit) = permit else { break };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, for example: back off a little.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Small request/response exchanges: do not let Nagle's algorithm hold back the
            // answer.
            let _ = stream.set_nodelay(true);
            let service = Bounded {
                inner: make(),
                body_timeout: options.body_timeout,
                request_timeout: options.request_timeout,
                peer: None,
            };
            let header_timeout = options.header_timeout;
            let transport = transport.clone();
            connections.spawn(async move {
                let served = match transport {
                    Transport::Plain => serve_http1(stream, service, header_timeout).await,
                    #[cfg(feature = "tls")]
                    Transport::Tls(acceptor) => {
                        // The handshake gets the head timeout too.
                        let handshake =
                            tokio::time::timeout(header_timeout, acceptor.accept(stream)).await;
                        match handshake {
                            Ok(Ok(tls)) => {
                                let mut service = service;
                                service.peer = tls
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|chain| chain.first())
                                    .map(|c| PeerCertificate(c.as_ref().to_vec()));
                                serve_http1(tls, service, header_timeout).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                Ok(())
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                Ok(())
                            }
                        }
                    }
                };
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                drop(permit);
            });
        }
        connections.shutdown().await;
    });
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Serves one HTTP/1.1 connection over `io`.
async fn serve_http1<IO, S>(
    io: IO,
    service: Bounded<S>,
    header_timeout: Duration,
) -> Result<(), hyper::Error>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            http::Request<RequestBody>,
            Response = http::Response<Full<Bytes>>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .await
}

/// Why a request body could not be collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyRefused {
    /// Larger than the cap.
    TooLarge,
    /// Not complete within the body timeout.
    TimedOut,
    /// The connection broke, or the framing is invalid.
    Unreadable,
}

/// Collects a request body of at most `limit` bytes.
pub(crate) async fn collect_request<B>(
    request: http::Request<B>,
    limit: usize,
) -> Result<http::Request<Vec<u8>>, BodyRefused>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyRefused::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(http::Request::from_parts(parts, c.to_bytes().to_vec())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyRefused::TooLarge),
        Err(e) if e.is::<BodyTimedOut>() => Err(BodyRefused::TimedOut),
        Err(_) => Err(BodyRefused::Unreadable),
    }
}

/// `response` with a `Full<Bytes>` body.
pub(crate) fn full(response: http::Response<Vec<u8>>) -> http::Response<Full<Bytes>> {
    response.map(|b| Full::new(Bytes::from(b)))
}
