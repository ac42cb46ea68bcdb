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
//! ## The surface
//!
//! Everything an application needs is re-exported at the crate root (`ciba_core::Client`,
//! `ciba_core::AuthRequest`, `ciba_core::PollAction`, ...). A few modules are namespaces of their
//! own: [`poll`] (CIBA 10.1, 11), [`notification`] (the ping and push receiver, CIBA 10.2, 10.3,
//! 12), [`id_token`] (OIDC Core 3.1.3.7 with the CIBA claims), [`dpop`] (RFC 9449), [`jose`]
//! (JWS, JWK and, with feature `jwe`, JWE), [`random`], [`observe`] (log-safe fingerprints) and
//! [`wire`] (the encoding helpers `ciba-server` and the transports share with this crate).
//! Types from other crates appear in public signatures only where they are the vocabulary of
//! the job: `http` requests and responses, `url::Url`, `serde_json` values and
//! `zeroize::Zeroizing`. jsonwebtoken stays inside [`jose`]: its backend choice is
//! [`jose::backend`].
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws-lc-rs` | yes | JOSE signatures through jsonwebtoken's aws-lc-rs provider |
//! | `rust-crypto` | no | JOSE signatures through jsonwebtoken's RustCrypto provider (pure Rust) |
//! | `os-rng` | yes | [`OsRandom`], a [`Random`] backed by the operating system, and [`BatchedOsRandom`], the same read in blocks |
//! | `jwe` | no | encrypted ID tokens: `jose::jwe::JweDecrypter` (give it to [`IdTokenValidator::decrypter`]) and the encryption half ciba-server uses; RustCrypto primitives under either JOSE backend (why: see [`jose::jwe`]) |
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
//! use ciba_core::jose::{Jwk, JwkSet};
//! use ciba_core::{
//!     AuthRequest, AuthRequestAck, Client, ClientAuth, ClientConfig, ClientSecret, DeliveryMode,
//!     Hint, IdTokenValidator, PollAction, PollConfig, Poller, ServerMetadata,
//! };
//! # use ciba_core::jose::{JwkSigner, Signer, hash::left_half_hash, jws::sign_compact};
//! # use ciba_core::{Random, RandomError};
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
//! # let rng = TestRandom(std::sync::atomic::AtomicU8::new(7)); // use OsRandom in real code
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
//!         PollAction::FetchKeys | PollAction::AwaitingResponse | PollAction::Finished => {
//!             unreachable!("not in this script")
//!         }
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

// The API namespaces: each groups a protocol step's types and functions.
pub mod dpop;
pub mod id_token;
pub mod jose;
pub mod notification;
pub mod observe;
pub mod poll;
pub mod random;
pub mod wire;

// One job each; what users need is re-exported below.
mod ack;
mod auth_request;
mod body;
mod client;
mod client_auth;
mod delivery_mode;
mod endpoint;
mod error;
mod limits;
mod metadata;
mod oauth_error;
mod profile;
mod progress;
mod time;
mod token_request;
mod token_response;

pub use ack::{AuthReqId, AuthRequestAck, DEFAULT_INTERVAL};
pub use auth_request::{
    AuthRequest, DEFAULT_REQUEST_LIFETIME, Hint, MAX_REQUEST_LIFETIME,
    RESERVED_PARAMETERS as AUTH_REQUEST_RESERVED_PARAMETERS, RequestError,
    generate_client_notification_token,
};
pub use client::{Client, ClientConfig};
pub use client_auth::{ASSERTION_LIFETIME, ClientAuth, ClientSecret, JWT_BEARER_ASSERTION_TYPE};
pub use delivery_mode::{CIBA_GRANT_TYPE, DeliveryMode, UnknownDeliveryMode};
pub use dpop::{DpopError, DpopKey, DpopNonces};
pub use endpoint::EndpointPolicy;
pub use error::{ConfigError, Error, ParseError, ParseErrorKind};
pub use id_token::{
    DecryptError, IdTokenClaims, IdTokenContext, IdTokenDecrypter, IdTokenError, IdTokenSource,
    IdTokenValidator,
};
pub use limits::{Limits, MAX_CLIENT_NOTIFICATION_TOKEN_CHARS};
pub use metadata::{DiscoveryDocument, ServerMetadata, discovery_request};
pub use notification::{
    AuthenticatedNotification, NotificationOutcome, NotificationRefusal, NotificationTokens, Ping,
    Push, PushError, PushErrorCode,
};
pub use oauth_error::{Challenge, ErrorCode, MAX_ERROR_TEXT_CHARS, OAuthError};
pub use poll::{PollAction, PollConfig, PollError, Poller};
pub use profile::{FAPI_ALGORITHMS, FAPI_MAX_REQUEST_OBJECT_SECS, Profile};
pub use progress::{PollPhase, PollProgress};
#[cfg(feature = "os-rng")]
pub use random::{BatchedOsRandom, OsRandom};
pub use random::{Random, RandomError};
pub use token_request::{CibaGrant, TokenRequestError};
pub use token_response::{
    MAX_TOKEN_EXPIRES_IN, TokenResponse, TokenResponseError, TokenType, ValidatedTokens,
};

/// Internals for this crate's own tests (feature `test-internals`); not part of the API.
#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub mod __internals {
    pub use crate::auth_request::split_tokens;
    pub use crate::body::whole_seconds;
    pub use crate::id_token::claims::{take_audience, take_date};
    pub use crate::id_token::validator::advertised_policy;
    pub use crate::jose::der::{OCTET_STRING, ed25519_pkcs8, tlv, uint};
    #[cfg(feature = "jwe")]
    pub use crate::jose::jwe::concat_kdf::derive;
    #[cfg(feature = "jwe")]
    pub use crate::jose::jwe::content::{Sealed, open, seal};
    pub use crate::oauth_error::is_bidi_control;

    // Private items of public modules: forwarded, so that the modules' public surface stays
    // what it is.

    /// `url` without its query and fragment (`dpop::strip_query`).
    pub fn strip_query(url: &url::Url) -> url::Url {
        crate::dpop::strip_query(url)
    }

    /// The wait a `Retry-After` header asks for at `now` (`poll::retry_after`).
    pub fn retry_after(
        headers: &http::HeaderMap,
        now: std::time::SystemTime,
    ) -> Option<std::time::Duration> {
        crate::poll::retry_after(headers, now)
    }

    /// The jsonwebtoken provider ciba-core signs and verifies with (`jose::backend::provider`).
    pub fn provider() -> &'static jsonwebtoken::crypto::CryptoProvider {
        crate::jose::backend::provider()
    }

    /// Whether `Jwk::decoding_key` turns `jwk` into a verification key for `alg`.
    pub fn decoding_key(
        jwk: &crate::jose::Jwk,
        alg: crate::jose::JwsAlgorithm,
    ) -> Result<(), crate::jose::JoseError> {
        jwk.decoding_key(alg).map(drop)
    }

    /// Calls `f` with this thread's `BatchedOsRandom` pool: its bytes and how many of them
    /// were handed out.
    #[cfg(feature = "os-rng")]
    pub fn with_batched_pool<R>(f: impl FnOnce(&[u8], usize) -> R) -> R {
        crate::random::POOL.with(|pool| {
            let pool = pool.borrow();
            f(pool.bytes.as_slice(), pool.used)
        })
    }
}
