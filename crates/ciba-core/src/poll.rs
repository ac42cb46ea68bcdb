//! Polling the token endpoint (CIBA Core 10.1, 11): a state machine driven by the caller's clock.
//!
//! The [`Poller`] never reads a clock, sleeps or does I/O. The caller drives it, in the manner of
//! quinn-proto's `poll_transmit(now)` / `handle_timeout(now)`:
//!
//! ```text
//! loop {
//!     match poller.next(now, rng) {
//!         Wait(deadline)   => sleep until deadline (or until a ping arrives), then loop
//!         Send(request)    => send it; then exactly one of
//!                               poller.on_response(response, now)
//!                               poller.on_transport_error(now)
//!         FetchKeys        => (only with PollConfig::fetch_keys_on_unknown_kid) fetch the
//!                             OP's JWK Set; then exactly one of
//!                               poller.keys_refreshed(jwks, now)
//!                               poller.keys_unavailable()
//!         Done(tokens)     => the ID token is validated: finished
//!         Failed(error)    => finished
//!         AwaitingResponse => a Send or FetchKeys is still unanswered (a caller bug)
//!         Finished         => Done or Failed was already returned
//!     }
//! }
//! ```
//!
//! # Rules it enforces
//!
//! - **One request at a time.** After a `Send`, `next` returns
//!   [`PollAction::AwaitingResponse`] until [`Poller::on_response`] or
//!   [`Poller::on_transport_error`] answers it (CIBA 10.1).
//! - **The interval.** The first request goes out one interval after [`Poller::new`]; each
//!   later one no sooner than the interval after the previous request was **sent** (so a slow
//!   response eats into the wait, as CIBA 10.1 says). One exemption, from the specification:
//!   the immediate request after [`Poller::ping_received`] (ping clients).
//! - **DPoP nonces** (RFC 9449 section 8). Every proof carries the latest `DPoP-Nonce` the
//!   server sent on any response (or the one [`PollConfig::dpop_nonce`] /
//!   [`Poller::set_dpop_nonce`] gave, learnt by another flow; [`Poller::dpop_nonce`] exposes
//!   it for the next, see [`DpopNonces`](crate::dpop::DpopNonces)). `use_dpop_nonce` with a
//!   fresh nonce is retried once, with that nonce, after the interval like any poll (CIBA 7.3:
//!   never faster than the interval); the retry is counted in [`Poller::dpop_retries`], not in
//!   [`Poller::polls_sent`]. A second `use_dpop_nonce` in a row, one without a nonce, or one
//!   to a poller without a DPoP key, ends polling with [`PollError::Rejected`].
//! - **`authorization_pending`** keeps the interval (a larger `Retry-After` sent with it is
//!   honoured). **`slow_down`** adds 5 seconds to the interval for this and every later request
//!   (5, 10, 15 s ...).
//! - **Transient answers** never end a flow by themselves. They are 429, every 5xx (whatever
//!   its body: an OAuth error such as `temporarily_unavailable`, an HTML gateway page, plain
//!   text or nothing), and a 4xx whose OAuth error is `temporarily_unavailable` or
//!   `server_error`. A 429 or 503 with a usable `Retry-After` (delay-seconds or an HTTP-date)
//!   is the server's own schedule: the next request waits that long, never less than the
//!   interval, and the failure count is left as it is. Every other transient answer, and a
//!   request that got no answer at all ([`Poller::on_transport_error`]), is a **transient
//!   failure**: the wait backs off exponentially from the interval (1, 2, 4 ... times it,
//!   capped at [`PollConfig::max_backoff`]), and after
//!   [`PollConfig::max_consecutive_failures`] in a row the poller gives up with
//!   [`PollError::TooManyFailures`]. Any other answer resets the count. A ping that came
//!   meanwhile does not shorten the wait. Either way the retries stop at the deadline.
//! - **Terminal answers**: `expired_token`, `access_denied`, `invalid_grant`, `invalid_request`,
//!   `unauthorized_client` and `invalid_client` each have their own [`PollError`] variant; any
//!   other error code is [`PollError::Rejected`]. No request follows any of them.
//! - **The deadline.** At or after the acknowledgement's `expires_at`, `next` returns
//!   [`PollError::ExpiredLocally`] instead of a request; `Wait` never names a later time. A
//!   response to a request sent before the deadline is still processed.
//! - **Success** is a 200 token response whose `token_type` matches the request (`DPoP` when a
//!   DPoP key is configured, `Bearer` otherwise) and whose ID token passes the configured
//!   [`IdTokenValidator`] (an `auth_req_id` claim, `at_hash` and `rt_hash` are checked when
//!   present).
//! - **Key rotation.** When the ID token of that 200 answer names a `kid` the validator's JWK
//!   Set lacks ([`IdTokenError::is_unknown_kid`]), and only then, a poller configured with
//!   [`PollConfig::fetch_keys_on_unknown_kid`] keeps the answer and returns
//!   [`PollAction::FetchKeys`], once for that answer, instead of failing. The caller fetches the
//!   set (it owns the cache and decides how often the OP may be asked: a caller that may not
//!   fetch now calls [`Poller::keys_unavailable`]) and hands it to [`Poller::keys_refreshed`],
//!   which validates the kept answer again: `Done`, or `Failed` with whatever the new set
//!   leaves wrong. No token request is sent meanwhile, and none after. Without that option an
//!   unknown `kid` ends polling with [`PollError::IdToken`] at once, as any other refusal.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::StatusCode;

use crate::ack::{AuthReqId, AuthRequestAck, DEFAULT_INTERVAL};
use crate::client::Client;
use crate::delivery_mode::DeliveryMode;
use crate::dpop::{DpopKey, is_nonce, is_use_dpop_nonce, nonce_from_response};
use crate::error::{ConfigError, Error, ParseError};
use crate::id_token::{IdTokenContext, IdTokenError, IdTokenValidator};
use crate::jose::JwkSet;
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::random::Random;
use crate::time::parse_http_date;
use crate::token_request::CibaGrant;
use crate::token_response::{TokenResponse, TokenResponseError, TokenType, ValidatedTokens};

/// How much `slow_down` adds to the interval (CIBA 11).
pub const SLOW_DOWN_INCREMENT: Duration = Duration::from_secs(5);
/// Default number of consecutive transient failures after which polling stops.
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 5;
/// Default cap on the backoff after transient failures.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why polling ended without tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The local clock reached the acknowledgement's `expires_at` before a result came.
    #[error("the authentication request expired locally")]
    ExpiredLocally {
        /// The deadline that passed.
        expires_at: SystemTime,
    },
    /// `expired_token`: the OP says the request expired; start a new one.
    #[error("the OP reports the auth_req_id expired: {0}")]
    ExpiredToken(OAuthError),
    /// `access_denied`: the end-user (or the OP) denied the request.
    #[error("access denied: {0}")]
    AccessDenied(OAuthError),
    /// `invalid_grant`: the `auth_req_id` is unknown, used, or belongs to another client.
    #[error("invalid grant: {0}")]
    InvalidGrant(OAuthError),
    /// `invalid_request`: the OP refused the request; no further request may be made for this
    /// `auth_req_id` (CIBA 11).
    #[error("invalid request: {0}")]
    InvalidRequest(OAuthError),
    /// `unauthorized_client`: the client may not use the CIBA grant.
    #[error("unauthorized client: {0}")]
    UnauthorizedClient(OAuthError),
    /// `invalid_client`: client authentication failed.
    #[error("client authentication failed: {0}")]
    InvalidClient(OAuthError),
    /// Any other error code (including `unsupported_grant_type`, `invalid_dpop_proof`, and a
    /// second `use_dpop_nonce` in a row).
    #[error("the OP refused the token request: {0}")]
    Rejected(OAuthError),
    /// The answer could not be understood (not an OAuth error, unexpected status, redirect).
    #[error("unusable token endpoint response: {0}")]
    Response(ParseError),
    /// A 200 answer that is not an acceptable token response.
    #[error(transparent)]
    TokenResponse(TokenResponseError),
    /// The tokens came but their ID token failed validation.
    #[error(transparent)]
    IdToken(IdTokenError),
    /// Too many transient failures in a row (transport errors, 5xx answers, 429 or 503 without
    /// `Retry-After`).
    #[error("gave up after {attempts} consecutive transient failures")]
    TooManyFailures {
        /// How many failed in a row.
        attempts: u32,
    },
    /// The token request could not be built (signing a client assertion or a DPoP proof, the
    /// random source).
    #[error("the token request could not be built: {0}")]
    Request(#[source] Box<Error>),
}

/// What the caller should do next. See the [module documentation](self).
///
/// `Debug` shows a `Send` request's method and URI only: its form body and its
/// `Authorization` and `DPoP` headers carry credentials.
pub enum PollAction {
    /// Call [`Poller::next`] again at this time (earlier is harmless).
    Wait(SystemTime),
    /// Send this request, then report its fate with [`Poller::on_response`] or
    /// [`Poller::on_transport_error`].
    Send(http::Request<Vec<u8>>),
    /// The token response's ID token names a `kid` the validator's JWK Set lacks. Fetch the
    /// OP's JWK Set (`jwks_uri`), then call [`Poller::keys_refreshed`] with it, or
    /// [`Poller::keys_unavailable`] when it cannot or may not be fetched (rate limit, network
    /// error). Returned at most once per response, and only when
    /// [`PollConfig::fetch_keys_on_unknown_kid`] is on.
    FetchKeys,
    /// The last [`PollAction::Send`] or [`PollAction::FetchKeys`] has not been answered yet.
    AwaitingResponse,
    /// Tokens with a validated ID token. Returned once.
    Done(Box<ValidatedTokens>),
    /// Polling ended without tokens. Returned once.
    Failed(PollError),
    /// `Done` or `Failed` has already been returned.
    Finished,
}

impl fmt::Debug for PollAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollAction::Wait(t) => f.debug_tuple("Wait").field(t).finish(),
            PollAction::Send(req) => f
                .debug_struct("Send")
                .field("method", req.method())
                .field("uri", req.uri())
                .finish_non_exhaustive(),
            PollAction::FetchKeys => f.write_str("FetchKeys"),
            PollAction::AwaitingResponse => f.write_str("AwaitingResponse"),
            PollAction::Done(tokens) => f.debug_tuple("Done").field(tokens).finish(),
            PollAction::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            PollAction::Finished => f.write_str("Finished"),
        }
    }
}

/// How a [`Poller`] builds requests and validates the result.
#[derive(Debug, Clone)]
pub struct PollConfig {
    validator: IdTokenValidator,
    dpop: Option<DpopKey>,
    dpop_nonce: Option<String>,
    params: Vec<(String, String)>,
    max_consecutive_failures: u32,
    max_backoff: Duration,
    fetch_keys_on_unknown_kid: bool,
}

impl PollConfig {
    /// Validates ID tokens with `validator`; no DPoP, no extra parameters, default failure
    /// limits.
    pub fn new(validator: IdTokenValidator) -> PollConfig {
        PollConfig {
            validator,
            dpop: None,
            dpop_nonce: None,
            params: Vec::new(),
            max_consecutive_failures: DEFAULT_MAX_CONSECUTIVE_FAILURES,
            max_backoff: DEFAULT_MAX_BACKOFF,
            fetch_keys_on_unknown_kid: false,
        }
    }

    /// Sends a fresh DPoP proof by `key` with every request and expects `DPoP` tokens.
    pub fn dpop(mut self, key: DpopKey) -> PollConfig {
        self.dpop = Some(key);
        self
    }

    /// The `DPoP-Nonce` to put in the first proof: the latest one the token endpoint's server
    /// gave another flow ([`DpopNonces::get`](crate::dpop::DpopNonces::get)). Ignored without a
    /// DPoP key, or when `nonce` lacks the RFC 9449 nonce syntax.
    pub fn dpop_nonce(mut self, nonce: impl Into<String>) -> PollConfig {
        let nonce = nonce.into();
        self.dpop_nonce = is_nonce(&nonce).then_some(nonce);
        self
    }

    /// Adds an extension parameter to every token request (for example `resource`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> PollConfig {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Transient failures in a row that end polling (default 5; at least 1).
    pub fn max_consecutive_failures(mut self, n: u32) -> PollConfig {
        self.max_consecutive_failures = n.max(1);
        self
    }

    /// Longest backoff after transient failures (default 60 s; never below the interval).
    pub fn max_backoff(mut self, d: Duration) -> PollConfig {
        self.max_backoff = d;
        self
    }

    /// When `enabled`, an ID token naming an unknown `kid` does not end polling at once: the
    /// poller asks for the OP's JWK Set with [`PollAction::FetchKeys`] (once per response) and
    /// validates the same response again with it. Off by default, so a caller that cannot
    /// fetch keys never sees that action.
    pub fn fetch_keys_on_unknown_kid(mut self, enabled: bool) -> PollConfig {
        self.fetch_keys_on_unknown_kid = enabled;
        self
    }
}

enum State {
    /// No request outstanding; the next may go out at `not_before`.
    Idle,
    /// A request went out at `sent_at`; `nonce_retry` when it was the `use_dpop_nonce` retry.
    InFlight {
        sent_at: SystemTime,
        nonce_retry: bool,
    },
    /// A token response whose ID token names an unknown `kid`, kept until the caller brings a
    /// fresh JWK Set; `asked` once `FetchKeys` was returned.
    NeedKeys {
        tokens: Box<TokenResponse>,
        error: IdTokenError,
        asked: bool,
    },
    /// The outcome, waiting to be returned by `next`.
    Ready(Box<PollAction>),
    /// The outcome was returned.
    Finished,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Idle => f.write_str("Idle"),
            State::InFlight {
                sent_at,
                nonce_retry,
            } => f
                .debug_struct("InFlight")
                .field("sent_at", sent_at)
                .field("nonce_retry", nonce_retry)
                .finish(),
            State::NeedKeys { error, asked, .. } => f
                .debug_struct("NeedKeys")
                .field("error", error)
                .field("asked", asked)
                .finish_non_exhaustive(),
            State::Ready(_) => f.write_str("Ready"),
            State::Finished => f.write_str("Finished"),
        }
    }
}

/// The poll state machine for one `auth_req_id`. See the [module documentation](self).
#[derive(Debug)]
pub struct Poller {
    client: Client,
    grant: CibaGrant,
    config: PollConfig,
    state: State,
    interval: Duration,
    expires_at: SystemTime,
    not_before: SystemTime,
    last_sent: Option<SystemTime>,
    dpop_nonce: Option<String>,
    retry_with_nonce: bool,
    pinged: bool,
    /// Pings received while the flow was live.
    pings: u32,
    polls_sent: u32,
    slow_downs: u32,
    dpop_retries: u32,
    consecutive_failures: u32,
}

/// `t + d`, or `cap` when that is not representable.
fn later(t: SystemTime, d: Duration, cap: SystemTime) -> SystemTime {
    t.checked_add(d).unwrap_or(cap)
}

impl Poller {
    /// A poller for the request `ack` acknowledges, created at `now`: the first request is due
    /// one interval later. Refuses push clients and clients without a token endpoint.
    pub fn new(
        client: &Client,
        ack: &AuthRequestAck,
        config: PollConfig,
        now: SystemTime,
    ) -> Result<Poller, Error> {
        Poller::from_parts(
            client,
            ack.auth_req_id.clone(),
            ack.interval,
            ack.expires_at,
            config,
            now,
        )
    }

    /// A poller from stored values (for example after a restart): the `auth_req_id`, the
    /// current interval (zero means the 5 s default) and the absolute deadline.
    pub fn from_parts(
        client: &Client,
        auth_req_id: AuthReqId,
        interval: Duration,
        expires_at: SystemTime,
        config: PollConfig,
        now: SystemTime,
    ) -> Result<Poller, Error> {
        let grant = config
            .params
            .iter()
            .fold(CibaGrant::new(auth_req_id), |g, (k, v)| {
                g.param(k.clone(), v.clone())
            });
        grant.validate(client)?;
        client.token_endpoint()?;
        let profile = client.config().profile;
        if profile.is_fapi() {
            let sender_constrained = match &config.dpop {
                Some(key) => profile.allows_algorithm(key.algorithm()),
                None => client.config().auth.uses_mtls(),
            };
            if !sender_constrained {
                return Err(ConfigError::InvalidClient {
                    reason: "the FAPI-CIBA profile requires sender-constrained tokens: a PS256 or ES256 DPoP key, or mutual TLS",
                }
                .into());
            }
        }
        let interval = if interval.is_zero() {
            DEFAULT_INTERVAL
        } else {
            interval
        };
        let dpop_nonce = config.dpop.as_ref().and(config.dpop_nonce.clone());
        Ok(Poller {
            client: client.clone(),
            grant,
            config,
            state: State::Idle,
            interval,
            expires_at,
            not_before: later(now, interval, expires_at),
            last_sent: None,
            dpop_nonce,
            retry_with_nonce: false,
            pinged: false,
            pings: 0,
            polls_sent: 0,
            slow_downs: 0,
            dpop_retries: 0,
            consecutive_failures: 0,
        })
    }

    /// What to do at `now`: wait, send a request, or take the outcome.
    pub fn next(&mut self, now: SystemTime, rng: &dyn Random) -> PollAction {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Finished => PollAction::Finished,
            State::Ready(action) => *action,
            state @ (State::InFlight { .. } | State::NeedKeys { asked: true, .. }) => {
                self.state = state;
                PollAction::AwaitingResponse
            }
            State::NeedKeys { tokens, error, .. } => {
                self.state = State::NeedKeys {
                    tokens,
                    error,
                    asked: true,
                };
                PollAction::FetchKeys
            }
            State::Idle => self.next_idle(now, rng),
        }
    }

    fn next_idle(&mut self, now: SystemTime, rng: &dyn Random) -> PollAction {
        if now >= self.expires_at {
            return PollAction::Failed(PollError::ExpiredLocally {
                expires_at: self.expires_at,
            });
        }
        let due = self.pinged || now >= self.not_before;
        if !due {
            self.state = State::Idle;
            return PollAction::Wait(self.not_before.min(self.expires_at));
        }
        let built = match &self.config.dpop {
            Some(key) => {
                self.grant
                    .build_with_dpop(&self.client, key, self.dpop_nonce.as_deref(), now, rng)
            }
            None => self.grant.build(&self.client, now, rng),
        };
        let request = match built {
            Ok(r) => r,
            Err(e) => return PollAction::Failed(PollError::Request(Box::new(e))),
        };
        let nonce_retry = std::mem::take(&mut self.retry_with_nonce);
        if nonce_retry {
            self.dpop_retries = self.dpop_retries.saturating_add(1);
        } else {
            self.polls_sent = self.polls_sent.saturating_add(1);
        }
        self.pinged = false;
        self.last_sent = Some(now);
        self.state = State::InFlight {
            sent_at: now,
            nonce_retry,
        };
        PollAction::Send(request)
    }

    /// Reports the response to the last request, received at `now`. Ignored when no request is
    /// outstanding.
    pub fn on_response(&mut self, resp: http::Response<Vec<u8>>, now: SystemTime) {
        let State::InFlight {
            sent_at,
            nonce_retry,
        } = self.state
        else {
            return;
        };
        self.state = State::Idle;
        if self.config.dpop.is_some()
            && let Some(nonce) = nonce_from_response(&resp)
        {
            self.dpop_nonce = Some(nonce);
        }
        let status = resp.status();
        if is_transient_status(status) {
            return self.transient_answer(&resp, sent_at, now);
        }
        if status.is_client_error() {
            match OAuthError::from_response(&resp, self.client.limits()) {
                Ok(err) => self.on_oauth_error(err, &resp, sent_at, nonce_retry, now),
                Err(e) => self.finish(PollAction::Failed(PollError::Response(e))),
            }
            return;
        }
        self.consecutive_failures = 0;
        let expected = if self.config.dpop.is_some() {
            TokenType::DPoP
        } else {
            TokenType::Bearer
        };
        let tokens = match TokenResponse::from_response(&resp, Some(expected), self.client.limits())
        {
            Ok(tokens) => tokens,
            Err(TokenResponseError::Parse(e)) => {
                return self.finish(PollAction::Failed(PollError::Response(e)));
            }
            Err(e) => return self.finish(PollAction::Failed(PollError::TokenResponse(e))),
        };
        let kept = self
            .config
            .fetch_keys_on_unknown_kid
            .then(|| Box::new(tokens.clone()));
        match self.validate(tokens, now) {
            Ok(valid) => self.finish(PollAction::Done(Box::new(valid))),
            Err(error) => match kept {
                Some(tokens) if error.is_unknown_kid() => {
                    self.state = State::NeedKeys {
                        tokens,
                        error,
                        asked: false,
                    };
                }
                _ => self.finish(PollAction::Failed(PollError::IdToken(error))),
            },
        }
    }

    fn validate(
        &self,
        tokens: TokenResponse,
        now: SystemTime,
    ) -> Result<ValidatedTokens, IdTokenError> {
        let ctx = IdTokenContext::token_endpoint(self.grant.auth_req_id().as_str(), "", None);
        tokens.validate(&self.config.validator, &ctx, now)
    }

    /// Answers [`PollAction::FetchKeys`]: `jwks` is the OP's JWK Set, fetched at `now`. The
    /// validator uses it from now on, and the kept token response is validated again with
    /// it: the next action is `Done`, or `Failed` with the new refusal (the `kid` may still be
    /// unknown: keys are not asked for twice). Ignored unless a response waits for keys
    /// ([`Poller::is_awaiting_keys`]).
    pub fn keys_refreshed(&mut self, jwks: JwkSet, now: SystemTime) {
        if !self.is_awaiting_keys() {
            return;
        }
        let State::NeedKeys { tokens, .. } = std::mem::replace(&mut self.state, State::Finished)
        else {
            return;
        };
        self.config.validator.set_jwks(jwks);
        match self.validate(*tokens, now) {
            Ok(valid) => self.finish(PollAction::Done(Box::new(valid))),
            Err(e) => self.finish(PollAction::Failed(PollError::IdToken(e))),
        }
    }

    /// Answers [`PollAction::FetchKeys`] when no JWK Set can be had (the fetch failed, or the
    /// caller's rate limit forbids one now): polling fails with the original
    /// [`PollError::IdToken`]. Ignored unless a response waits for keys.
    pub fn keys_unavailable(&mut self) {
        if !self.is_awaiting_keys() {
            return;
        }
        if let State::NeedKeys { error, .. } = std::mem::replace(&mut self.state, State::Finished) {
            self.finish(PollAction::Failed(PollError::IdToken(error)));
        }
    }

    fn on_oauth_error(
        &mut self,
        err: OAuthError,
        resp: &http::Response<Vec<u8>>,
        sent_at: SystemTime,
        nonce_retry: bool,
        now: SystemTime,
    ) {
        if matches!(
            err.code,
            ErrorCode::TemporarilyUnavailable | ErrorCode::ServerError
        ) {
            return self.transient_failure(sent_at, now);
        }
        self.consecutive_failures = 0;
        if is_use_dpop_nonce(&err) {
            let fresh = nonce_from_response(resp);
            if self.config.dpop.is_some() && !nonce_retry && fresh.is_some() {
                self.dpop_nonce = fresh;
                self.retry_with_nonce = true;
                self.not_before = self.interval_after(sent_at);
                return;
            }
            return self.finish(PollAction::Failed(PollError::Rejected(err)));
        }
        let terminal = match err.code {
            ErrorCode::AuthorizationPending => {
                let mut next = if self.pinged {
                    now
                } else {
                    self.interval_after(sent_at)
                };
                if let Some(wait) = retry_after(resp.headers(), now) {
                    next = next.max(later(now, wait, self.expires_at));
                }
                self.not_before = next;
                return;
            }
            ErrorCode::SlowDown => {
                self.slow_downs = self.slow_downs.saturating_add(1);
                self.interval = self.interval.saturating_add(SLOW_DOWN_INCREMENT);
                self.pinged = false;
                self.not_before = self.interval_after(sent_at);
                return;
            }
            ErrorCode::ExpiredToken => PollError::ExpiredToken(err),
            ErrorCode::AccessDenied => PollError::AccessDenied(err),
            ErrorCode::InvalidGrant => PollError::InvalidGrant(err),
            ErrorCode::InvalidRequest => PollError::InvalidRequest(err),
            ErrorCode::UnauthorizedClient => PollError::UnauthorizedClient(err),
            ErrorCode::InvalidClient => PollError::InvalidClient(err),
            _ => PollError::Rejected(err),
        };
        self.finish(PollAction::Failed(terminal));
    }

    /// Reports that the last request got no HTTP response (connection refused or reset,
    /// timeout...), noticed at `now`. Ignored when no request is outstanding.
    pub fn on_transport_error(&mut self, now: SystemTime) {
        if let State::InFlight { sent_at, .. } = self.state {
            self.state = State::Idle;
            self.transient_failure(sent_at, now);
        }
    }

    /// A ping arrived for this request (ping mode, CIBA 10.2): the next request may go out at
    /// once, whatever the interval, or at once after the response to the request in flight if
    /// that says `authorization_pending`. Has no effect for poll clients, or once finished.
    pub fn ping_received(&mut self) {
        let live = matches!(self.state, State::Idle | State::InFlight { .. });
        if live && self.client.delivery_mode() == DeliveryMode::Ping {
            self.pinged = true;
            self.pings = self.pings.saturating_add(1);
        }
    }

    /// A 429 or 5xx answer, whatever its body: the server's own schedule when it sends a
    /// usable `Retry-After` with a 429 or 503, a counted transient failure otherwise.
    fn transient_answer(
        &mut self,
        resp: &http::Response<Vec<u8>>,
        sent_at: SystemTime,
        now: SystemTime,
    ) {
        let scheduled = matches!(
            resp.status(),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        match retry_after(resp.headers(), now).filter(|_| scheduled) {
            Some(wait) => {
                self.pinged = false;
                self.not_before =
                    self.interval_after(sent_at)
                        .max(later(now, wait, self.expires_at));
            }
            None => self.transient_failure(sent_at, now),
        }
    }

    fn transient_failure(&mut self, sent_at: SystemTime, now: SystemTime) {
        self.pinged = false;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures >= self.config.max_consecutive_failures {
            let attempts = self.consecutive_failures;
            return self.finish(PollAction::Failed(PollError::TooManyFailures { attempts }));
        }
        let factor = 1u32
            .checked_shl(self.consecutive_failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let cap = self.config.max_backoff.max(self.interval);
        let backoff = self.interval.saturating_mul(factor).min(cap);
        self.not_before = self
            .interval_after(sent_at)
            .max(later(now, backoff, self.expires_at));
    }

    fn interval_after(&self, sent_at: SystemTime) -> SystemTime {
        later(sent_at, self.interval, self.expires_at)
    }

    fn finish(&mut self, action: PollAction) {
        self.state = State::Ready(Box::new(action));
    }

    /// The `auth_req_id` being polled.
    pub fn auth_req_id(&self) -> &AuthReqId {
        self.grant.auth_req_id()
    }

    /// The current interval (grown by each `slow_down`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The deadline: the acknowledgement's `expires_at`.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// When the last request was sent, if any.
    pub fn last_sent(&self) -> Option<SystemTime> {
        self.last_sent
    }

    /// Token requests sent, not counting `use_dpop_nonce` retries.
    pub fn polls_sent(&self) -> u32 {
        self.polls_sent
    }

    /// Pings received while the flow was live (ping mode).
    pub fn pings_received(&self) -> u32 {
        self.pings
    }

    /// `slow_down` answers received so far.
    pub fn slow_downs(&self) -> u32 {
        self.slow_downs
    }

    /// The `DPoP-Nonce` the next proof will carry: the latest the server sent (or the one
    /// given). Keep it for other flows to the same server
    /// ([`DpopNonces::insert`](crate::dpop::DpopNonces::insert)). `None` without a DPoP key.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// A fresher `DPoP-Nonce` for the server, learnt by another flow: the next proof carries
    /// it. Ignored without a DPoP key, or when `nonce` lacks the RFC 9449 nonce syntax.
    pub fn set_dpop_nonce(&mut self, nonce: &str) {
        if self.config.dpop.is_some() && is_nonce(nonce) {
            self.dpop_nonce = Some(nonce.to_owned());
        }
    }

    /// Retries made after `use_dpop_nonce`.
    pub fn dpop_retries(&self) -> u32 {
        self.dpop_retries
    }

    /// Transient failures in a row so far.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// True while a request is outstanding.
    pub fn is_awaiting_response(&self) -> bool {
        matches!(self.state, State::InFlight { .. })
    }

    /// True while a token response waits for a fresh JWK Set ([`PollAction::FetchKeys`]
    /// returned or about to be).
    pub fn is_awaiting_keys(&self) -> bool {
        matches!(self.state, State::NeedKeys { .. })
    }

    /// True once the outcome is known (whether or not `next` returned it yet).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Ready(_) | State::Finished)
    }
}

/// 429 (RFC 6585) and every 5xx: answers that say "not now" rather than "no".
fn is_transient_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The wait a `Retry-After` header asks for at `now`: delay-seconds or an HTTP-date (a date in
/// the past means no wait). `None` when absent or unusable.
pub(crate) fn retry_after(headers: &http::HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if value.is_empty() || value.len() > 64 {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit is still "a very long time".
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
