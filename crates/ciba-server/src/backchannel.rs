//! The backchannel authentication endpoint (CIBA Core sections 7.1, 7.1.1, 7.1.2, 7.2, 13).
//!
//! Checks run in this order, and the first failure is answered:
//!
//! 1. transport: `POST`, `application/x-www-form-urlencoded`, body size, parameter count,
//!    no repeated parameter, value lengths (`invalid_request`);
//! 2. client authentication (401 `invalid_client`);
//! 3. may this client use CIBA: a supported delivery mode, the CIBA grant for poll and ping
//!    (`unauthorized_client`);
//! 4. `request_uri` refused; the signed request object when `request` is sent
//!    (`invalid_request`);
//! 5. structure: `scope` present, exactly one hint, `client_notification_token` for ping and
//!    push, `requested_expiry` (`invalid_request`);
//! 6. scope: `openid` present, well-formed, allowed for the client and the server
//!    (`invalid_scope`);
//! 7. the hint: an `id_token_hint` must be an ID token this server issued to this client
//!    (`invalid_request`);
//! 8. user code: `missing_user_code` when the server and the client use user codes;
//! 9. binding message: length and characters (`invalid_binding_message`): no control
//!    characters, and no bidirectional or zero-width characters, which would make the message
//!    read differently on the device from the one the consumption device shows.
//!
//! This is the precedence the project's checklist recommends (client authentication, request
//! object, structure, scope, hint, user code, binding message), with the client permission
//! check moved right after authentication: it depends only on the client.
//!
//! [`CibaServer::authenticate_request`] then stores the ticket (charged to the client's
//! bound in the store, 503 `temporarily_unavailable` when the client is at it), for an AS
//! that identifies the user later or on another instance.
//! [`CibaServer::authenticate_request_inline`] makes the same checks and stores nothing: the
//! [`InlineTicket`] stays in the caller's hands, and the client's bound is enforced when
//! [`CibaServer::issue_inline`] stores the request.

use std::borrow::Cow;
use std::time::SystemTime;

use ciba_core::ErrorCode;
use ciba_core::Limits;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{AlgorithmPolicy, CompactJws};
use ciba_core::random::{IDENTIFIER_BYTES, Random, RandomError, random_identifier};
use ciba_core::wire::FormError;
use http::StatusCode;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use crate::client::ClientMetadata;
use crate::client_auth::{CLIENT_AUTH_PARAMETERS, ClientAuthError, Endpoint};
use crate::incoming::{FormPostError, IncomingRequest};
use crate::jwt_claims::{audience_ok, req_string};
use crate::observe::{code_label, endpoint_span, finish, record_client};
use crate::params::{
    is_scope_token, is_valid_notification_token, parse_requested_expiry, split_list,
};
use crate::request_object::RequestObjectError;
use crate::response::{ProtocolError, Rejection};
use crate::server::CibaServer;
use crate::store::StoreError;
use crate::ticket::{InlineTicket, Ticket, UserHint};

/// Parameters whose values are JWTs, bounded by
/// [`RequestLimits::max_jwt_bytes`](crate::RequestLimits::max_jwt_bytes).
const JWT_PARAMETERS: [&str; 4] = [
    "request",
    "client_assertion",
    "id_token_hint",
    "login_hint_token",
];

/// The authentication request parameters this crate interprets.
const KNOWN_PARAMETERS: [&str; 11] = [
    "scope",
    "client_notification_token",
    "acr_values",
    "login_hint_token",
    "id_token_hint",
    "login_hint",
    "binding_message",
    "user_code",
    "requested_expiry",
    "request",
    "request_uri",
];

/// What [`CibaServer::authenticate_request`] decided.
///
/// # Check precedence
///
/// Checks run in this order, and the first failure is answered:
///
/// 1. transport: `POST`, `application/x-www-form-urlencoded`, body size, parameter count,
///    no repeated parameter, value lengths (`invalid_request`);
/// 2. client authentication (401 `invalid_client`);
/// 3. may this client use CIBA: a supported delivery mode, the CIBA grant for poll and ping
///    (`unauthorized_client`);
/// 4. `request_uri` refused; the signed request object when `request` is sent
///    (`invalid_request`);
/// 5. structure: `scope` present, exactly one hint, `client_notification_token` for ping and
///    push, `requested_expiry` (`invalid_request`);
/// 6. scope: `openid` present, well-formed, allowed for the client and the server
///    (`invalid_scope`);
/// 7. the hint: an `id_token_hint` must be an ID token this server issued to this client
///    (`invalid_request`);
/// 8. user code: `missing_user_code` when the server and the client use user codes;
/// 9. binding message: length and characters (`invalid_binding_message`): no control
///    characters, and no bidirectional or zero-width characters, which would make the message
///    read differently on the device from the one the consumption device shows.
///
/// This is the precedence the project's checklist recommends (client authentication, request
/// object, structure, scope, hint, user code, binding message), with the client permission
/// check moved right after authentication: it depends only on the client.
#[derive(Debug)]
pub enum BackchannelOutcome {
    /// The request is refused: send the response.
    Respond(Rejection<BackchannelError>),
    /// The request is valid: identify the user from the ticket's hint, then call
    /// [`CibaServer::issue`] (or [`CibaServer::fail`]).
    UserIdentification(Box<Ticket>),
}

/// What [`CibaServer::authenticate_request_inline`] decided.
#[derive(Debug)]
pub enum InlineBackchannelOutcome {
    /// The request is refused: send the response.
    Respond(Rejection<BackchannelError>),
    /// The request is valid: identify the user from the ticket's hint, then call
    /// [`CibaServer::issue_inline`] (or [`CibaServer::fail_inline`]) with the ticket.
    UserIdentification(Box<InlineTicket>),
}

/// Why a client may not use CIBA. Its `Display` is the worded reason sent in
/// `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnauthorizedReason {
    /// The client registered no `backchannel_token_delivery_mode`.
    NotCibaClient,
    /// The client's delivery mode is not offered by the server.
    DeliveryModeNotSupported,
    /// A poll or ping client without the CIBA grant type.
    MissingCibaGrant,
    /// A ping or push client without a notification endpoint.
    MissingNotificationEndpoint,
}

impl std::fmt::Display for UnauthorizedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnauthorizedReason::NotCibaClient => "it registered no CIBA token delivery mode",
            UnauthorizedReason::DeliveryModeNotSupported => {
                "its token delivery mode is not offered by this server"
            }
            UnauthorizedReason::MissingCibaGrant => "it is not registered for the CIBA grant type",
            UnauthorizedReason::MissingNotificationEndpoint => {
                "it registered no client notification endpoint"
            }
        })
    }
}

/// Why a backchannel authentication request was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BackchannelError {
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
    /// Client authentication failed.
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    /// The client may not use CIBA.
    #[error("the client may not use CIBA: {reason}")]
    UnauthorizedClient {
        /// Why.
        reason: UnauthorizedReason,
    },
    /// `request_uri` is not supported.
    #[error("request_uri is not supported")]
    RequestUriNotSupported,
    /// The server's profile (FAPI-CIBA) requires a signed authentication request.
    #[error("the authentication request must be signed (the request parameter)")]
    SignedRequestRequired,
    /// The signed request object is unacceptable.
    #[error(transparent)]
    RequestObject(#[from] RequestObjectError),
    /// A required parameter is missing.
    #[error("parameter {name} is required")]
    MissingParameter {
        /// The parameter.
        name: &'static str,
    },
    /// A parameter has an invalid value or type.
    #[error("parameter {name} is invalid")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
    },
    /// None of `login_hint`, `id_token_hint`, `login_hint_token` was sent.
    #[error("one of login_hint, id_token_hint or login_hint_token is required")]
    NoHint,
    /// More than one hint was sent.
    #[error("only one of login_hint, id_token_hint or login_hint_token may be sent")]
    MultipleHints,
    /// The `id_token_hint` is not an ID token this server issued to this client.
    #[error("id_token_hint is not valid")]
    InvalidIdTokenHint,
    /// `scope` does not contain `openid`.
    #[error("scope must contain openid")]
    MissingOpenidScope,
    /// `scope` is not a list of valid scope tokens.
    #[error("scope is malformed")]
    MalformedScope,
    /// A requested scope is not allowed for this client or not supported by the server.
    #[error("scope {scope:?} is not allowed")]
    ScopeNotAllowed {
        /// The scope (truncated).
        scope: String,
    },
    /// The server and the client use user codes and none was sent.
    #[error("user_code is required")]
    MissingUserCode,
    /// The binding message is too long, or has control, bidirectional or zero-width
    /// characters.
    #[error("binding_message is not acceptable")]
    InvalidBindingMessage,
    /// The client has too many requests in flight (see
    /// [`MemoryStoreConfig::max_entries_per_client`](crate::store::MemoryStoreConfig::max_entries_per_client)).
    #[error("too many requests in flight for this client")]
    TooManyRequests,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl ProtocolError for BackchannelError {
    fn code(&self) -> ErrorCode {
        match self {
            BackchannelError::ClientAuth(e) => e.code(),
            BackchannelError::RequestObject(RequestObjectError::Store(e))
            | BackchannelError::Store(e)
                if e.retry_after().is_some() =>
            {
                ErrorCode::TemporarilyUnavailable
            }
            BackchannelError::TooManyRequests => ErrorCode::TemporarilyUnavailable,
            BackchannelError::RequestObject(RequestObjectError::Store(_))
            | BackchannelError::Store(_)
            | BackchannelError::Random(_) => ErrorCode::ServerError,
            BackchannelError::UnauthorizedClient { .. } => ErrorCode::UnauthorizedClient,
            BackchannelError::MissingOpenidScope
            | BackchannelError::MalformedScope
            | BackchannelError::ScopeNotAllowed { .. } => ErrorCode::InvalidScope,
            BackchannelError::MissingUserCode => ErrorCode::MissingUserCode,
            BackchannelError::InvalidBindingMessage => ErrorCode::InvalidBindingMessage,
            _ => ErrorCode::InvalidRequest,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            BackchannelError::MethodNotAllowed => return StatusCode::METHOD_NOT_ALLOWED,
            BackchannelError::Form(FormError::TooLarge { .. }) => {
                return StatusCode::PAYLOAD_TOO_LARGE;
            }
            _ => {}
        }
        match self.code() {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> Cow<'static, str> {
        match self {
            BackchannelError::ClientAuth(e) => e.description(),
            BackchannelError::Store(_) | BackchannelError::Random(_) => {
                Cow::Borrowed("the server could not process the request")
            }
            BackchannelError::RequestObject(RequestObjectError::Store(_)) => {
                Cow::Borrowed("the server could not process the request")
            }
            BackchannelError::RequestObject(e) => {
                Cow::Owned(format!("invalid request object: {e}"))
            }
            other => Cow::Owned(other.to_string()),
        }
    }

    fn allow(&self) -> Option<&'static str> {
        matches!(self, BackchannelError::MethodNotAllowed).then_some("POST")
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            BackchannelError::ClientAuth(e) => e.retry_after(),
            BackchannelError::RequestObject(RequestObjectError::Store(e))
            | BackchannelError::Store(e) => e.retry_after(),
            BackchannelError::TooManyRequests => Some(60),
            _ => None,
        }
    }
}

/// Reads a string parameter: absent, null or empty is `None`; another type is an error.
fn get_str<'a>(
    params: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, BackchannelError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(BackchannelError::InvalidParameter { name }),
    }
}

fn requested_expiry(params: &Map<String, Value>) -> Result<Option<u64>, BackchannelError> {
    let invalid = BackchannelError::InvalidParameter {
        name: "requested_expiry",
    };
    match params.get("requested_expiry") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_requested_expiry(s).map(Some).ok_or(invalid),
        Some(Value::Number(n)) => n.as_u64().filter(|v| *v > 0).map(Some).ok_or(invalid),
        Some(_) => Err(invalid),
    }
}

impl CibaServer {
    /// Validates a request to the backchannel authentication endpoint.
    ///
    /// Returns [`BackchannelOutcome::UserIdentification`] with a [`Ticket`] when the request
    /// is valid, or [`BackchannelOutcome::Respond`] with the error response to send (400, 401
    /// with `WWW-Authenticate` for client authentication failures, 503 when the client has
    /// too many requests in flight, 500 when the store or the random source fails). `rng`
    /// mints the ticket id.
    pub async fn authenticate_request(
        &self,
        request: &IncomingRequest<'_>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> BackchannelOutcome {
        let span = endpoint_span("backchannel");
        let stored = async {
            match self.validate_backchannel(request, now, rng).await {
                Ok(ticket) => match self.store.insert_ticket(&ticket, now).await {
                    Ok(()) => Ok(ticket),
                    Err(StoreError::ClientLimitReached { .. }) => {
                        Err(BackchannelError::TooManyRequests)
                    }
                    Err(e) => Err(BackchannelError::Store(e)),
                },
                Err(e) => Err(e),
            }
        }
        .instrument(span.clone())
        .await;
        match stored {
            // The request is counted when it is issued or failed.
            Ok(ticket) => {
                span.record("outcome", "user_identification");
                BackchannelOutcome::UserIdentification(Box::new(ticket))
            }
            Err(e) => {
                let rejection = Rejection::new(e, &self.config.issuer);
                finish(&span, "backchannel", code_label(&rejection.code()));
                BackchannelOutcome::Respond(rejection)
            }
        }
    }

    /// Validates a request to the backchannel authentication endpoint like
    /// [`authenticate_request`](CibaServer::authenticate_request), every check included
    /// (replay caches for client assertions and request objects too), but keeps the ticket
    /// out of the store: one store round trip fewer, and one more saved by
    /// [`issue_inline`](CibaServer::issue_inline), which needs no take.
    ///
    /// Use it when the AS identifies the user within the same HTTP request (an awaited
    /// directory lookup) and then calls [`issue_inline`](CibaServer::issue_inline) or
    /// [`fail_inline`](CibaServer::fail_inline) with the [`InlineTicket`]. Use
    /// `authenticate_request` when the identification step outlives the request or runs on
    /// another instance: only a stored ticket can be found again by its id.
    ///
    /// The responses are those of `authenticate_request` followed by `issue` for the same
    /// inputs, with one difference: the client's bound on entries in the store is checked
    /// when the request is stored rather than when the ticket would have been, so a request
    /// the AS refuses (through `fail_inline`) gets that refusal even while the client is at
    /// its bound.
    pub async fn authenticate_request_inline(
        &self,
        request: &IncomingRequest<'_>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> InlineBackchannelOutcome {
        let span = endpoint_span("backchannel");
        let validated = self
            .validate_backchannel(request, now, rng)
            .instrument(span.clone())
            .await;
        match validated {
            // The request is counted when it is issued or failed.
            Ok(ticket) => {
                span.record("outcome", "user_identification");
                InlineBackchannelOutcome::UserIdentification(Box::new(InlineTicket::new(ticket)))
            }
            Err(e) => {
                let rejection = Rejection::new(e, &self.config.issuer);
                finish(&span, "backchannel", code_label(&rejection.code()));
                InlineBackchannelOutcome::Respond(rejection)
            }
        }
    }

    fn check_lengths<'a>(
        &self,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), BackchannelError> {
        let limits = &self.config.limits;
        for (name, value) in pairs {
            let max = if JWT_PARAMETERS.contains(&name)
                || !(KNOWN_PARAMETERS.contains(&name) || CLIENT_AUTH_PARAMETERS.contains(&name))
            {
                limits.max_jwt_bytes
            } else if name == "binding_message" {
                // Checked in characters later, with its own error code.
                limits.max_jwt_bytes
            } else {
                limits.max_value_bytes
            };
            if value.len() > max || name.len() > limits.max_value_bytes {
                return Err(BackchannelError::ParameterTooLong {
                    name: name.chars().take(64).collect(),
                });
            }
        }
        Ok(())
    }

    /// Every check of the backchannel endpoint; the ticket is not stored yet.
    async fn validate_backchannel(
        &self,
        request: &IncomingRequest<'_>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<Ticket, BackchannelError> {
        // 1. Transport.
        let limits = &self.config.limits;
        let form = request.form_post(limits)?;
        self.check_lengths(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;

        // 2. Client authentication.
        let client = self
            .authenticate_client(request, &form, Endpoint::Backchannel, now)
            .await?;
        let client = client.metadata;
        record_client(&tracing::Span::current(), &client.client_id);

        // 3. May this client use CIBA?
        let mode = self.ciba_mode(&client)?;

        // 4. request_uri and the signed request object.
        let find = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if find("request_uri").is_some() {
            return Err(BackchannelError::RequestUriNotSupported);
        }
        let (params, signed) = match find("request") {
            Some(jwt) => {
                let claims = self.verify_request_object(&client, jwt, &form, now).await?;
                let strings = claims
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)));
                self.check_lengths(strings)?;
                (claims, true)
            }
            None => {
                // The form is not needed after this: its strings move into the map.
                let map = form
                    .into_iter()
                    .filter(|(k, _)| !CLIENT_AUTH_PARAMETERS.contains(&k.as_str()))
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect::<Map<String, Value>>();
                (map, false)
            }
        };

        // The FAPI-CIBA profile: signed requests only, with a binding message (5.2.2).
        if self.config.profile.is_fapi() {
            if !signed {
                return Err(BackchannelError::SignedRequestRequired);
            }
            if get_str(&params, "binding_message")?.is_none() {
                return Err(BackchannelError::MissingParameter {
                    name: "binding_message",
                });
            }
        }

        // 5. Structure.
        let scope = get_str(&params, "scope")?
            .ok_or(BackchannelError::MissingParameter { name: "scope" })?;
        let hints = [
            get_str(&params, "login_hint")?,
            get_str(&params, "id_token_hint")?,
            get_str(&params, "login_hint_token")?,
        ];
        let hint_count = hints.iter().filter(|h| h.is_some()).count();
        if hint_count == 0 {
            return Err(BackchannelError::NoHint);
        }
        if hint_count > 1 {
            return Err(BackchannelError::MultipleHints);
        }
        let cnt = if mode.uses_notifications() {
            let cnt = get_str(&params, "client_notification_token")?.ok_or(
                BackchannelError::MissingParameter {
                    name: "client_notification_token",
                },
            )?;
            if !is_valid_notification_token(cnt) {
                return Err(BackchannelError::InvalidParameter {
                    name: "client_notification_token",
                });
            }
            Some(cnt)
        } else {
            None
        };
        let requested_expiry = requested_expiry(&params)?;
        let acr_values = get_str(&params, "acr_values")?
            .map(split_list)
            .unwrap_or_default();
        let binding_message = get_str(&params, "binding_message")?;
        let user_code = get_str(&params, "user_code")?;

        // 6. Scope.
        let scopes = split_list(scope);
        if !scopes.iter().all(|s| is_scope_token(s)) {
            return Err(BackchannelError::MalformedScope);
        }
        if !scopes.iter().any(|s| s == "openid") {
            return Err(BackchannelError::MissingOpenidScope);
        }
        self.check_scopes_allowed(&client, &scopes)?;

        // 7. The hint.
        let hint = match hints {
            [Some(value), _, _] => UserHint::LoginHint {
                value: value.to_owned(),
            },
            [_, Some(value), _] => UserHint::IdTokenHint {
                value: value.to_owned(),
                subject: self.verify_id_token_hint(&client, value, now)?,
            },
            [_, _, Some(value)] => UserHint::LoginHintToken {
                value: value.to_owned(),
            },
            [None, None, None] => return Err(BackchannelError::NoHint),
        };

        // 8. User code.
        let user_code_required =
            self.config.user_code_supported && client.backchannel_user_code_parameter;
        if user_code_required && user_code.is_none() {
            return Err(BackchannelError::MissingUserCode);
        }

        // 9. Binding message.
        if let Some(message) = binding_message {
            let too_long = message.chars().count() > self.config.limits.max_binding_message_chars;
            if too_long || message.chars().any(is_unshowable) {
                return Err(BackchannelError::InvalidBindingMessage);
            }
        }

        let extra = params
            .iter()
            .filter(|(k, _)| !KNOWN_PARAMETERS.contains(&k.as_str()) && k.as_str() != "client_id")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let ticket = Ticket {
            id: random_identifier(rng, IDENTIFIER_BYTES)?,
            client_id: client.client_id.clone(),
            delivery_mode: mode,
            hint,
            scopes,
            acr_values,
            binding_message: binding_message.map(str::to_owned),
            user_code: user_code.filter(|_| user_code_required).map(Into::into),
            user_code_required,
            requested_expiry,
            client_notification_token: cnt.map(Into::into),
            notification_endpoint: client
                .backchannel_client_notification_endpoint
                .clone()
                .filter(|_| mode.uses_notifications()),
            signed_request: signed,
            extra,
            expires_at: now.checked_add(self.config.ticket_ttl).unwrap_or(now),
        };
        Ok(ticket)
    }

    fn ciba_mode(
        &self,
        client: &ClientMetadata,
    ) -> Result<crate::client::DeliveryMode, BackchannelError> {
        let unauthorized = |reason| BackchannelError::UnauthorizedClient { reason };
        let mode = client
            .backchannel_token_delivery_mode
            .ok_or(unauthorized(UnauthorizedReason::NotCibaClient))?;
        if !self.config.delivery_modes.contains(&mode) {
            return Err(unauthorized(UnauthorizedReason::DeliveryModeNotSupported));
        }
        if mode.uses_token_endpoint() && !client.has_ciba_grant() {
            return Err(unauthorized(UnauthorizedReason::MissingCibaGrant));
        }
        if mode.uses_notifications() && client.backchannel_client_notification_endpoint.is_none() {
            return Err(unauthorized(
                UnauthorizedReason::MissingNotificationEndpoint,
            ));
        }
        Ok(mode)
    }

    fn check_scopes_allowed(
        &self,
        client: &ClientMetadata,
        scopes: &[String],
    ) -> Result<(), BackchannelError> {
        for scope in scopes {
            let by_client = client
                .allowed_scopes()
                .is_none_or(|mut allowed| allowed.any(|a| a == scope));
            let by_server = self
                .config
                .scopes_supported
                .as_ref()
                .is_none_or(|s| s.iter().any(|a| a == scope));
            if !(by_client && by_server) {
                return Err(BackchannelError::ScopeNotAllowed {
                    scope: scope.chars().take(64).collect(),
                });
            }
        }
        Ok(())
    }

    /// Checks that `token` is an ID token this server signed for `client`, and returns its
    /// subject. An expired ID token is accepted (CIBA Core section 14).
    fn verify_id_token_hint(
        &self,
        client: &ClientMetadata,
        token: &str,
        now: SystemTime,
    ) -> Result<String, BackchannelError> {
        let limits = Limits::DEFAULT.with_max_jwt_bytes(self.config.limits.max_jwt_bytes);
        let invalid = || BackchannelError::InvalidIdTokenHint;
        let jws = CompactJws::parse(token, &limits).map_err(|_| invalid())?;
        let policy = AlgorithmPolicy::only(self.minter.id_token_signing_algs());
        verify_with_set(&jws, &self.minter.public_jwks(now), &policy).map_err(|_| invalid())?;
        let claims = jws.claims(&limits).map_err(|_| invalid())?;
        if req_string(&claims, "iss").map_err(|_| invalid())? != self.config.issuer {
            return Err(invalid());
        }
        if !audience_ok(&claims, &[client.client_id.as_str()], false) {
            return Err(invalid());
        }
        req_string(&claims, "sub")
            .map(str::to_owned)
            .map_err(|_| invalid())
    }
}

impl From<FormPostError> for BackchannelError {
    fn from(e: FormPostError) -> Self {
        match e {
            FormPostError::MethodNotAllowed => BackchannelError::MethodNotAllowed,
            FormPostError::UnsupportedContentType => BackchannelError::UnsupportedContentType,
            FormPostError::Form(e) => BackchannelError::Form(e),
        }
    }
}

/// True for a character a `binding_message` must not hold: control characters (C0, DEL,
/// C1), and the invisible ones that change how the rest reads on the authentication device:
/// bidirectional embeddings, overrides, isolates and marks (U+202A-U+202E, U+2066-U+2069,
/// U+200E, U+200F, U+061C) and zero-width characters (U+200B-U+200D, U+2060, U+FEFF). A
/// message the user compares by eye must look on the device the way it was sent.
fn is_unshowable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}'
        )
}
