//! The authorization server's CIBA endpoints over `ciba_server::CibaServer` (feature
//! `server`): discovery, JWKS, the backchannel authentication endpoint and the token endpoint,
//! as one service.
//!
//! ```text
//!  GET  {issuer path}/.well-known/openid-configuration ─► CibaServer::discovery_response
//!  GET  jwks_uri path                                  ─► CibaServer::jwks_response
//!  POST backchannel endpoint path ─► authenticate_request_inline ─► AuthorizationHooks::identify_user
//!                                     ─► issue_inline (or fail_inline) ─► 200 ack
//!                                                                     └► spawned: AuthorizationHooks::authentication_requested
//!  POST token endpoint path       ─► token_request
//!  AsHandle::pending              ─► CibaServer::pending_requests (the store: one list for every instance)
//!  AsHandle::complete(id, result) ─► CibaServer::complete ─► NotificationDeliverer (ping, push)
//! ```
//!
//! Every answer is the `http::Response` ciba-server built, copied out unchanged (including 503
//! with `Retry-After` when the store is full or its backend fails, 405 with `Allow: POST` for
//! another method on the backchannel and token endpoints, and 413 or 408 as JSON
//! `invalid_request` errors when the body is too large or too slow). Routes come from the
//! paths of the URLs in the `ServerConfig`, relative to the service's
//! [mount path](AuthorizationServerBuilder::mount_path) when it is nested under a prefix
//! (axum's `nest_service`); anything else is 404; discovery and JWKS answer 405 with
//! `Allow: GET, HEAD` to other methods.
//!
//! [`AuthorizationServer::serve_with`] runs it in this crate's bounded accept loop
//! ([`ServeOptions`]: connection cap, head, body and whole-request timeouts).
//!
//! ## Nothing blocks a worker
//!
//! The store, the client registry and the [`AuthorizationHooks`] are async: every call into
//! them is awaited, never run on a worker thread's own time. While a shared store stalls, the
//! requests that need it wait (until the store's own timeout answers 503), and discovery,
//! JWKS and every other request go on being answered. The hooks must keep to the same rule:
//! await the network, never block on it.
//!
//! ## One list of pending requests
//!
//! The requests waiting for the user are read from the store
//! ([`AsHandle::pending`], [`AsHandle::pending_request`]), and decisions go through it
//! ([`AsHandle::complete`]). Instances that share a store (ciba-redis) therefore list, approve
//! and deny the same requests, whichever instance acknowledged them.
//!
//! ```no_run
//! use ciba_hyper::server::{AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture, PendingRequest};
//! use ciba_server::{AuthenticationResult, Authorization, CibaServer, FailReason, Ticket};
//!
//! struct Directory;
//!
//! impl AuthorizationHooks for Directory {
//!     fn identify_user<'a>(&'a self, ticket: &'a Ticket) -> BoxFuture<'a, Result<String, FailReason>> {
//!         // A lookup over the network would be awaited in `async move { ... }`.
//!         Box::pin(std::future::ready(match ticket.hint.value() {
//!             "alice@example.com" => Ok("alice".into()),
//!             _ => Err(FailReason::UnknownUserId),
//!         }))
//!     }
//!
//!     fn authentication_requested(&self, request: PendingRequest, handle: AsHandle) -> BoxFuture<'_, ()> {
//!         Box::pin(async move {
//!             // Ask the user's device here; this example approves at once.
//!             let approval = AuthenticationResult::Authorized(Authorization::new(&request.subject));
//!             let _ = handle.complete(&request.auth_req_id, approval).await;
//!         })
//!     }
//! }
//!
//! # async fn run(server: CibaServer) -> std::io::Result<()> {
//! let running = AuthorizationServer::new(server, Directory).bind("127.0.0.1:8080").await?;
//! // ... later
//! running.shutdown().await;
//! # Ok(()) }
//! ```

mod deliver;
pub(crate) mod egress;
mod handle;
mod hooks;
mod pending;
#[cfg(feature = "tls")]
pub mod tls;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use ciba_core::ErrorCode;
use ciba_core::observe::short_hash;
use ciba_core::random::{BatchedOsRandom, Random};
use ciba_server::{
    BodyError, CibaServer, IncomingRequest, InlineBackchannelOutcome, IssueOutcome,
    TlsClientCertificate, TokenOutcome,
};
use ciba_server::{error_body, json_response};
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use tokio::net::{TcpListener, ToSocketAddrs};
use tracing::Instrument as _;
use url::Url;

pub use ciba_server::BoxFuture;
pub use deliver::{
    DEFAULT_DELIVERY_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DELAY, DeliveryFailure,
    DeliveryOutcome, NOTIFICATIONS, NotificationDeliverer, describe_metrics,
};
pub use handle::AsHandle;
pub use hooks::AuthorizationHooks;
pub use pending::PendingRequest;

use crate::error::BoxError;
use crate::limits::ServeOptions;
use crate::serve::{
    BodyRefused, PeerCertificate, RunningServer, ServiceFuture, collect_request, full, spawn_server,
};

/// The paths the service answers, relative to its mount path. `None`: not served here.
#[derive(Debug, Clone)]
struct Routes {
    mount_path: String,
    discovery: Option<String>,
    jwks: Option<String>,
    backchannel: Option<String>,
    token: Option<String>,
}

fn path_of(url: &str) -> Option<String> {
    Url::parse(url).ok().map(|u| u.path().to_owned())
}

/// `mount_path` without its trailing slashes, with a leading one (`""` for the root).
fn normalize_mount_path(mount_path: &str) -> String {
    let trimmed = mount_path.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// `path` relative to `mount_path` (which is normalized): `None` when `path` lies outside it.
/// The mount point itself is `/`, as axum's `nest_service` passes it on.
fn relative_to(path: &str, mount_path: &str) -> Option<String> {
    let rest = path.strip_prefix(mount_path)?;
    if rest.is_empty() {
        Some("/".to_owned())
    } else if rest.starts_with('/') {
        Some(rest.to_owned())
    } else {
        None
    }
}

impl Routes {
    fn new(server: &CibaServer, mount_path: &str) -> Routes {
        let config = server.config();
        let mount_path = normalize_mount_path(mount_path);
        let issuer_path = path_of(&config.issuer).unwrap_or_default();
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer_path.trim_end_matches('/')
        );
        let relative = |path: Option<String>| path.and_then(|p| relative_to(&p, &mount_path));
        let routes = Routes {
            discovery: relative(Some(discovery)),
            jwks: relative(config.jwks_uri.as_deref().and_then(path_of)),
            backchannel: relative(path_of(&config.backchannel_authentication_endpoint)),
            token: relative(path_of(&config.token_endpoint)),
            mount_path,
        };
        if routes.discovery.is_none() || routes.backchannel.is_none() || routes.token.is_none() {
            tracing::info!(mount_path = %routes.mount_path, ?routes,
                "some CIBA endpoints lie outside the mount path: the application serves them");
        }
        routes
    }
}

/// Builds an [`AuthorizationServer`].
pub struct AuthorizationServerBuilder {
    server: Arc<CibaServer>,
    hooks: Arc<dyn AuthorizationHooks>,
    deliverer: Option<NotificationDeliverer>,
    rng: Option<Arc<dyn Random>>,
    mount_path: String,
}

impl fmt::Debug for AuthorizationServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServerBuilder")
            .field("server", &self.server)
            .field("mount_path", &self.mount_path)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServerBuilder {
    /// The path prefix the service is mounted under, already removed from the request path
    /// when a request reaches it (axum's `Router::nest_service("/oauth", service)` removes
    /// `/oauth`). Default: none, the service sees whole paths.
    ///
    /// The endpoint URLs in the `ServerConfig` stay the full public ones (the discovery
    /// document advertises them unchanged); the service answers each at its path with
    /// `mount_path` taken off. An endpoint whose path is not under `mount_path` is not
    /// answered here (404): the application serves it itself, as one that keeps its own
    /// token endpoint and hands the CIBA grant to `CibaServer::token_request`.
    ///
    /// ```
    /// # fn build(server: ciba_server::CibaServer, hooks: impl ciba_hyper::server::AuthorizationHooks) {
    /// use ciba_hyper::server::AuthorizationServer;
    ///
    /// // Issuer https://as.example/oauth, token endpoint https://as.example/oauth/token, ...
    /// let service = AuthorizationServer::builder(server, hooks).mount_path("/oauth").build();
    /// // axum::Router::new().nest_service("/oauth", service): `/oauth/token` arrives as `/token`.
    /// # let _ = service; }
    /// ```
    pub fn mount_path(mut self, mount_path: impl Into<String>) -> Self {
        self.mount_path = mount_path.into();
        self
    }

    /// Delivers ping and push notifications with `deliverer` (default:
    /// `NotificationDeliverer::with_policy` with the server's
    /// [`ServerConfig::egress_policy`](ciba_server::ServerConfig::egress_policy)).
    pub fn deliverer(mut self, deliverer: NotificationDeliverer) -> Self {
        self.deliverer = Some(deliverer);
        self
    }

    /// The random source for `auth_req_id`s and tokens (default `BatchedOsRandom`: the OS
    /// CSPRNG, read in blocks).
    pub fn rng(mut self, rng: Arc<dyn Random>) -> Self {
        self.rng = Some(rng);
        self
    }

    /// The server.
    pub fn build(self) -> AuthorizationServer {
        let routes = Routes::new(&self.server, &self.mount_path);
        let egress = self.server.config().egress_policy;
        let shared = handle::Shared {
            server: self.server,
            hooks: self.hooks,
            deliverer: self
                .deliverer
                .unwrap_or_else(|| NotificationDeliverer::with_policy(egress)),
            rng: self.rng.unwrap_or_else(|| Arc::new(BatchedOsRandom)),
        };
        AuthorizationServer {
            handle: AsHandle {
                shared: Arc::new(shared),
            },
            routes: Arc::new(routes),
        }
    }
}

/// The CIBA endpoints of an authorization server, as a service. Cheap to clone.
///
/// Serve it with [`AuthorizationServer::bind`] / [`AuthorizationServer::serve`], or mount it
/// in your own server: it implements `tower_service::Service<http::Request<B>>` for any
/// `http_body::Body` `B` (request bodies are read up to ciba-server's `max_body_bytes`).
#[derive(Clone)]
pub struct AuthorizationServer {
    handle: AsHandle,
    routes: Arc<Routes>,
}

impl fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// The endpoints of `server`, with the application's `hooks` and the defaults.
    pub fn new(
        server: impl Into<Arc<CibaServer>>,
        hooks: impl AuthorizationHooks,
    ) -> AuthorizationServer {
        AuthorizationServer::builder(server, hooks).build()
    }

    /// A builder, to set the deliverer or the random source.
    pub fn builder(
        server: impl Into<Arc<CibaServer>>,
        hooks: impl AuthorizationHooks,
    ) -> AuthorizationServerBuilder {
        AuthorizationServerBuilder {
            server: server.into(),
            hooks: Arc::new(hooks),
            deliverer: None,
            rng: None,
            mount_path: String::new(),
        }
    }

    /// The application's handle: pending requests, `complete`.
    pub fn handle(&self) -> AsHandle {
        self.handle.clone()
    }

    /// Binds `addr` and serves with the default [`ServeOptions`] until the returned server is
    /// shut down or dropped.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        self.serve(listener)
    }

    /// Serves on an already bound `listener` with the default [`ServeOptions`] (bind first
    /// when the configuration needs the port, as loopback tests do).
    pub fn serve(self, listener: TcpListener) -> std::io::Result<RunningServer> {
        self.serve_with(listener, ServeOptions::default())
    }

    /// Serves on `listener` within `options`: the connection cap, the head, body and
    /// whole-request timeouts. A body not received within the body timeout is answered 408,
    /// a body over ciba-server's `max_body_bytes` 413, both as JSON `invalid_request`
    /// errors with `Cache-Control: no-store` ([`CibaServer::refuse_body`]).
    pub fn serve_with(
        self,
        listener: TcpListener,
        options: ServeOptions,
    ) -> std::io::Result<RunningServer> {
        let server = spawn_server(listener, options, self)?;
        tracing::info!(addr = %server.local_addr(), "authorization server listening");
        Ok(server)
    }

    /// Answers one request whose body was already read.
    ///
    /// Each request runs in an `INFO` span named `ciba_http` with its `route` (`discovery`,
    /// `jwks`, `backchannel`, `token`, `not_found`), `method` and answered `status`; the
    /// endpoint spans of ciba-server nest in it. Discovery and JWKS requests are counted in
    /// `ciba_requests_total` (endpoints `discovery`, `jwks`; outcome `ok` or
    /// `method_not_allowed`), beside the endpoints ciba-server counts.
    pub async fn handle_request(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let path = request.uri().path();
        let routes = &*self.routes;
        let route = if routes.discovery.as_deref() == Some(path) {
            "discovery"
        } else if routes.jwks.as_deref() == Some(path) {
            "jwks"
        } else if routes.backchannel.as_deref() == Some(path) {
            "backchannel"
        } else if routes.token.as_deref() == Some(path) {
            "token"
        } else {
            "not_found"
        };
        let span = tracing::info_span!(
            "ciba_http",
            route,
            method = %request.method(),
            status = tracing::field::Empty
        );
        let response = self.route(route, &request).instrument(span.clone()).await;
        span.record("status", response.status().as_u16());
        response
    }

    async fn route(
        &self,
        route: &'static str,
        request: &http::Request<Vec<u8>>,
    ) -> http::Response<Vec<u8>> {
        let server = &*self.handle.shared.server;
        match route {
            "discovery" => count_get(route, get_only(request, || server.discovery_response())),
            "jwks" => count_get(
                route,
                get_only(request, || server.jwks_response(SystemTime::now())),
            ),
            "backchannel" => self.backchannel(request).await,
            "token" => self.token(request).await,
            _ => status_only(StatusCode::NOT_FOUND),
        }
    }

    async fn backchannel(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let shared = &*self.handle.shared;
        let server = &*shared.server;
        let rng = &*shared.rng;
        let now = SystemTime::now();
        let certificate = peer_certificate(request);
        // The user is identified within this request, so the ticket need not be stored.
        let ticket = match server
            .authenticate_request_inline(&incoming(request, &certificate), now, rng)
            .await
        {
            InlineBackchannelOutcome::Respond(refusal) => {
                tracing::info!(status = refusal.status().as_u16(), error = %refusal.error,
                    "backchannel request refused");
                return refusal.response;
            }
            InlineBackchannelOutcome::UserIdentification(ticket) => *ticket,
        };
        let subject = match shared.hooks.identify_user(ticket.ticket()).await {
            Ok(subject) => subject,
            Err(reason) => {
                tracing::info!(client_id = %ticket.client_id, ?reason, "user not identified");
                return server.fail_inline(ticket, reason, None).response;
            }
        };
        // What `issue_inline` stores, without reading it back from the store.
        let pending = PendingRequest::issuing(&ticket, &subject, now);
        match server.issue_inline(ticket, &subject, now, rng).await {
            IssueOutcome::Issued(ack) => {
                tracing::info!(
                    client_id = %pending.client_id,
                    auth_req = %short_hash(ack.auth_req_id.as_str()),
                    mode = %pending.delivery_mode.as_str(),
                    "authentication request issued"
                );
                self.start_device_step(pending.acknowledged(&ack.auth_req_id, ack.expires_in));
                ack.response
            }
            IssueOutcome::InvalidTicket(refusal) | IssueOutcome::Refused(refusal) => {
                tracing::warn!(status = refusal.status().as_u16(), error = %refusal.error,
                    "authentication request not issued");
                refusal.response
            }
        }
    }

    /// Spawns `AuthorizationHooks::authentication_requested` for the request just stored,
    /// so that neither the acknowledgement waits for the hook nor a client hanging up
    /// cancels it.
    fn start_device_step(&self, pending: PendingRequest) {
        let hooks = Arc::clone(&self.handle.shared.hooks);
        let handle = self.handle.clone();
        tokio::spawn(async move { hooks.authentication_requested(pending, handle).await });
    }

    async fn token(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let shared = &*self.handle.shared;
        let certificate = peer_certificate(request);
        let outcome = shared
            .server
            .token_request(
                &incoming(request, &certificate),
                SystemTime::now(),
                &*shared.rng,
            )
            .await;
        match outcome {
            TokenOutcome::Issued(grant) => {
                tracing::info!(
                    client_id = %grant.client_id,
                    auth_req = %short_hash(grant.auth_req_id.as_str()),
                    "tokens issued"
                );
                grant.response
            }
            TokenOutcome::Respond(refusal) => {
                tracing::debug!(status = refusal.status().as_u16(), code = %refusal.code(),
                    "token request answered");
                refusal.response
            }
            TokenOutcome::NotCibaGrant { .. } => json_response(
                StatusCode::BAD_REQUEST,
                &error_body(
                    &ErrorCode::UnsupportedGrantType,
                    Some("only the CIBA grant is served here"),
                ),
            ),
        }
    }
}

/// The TLS client certificate of the request's connection, if it came over mutual TLS.
fn peer_certificate(request: &http::Request<Vec<u8>>) -> Option<TlsClientCertificate> {
    request
        .extensions()
        .get::<PeerCertificate>()
        .map(|p| TlsClientCertificate::from_der(p.0.clone()))
}

/// `request` as ciba-server sees it, with the client certificate when there is one.
fn incoming<'a>(
    request: &'a http::Request<Vec<u8>>,
    certificate: &'a Option<TlsClientCertificate>,
) -> IncomingRequest<'a> {
    let incoming = IncomingRequest::from_http(request);
    match certificate {
        Some(c) => incoming.with_client_certificate(c),
        None => incoming,
    }
}

/// Counts a discovery or JWKS answer in `ciba_requests_total`.
fn count_get(endpoint: &'static str, response: http::Response<Vec<u8>>) -> http::Response<Vec<u8>> {
    let outcome = if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        "method_not_allowed"
    } else {
        "ok"
    };
    metrics::counter!(ciba_server::observe::REQUESTS, "endpoint" => endpoint, "outcome" => outcome)
        .increment(1);
    response
}

fn status_only(status: StatusCode) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = status;
    response
}

fn get_only(
    request: &http::Request<Vec<u8>>,
    answer: impl FnOnce() -> http::Response<Vec<u8>>,
) -> http::Response<Vec<u8>> {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return answer();
    }
    let mut response = status_only(StatusCode::METHOD_NOT_ALLOWED);
    response.headers_mut().insert(
        http::header::ALLOW,
        http::HeaderValue::from_static("GET, HEAD"),
    );
    response
}

impl<B> tower_service::Service<http::Request<B>> for AuthorizationServer
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
        Box::pin(async move {
            let server = &*this.handle.shared.server;
            let limit = server.config().limits.max_body_bytes;
            let response = match collect_request(request, limit).await {
                Ok(request) => this.handle_request(request).await,
                Err(refused) => {
                    let error = match refused {
                        BodyRefused::TooLarge => BodyError::TooLarge { limit },
                        BodyRefused::TimedOut => BodyError::TimedOut,
                        BodyRefused::Unreadable => BodyError::Unreadable,
                    };
                    tracing::info!(%error, "request body refused");
                    server.refuse_body(error).response
                }
            };
            Ok(full(response))
        })
    }
}
