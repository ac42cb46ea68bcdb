//! # ciba-reqwest
//!
//! The OpenID Connect CIBA (Client-Initiated Backchannel Authentication Core 1.0) client of
//! [`ciba_client`] over [reqwest]: this crate is its adapter, [`HttpClient`], an
//! implementation of [`ciba_client::HttpSend`]. Everything else (discovery, the backchannel
//! request, poll/ping/push waits, the JWK Set policy, the notification registry) is
//! ciba-client's, over ciba-core's protocol decisions, and the same for every transport.
//!
//! ## The whole flow
//!
//! ```no_run
//! use ciba_reqwest::ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
//! use ciba_reqwest::{CibaClient, ClientOptions, HttpClient};
//!
//! # async fn run() -> Result<(), ciba_reqwest::Error> {
//! let http = HttpClient::new()?; // the adapter: reqwest with rustls, no redirects
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
//! Ping and push clients give the client a [`NotificationRegistry`]
//! ([`ClientOptions::notifications`]) fed by their notification endpoint: ciba-hyper's
//! `NotificationReceiver`, or any route that calls [`NotificationRegistry::check_bearer`] and
//! [`NotificationRegistry::handle`].
//!
//! ## Transport policy
//!
//! - **Redirects are never followed.** A 3xx reaches ciba-core, which refuses it.
//! - **Timeouts**: each exchange, body included, is bounded by
//!   [`HttpClientBuilder::timeout`] (30 s by default).
//! - **Body cap**: bodies are read chunk by chunk and reading stops past
//!   [`HttpClientBuilder::max_body_bytes`], whatever `Content-Length` says.
//! - **mTLS**: [`HttpClientBuilder::identity`] presents a client certificate.
//! - **Errors and logs** name endpoints without userinfo or query.
//!
//! Only two items take reqwest types: [`HttpClientBuilder::identity`] and
//! [`HttpClient::from_client`]; upgrading reqwest is this crate's business.

#![forbid(unsafe_code)]

mod transport;

pub use ciba_client::{
    ClientOptions, Error, FlowProgress, HttpSend, NotificationKind, NotificationRegistry,
    PollPhase, PollProgress, RefusedNotification, TokenWait, TransportError, TransportErrorKind,
    ciba_core,
};
pub use transport::{DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, HttpClient, HttpClientBuilder};

/// The CIBA client over reqwest: [`ciba_client::CibaClient`] with this crate's
/// [`HttpClient`].
pub type CibaClient = ciba_client::CibaClient<HttpClient>;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
