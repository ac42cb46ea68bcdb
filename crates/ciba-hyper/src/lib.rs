//! # ciba-hyper
//!
//! OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0) over hyper 1:
//! an async client, the client's notification endpoint, and the authorization server's
//! endpoints.
//!
//! This crate is a thin transport. Every protocol decision is made by the sans-I/O crates:
//! `ciba-core` (the client: discovery checks, requests, the acknowledgement, the `Poller`, ID
//! token validation, ping and push handling) and `ciba-server` (the authorization server
//! helper). Here requests are sent, responses read (under a size cap and a timeout), sleeps
//! last until the deadline the core names, and transport failures go back to the core.
//!
//! ```text
//!  CibaClient ── discover ─► ServerMetadata::from_response (issuer checked)
//!             ── initiate ─► AuthRequest::build ─► hyper ─► AuthRequestAck::from_response
//!             ── tokens ───► poll: Poller::next ─► sleep_until(deadline) | send ─► on_response
//!                            ping: the same, woken by NotificationReceiver (Poller::ping_received)
//!                            push: NotificationReceiver ─► receive_push ─► ValidatedTokens
//!  AuthorizationServer (feature `server`) ─► CibaServer: discovery, JWKS, backchannel, token
//!  AsHandle::complete ─► CibaServer::complete ─► NotificationDeliverer ─► client's endpoint
//! ```
//!
//! ## The whole client flow
//!
//! ```no_run
//! use ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
//! use ciba_hyper::CibaClient;
//!
//! # async fn run() -> Result<(), ciba_hyper::Error> {
//! let secret = ClientSecret::new("a-long-random-client-secret");
//! let config = ClientConfig::new("client-1", ClientAuth::SecretBasic(secret), DeliveryMode::Poll);
//! // Plain http only; for https pass `.http_client(HttpClient::new(client_over_tls))`.
//! let client = CibaClient::builder(config).discover("https://op.example").await?;
//! let request = AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
//!     .scope(["openid", "email"])
//!     .binding_message("W4SCT");
//! let ack = client.initiate(request).await?;
//! let tokens = client.tokens(&ack).await?; // sleeps between polls as the core says
//! println!("{} signed in", tokens.id_token.sub);
//! # Ok(()) }
//! ```
//!
//! Ping and push clients bind a [`NotificationReceiver`] (or mount [`NotificationService`] on
//! their own server) and pass its registry with [`CibaClientBuilder::notifications`]; `tokens`
//! then returns as soon as the ping or push arrives. Progress for a spinner:
//! [`CibaClient::tokens_with_progress`].
//!
//! ## Modules
//!
//! [`client`] ([`CibaClient`]), [`transport`] ([`HttpClient`]: timeout, body cap, any
//! connector), [`receiver`] (the notification endpoint), progress snapshots ([`PollProgress`], from ciba-core), [`error`], and
//! [`server`] (feature `server`: [`server::AuthorizationServer`], [`server::AsHandle`],
//! [`server::NotificationDeliverer`]).
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
//!
//! ## TLS
//!
//! [`HttpClient::http`] has no TLS. For `https` OPs, build a
//! `hyper_util::client::legacy::Client<C, http_body_util::Full<bytes::Bytes>>` over a TLS
//! connector (for example `hyper-rustls`) and wrap it with [`HttpClient::new`]. The servers in
//! this crate speak plain HTTP/1.1: terminate TLS in front of them, or mount the services in a
//! server that does.
//!
//! ## Logs
//!
//! Through `tracing`. `auth_req_id`s appear only truncated (as ciba-core's `AuthReqId`
//! `Debug` shows them); tokens, secrets, assertions and notification tokens never appear.

#![forbid(unsafe_code)]

pub mod client;
mod clock;
pub mod error;
mod jwks;
pub mod receiver;
mod serve;
#[cfg(feature = "server")]
pub mod server;
pub mod transport;

pub use ciba_core::progress::{PollPhase, PollProgress};
pub use client::{CibaClient, CibaClientBuilder};
pub use error::{BoxError, Error};
pub use jwks::{DEFAULT_JWKS_MIN_REFRESH, DEFAULT_JWKS_TTL};
pub use receiver::{
    DEFAULT_BINDING_GRACE, InitiationGuard, Notification, NotificationReceiver,
    NotificationRegistry, NotificationService, NotificationWaiter, PUSH_ANSWER_TIMEOUT,
    PushDelivery,
};
pub use serve::{RunningServer, ServiceFuture, serve_fn};
pub use transport::{DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, HttpClient};
