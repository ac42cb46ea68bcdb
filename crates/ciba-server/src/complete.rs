//! Recording the user's decision ([`CibaServer::complete`]) and building the ping or push
//! notification it calls for.

use std::time::{Duration, SystemTime};

use ciba_core::ErrorCode;
use ciba_core::random::Random;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use crate::auth_req_id::AuthReqId;
use crate::binding::Confirmation;
use crate::client::DeliveryMode;
use crate::id_token_encryption::encrypt_id_token;
use crate::minter::{MintError, MintRequest, MintedTokens, RESERVED_CLAIMS};
use crate::notification::{NotificationError, Target};
use crate::observe::{
    count_expiry, count_result, endpoint_span, finish, record_auth_req, record_client,
};
use crate::registry::RegistryError;
use crate::server::{CibaServer, token_fingerprint};
use crate::store::{
    CompleteStatus, Completion, Grant, RequestState, StoreError, StoredRequest, TokenFingerprint,
};

/// What the user approved.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// The subject who authenticated; must be the one given to
    /// [`CibaServer::issue`] (the user the hint named).
    pub subject: String,
    /// Granted scopes, a subset of the requested ones that keeps `openid`; `None` grants
    /// all the requested scopes.
    pub scopes: Option<Vec<String>>,
    /// The authentication context class reached.
    pub acr: Option<String>,
    /// The authentication methods used.
    pub amr: Vec<String>,
    /// When the user authenticated.
    pub auth_time: Option<SystemTime>,
    /// Extra ID token claims (not the ones in [`RESERVED_CLAIMS`]).
    pub claims: Map<String, Value>,
}

impl Authorization {
    /// An approval by `subject` of all the requested scopes.
    pub fn new(subject: impl Into<String>) -> Authorization {
        Authorization {
            subject: subject.into(),
            scopes: None,
            acr: None,
            amr: Vec::new(),
            auth_time: None,
            claims: Map::new(),
        }
    }
}

/// The result of the user's authentication on the authentication device.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthenticationResult {
    /// The user authenticated and approved.
    Authorized(Authorization),
    /// The user denied (`access_denied`).
    AccessDenied,
    /// No result could be obtained (device unreachable, timeout, ...). Push clients receive
    /// a `transaction_failed` error payload (CIBA Core section 12); poll and ping clients
    /// get `expired_token` at the token endpoint, since section 11 has no code for it.
    TransactionFailed,
}

/// What to send after [`CibaServer::complete`]. Its `Debug` form shows the method, URI and
/// headers of the request (the bearer token is marked sensitive) but not the body, which
/// holds the `auth_req_id` and, for a push, the tokens.
pub enum CompleteOutcome {
    /// Poll mode: nothing; the client learns the result at the token endpoint.
    NothingToSend,
    /// Ping mode: POST this to the client (body `{"auth_req_id"}`, bearer
    /// `client_notification_token`), after approval, denial or failure alike.
    Ping(http::Request<Vec<u8>>),
    /// Push mode: POST this token delivery to the client. If it is not delivered (the
    /// endpoint refused it, or every attempt failed), pass `tokens` to
    /// [`CibaServer::push_undelivered`]: nobody holds the tokens, so they must not stay
    /// valid.
    PushTokens {
        /// The request.
        request: http::Request<Vec<u8>>,
        /// Fingerprints of the access and refresh tokens the request carries.
        tokens: Vec<TokenFingerprint>,
    },
    /// Push mode: POST this section 12 error payload to the client.
    PushError {
        /// The request.
        request: http::Request<Vec<u8>>,
        /// `access_denied`, `transaction_failed` or `expired_token`.
        error: ErrorCode,
    },
}

/// `Debug` for a notification request: everything but the body, of which only the length.
struct RedactedRequest<'a>(&'a http::Request<Vec<u8>>);

impl std::fmt::Debug for RedactedRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", self.0.method())
            .field("uri", self.0.uri())
            .field("headers", self.0.headers())
            .field("body_bytes", &self.0.body().len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CompleteOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompleteOutcome::NothingToSend => f.write_str("NothingToSend"),
            CompleteOutcome::Ping(r) => f.debug_tuple("Ping").field(&RedactedRequest(r)).finish(),
            CompleteOutcome::PushTokens { request, tokens } => f
                .debug_struct("PushTokens")
                .field("request", &RedactedRequest(request))
                .field("tokens", &tokens.len())
                .finish(),
            CompleteOutcome::PushError { request, error } => f
                .debug_struct("PushError")
                .field("request", &RedactedRequest(request))
                .field("error", error)
                .finish(),
        }
    }
}

impl CompleteOutcome {
    /// The request to send to the client's notification endpoint, if any. Send it without
    /// following redirects and without retrying on a 4xx answer.
    pub fn notification(&self) -> Option<&http::Request<Vec<u8>>> {
        match self {
            CompleteOutcome::NothingToSend => None,
            CompleteOutcome::Ping(r) => Some(r),
            CompleteOutcome::PushTokens { request, .. }
            | CompleteOutcome::PushError { request, .. } => Some(request),
        }
    }
}

/// Why [`CibaServer::complete`] recorded nothing.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CompleteError {
    /// No such `auth_req_id` (never issued, or forgotten).
    #[error("unknown auth_req_id")]
    UnknownRequest,
    /// A result was already recorded.
    #[error("the request was already completed")]
    AlreadyCompleted,
    /// The poll or ping request expired before the result came (the client is told
    /// `expired_token` at the token endpoint).
    #[error("the request has expired")]
    Expired,
    /// The approving subject is not the user the request was issued for.
    #[error("the approving subject is not the identified user")]
    SubjectMismatch,
    /// A granted scope was not requested.
    #[error("scope {scope:?} was not requested")]
    ScopeNotRequested {
        /// The scope.
        scope: String,
    },
    /// The granted scopes drop `openid`.
    #[error("granted scopes must keep openid")]
    OpenidScopeRemoved,
    /// An extra claim uses a name the helper sets itself.
    #[error("claim {name:?} is reserved")]
    ReservedClaim {
        /// The claim name.
        name: String,
    },
    /// Minting the pushed tokens failed.
    #[error(transparent)]
    Mint(#[from] MintError),
    /// The notification request could not be built.
    #[error(transparent)]
    Notification(#[from] NotificationError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The client registry failed (nothing was recorded; the call can be retried).
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Fingerprints of freshly minted tokens, with their expiry.
pub(crate) fn fingerprints(tokens: &MintedTokens, now: SystemTime) -> Vec<TokenFingerprint> {
    let at = |secs: u64| now.checked_add(Duration::from_secs(secs)).unwrap_or(now);
    let mut out = Vec::new();
    if let Some(fp) = token_fingerprint(tokens.access_token.expose()) {
        out.push(TokenFingerprint {
            fingerprint: fp,
            expires_at: at(tokens.expires_in),
        });
    }
    if let Some(rt) = &tokens.refresh_token
        && let Some(fp) = token_fingerprint(rt.expose())
    {
        out.push(TokenFingerprint {
            fingerprint: fp,
            expires_at: at(tokens.refresh_token_expires_in.unwrap_or(u64::MAX / 4)),
        });
    }
    out
}

fn grant_for(request: &StoredRequest, a: &Authorization) -> Result<Grant, CompleteError> {
    if a.subject != request.subject {
        return Err(CompleteError::SubjectMismatch);
    }
    let scopes = a.scopes.clone().unwrap_or_else(|| request.scopes.clone());
    if let Some(extra) = scopes.iter().find(|s| !request.scopes.contains(s)) {
        return Err(CompleteError::ScopeNotRequested {
            scope: extra.clone(),
        });
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(CompleteError::OpenidScopeRemoved);
    }
    if let Some(name) = a
        .claims
        .keys()
        .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
    {
        return Err(CompleteError::ReservedClaim { name: name.clone() });
    }
    Ok(Grant {
        subject: a.subject.clone(),
        scopes,
        acr: a.acr.clone(),
        amr: a.amr.clone(),
        auth_time: a.auth_time,
        claims: a.claims.clone(),
    })
}

impl CompleteError {
    /// A `'static` label for traces and metrics.
    fn label(&self) -> &'static str {
        match self {
            CompleteError::UnknownRequest => "unknown_request",
            CompleteError::AlreadyCompleted => "already_completed",
            CompleteError::Expired => "expired",
            CompleteError::SubjectMismatch => "subject_mismatch",
            CompleteError::ScopeNotRequested { .. } => "scope_not_requested",
            CompleteError::OpenidScopeRemoved => "openid_scope_removed",
            CompleteError::ReservedClaim { .. } => "reserved_claim",
            CompleteError::Mint(_) => "mint_error",
            CompleteError::Notification(_) => "notification_error",
            CompleteError::Store(_) => "store_error",
            CompleteError::Registry(_) => "registry_error",
        }
    }
}

fn unexpected(status: CompleteStatus) -> CompleteError {
    match status {
        CompleteStatus::AlreadyCompleted => CompleteError::AlreadyCompleted,
        CompleteStatus::Expired(_) => CompleteError::Expired,
        _ => CompleteError::UnknownRequest,
    }
}

impl CibaServer {
    /// Records the user's decision for `auth_req_id`, exactly once, and says what to send.
    ///
    /// * Poll: [`CompleteOutcome::NothingToSend`].
    /// * Ping: [`CompleteOutcome::Ping`], whatever the result.
    /// * Push: tokens are minted now (`rng` supplies their randomness) and delivered with
    ///   [`CompleteOutcome::PushTokens`]; a denial or failure gives
    ///   [`CompleteOutcome::PushError`] with `access_denied` or `transaction_failed`. A push
    ///   request completed after it expired gives a `PushError` with `expired_token`, once.
    ///
    /// A second call for the same request is [`CompleteError::AlreadyCompleted`].
    ///
    /// A push of tokens that the client's endpoint never accepted must be followed by
    /// [`CibaServer::push_undelivered`], which revokes them.
    pub async fn complete(
        &self,
        auth_req_id: &AuthReqId,
        result: AuthenticationResult,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<CompleteOutcome, CompleteError> {
        let span = endpoint_span("complete");
        record_auth_req(&span, auth_req_id.as_str());
        let outcome = self
            .complete_observed(auth_req_id, &result, now, rng)
            .instrument(span.clone())
            .await;
        let label = match &outcome {
            Ok(CompleteOutcome::NothingToSend) => "ok",
            Ok(CompleteOutcome::Ping(_)) => "ping",
            Ok(CompleteOutcome::PushTokens { .. }) => "push_tokens",
            Ok(CompleteOutcome::PushError { error, .. }) => match error {
                ErrorCode::ExpiredToken => "push_expired",
                _ => "push_error",
            },
            Err(e) => e.label(),
        };
        finish(&span, "complete", label);
        let expired = matches!(
            &outcome,
            Err(CompleteError::Expired)
                | Ok(CompleteOutcome::PushError {
                    error: ErrorCode::ExpiredToken,
                    ..
                })
        );
        if expired {
            count_expiry("complete");
        } else if outcome.is_ok() {
            count_result(match result {
                AuthenticationResult::Authorized(_) => "approved",
                AuthenticationResult::AccessDenied => "denied",
                _ => "failed",
            });
        }
        outcome
    }

    async fn complete_observed(
        &self,
        auth_req_id: &AuthReqId,
        result: &AuthenticationResult,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<CompleteOutcome, CompleteError> {
        let current = self
            .store
            .request(auth_req_id, now)
            .await?
            .ok_or(CompleteError::UnknownRequest)?;
        record_client(&tracing::Span::current(), &current.client_id);
        if current.state != RequestState::Pending {
            return Err(CompleteError::AlreadyCompleted);
        }
        let grant = match result {
            AuthenticationResult::Authorized(a) => Some(grant_for(&current, a)?),
            _ => None,
        };
        let target = Target {
            endpoint: current.notification_endpoint.as_deref(),
            token: current.client_notification_token.as_ref(),
        };
        match current.delivery_mode {
            DeliveryMode::Push => {
                self.complete_push(&current, &target, result, grant, now, rng)
                    .await
            }
            mode => {
                // Build the ping first, so a bad endpoint changes nothing.
                let ping = match mode {
                    DeliveryMode::Ping => Some(target.ping(auth_req_id)?),
                    _ => None,
                };
                let completion = match grant {
                    Some(g) => Completion::Authorized(Box::new(g)),
                    None if *result == AuthenticationResult::AccessDenied => Completion::Denied,
                    None => Completion::Failed,
                };
                match self.store.complete(auth_req_id, completion, now).await? {
                    CompleteStatus::Completed(_) => Ok(match ping {
                        Some(request) => CompleteOutcome::Ping(request),
                        None => CompleteOutcome::NothingToSend,
                    }),
                    other => Err(unexpected(other)),
                }
            }
        }
    }

    async fn complete_push(
        &self,
        current: &StoredRequest,
        target: &Target<'_>,
        result: &AuthenticationResult,
        grant: Option<Grant>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<CompleteOutcome, CompleteError> {
        let id = &current.auth_req_id;
        let expired = || -> Result<CompleteOutcome, CompleteError> {
            let error = ErrorCode::ExpiredToken;
            let request = target.push_error(id, &error, "the request has expired")?;
            Ok(CompleteOutcome::PushError { request, error })
        };
        // Prepare the delivery before committing, so a failure here changes nothing.
        let (prepared, tokens) = match grant {
            _ if current.is_expired(now) => (expired()?, Vec::new()),
            Some(grant) => {
                // The client's ID token algorithm (a client the registry no longer knows, or
                // one that registered none, gets the RS256 default).
                let client = self.registry.client(&current.client_id).await?;
                let id_token_alg = client.as_ref().and_then(|c| c.id_token_alg());
                let mut minted = self.minter.mint(
                    &MintRequest {
                        issuer: &self.config.issuer,
                        client_id: &current.client_id,
                        auth_req_id: id,
                        delivery_mode: DeliveryMode::Push,
                        grant: &grant,
                        // Push has no token request, so no proof to bind to; registration
                        // refuses push clients that ask for bound tokens.
                        confirmation: &Confirmation::bearer(),
                        id_token_alg,
                    },
                    now,
                    rng,
                )?;
                encrypt_id_token(client.as_deref(), &mut minted, rng)?;
                let request = target.push_tokens(id, &minted)?;
                let tokens = fingerprints(&minted, now);
                (
                    CompleteOutcome::PushTokens {
                        request,
                        tokens: tokens.clone(),
                    },
                    tokens,
                )
            }
            None => {
                let (error, text) = match result {
                    AuthenticationResult::AccessDenied => {
                        (ErrorCode::AccessDenied, "the user denied the request")
                    }
                    _ => (
                        ErrorCode::TransactionFailed,
                        "no result could be obtained from the authentication device",
                    ),
                };
                let request = target.push_error(id, &error, text)?;
                (CompleteOutcome::PushError { request, error }, Vec::new())
            }
        };
        match self
            .store
            .complete(id, Completion::Delivered(tokens), now)
            .await?
        {
            CompleteStatus::Completed(_) => Ok(prepared),
            CompleteStatus::Expired(_) => expired(),
            other => Err(unexpected(other)),
        }
    }

    /// The push of `tokens` ([`CompleteOutcome::PushTokens`]) was not delivered: the
    /// endpoint refused it (any non-2xx answer) or the sender gave up retrying. Revokes the
    /// access and refresh tokens through the store, so tokens nobody received never become
    /// usable ([`CibaServer::is_revoked`] is then true for both). The request stays
    /// completed: the client is not offered a second delivery.
    ///
    /// Call it once the delivery is known to have failed, with the same `tokens`; calling it
    /// again is harmless.
    pub async fn push_undelivered(
        &self,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let span = endpoint_span("push_undelivered");
        let revoked = self
            .store
            .revoke_tokens(tokens, now)
            .instrument(span.clone())
            .await;
        finish(
            &span,
            "push_undelivered",
            if revoked.is_ok() { "ok" } else { "store_error" },
        );
        revoked
    }
}
