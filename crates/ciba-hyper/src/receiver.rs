//! The client notification endpoint (CIBA Core 10.2, 10.3) over hyper: ciba-client's
//! [`NotificationRegistry`] behind a hyper service, on its own listener if wanted.
//!
//! - [`NotificationService`]: the service (`tower_service::Service`), to mount on your own
//!   server (axum, hyper, behind a TLS terminator). It checks the bearer token from the
//!   headers **before reading the body** ([`NotificationRegistry::check_bearer`]), reads the
//!   body under the registry's cap and a timeout, and answers what
//!   [`NotificationRegistry::handle`] (that is, ciba-core) decides: 204, 400, 401, 405, or 503
//!   when a push cannot be validated now; never a redirect.
//! - [`NotificationReceiver`]: the service on its own listener, with a header read timeout, a
//!   body read timeout and a cap on open connections ([`ReceiverOptions`]).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use ciba_hyper::{ClientOptions, NotificationReceiver};
//!
//! let receiver = NotificationReceiver::bind("127.0.0.1:0").await?;
//! // Register receiver.url() as the client's backchannel_client_notification_endpoint, and:
//! let options = ClientOptions::default().notifications(receiver.registry().clone());
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use ciba_client::NotificationRegistry;
use http_body_util::Full;
use hyper::body::Body;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

use crate::error::BoxError;
use crate::serve::{ServiceFuture, base_url, collect_request, full};

/// Default time a client may take to send the request head: 10 seconds.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client may take to send the body once the head is read: 10 seconds.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on connections open at once: 256. Past it, new connections wait in the
/// listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Limits of a [`NotificationReceiver`] (and the body timeout of a [`NotificationService`]).
#[derive(Debug, Clone, Copy)]
pub struct ReceiverOptions {
    header_timeout: Duration,
    body_timeout: Duration,
    max_connections: usize,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        ReceiverOptions {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ReceiverOptions {
    /// Time allowed for the request head (default [`DEFAULT_HEADER_TIMEOUT`]); a client that
    /// takes longer has its connection closed.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Time allowed for the body (default [`DEFAULT_BODY_TIMEOUT`]); a client that takes
    /// longer gets 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Connections open at once (default [`DEFAULT_MAX_CONNECTIONS`], at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// The client notification endpoint as a service over a [`NotificationRegistry`]; mount it
/// on any server (it ignores the path). Implements `tower_service::Service<http::Request<B>>`
/// for any `http_body::Body` `B`, so `axum::Router::route_service` accepts it.
#[derive(Clone, Debug)]
pub struct NotificationService {
    registry: NotificationRegistry,
    body_timeout: Duration,
}

impl NotificationService {
    /// A service answering for the registrations of `registry`; bodies are capped at the
    /// registry's `max_body_bytes` limit and read within [`DEFAULT_BODY_TIMEOUT`].
    pub fn new(registry: NotificationRegistry) -> NotificationService {
        NotificationService {
            registry,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// Sets the body read timeout.
    pub fn body_timeout(mut self, timeout: Duration) -> NotificationService {
        self.body_timeout = timeout;
        self
    }

    /// Answers one notification: the bearer token is checked before the body is read.
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<Vec<u8>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let registry = &self.registry;
        if request.method() != http::Method::POST {
            // ciba-core's 405, without reading anything.
            let (parts, _) = request.into_parts();
            return registry
                .handle(http::Request::from_parts(parts, Vec::new()))
                .await;
        }
        if let Err(refused) = registry.check_bearer(request.headers()).await {
            tracing::info!("notification refused before its body: unknown bearer token");
            return refused;
        }
        let limit = registry.limits().max_body_bytes;
        match tokio::time::timeout(self.body_timeout, collect_request(request, limit)).await {
            Ok(Ok(request)) => registry.handle(request).await,
            Ok(Err(refused)) => refused,
            Err(_) => {
                let mut timed_out = http::Response::new(Vec::new());
                *timed_out.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
                timed_out
            }
        }
    }
}

impl<B> tower_service::Service<http::Request<B>> for NotificationService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> ServiceFuture {
        let this = self.clone();
        Box::pin(async move { Ok(full(this.handle(request).await)) })
    }
}

/// A [`NotificationService`] on its own listener, serving every path until shut down or
/// dropped. Plain HTTP: for anything but loopback, put a TLS terminator in front (CIBA needs
/// an `https` notification endpoint) or mount [`NotificationService`] on your own server.
#[derive(Debug)]
pub struct NotificationReceiver {
    registry: NotificationRegistry,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl NotificationReceiver {
    /// Binds `addr` (tests use `127.0.0.1:0`) and serves a fresh registry with the default
    /// [`ReceiverOptions`].
    pub async fn bind(addr: impl ToSocketAddrs) -> std::io::Result<NotificationReceiver> {
        let listener = TcpListener::bind(addr).await?;
        NotificationReceiver::serve(listener, NotificationRegistry::new())
    }

    /// Serves `registry` on an already bound `listener` with the default [`ReceiverOptions`].
    pub fn serve(
        listener: TcpListener,
        registry: NotificationRegistry,
    ) -> std::io::Result<NotificationReceiver> {
        NotificationReceiver::serve_with(listener, registry, ReceiverOptions::default())
    }

    /// Serves `registry` on `listener` within `options`.
    pub fn serve_with(
        listener: TcpListener,
        registry: NotificationRegistry,
        options: ReceiverOptions,
    ) -> std::io::Result<NotificationReceiver> {
        let addr = listener.local_addr()?;
        let service = NotificationService::new(registry.clone()).body_timeout(options.body_timeout);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, service, options, stopped));
        tracing::info!(%addr, "notification receiver listening");
        Ok(NotificationReceiver {
            registry,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The endpoint URL to register as `backchannel_client_notification_endpoint`:
    /// `http://{local_addr}/`.
    pub fn url(&self) -> Url {
        base_url(self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registry to give to
    /// [`ClientOptions::notifications`](crate::ClientOptions::notifications).
    pub fn registry(&self) -> &NotificationRegistry {
        &self.registry
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

impl Drop for NotificationReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Accepts while fewer than `max_connections` are open; serves each with the head timeout.
async fn accept_loop(
    listener: TcpListener,
    service: NotificationService,
    options: ReceiverOptions,
    mut stopped: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = async {
                let permit = slots.clone().acquire_owned().await;
                (permit, listener.accept().await)
            } => accepted,
        };
        let (Ok(permit), accepted) = accepted else {
            break;
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        let header_timeout = options.header_timeout;
        connections.spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "notification connection ended with an error");
            }
            drop(permit);
        });
    }
    connections.shutdown().await;
}
