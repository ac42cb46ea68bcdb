//! # ciba-server
//!
//! A sans-I/O helper for authorization servers that offer OpenID Connect Client-Initiated
//! Backchannel Authentication (CIBA Core 1.0): it validates backchannel authentication
//! requests, issues `auth_req_id`s, tracks each request to its end, answers the CIBA grant at
//! the token endpoint, and builds the ping and push notifications.
//!
//! It does no I/O and reads no clock: every call takes the HTTP request as received, the
//! caller's `now`, and a random source, and returns a typed outcome that carries the
//! `http::Response` (or `http::Request`) to send. Any framework, or none, can host it.
//!
//! ```text
//!  POST backchannel endpoint ─► authenticate_request ─┬─► Respond(400/401 response)
//!                                                     └─► UserIdentification(Ticket)
//!  AS resolves the hint to a user ─► issue(ticket, subject) ─► 200 {auth_req_id, expires_in, interval}
//!                                 └► fail(ticket, reason)    ─► 400/403/500 section 13 error
//!  authentication device result  ─► complete(auth_req_id, result)
//!                                     ─► poll: nothing | ping: http::Request | push: http::Request
//!  POST token endpoint            ─► token_request ─┬─► Issued(200 tokens)
//!                                                   ├─► Respond(authorization_pending, slow_down,
//!                                                   │    expired_token, access_denied, invalid_grant, ...)
//!                                                   └─► NotCibaGrant (the AS's other grants)
//! ```
//!
//! State lives behind the [`Store`] trait, whose operations are each one atomic step
//! (complete once, redeem once, record a poll and decide `slow_down`, replay caches);
//! [`MemoryStore`] is the embedded default. Clients come from a [`ClientRegistry`]
//! ([`StaticClientRegistry`] validates metadata as it registers it). Tokens come from a
//! [`TokenMinter`] ([`DefaultTokenMinter`]: opaque access and refresh tokens, a signed ID
//! token with `at_hash`, `rt_hash` and, for push, the `auth_req_id` claim), signed with the
//! client's algorithm from a [`SigningKeySet`] (RS256 always, rotation by `kid`).
//! Notification endpoints pass an [`EgressPolicy`] (no loopback, private, link-local or
//! cloud metadata destinations unless opted in).
//!
//! ## Decisions this crate makes
//!
//! * `scope` without `openid` is `invalid_scope`; request object defects are
//!   `invalid_request`; an `id_token_hint` that is not ours is `invalid_request`.
//! * Check precedence at the backchannel endpoint is documented in [`BackchannelOutcome`].
//! * Two ways through user identification. An AS that identifies the user within the
//!   backchannel request itself (an awaited directory lookup, as `ciba-hyper` does) calls
//!   [`CibaServer::authenticate_request_inline`], then [`CibaServer::issue_inline`] or
//!   [`CibaServer::fail_inline`]: the [`InlineTicket`] never touches the store (two store
//!   round trips fewer per request) and is used once because those calls take it by value.
//!   An AS whose identification step outlives the request, or runs on another instance,
//!   calls [`CibaServer::authenticate_request`]: the [`Ticket`] is stored for
//!   [`ServerConfig::ticket_ttl`] and taken once by [`CibaServer::issue`] or
//!   [`CibaServer::fail`], by its id. Both answer the same bytes for the same inputs, except
//!   that the inline path checks the client's bound on store entries when the request is
//!   stored, so a request the AS refuses gets that refusal even at the bound.
//! * A public client (`none`) is refused with 401 `invalid_client`.
//! * Each `slow_down` adds 5 seconds to the stored interval, cumulatively.
//! * A denial is reported once (`access_denied`), then the `auth_req_id` is `invalid_grant`;
//!   an expired request answers `expired_token` until its tombstone goes, then
//!   `invalid_grant`; a second redemption is `invalid_grant` and revokes the first tokens.
//! * [`AuthenticationResult::TransactionFailed`] is pushed as `transaction_failed` and answers
//!   `expired_token` at the token endpoint (section 11 has no other code for it).
//! * A client with too many entries in the store is answered 503 `temporarily_unavailable`
//!   with `Retry-After: 60`; a failing store backend (a shared store that is unreachable)
//!   with `Retry-After: 5` (see [`StoreError::retry_after`](store::StoreError::retry_after)).
//!
//! ## Async, runtime-agnostic
//!
//! The [`Store`] and the [`ClientRegistry`] are async traits (methods returning a
//! [`BoxFuture`], so both work as `Arc<dyn …>`): a store or a client
//! database across a network never blocks the caller's thread. The endpoint methods that
//! reach them are `async fn`s. This crate still has no runtime: it never spawns, sleeps or
//! reads a clock; it only awaits the futures its store and registry return. With
//! [`MemoryStore`] and [`StaticClientRegistry`] every call completes on its first poll.
//!
//! ## Traces and metrics
//!
//! Every endpoint call runs in a `tracing` span with the client, the outcome and the
//! `auth_req_id`'s short hash (never the identifier, a secret, a token or a hint), and every
//! store operation in a span of its own; counters, a gauge and a store-latency histogram go
//! through the `metrics` facade (no-ops until the host installs a recorder). The names and
//! labels are in [`observe`]. The latency histogram needs a clock the host hands in
//! ([`CibaServer::with_latency_clock`]); without it this crate reads no clock at all.
//!
//! ## Example: the four calls in an authorization server
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//!
//! use ciba_core::wire::encode_form;
//! use ciba_core::jose::{Jwk, JwkSigner, Signer};
//! use ciba_core::random::{OsRandom, Random};
//! use ciba_server::{
//!     AuthReqId,
//!     AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE, CibaServer,
//!     ClientMetadata, CompleteOutcome, DefaultTokenMinter, DeliveryMode, FailReason,
//!     IncomingRequest, IssueOutcome, MemoryStore, ServerConfig, SigningKeySet,
//!     StaticClientRegistry, TokenOutcome,
//! };
//!
//! // The AS's own pieces: a user directory.
//! fn find_user(hint: &str) -> Option<&'static str> {
//!     (hint == "alice@example.com").then_some("alice")
//! }
//!
//! // Handler of POST /bc-authorize: authenticate_request, then issue or fail.
//! async fn backchannel(
//!     server: &CibaServer,
//!     req: &http::Request<Vec<u8>>,
//!     now: SystemTime,
//!     rng: &dyn Random,
//!     device_queue: &mut Vec<AuthReqId>,
//! ) -> http::Response<Vec<u8>> {
//!     match server.authenticate_request(&IncomingRequest::from_http(req), now, rng).await {
//!         BackchannelOutcome::Respond(rejection) => rejection.response,
//!         BackchannelOutcome::UserIdentification(ticket) => match find_user(ticket.hint.value()) {
//!             None => server.fail(&*ticket, FailReason::UnknownUserId, None).await.response,
//!             Some(subject) => match server.issue(&*ticket, subject, now, rng).await {
//!                 IssueOutcome::Issued(ack) => {
//!                     device_queue.push(ack.auth_req_id.clone()); // ask the user on their device
//!                     ack.response
//!                 }
//!                 IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => r.response,
//!             },
//!         },
//!     }
//! }
//!
//! // Handler of POST /token: the CIBA grant, or one of the AS's other grants.
//! async fn token(
//!     server: &CibaServer,
//!     req: &http::Request<Vec<u8>>,
//!     now: SystemTime,
//!     rng: &dyn Random,
//! ) -> http::Response<Vec<u8>> {
//!     match server.token_request(&IncomingRequest::from_http(req), now, rng).await {
//!         TokenOutcome::Issued(grant) => grant.response,
//!         TokenOutcome::Respond(rejection) => rejection.response,
//!         TokenOutcome::NotCibaGrant { .. } => http::Response::new(Vec::new()), // other grants
//!     }
//! }
//!
//! fn form_post(uri: &str, pairs: &[(&str, &str)]) -> http::Result<http::Request<Vec<u8>>> {
//!     http::Request::post(uri)
//!         .header("content-type", "application/x-www-form-urlencoded")
//!         .header("authorization", "Basic cnA6czNjcmV0") // rp:s3cret
//!         .body(encode_form(pairs.iter().copied()))
//! }
//!
//! async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     // Set-up: configuration, one registered poll client, a signing key, the embedded store.
//!     let config = ServerConfig::new(
//!         "https://op.example",
//!         "https://op.example/token",
//!         "https://op.example/bc-authorize",
//!     )?;
//!     let mut clients = StaticClientRegistry::new();
//!     let mut rp = ClientMetadata::new("rp");
//!     rp.client_secret = Some("s3cret".into());
//!     rp.grant_types = vec![CIBA_GRANT_TYPE.into()];
//!     rp.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
//!     clients.register(rp, &config)?;
//!     // The ID token keys: RS256 (every key set has one) and EdDSA. A real AS loads its RSA
//!     // key from its key store; this example uses ciba-core's test key.
//!     let rsa = Jwk::from_json(&std::fs::read(concat!(
//!         env!("CARGO_MANIFEST_DIR"),
//!         "/../ciba-core/testdata/rs256.jwk.json"
//!     ))?)?;
//!     let keys = SigningKeySet::new([
//!         Arc::new(JwkSigner::from_jwk(&rsa, None)?) as Arc<dyn Signer>,
//!         Arc::new(JwkSigner::generate_ed25519(&OsRandom, Some("op-key-1".into()))?),
//!     ])?;
//!     let server = CibaServer::new(
//!         config,
//!         Arc::new(clients),
//!         Arc::new(MemoryStore::new()),
//!         Arc::new(DefaultTokenMinter::new(Arc::new(keys))),
//!     );
//!     let mut device_queue: Vec<AuthReqId> = Vec::new();
//!     // A virtual clock: the AS passes its real clock here.
//!     let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//!     let rng = OsRandom;
//!
//!     // 1. The client starts the flow.
//!     let start = form_post(
//!         "https://op.example/bc-authorize",
//!         &[("scope", "openid"), ("login_hint", "alice@example.com")],
//!     )?;
//!     let ack = backchannel(&server, &start, now, &rng, &mut device_queue).await;
//!     assert_eq!(ack.status(), 200);
//!     let ack: serde_json::Value = serde_json::from_slice(ack.body())?;
//!     let auth_req_id = ack["auth_req_id"].as_str().unwrap_or_default().to_owned();
//!
//!     // 2. The client polls before the user has answered.
//!     now += Duration::from_secs(5);
//!     let poll = [("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", auth_req_id.as_str())];
//!     let pending = token(&server, &form_post("https://op.example/token", &poll)?, now, &rng).await;
//!     assert_eq!(pending.status(), 400); // authorization_pending
//!
//!     // 3. The user approves on the authentication device.
//!     for id in device_queue.drain(..) {
//!         let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
//!         match server.complete(&id, approval, now, &rng).await? {
//!             CompleteOutcome::NothingToSend => {} // poll mode
//!             other => {
//!                 // Ping and push: POST `other.notification()` with your HTTP client.
//!                 let _request = other.notification();
//!             }
//!         }
//!     }
//!
//!     // 4. The next poll gets the tokens, exactly once.
//!     now += Duration::from_secs(5);
//!     let tokens = token(&server, &form_post("https://op.example/token", &poll)?, now, &rng).await;
//!     assert_eq!(tokens.status(), 200);
//!     assert_eq!(tokens.headers()["cache-control"], "no-store");
//!     now += Duration::from_secs(5);
//!     let replay = token(&server, &form_post("https://op.example/token", &poll)?, now, &rng).await;
//!     assert_eq!(replay.status(), 400); // invalid_grant
//!     Ok(())
//! }
//!
//! // Any executor runs it (tokio, async-std, or a plain loop as here: with the MemoryStore
//! // every future is ready on its first poll).
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop {
//! #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
//! #             return v;
//! #         }
//! #     }
//! # }
//! block_on(run())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod auth_req_id;
mod backchannel;
mod binding;
mod certificate;
mod client;
mod client_auth;
mod complete;
mod config;
mod discovery;
mod dpop;
mod egress;
mod id_token_encryption;
mod incoming;
mod issue;
mod jwt_claims;
mod key_set;
mod minter;
mod notification;
pub mod observe;
mod params;
mod registration;
mod registry;
mod request_object;
mod response;
mod secret;
mod server;
pub mod store;
mod ticket;
mod token_endpoint;

pub use auth_req_id::{AuthReqId, AuthReqIdError};
pub use backchannel::{
    BackchannelError, BackchannelOutcome, InlineBackchannelOutcome, UnauthorizedReason,
};
pub use binding::{BEARER_TOKEN_TYPE, Confirmation, DPOP_TOKEN_TYPE, certificate_thumbprint};
pub use ciba_core::Profile;
pub use client::{AuthMethod, CIBA_GRANT_TYPE, ClientMetadata, DeliveryMode};
pub use client_auth::{
    AuthenticatedClient, CLIENT_AUTH_PARAMETERS, ClientAuthError, JWT_BEARER_ASSERTION_TYPE,
    min_hmac_secret_bytes,
};
pub use complete::{AuthenticationResult, Authorization, CompleteError, CompleteOutcome};
pub use config::{RequestLimits, ServerConfig, ServerConfigError};
pub use dpop::{
    DpopNonceKey, DpopNonceKeyError, DpopProofError, DpopSettings, MIN_NONCE_KEY_BYTES,
};
pub use egress::{AddressClass, EgressError, EgressPolicy, classify as classify_address};
pub use id_token_encryption::{
    ALG_VALUES_SUPPORTED as ID_TOKEN_ENCRYPTION_ALG_VALUES,
    ENC_VALUES_SUPPORTED as ID_TOKEN_ENCRYPTION_ENC_VALUES, encrypt_id_token,
};
pub use incoming::{BodyError, IncomingRequest, TlsClientCertificate};
pub use issue::{Acknowledgement, FailReason, Failure, IssueError, IssueOutcome};
pub use jwt_claims::ClaimError;
pub use key_set::{DEFAULT_MAX_TOKEN_LIFETIME, KeySetError, SigningKeySet};
pub use minter::{
    AUTH_REQ_ID_CLAIM, AccessTokenFormat, DefaultTokenMinter, MintError, MintRequest, MintedTokens,
    RESERVED_CLAIMS, RT_HASH_CLAIM, TOKEN_BYTES, TokenMinter,
};
pub use notification::NotificationError;
pub use registration::{ClientMetadataError, UNSUPPORTED_MEMBERS, validate_client_metadata};
pub use registry::{ClientRegistry, RegistryError, StaticClientRegistry};
pub use request_object::{MAX_REQUEST_OBJECT_LIFETIME_SECS, RequestObjectError};
pub use response::{ProtocolError, Rejection, error_body, json_response};
pub use secret::Secret;
pub use server::{CibaServer, ServerSetupError, token_fingerprint};
pub use store::{BoxFuture, MemoryStore, MemoryStoreConfig, Store, StoreError};
pub use ticket::{HintType, InlineTicket, Ticket, UserHint};
pub use token_endpoint::{
    GrantUnauthorizedReason, InvalidGrantReason, SLOW_DOWN_INCREMENT, TokenError, TokenGrant,
    TokenOutcome,
};

/// Internals for this crate's own tests (feature `test-internals`); not part of the API.
#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub mod __internals {
    pub use crate::certificate::{certificate_key_matches, strip_zeros};
    pub use crate::dpop::hmac_sha256;
    pub use crate::jwt_claims::{Clock, audience_ok, opt_time, req_time};
    pub use crate::params::{
        form_decode, is_scope_token, is_valid_notification_token, parse_requested_expiry,
        split_list,
    };
    pub use crate::response::{ErrorBody, MAX_DESCRIPTION, sanitized};
    pub use crate::store::expiry_queue::{ExpiryQueue, MIN_CAPACITY};
    pub use crate::store::memory::{
        MINTED_ID_LEN, MintedId, Record, RequestKey, SHARDS, SharedParts, Slot, minted_id,
        requests_per_shard, shared_parts,
    };
}
