//! # ciba-hyper
//!
//! OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0) over hyper 1:
//! the adapter of [`ciba_client`]'s client ([`HttpClient`], an implementation of
//! [`ciba_client::HttpSend`]), the client's notification endpoint, and the authorization
//! server's endpoints.
//!
//! This crate is a thin transport. Every protocol decision is made by the sans-I/O crates:
//! `ciba-core` (the client protocol) and `ciba-server` (the authorization server helper);
//! every client policy (waits, JWK Set cache, notification registry) is ciba-client's, the
//! same for every transport. Here requests are sent, responses read (under a size cap and a
//! timeout), and notifications received.
//!
//! ```text
//!  CibaClient (= ciba_client::CibaClient<HttpClient>) ── HttpSend ─► hyper-util client
//!  NotificationReceiver ─► NotificationService: bearer checked (headers), body read (cap,
//!                          timeout) ─► ciba_client::NotificationRegistry ─► the waiting flow
//!  AuthorizationServer (feature `server`) ─► CibaServer: discovery, JWKS, backchannel, token
//!  AsHandle::complete ─► CibaServer::complete ─► NotificationDeliverer ─► client's endpoint
//! ```
//!
//! ## The whole client flow
//!
//! ```no_run
//! use ciba_hyper::ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
//! use ciba_hyper::{CibaClient, ClientOptions, HttpClient};
//!
//! # async fn run() -> Result<(), ciba_hyper::Error> {
//! let http = HttpClient::default(); // the adapter: https (feature `tls`, default) and http
//! let secret = ClientSecret::new("a-long-random-client-secret");
//! let config = ClientConfig::new("client-1", ClientAuth::SecretBasic(secret), DeliveryMode::Poll);
//! let client = CibaClient::discover(http, "https://op.example", config, ClientOptions::default()).await?;
//! let request = AuthRequest::new(Hint::LoginHint("alice@example.com".into())).binding_message("W4SCT");
//! let ack = client.initiate(request).await?;
//! let tokens = client.wait_for_tokens(&ack).await?; // sleeps between polls as the OP asks
//! println!("{} signed in", tokens.id_token.sub);
//! # Ok(()) }
//! ```
//!
//! Ping and push clients bind a [`NotificationReceiver`] (or mount [`NotificationService`] on
//! their own server) and pass its registry with [`ClientOptions::notifications`]; the wait
//! then ends as soon as the ping's token request or the push arrives.
//!
//! ## Modules
//!
//! [`transport`] ([`HttpClient`]: timeout, body cap, any connector), [`tls`] (feature `tls`:
//! the roots trusted and the rustls configuration), [`receiver`] (the notification endpoint),
//! [`error`], and [`server`] (feature `server`:
//! [`server::AuthorizationServer`], [`server::AsHandle`], [`server::NotificationDeliverer`]).
//! [`ServeOptions`] bounds every server it runs; [`serve_fn`] serves an application's own
//! handler in the same bounded accept loop.
//!
//! ## Bounded servers
//!
//! The authorization server, the notification receiver and [`serve_fn`] share one accept
//! loop, bounded by [`ServeOptions`]:
//!
//! | limit | default | past it |
//! |---|---|---|
//! | connections open at once | [`DEFAULT_MAX_CONNECTIONS`] (512) | new connections wait, unaccepted, in the listen backlog |
//! | request head, and idle time between requests | [`DEFAULT_HEADER_TIMEOUT`] (10 s) | the connection is closed |
//! | request body, from the end of the head | [`DEFAULT_BODY_TIMEOUT`] (10 s) | 408 with a JSON `invalid_request`, then the connection is closed |
//! | whole request, from the end of the head to the response | [`DEFAULT_REQUEST_TIMEOUT`] (30 s) | the connection is closed without an answer |
//!
//! So a client that trickles a head or a body a byte at a time holds one connection slot for
//! at most `header_timeout` + `request_timeout`, and no worker thread ever waits for it.
//! Request bodies are also capped in size (ciba-server's `max_body_bytes` for the AS, the
//! registry's limit for the receiver): a larger body is answered 413, by the AS with a JSON
//! `invalid_request` and `Cache-Control: no-store`.
//!
//! The server side never blocks a worker thread: the store, the client registry and the
//! application's [`server::AuthorizationHooks`] are async and awaited, and the list of
//! requests waiting for the user is read from the store, so instances sharing one list the
//! same requests.
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws-lc-rs` | yes | JOSE through ciba-core's aws-lc-rs backend |
//! | `rust-crypto` | no | JOSE through ciba-core's RustCrypto backend |
//! | `server` | yes | the authorization server endpoints over ciba-server |
//! | `tls` | yes | https over rustls for [`HttpClient::https`] and the default notification deliverer: roots from `SSL_CERT_FILE` / `SSL_CERT_DIR` or the platform, HTTP/2 and HTTP/1.1 by ALPN ([`tls`]) |
//!
//! ## TLS
//!
//! With the feature `tls` (on by default), [`HttpClient::https`] (also
//! [`HttpClient::default`]) speaks `https` over rustls (hyper-rustls), HTTP/2 or HTTP/1.1 as
//! the server's ALPN answer says, and plain `http` too. It trusts:
//!
//! * the certificates in `SSL_CERT_FILE` (a PEM file) and/or the directories in
//!   `SSL_CERT_DIR`, **only**, when either variable is set;
//! * otherwise the platform's store (rustls-native-certs: the system bundle on Linux, the
//!   keychain on macOS, the system store on Windows).
//!
//! The roots are read once per client, on its first request, on tokio's blocking pool; with
//! none found, a warning is logged and every https request fails verification. For roots of
//! your own (a private CA, say), build a configuration with [`tls::client_config`] and pass
//! it to [`HttpClient::https_with_config`]. The default `server::NotificationDeliverer`
//! delivers over the same kind of client (or over your rustls configuration with
//! `NotificationDeliverer::https_with_config`), so ping and push reach https notification
//! endpoints; which endpoints may be plain `http` (loopback, by opt-in) is decided at
//! registration by ciba-server. The deliverer also enforces ciba-server's `EgressPolicy`: it
//! resolves each endpoint's name itself, checks every address, and connects only to the
//! checked ones (no loopback, private, link-local or cloud metadata destination unless the
//! policy opts in to loopback).
//!
//! [`HttpClient::http`] has no TLS, and [`hyper_util_legacy::http_client`] wraps a hyper-util legacy
//! client over any other connector. The servers in this crate speak plain HTTP/1.1: terminate TLS in front of
//! them, or mount the services in a server that does.
//!
//! ## Logs
//!
//! Through `tracing`. `auth_req_id`s appear only as their short hash (and ciba-server's
//! `AuthReqId` `Debug` shows only their length); tokens, secrets, assertions and notification
//! tokens never appear.

#![forbid(unsafe_code)]

pub mod error;
pub mod hyper_util_legacy;
mod limits;
pub mod receiver;
mod serve;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;

pub use ciba_client::{
    ClientOptions, FlowProgress, HttpSend, NotificationKind, NotificationRegistry, PollPhase,
    PollProgress, RefusedNotification, TokenWait, TransportError, TransportErrorKind, ciba_core,
};
pub use error::{BoxError, Error};
pub use limits::{
    BodyTimedOut, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT, ReceiverOptions, RequestBody, ServeOptions,
};
pub use receiver::{NotificationReceiver, NotificationService};
#[cfg(feature = "tls")]
pub use serve::serve_fn_tls_with;
pub use serve::{PeerCertificate, RunningServer, ServiceFuture, serve_fn, serve_fn_with};
pub use transport::{DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, HttpClient};

/// The CIBA client over hyper: [`ciba_client::CibaClient`] with this crate's [`HttpClient`].
pub type CibaClient = ciba_client::CibaClient<HttpClient>;

/// Internals for this crate's own tests (feature `test-internals`); not part of the API.
#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub mod __internals {
    #[cfg(feature = "server")]
    pub use crate::server::egress::{GuardedResolver, Lookup};

    /// `NotificationDeliverer::over`: a deliverer over `http`, enforcing `egress`.
    #[cfg(feature = "server")]
    pub fn deliverer_over(
        http: crate::HttpClient,
        egress: ciba_server::EgressPolicy,
    ) -> crate::server::NotificationDeliverer {
        crate::server::NotificationDeliverer::over(http, egress)
    }

    /// `HttpClient::http_resolving_with`: plain `http`, resolving names with `resolver`.
    #[cfg(feature = "server")]
    pub fn http_resolving_with(resolver: GuardedResolver) -> crate::HttpClient {
        crate::HttpClient::http_resolving_with(resolver)
    }
}
