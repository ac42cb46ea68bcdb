//! # ciba-core
//!
//! Sans-I/O OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0): the
//! client side of the protocol, and the model the server helper (`ciba-server`) shares.
//!
//! ## Design
//!
//! This crate makes every protocol decision and performs none of the I/O. Nothing here opens a
//! socket, reads the clock, sleeps, spawns or keeps global random state:
//!
//! - **in**: `http::Response<Vec<u8>>` / `http::Request<Vec<u8>>` values and JSON bytes the
//!   transport received, the caller's `now: SystemTime`, and a [`Random`] source;
//! - **out**: an `http::Request<Vec<u8>>` to send, an `http::Response<Vec<u8>>` to answer with,
//!   a deadline to sleep until, a typed result, or a typed [`Error`].
//!
//! A transport (`ciba-reqwest`, `ciba-hyper`, or your own) only moves bytes and sleeps until the
//! deadline it was given; tests drive the same code with a virtual clock.
//!
//! ## Client data flow
//!
//! ```text
//!  discovery JSON ──> ServerMetadata::from_json ──┐    ClientConfig (client_id, auth, mode)
//!                                                 └──> Client::new
//!  AuthRequest::new(hint)....build(&client, now, rng) ──> http::Request ──transport──> OP
//!  AuthRequestAck::from_response(resp, now) <──────────── http::Response <─────────────┘
//!      { auth_req_id, interval, expires_at }
//!          │
//!   poll / ping:  Poller::new(&client, &ack, PollConfig::new(IdTokenValidator), now)
//!                 loop poller.next(now, rng):
//!                   Wait(deadline) ──> sleep (or ping_received() on a ping)
//!                   Send(request)  ──> transport ──> on_response(resp, now)
//!                                                 or on_transport_error(now)
//!                   FetchKeys      ──> (opt-in: unknown kid) JwkSet::from_response(GET jwks_uri)
//!                                      ──> keys_refreshed(jwks, now) or keys_unavailable()
//!                   Done(tokens)   ──> TokenResponse + validated IdTokenClaims
//!                   Failed(error)  ──> PollError (denied, expired, invalid_request, ...)
//!   ping / push:  notification endpoint: receive_ping / receive_push(request, bindings, ...)
//!                   ──> the auth_req_id or the pushed tokens, plus the response to send
//!                 (or step by step: bearer_token(headers) before the body is read,
//!                  authenticate_notification, then .ping() or .push(validator): keys last)
//!   DPoP:         DpopNonces keeps each server's latest nonce for every flow
//!                   (PollConfig::dpop_nonce, Poller::dpop_nonce / set_dpop_nonce)
//! ```
//!
//! Modules, one job each: [`metadata`] and [`client`] (the OP and the registration),
//! [`auth_request`] and [`ack`] (CIBA 7), [`token_request`], [`poll`] (with [`progress`] snapshots) and [`token_response`]
//! (CIBA 10.1, 11), [`notification`] (CIBA 10.2, 10.3, 12), [`id_token`] (OIDC Core 3.1.3.7 with
//! the CIBA claims), [`dpop`] (RFC 9449), [`client_auth`] (client authentication), [`jose`],
//! and the shared [`error`], [`oauth_error`], [`body`], [`limits`], [`random`], [`time`], [`ct`].
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws-lc-rs` | yes | JOSE signatures through jsonwebtoken's aws-lc-rs provider |
//! | `rust-crypto` | no | JOSE signatures through jsonwebtoken's RustCrypto provider (pure Rust) |
//! | `os-rng` | yes | [`random::OsRandom`], a [`Random`] backed by the operating system, and [`random::BatchedOsRandom`], the same read in blocks |
//! | `jwe` | no | encrypted ID tokens: `jose::jwe::JweDecrypter` (give it to [`IdTokenValidator::decrypter`](id_token::IdTokenValidator::decrypter)) and the encryption half ciba-server uses; RustCrypto primitives under either JOSE backend (why: see [`jose::jwe`]) |
//!
//! One JOSE backend is needed. jsonwebtoken itself panics at run time when its process-wide
//! provider is ambiguous: both of its backends enabled (easy to reach through feature
//! unification in a larger build), or neither, with nobody installing one. ciba-core never uses
//! that process-wide provider: it calls the provider of the backend it was built with, prefers
//! aws-lc-rs when both are on, and refuses to compile with neither. See [`jose`] for details. To
//! build pure Rust, use `default-features = false, features = ["rust-crypto", "os-rng"]`.
//!
//! ## A whole poll flow, scripted
//!
//! No sockets and no real clock: the OP's answers are scripted and time is a variable.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//!
//! use ciba_core::auth_request::{AuthRequest, Hint};
//! use ciba_core::id_token::IdTokenValidator;
//! use ciba_core::jose::{Jwk, JwkSet};
//! use ciba_core::poll::{PollAction, PollConfig, Poller};
//! use ciba_core::{
//!     AuthRequestAck, Client, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, ServerMetadata,
//! };
//! # use ciba_core::jose::{JwkSigner, Signer, hash::left_half_hash, jws::sign_compact};
//! # use ciba_core::random::{Random, RandomError};
//! # use serde_json::json;
//! # struct TestRandom(std::sync::atomic::AtomicU8);
//! # impl Random for TestRandom {
//! #     fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
//! #         let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//! #         dest.iter_mut().enumerate().for_each(|(i, b)| *b = n ^ i as u8);
//! #         Ok(())
//! #     }
//! # }
//! # fn json(status: u16, body: serde_json::Value) -> http::Response<Vec<u8>> {
//! #     http::Response::builder().status(status).header("content-type", "application/json")
//! #         .body(body.to_string().into_bytes()).unwrap()
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let rng = TestRandom(std::sync::atomic::AtomicU8::new(7)); // use random::OsRandom in real code
//! // The OP's signing key (private, known only to the scripted OP below) and its JWK Set.
//! let op_key = Jwk::from_json(include_str!("../testdata/es256.jwk.json").as_bytes())?;
//! let jwks = JwkSet { keys: vec![op_key.to_public()] };
//!
//! // The caller's clock.
//! let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut now = start;
//!
//! // 1. Discovery and registration.
//! let discovery = json!({
//!     "issuer": "https://op.example",
//!     "token_endpoint": "https://op.example/token",
//!     "jwks_uri": "https://op.example/jwks",
//!     "backchannel_authentication_endpoint": "https://op.example/bc",
//!     "backchannel_token_delivery_modes_supported": ["poll", "ping", "push"],
//!     "id_token_signing_alg_values_supported": ["ES256"],
//! });
//! let metadata = ServerMetadata::from_json(
//!     discovery.to_string().as_bytes(),
//!     "https://op.example",
//!     &Default::default(),
//! )?;
//! let secret = ClientSecret::new("a-long-random-client-secret");
//! let config = ClientConfig::new("client-1", ClientAuth::SecretBasic(secret), DeliveryMode::Poll);
//! let client = Client::new(config, metadata)?;
//!
//! // 2. The backchannel authentication request, and the OP's acknowledgement.
//! let request = AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
//!     .scope(["openid", "email"])
//!     .binding_message("W4SCT")
//!     .build(&client, now, &rng)?;
//! assert_eq!(request.uri(), "https://op.example/bc");
//! let answer = json(200, json!({"auth_req_id": "1c266114-a1be-4252-8ad1-04986c5b9ac1",
//!                               "expires_in": 120, "interval": 5}));
//! let ack = AuthRequestAck::from_response(&answer, now, client.limits())?;
//!
//! // 3. Poll. The scripted OP answers: pending, pending, slow_down, then tokens.
//! let validator = IdTokenValidator::for_client(&client, jwks);
//! let mut poller = Poller::new(&client, &ack, PollConfig::new(validator), now)?;
//! # let op = |poll: usize, now: SystemTime| -> http::Response<Vec<u8>> {
//! #     let t = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
//! #     match poll {
//! #         1 | 2 => json(400, json!({"error": "authorization_pending"})),
//! #         3 => json(400, json!({"error": "slow_down"})),
//! #         _ => {
//! #             let signer = JwkSigner::from_jwk(&op_key, None).unwrap();
//! #             let at_hash = left_half_hash(signer.algorithm(), "at-1").unwrap();
//! #             let claims = json!({"iss": "https://op.example", "sub": "alice", "aud": "client-1",
//! #                 "iat": t, "exp": t + 300, "at_hash": at_hash,
//! #                 "urn:openid:params:jwt:claim:auth_req_id": "1c266114-a1be-4252-8ad1-04986c5b9ac1"});
//! #             let id_token = sign_compact(Default::default(), claims.as_object().unwrap(), &signer).unwrap();
//! #             json(200, json!({"access_token": "at-1", "token_type": "Bearer",
//! #                              "expires_in": 3600, "id_token": id_token}))
//! #         }
//! #     }
//! # };
//! let mut sent_at = Vec::new();
//! let tokens = loop {
//!     match poller.next(now, &rng) {
//!         // A transport sleeps until the deadline; the virtual clock just jumps there.
//!         PollAction::Wait(deadline) => now = deadline,
//!         PollAction::Send(_request) => {
//!             sent_at.push(now.duration_since(start)?.as_secs());
//!             let response = op(poller.polls_sent() as usize, now); // the transport's job
//!             poller.on_response(response, now);
//!         }
//!         PollAction::Done(tokens) => break tokens,
//!         PollAction::Failed(error) => return Err(error.into()),
//!         other => unreachable!("{other:?}"),
//!     }
//! };
//!
//! // Polls every 5 s; after slow_down the interval is 10 s.
//! assert_eq!(sent_at, [5, 10, 15, 25]);
//! assert_eq!(poller.interval(), Duration::from_secs(10));
//! assert_eq!(poller.slow_downs(), 1);
//! // The ID token's signature, issuer, audience, times, at_hash and auth_req_id were checked.
//! assert_eq!(tokens.id_token.sub, "alice");
//! assert_eq!(tokens.response.access_token, "at-1");
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod ack;
pub mod auth_request;
pub mod body;
pub mod client;
pub mod client_auth;
pub mod ct;
pub mod delivery_mode;
pub mod dpop;
pub mod endpoint;
pub mod error;
pub mod id_token;
pub mod jose;
pub mod limits;
pub mod metadata;
pub mod notification;
pub mod oauth_error;
pub mod observe;
pub mod poll;
pub mod profile;
pub mod progress;
pub mod random;
pub mod time;
pub mod token_request;
pub mod token_response;

pub use ack::{AuthReqId, AuthRequestAck};
pub use auth_request::{AuthRequest, Hint, RequestError};
pub use client::{Client, ClientConfig};
pub use client_auth::{ClientAuth, ClientSecret};
pub use delivery_mode::{CIBA_GRANT_TYPE, DeliveryMode};
pub use dpop::{DpopError, DpopKey, DpopNonces};
pub use endpoint::EndpointPolicy;
pub use error::{ConfigError, Error, ParseError, ParseErrorKind};
pub use id_token::{IdTokenClaims, IdTokenValidator};
pub use limits::Limits;
pub use metadata::ServerMetadata;
pub use oauth_error::{ErrorCode, OAuthError};
pub use poll::{PollAction, PollConfig, PollError, Poller};
pub use profile::Profile;
pub use progress::{PollPhase, PollProgress};
pub use random::Random;
pub use token_response::{TokenResponse, TokenType, ValidatedTokens};
