//! The client notification endpoint (CIBA Core 10.2, 10.3) over hyper: ciba-client's
//! [`NotificationRegistry`] behind a hyper service, on its own listener if wanted.
//!
//! - [`NotificationService`]: the service (`tower_service::Service`), to mount on your own
//!   server (axum, hyper, behind a TLS terminator). It checks the bearer token from the
//!   headers **before reading the body** ([`NotificationRegistry::check_bearer`]), reads the
//!   body under the registry's cap and a timeout, and answers what
//!   [`NotificationRegistry::handle`] (that is, ciba-core) decides: 204, 400, 401, 405, or 503
//!   when a push cannot be validated now; never a redirect.
//! - [`NotificationReceiver`]: the service on its own listener, in the same bounded accept
//!   loop as every server of this crate: a cap on open connections, head, body and
//!   whole-request timeouts ([`ServeOptions`], alias [`ReceiverOptions`](crate::ReceiverOptions)).
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
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use ciba_client::NotificationRegistry;
use http_body_util::Full;
use hyper::body::Body;
use tokio::net::{TcpListener, ToSocketAddrs};
use tracing::Instrument as _;
use url::Url;

use crate::error::BoxError;
use crate::limits::{DEFAULT_BODY_TIMEOUT, ServeOptions};
use crate::serve::{
    BodyRefused, RunningServer, ServiceFuture, collect_request, full, spawn_server,
};

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
    ///
    /// Runs in an `INFO` span named `ciba_notification_received` with the answered `status`
    /// (never the bearer token or the body).
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<Vec<u8>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let span =
            tracing::info_span!("ciba_notification_received", status = tracing::field::Empty);
        let answer = self.answer(request).instrument(span.clone()).await;
        span.record("status", answer.status().as_u16());
        answer
    }

    async fn answer<B>(&self, request: http::Request<B>) -> http::Response<Vec<u8>>
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
        let refused =
            match tokio::time::timeout(self.body_timeout, collect_request(request, limit)).await {
                Ok(Ok(request)) => return registry.handle(request).await,
                Ok(Err(refused)) => refused,
                Err(_) => BodyRefused::TimedOut,
            };
        let mut answer = http::Response::new(Vec::new());
        *answer.status_mut() = match refused {
            BodyRefused::TooLarge => http::StatusCode::PAYLOAD_TOO_LARGE,
            BodyRefused::TimedOut => http::StatusCode::REQUEST_TIMEOUT,
            BodyRefused::Unreadable => http::StatusCode::BAD_REQUEST,
        };
        answer
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
/// dropped, within [`ServeOptions`] (the connection cap, the head, body and whole-request
/// timeouts). Plain HTTP: for anything but loopback, put a TLS terminator in front (CIBA needs
/// an `https` notification endpoint) or mount [`NotificationService`] on your own server.
#[derive(Debug)]
pub struct NotificationReceiver {
    registry: NotificationRegistry,
    server: RunningServer,
}

impl NotificationReceiver {
    /// Binds `addr` (tests use `127.0.0.1:0`) and serves a fresh registry with the default
    /// [`ServeOptions`].
    pub async fn bind(addr: impl ToSocketAddrs) -> std::io::Result<NotificationReceiver> {
        let listener = TcpListener::bind(addr).await?;
        NotificationReceiver::serve(listener, NotificationRegistry::new())
    }

    /// Serves `registry` on an already bound `listener` with the default [`ServeOptions`].
    pub fn serve(
        listener: TcpListener,
        registry: NotificationRegistry,
    ) -> std::io::Result<NotificationReceiver> {
        NotificationReceiver::serve_with(listener, registry, ServeOptions::default())
    }

    /// Serves `registry` on `listener` within `options` (the service reads bodies within
    /// `options`' body timeout too).
    pub fn serve_with(
        listener: TcpListener,
        registry: NotificationRegistry,
        options: ServeOptions,
    ) -> std::io::Result<NotificationReceiver> {
        let service = NotificationService::new(registry.clone()).body_timeout(options.body_timeout);
        let server = spawn_server(listener, options, service)?;
        tracing::info!(addr = %server.local_addr(), "notification receiver listening");
        Ok(NotificationReceiver { registry, server })
    }

    /// The endpoint URL to register as `backchannel_client_notification_endpoint`:
    /// `http://{local_addr}/`.
    pub fn url(&self) -> Url {
        self.server.url()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The registry to give to
    /// [`ClientOptions::notifications`](crate::ClientOptions::notifications).
    pub fn registry(&self) -> &NotificationRegistry {
        &self.registry
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
