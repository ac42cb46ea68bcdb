//! # ciba-client
//!
//! The async OpenID Connect CIBA (Client-Initiated Backchannel Authentication Core 1.0)
//! client, once, for every HTTP stack. It drives the sans-I/O protocol core [`ciba_core`] on
//! tokio and is generic over one small trait, [`HttpSend`]: send an
//! `http::Request<Vec<u8>>`, get the whole `http::Response<Vec<u8>>`. `ciba-reqwest` and
//! `ciba-hyper` implement it; so can anything else in a dozen lines.
//!
//! ```text
//!  CibaClient::discover(http, issuer, ClientConfig, ClientOptions)   discovery, issuer check
//!        │
//!  client.initiate(AuthRequest) ──► AuthRequestAck      (ping/push: registered in the registry)
//!        │
//!  client.wait_for_tokens(&ack) ──► poll/ping: Poller::next ─► Wait(deadline) ─► sleep_until
//!        .progress(tx)                                       Send(request)   ─► HttpSend
//!                                                            FetchKeys       ─► JWKS cache
//!                                    push: registry ─► accepted delivery
//!  notification endpoint ─► NotificationRegistry::check_bearer (headers) ─► ::handle (body)
//! ```
//!
//! ## The whole flow
//!
//! With any adapter; here a hand-written one would do as well as ciba-reqwest's or
//! ciba-hyper's `HttpClient`:
//!
//! ```no_run
//! use ciba_client::{CibaClient, ClientOptions, HttpSend};
//! use ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
//!
//! # async fn run<S: HttpSend>(http: S) -> Result<(), ciba_client::Error> {
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
//! ## The policies
//!
//! Every rule of the protocol is ciba-core's. What lives here is what needs a clock and
//! shared state:
//!
//! - **The flow clock.** A wait reads the wall clock once and advances it with tokio's
//!   monotonic clock; ciba-core's deadlines map to tokio instants exactly.
//! - **The JWK Set cache** (`jwks` module, private): a TTL, the freshest set for an unknown
//!   `kid` (a refetch another wait just made is reused), single-flight and rate-bounded
//!   refetches that delay rather than refuse, the last good set when a fetch fails.
//! - **The notification registry** ([`NotificationRegistry`]): registrations keyed by issuer
//!   and `auth_req_id` (a duplicate is refused), the bearer token checked before the body is
//!   read and before any key fetch, refusals reported to the waiting flow at once.
//! - **Transient answers.** Transport failures go to ciba-core's `Poller` as transient; only
//!   an oversized body ends a wait (see [`TransportError::is_transient`]).
//!
//! Modules, one job each: `send` ([`HttpSend`], [`TransportError`]), `client`
//! ([`CibaClient`]), `wait` ([`TokenWait`]), `progress` ([`FlowProgress`],
//! [`RefusedNotification`]), `registry` ([`NotificationRegistry`]), `options`
//! ([`ClientOptions`]), `error` ([`Error`]); the clock and the JWK Set cache are private.

#![forbid(unsafe_code)]

#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub mod __internals;
mod client;
mod clock;
mod error;
mod jwks;
mod options;
mod progress;
mod registry;
mod send;
mod wait;

pub use ciba_core;
pub use ciba_core::{PollPhase, PollProgress};
pub use client::CibaClient;
pub use error::Error;
pub use jwks::{DEFAULT_JWKS_MIN_REFETCH_INTERVAL, DEFAULT_JWKS_TTL};
pub use options::ClientOptions;
pub use progress::{FlowProgress, NotificationKind, RefusedNotification};
pub use registry::{DEFAULT_BINDING_GRACE, InitiationGuard, NotificationRegistry};
pub use send::{
    BoxError, HttpSend, TransportError, TransportErrorKind, redacted_endpoint, within_timeout,
};
pub use wait::TokenWait;
