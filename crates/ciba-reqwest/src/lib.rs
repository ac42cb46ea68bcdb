//! # ciba-reqwest
//!
//! An async OpenID Connect CIBA (Client-Initiated Backchannel Authentication Core 1.0) client
//! over [reqwest] and tokio, driving the sans-I/O protocol core [`ciba_core`].
//!
//! This crate is a thin transport. Every protocol decision (request building, client
//! authentication, the polling interval, `slow_down`, retries after transient failures,
//! expiry, ID token validation) is ciba-core's; this crate moves the bytes, sleeps until the
//! deadlines the core names (`tokio::time::sleep_until`), and caches the OP's JWK Set. It
//! spawns no task: dropping any future it returns stops the work, and nothing is sent after.
//!
//! ```text
//!  CibaClient::discover(issuer, ClientConfig, ClientOptions)   discovery, issuer check
//!        │
//!  client.initiate(AuthRequest) ──► AuthRequestAck            backchannel endpoint
//!        │
//!  client.poll(&ack)            ──► Poller: Wait(deadline) ─► sleep_until
//!  (or wait_for_tokens(&ack)               Send(request)   ─► reqwest ─► on_response
//!      .notifications(rx)                                     or on_transport_error
//!      .progress(tx))                      FetchKeys       ─► JWKS cache ─► keys_refreshed
//!                                                             or keys_unavailable
//!                                          Done(tokens)    ─► ValidatedTokens
//!                                          Failed(error)   ─► Error::Poll
//!  ping / push: your notification endpoint ─► NotificationEvent ─► rx
//! ```
//!
//! ## The whole flow
//!
//! ```no_run
//! use ciba_reqwest::ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
//! use ciba_reqwest::{CibaClient, ClientOptions};
//!
//! # async fn run() -> Result<(), ciba_reqwest::Error> {
//! let secret = ClientSecret::new("a-long-random-client-secret");
//! let config = ClientConfig::new("client-1", ClientAuth::SecretBasic(secret), DeliveryMode::Poll);
//! let client = CibaClient::discover("https://op.example", config, ClientOptions::default()).await?;
//! let request = AuthRequest::new(Hint::LoginHint("alice@example.com".into())).binding_message("W4SCT");
//! let ack = client.initiate(request).await?;
//! // Sleeps between polls as the OP asks; drop the future to stop polling.
//! let tokens = client.poll(&ack).await?;
//! println!("{} signed in; access token expires in {:?}", tokens.id_token.sub, tokens.response.expires_in);
//! # Ok(()) }
//! ```
//!
//! ## Transport policy
//!
//! - **Redirects are never followed.** A 3xx reaches the core, which refuses it with a typed
//!   error ([`Error::Poll`] with a `ParseError` of `UnexpectedStatus`, or [`Error::Core`]).
//! - **Timeouts**: each exchange, body included, is bounded by
//!   [`ClientOptions::request_timeout`] (30 s by default). While polling a timeout is a
//!   transient failure the poller handles (backoff, then `TooManyFailures`).
//! - **Body cap**: bodies are read chunk by chunk and reading stops past
//!   [`ClientOptions::max_body_bytes`] (default: the client's `Limits::max_body_bytes`),
//!   whatever `Content-Length` says: [`Error::BodyTooLarge`].
//! - **JWK Set**: fetched on first use, cached for [`ClientOptions::jwks_ttl`], refetched when
//!   an ID token names an unknown key, at most once per
//!   [`ClientOptions::jwks_refresh_cooldown`].
//! - **mTLS**: [`ClientOptions::identity`] presents a client certificate; the core picks the
//!   OP's `mtls_endpoint_aliases` for mTLS clients. **DPoP**: [`ClientOptions::dpop`].
//! - **Logs**: `tracing` events carry endpoints, statuses, intervals and the `auth_req_id`
//!   truncated as ciba-core's `Debug` shows it; never tokens, secrets or assertions.
//!
//! Modules, one job each: [`client`] (the [`CibaClient`]), [`wait`] (driving the poller,
//! waiting for push), [`notification`] (events from a notification endpoint), progress snapshots ([`PollProgress`], from ciba-core),
//! [`options`], [`error`]; the transport and the JWKS cache are private.
//!
//! ## reqwest in the public API
//!
//! Only two options take reqwest types: [`ClientOptions::identity`] (a `reqwest::Identity`
//! for mTLS) and [`ClientOptions::http_client`] (your own `reqwest::Client`). Nothing else
//! exposes reqwest, so upgrading it is this crate's business.

#![forbid(unsafe_code)]

pub mod client;
pub mod error;
mod jwks;
pub mod notification;
pub mod options;
mod transport;
pub mod wait;

pub use ciba_core;
pub use ciba_core::progress::{PollPhase, PollProgress};
pub use client::CibaClient;
pub use error::{Error, TransportErrorKind};
pub use notification::{NoNotifications, NotificationEvent, NotificationSource};
pub use options::ClientOptions;
pub use wait::TokenWait;
