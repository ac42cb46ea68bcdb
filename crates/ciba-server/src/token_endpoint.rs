//! The token endpoint for the CIBA grant (CIBA Core sections 10.1, 10.1.1 and 11).
//!
//! Order of checks: transport (`POST`, form body, limits); `grant_type` (another grant is
//! handed back to the AS as [`TokenOutcome::NotCibaGrant`]); client authentication (401
//! `invalid_client`); the client's mode (push clients, clients without the CIBA grant and
//! clients whose delivery mode the server no longer offers get `unauthorized_client`);
//! `auth_req_id` present; then the stored request decides, in one atomic store step:
//! `invalid_grant` (unknown, another client's, or already used), `expired_token`,
//! `slow_down`, `authorization_pending`, `access_denied`, or the tokens. A parameter sent
//! without a value counts as absent (RFC 6749 section 3.2; the form parser drops it).
//!
//! Sender constraint, checked after the client's mode and before `auth_req_id` (so a bad
//! proof never consumes a poll): a `DPoP` header is verified in full (see [`crate::dpop`];
//! `invalid_dpop_proof`, or `use_dpop_nonce` with a `DPoP-Nonce` header) and binds the
//! tokens to its key (`cnf.jkt`, `token_type: DPoP`); a client registered with
//! `dpop_bound_access_tokens` that sends none is `invalid_request` (RFC 9449 section 5.2).
//! A client registered with `tls_client_certificate_bound_access_tokens` gets tokens bound
//! to its TLS client certificate (`cnf.x5t#S256`, RFC 8705 section 3), and without one is
//! `invalid_request`. Under [`Profile::FapiCiba`](ciba_core::Profile) a request that would
//! get an unbound token is `invalid_request`.

use std::borrow::Cow;
use std::time::SystemTime;

use ciba_core::ErrorCode;
use ciba_core::random::Random;
use ciba_core::wire::FormError;
use http::StatusCode;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use crate::auth_req_id::AuthReqId;
use crate::binding::Confirmation;
use crate::client::{CIBA_GRANT_TYPE, ClientMetadata, DeliveryMode};
use crate::client_auth::{ClientAuthError, Endpoint};
use crate::complete::fingerprints;
use crate::dpop::{DPOP_NONCE_HEADER, DpopCheck, DpopProofError, DpopStepError};
use crate::id_token_encryption::encrypt_id_token;
use crate::incoming::{FormPostError, IncomingRequest};
use crate::minter::{MintError, MintRequest, MintedTokens};
use crate::observe::{
    code_label, count_expiry, endpoint_span, finish, record_auth_req, record_client,
};
use crate::response::{ProtocolError, Rejection, json_response};
use crate::server::CibaServer;
use crate::server::token_fingerprint;
use crate::store::{PollStatus, RequestState, StoreError};

/// The seconds added to a request's interval at each `slow_down` (CIBA Core section 11).
pub const SLOW_DOWN_INCREMENT: u64 = 5;

/// Tokens issued at the token endpoint. Its `Debug` form shows neither the `auth_req_id` (an
/// [`AuthReqId`]), the tokens nor the response body.
pub struct TokenGrant {
    /// The client the tokens went to.
    pub client_id: String,
    /// The redeemed `auth_req_id`.
    pub auth_req_id: AuthReqId,
    /// The tokens.
    pub tokens: MintedTokens,
    /// The 200 response: `{access_token, token_type, expires_in, refresh_token?, id_token,
    /// scope}`, JSON, no-store.
    pub response: http::Response<Vec<u8>>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("client_id", &self.client_id)
            .field("auth_req_id", &self.auth_req_id)
            .field("tokens", &self.tokens)
            .field(
                "response",
                &crate::response::RedactedResponse(&self.response),
            )
            .finish()
    }
}

/// What [`CibaServer::token_request`] decided.
#[derive(Debug)]
pub enum TokenOutcome {
    /// Tokens were issued: send the response.
    Issued(Box<TokenGrant>),
    /// An error answer (including `authorization_pending` and `slow_down`): send the
    /// response.
    Respond(Rejection<TokenError>),
    /// The request is for another grant type: the AS handles it (and answers
    /// `unsupported_grant_type` if it does not know it either).
    NotCibaGrant {
        /// The `grant_type` sent.
        grant_type: String,
    },
}

/// Why the client may not use the CIBA grant. Its `Display` is the worded reason sent in
/// `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantUnauthorizedReason {
    /// The client is registered in push mode (CIBA Core section 11).
    PushClient,
    /// The client has no CIBA delivery mode.
    NotCibaClient,
    /// The client's `grant_types` lacks the CIBA grant.
    MissingCibaGrant,
    /// The client's delivery mode is not (or no longer) offered by the server.
    DeliveryModeNotSupported,
}

impl std::fmt::Display for GrantUnauthorizedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GrantUnauthorizedReason::PushClient => {
                "push clients receive their tokens and never poll"
            }
            GrantUnauthorizedReason::NotCibaClient => "it registered no CIBA token delivery mode",
            GrantUnauthorizedReason::MissingCibaGrant => {
                "it is not registered for the CIBA grant type"
            }
            GrantUnauthorizedReason::DeliveryModeNotSupported => {
                "its token delivery mode is not offered by this server"
            }
        })
    }
}

/// Why the `auth_req_id` is `invalid_grant`. Its `Display` is the worded reason sent in
/// `error_description`; an unknown `auth_req_id` and another client's read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidGrantReason {
    /// Unknown, forgotten, or issued to another client.
    Unknown,
    /// Already redeemed (the first redemption's tokens are now revoked) or already
    /// answered with a denial or failure.
    AlreadyUsed,
}

impl std::fmt::Display for InvalidGrantReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InvalidGrantReason::Unknown => "the auth_req_id is unknown to this client",
            InvalidGrantReason::AlreadyUsed => "the auth_req_id has already been used",
        })
    }
}

/// The error answers of the CIBA grant.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The method is not `POST`: 405 with `Allow: POST`.
    #[error("the method must be POST")]
    MethodNotAllowed,
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("the content type must be application/x-www-form-urlencoded")]
    UnsupportedContentType,
    /// The form body is too large (413), has too many or repeated parameters, or is not
    /// UTF-8.
    #[error(transparent)]
    Form(#[from] FormError),
    /// A parameter value is longer than allowed.
    #[error("parameter {name:?} is too long")]
    ParameterTooLong {
        /// The parameter (truncated).
        name: String,
    },
    /// `grant_type` is missing.
    #[error("grant_type is required")]
    MissingGrantType,
    /// Client authentication failed.
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    /// The client may not use the CIBA grant.
    #[error("the client may not use the CIBA grant: {reason}")]
    UnauthorizedClient {
        /// Why.
        reason: GrantUnauthorizedReason,
    },
    /// `auth_req_id` is missing.
    #[error("auth_req_id is required")]
    MissingAuthReqId,
    /// The `auth_req_id` cannot be redeemed by this client.
    #[error("{reason}")]
    InvalidGrant {
        /// Why.
        reason: InvalidGrantReason,
    },
    /// The user has not decided yet.
    #[error("the authorization is pending")]
    AuthorizationPending,
    /// The client polls too fast; the stored interval is now `interval` seconds.
    #[error("polling too fast; the interval is now {interval} seconds")]
    SlowDown {
        /// The new interval.
        interval: u64,
    },
    /// The `auth_req_id` has expired.
    #[error("the auth_req_id has expired")]
    ExpiredToken,
    /// The user denied the request.
    #[error("the user denied the request")]
    AccessDenied,
    /// No result could be obtained from the authentication device; answered with
    /// `expired_token`, as section 11 has no code for it.
    #[error("no result could be obtained from the authentication device")]
    TransactionFailed,
    /// The DPoP proof was refused (RFC 9449 section 5: `invalid_dpop_proof`).
    #[error("invalid DPoP proof: {source}")]
    InvalidDpopProof {
        /// Why.
        source: DpopProofError,
    },
    /// The server requires a DPoP nonce and the proof had none, or a stale one: 400
    /// `use_dpop_nonce` with the nonce to use in the `DPoP-Nonce` header (RFC 9449 section 8).
    #[error("the DPoP proof must carry the server's current nonce")]
    UseDpopNonce {
        /// The nonce to use.
        nonce: String,
    },
    /// The client registered `dpop_bound_access_tokens` and sent no DPoP proof.
    #[error("this client must send a DPoP proof")]
    DpopProofRequired,
    /// The client registered `tls_client_certificate_bound_access_tokens` and the request
    /// came without a TLS client certificate.
    #[error("this client must present its TLS client certificate")]
    CertificateRequired,
    /// The FAPI-CIBA profile requires sender-constrained tokens: a DPoP proof or a
    /// certificate-bound client.
    #[error("sender-constrained tokens are required: send a DPoP proof or use mutual TLS")]
    SenderConstraintRequired,
    /// Minting the tokens failed.
    #[error(transparent)]
    Mint(#[from] MintError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProtocolError for TokenError {
    fn code(&self) -> ErrorCode {
        match self {
            TokenError::ClientAuth(e) => e.code(),
            TokenError::UnauthorizedClient { .. } => ErrorCode::UnauthorizedClient,
            TokenError::InvalidGrant { .. } => ErrorCode::InvalidGrant,
            TokenError::AuthorizationPending => ErrorCode::AuthorizationPending,
            TokenError::SlowDown { .. } => ErrorCode::SlowDown,
            TokenError::ExpiredToken | TokenError::TransactionFailed => ErrorCode::ExpiredToken,
            TokenError::AccessDenied => ErrorCode::AccessDenied,
            TokenError::InvalidDpopProof { .. } => ErrorCode::InvalidDpopProof,
            TokenError::UseDpopNonce { .. } => ErrorCode::UseDpopNonce,
            TokenError::Store(e) if e.retry_after().is_some() => ErrorCode::TemporarilyUnavailable,
            TokenError::Mint(_) | TokenError::Store(_) => ErrorCode::ServerError,
            _ => ErrorCode::InvalidRequest,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            TokenError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TokenError::Form(FormError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            TokenError::ClientAuth(e) => e.status(),
            TokenError::Store(e) if e.retry_after().is_some() => StatusCode::SERVICE_UNAVAILABLE,
            TokenError::Mint(_) | TokenError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> Cow<'static, str> {
        match self {
            TokenError::ClientAuth(e) => e.description(),
            TokenError::Mint(_) | TokenError::Store(_) => {
                Cow::Borrowed("the server could not process the request")
            }
            other => Cow::Owned(other.to_string()),
        }
    }

    fn allow(&self) -> Option<&'static str> {
        matches!(self, TokenError::MethodNotAllowed).then_some("POST")
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            TokenError::ClientAuth(e) => e.retry_after(),
            TokenError::Store(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl CibaServer {
    /// Answers a token request. Requests for other grant types come back as
    /// [`TokenOutcome::NotCibaGrant`] so the AS can route them; everything else carries the
    /// response to send. Every response has `Cache-Control: no-store`, `Pragma: no-cache`
    /// and a JSON body; client authentication failures are 401 with `WWW-Authenticate`.
    ///
    /// Each `auth_req_id` yields tokens once. A second redemption is `invalid_grant` and
    /// revokes what the first issued (see [`CibaServer::is_revoked`]). The redemption is
    /// committed before the tokens are minted, so if minting fails (500 `server_error`) the
    /// request is used up and the client must start again.
    pub async fn token_request(
        &self,
        request: &IncomingRequest<'_>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> TokenOutcome {
        let span = endpoint_span("token");
        let outcome = self
            .ciba_grant(request, now, rng)
            .instrument(span.clone())
            .await;
        if matches!(outcome, Err(TokenError::ExpiredToken)) {
            count_expiry("token");
        }
        let outcome = self.token_outcome(outcome);
        finish(
            &span,
            "token",
            match &outcome {
                TokenOutcome::Issued(_) => "ok",
                TokenOutcome::Respond(r) => code_label(&r.code()),
                TokenOutcome::NotCibaGrant { .. } => "not_ciba_grant",
            },
        );
        outcome
    }

    /// The outcome of [`ciba_grant`](Self::ciba_grant), errors turned into their responses.
    fn token_outcome(&self, outcome: Result<TokenOutcome, TokenError>) -> TokenOutcome {
        match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                let nonce = match &e {
                    TokenError::UseDpopNonce { nonce } => http::HeaderValue::from_str(nonce).ok(),
                    _ => None,
                };
                let mut rejection = Rejection::new(e, &self.config.issuer);
                if let Some(nonce) = nonce {
                    rejection
                        .response
                        .headers_mut()
                        .insert(DPOP_NONCE_HEADER, nonce);
                }
                TokenOutcome::Respond(rejection)
            }
        }
    }

    /// What the unexpired access token `access_token` (as issued at this token endpoint) is
    /// bound to: its `cnf` for an introspection answer. `None` for a bearer token, or one
    /// that is unknown or expired.
    pub async fn token_confirmation(
        &self,
        access_token: &str,
        now: SystemTime,
    ) -> Result<Option<Confirmation>, StoreError> {
        match token_fingerprint(access_token) {
            Some(fp) => self.store.confirmation(&fp, now).await,
            None => Ok(None),
        }
    }

    /// What the tokens of this request are bound to (see the module docs).
    async fn confirmation(
        &self,
        request: &IncomingRequest<'_>,
        client: &ClientMetadata,
        now: SystemTime,
    ) -> Result<Confirmation, TokenError> {
        let mut confirmation = Confirmation::bearer();
        match self.check_dpop(request, &client.client_id, now).await {
            Ok(DpopCheck::Valid(proof)) => confirmation.jkt = Some(proof.jkt),
            Ok(DpopCheck::Absent) if client.dpop_bound_access_tokens => {
                return Err(TokenError::DpopProofRequired);
            }
            Ok(DpopCheck::Absent) => {}
            Ok(DpopCheck::NeedsNonce(nonce)) => return Err(TokenError::UseDpopNonce { nonce }),
            Err(DpopStepError::Proof(source)) => {
                return Err(TokenError::InvalidDpopProof { source });
            }
            Err(DpopStepError::Store(e)) => return Err(TokenError::Store(e)),
        }
        if client.tls_client_certificate_bound_access_tokens {
            let der = request
                .client_certificate
                .and_then(|c| c.der.as_deref())
                .ok_or(TokenError::CertificateRequired)?;
            confirmation.x5t_s256 = Confirmation::certificate(der)
                .map_err(|e| TokenError::Mint(MintError::Signing(e)))?
                .x5t_s256;
        }
        if self.config.profile.is_fapi() && !confirmation.is_bound() {
            return Err(TokenError::SenderConstraintRequired);
        }
        Ok(confirmation)
    }

    async fn ciba_grant(
        &self,
        request: &IncomingRequest<'_>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<TokenOutcome, TokenError> {
        let limits = &self.config.limits;
        let form = request.form_post(limits)?;
        for (name, value) in &form {
            if value.len() > limits.max_jwt_bytes || name.len() > limits.max_value_bytes {
                return Err(TokenError::ParameterTooLong {
                    name: name.chars().take(64).collect(),
                });
            }
        }
        let find = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let grant_type = find("grant_type").ok_or(TokenError::MissingGrantType)?;
        if grant_type != CIBA_GRANT_TYPE {
            return Ok(TokenOutcome::NotCibaGrant {
                grant_type: grant_type.to_owned(),
            });
        }
        let client = self
            .authenticate_client(request, &form, Endpoint::Token, now)
            .await?
            .metadata;
        let span = tracing::Span::current();
        record_client(&span, &client.client_id);
        let unauthorized = |reason| TokenError::UnauthorizedClient { reason };
        match client.backchannel_token_delivery_mode {
            None => return Err(unauthorized(GrantUnauthorizedReason::NotCibaClient)),
            Some(DeliveryMode::Push) => {
                return Err(unauthorized(GrantUnauthorizedReason::PushClient));
            }
            Some(_) if !client.has_ciba_grant() => {
                return Err(unauthorized(GrantUnauthorizedReason::MissingCibaGrant));
            }
            Some(mode) if !self.config.delivery_modes.contains(&mode) => {
                return Err(unauthorized(
                    GrantUnauthorizedReason::DeliveryModeNotSupported,
                ));
            }
            Some(_) => {}
        }
        let confirmation = self.confirmation(request, &client, now).await?;
        let auth_req_id = find("auth_req_id").ok_or(TokenError::MissingAuthReqId)?;
        record_auth_req(&span, auth_req_id);
        // Too long or with a character the server never mints: no request has it.
        let Ok(auth_req_id) = AuthReqId::parse(auth_req_id, limits.max_value_bytes) else {
            return Err(TokenError::InvalidGrant {
                reason: InvalidGrantReason::Unknown,
            });
        };
        let auth_req_id = &auth_req_id;
        let stored = match self
            .store
            .poll(auth_req_id, &client.client_id, SLOW_DOWN_INCREMENT, now)
            .await?
        {
            PollStatus::Authorized(stored) => stored,
            PollStatus::Pending => return Err(TokenError::AuthorizationPending),
            PollStatus::SlowDown { interval } => return Err(TokenError::SlowDown { interval }),
            PollStatus::Expired => return Err(TokenError::ExpiredToken),
            PollStatus::Denied => return Err(TokenError::AccessDenied),
            PollStatus::Failed => return Err(TokenError::TransactionFailed),
            PollStatus::AlreadyUsed => {
                return Err(TokenError::InvalidGrant {
                    reason: InvalidGrantReason::AlreadyUsed,
                });
            }
            _ => {
                return Err(TokenError::InvalidGrant {
                    reason: InvalidGrantReason::Unknown,
                });
            }
        };
        let RequestState::Authorized(grant) = &stored.state else {
            return Err(TokenError::InvalidGrant {
                reason: InvalidGrantReason::Unknown,
            });
        };
        let mut tokens = self.minter.mint(
            &MintRequest {
                issuer: &self.config.issuer,
                client_id: &stored.client_id,
                auth_req_id,
                delivery_mode: stored.delivery_mode,
                grant,
                confirmation: &confirmation,
                id_token_alg: client.id_token_alg(),
            },
            now,
            rng,
        )?;
        encrypt_id_token(Some(&client), &mut tokens, rng)?;
        let issued = fingerprints(&tokens, now);
        self.store.attach_tokens(auth_req_id, &issued, now).await?;
        if tokens.confirmation.is_bound()
            && let Some(access) = issued.first()
        {
            self.store
                .record_confirmation(
                    &access.fingerprint,
                    &tokens.confirmation,
                    access.expires_at,
                    now,
                )
                .await?;
        }
        let mut body = Map::new();
        body.insert("access_token".into(), tokens.access_token.expose().into());
        body.insert("token_type".into(), tokens.token_type.clone().into());
        body.insert("expires_in".into(), tokens.expires_in.into());
        if let Some(rt) = &tokens.refresh_token {
            body.insert("refresh_token".into(), rt.expose().into());
        }
        body.insert("id_token".into(), tokens.id_token.clone().into());
        body.insert("scope".into(), tokens.scope.clone().into());
        let mut response = json_response(StatusCode::OK, &Value::Object(body));
        if let Some(nonce) = self
            .config
            .dpop
            .nonce
            .as_ref()
            .and_then(|k| k.current(now))
            .and_then(|n| http::HeaderValue::from_str(&n).ok())
        {
            response.headers_mut().insert(DPOP_NONCE_HEADER, nonce);
        }
        Ok(TokenOutcome::Issued(Box::new(TokenGrant {
            client_id: stored.client_id.clone(),
            auth_req_id: auth_req_id.clone(),
            tokens,
            response,
        })))
    }
}

impl From<FormPostError> for TokenError {
    fn from(e: FormPostError) -> Self {
        match e {
            FormPostError::MethodNotAllowed => TokenError::MethodNotAllowed,
            FormPostError::UnsupportedContentType => TokenError::UnsupportedContentType,
            FormPostError::Form(e) => TokenError::Form(e),
        }
    }
}
