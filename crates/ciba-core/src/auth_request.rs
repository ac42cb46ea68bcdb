//! The backchannel authentication request (CIBA Core sections 7.1 and 7.1.1).
//!
//! [`AuthRequest`] collects the parameters, refuses before anything is sent what the
//! specification forbids (each refusal is a [`RequestError`] variant), and produces the
//! authenticated `POST` to the OP's backchannel authentication endpoint, either as plain form
//! parameters ([`AuthRequest::build`]) or as a signed `request` object
//! ([`AuthRequest::build_signed`]).
//!
//! ```no_run
//! # fn demo(client: &ciba_core::Client, rng: &dyn ciba_core::Random, now: std::time::SystemTime)
//! # -> Result<(), ciba_core::Error> {
//! use ciba_core::{AuthRequest, Hint};
//!
//! let request = AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
//!     .scope(["openid", "email"])
//!     .binding_message("W4SCT")
//!     .build(client, now, rng)?;
//! // Send `request` with any HTTP client; hand the response to `AuthRequestAck::from_response`.
//! # let _ = request; Ok(()) }
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::client::Client;
use crate::delivery_mode::DeliveryMode;
use crate::error::Error;
use crate::jose::jws::sign_compact;
use crate::jose::{JwsAlgorithm, Signer};
use crate::limits::MAX_CLIENT_NOTIFICATION_TOKEN_CHARS;
use crate::random::{IDENTIFIER_BYTES, Random, RandomError, random_identifier};
use crate::time::unix_seconds;

/// Default lifetime (`exp - iat`) of a signed request object.
pub const DEFAULT_REQUEST_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Longest lifetime accepted for a signed request object (FAPI-CIBA: `exp - nbf` at most
/// 60 minutes).
pub const MAX_REQUEST_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Parameter names an extra parameter may not take: the authentication request parameters
/// themselves, client authentication parameters, `grant_type`, `request` / `request_uri`, and
/// the registered claims of the signed request object.
pub const RESERVED_PARAMETERS: &[&str] = &[
    "scope",
    "login_hint",
    "id_token_hint",
    "login_hint_token",
    "client_notification_token",
    "acr_values",
    "binding_message",
    "user_code",
    "requested_expiry",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "grant_type",
    "request",
    "request_uri",
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
];

const HINT_NAMES: [&str; 3] = ["login_hint", "id_token_hint", "login_hint_token"];

/// Why an authentication request was refused before being sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// `scope` does not contain `openid` (CIBA 7.1).
    #[error("scope must contain openid")]
    MissingOpenidScope,
    /// A `scope` or `acr_values` entry has characters RFC 6749 section 3.3 forbids.
    #[error("{param} value {value:?} has characters outside the scope-token syntax")]
    InvalidToken {
        /// `scope` or `acr_values`.
        param: &'static str,
        /// The offending entry (truncated to 64 characters).
        value: String,
    },
    /// A parameter was given an empty value (an OP treats empty parameters as absent).
    #[error("parameter {name} is empty")]
    EmptyParameter {
        /// The parameter name.
        name: String,
    },
    /// An extra parameter would add a second user hint; CIBA 7.1 requires exactly one.
    #[error("{extra} would be a second hint next to {hint}; exactly one hint is allowed")]
    SecondHint {
        /// The hint the request already carries.
        hint: &'static str,
        /// The hint an extra parameter tried to add.
        extra: &'static str,
    },
    /// Ping and push clients must send a `client_notification_token` (CIBA 7.1).
    #[error("a {mode} client must send a client_notification_token")]
    MissingClientNotificationToken {
        /// The client's delivery mode.
        mode: DeliveryMode,
    },
    /// The `client_notification_token` is longer than 1024 characters.
    #[error("client_notification_token has {chars} characters, more than {max}")]
    ClientNotificationTokenTooLong {
        /// Its length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The `client_notification_token` is not an RFC 6750 `b64token`.
    #[error("client_notification_token is not an RFC 6750 b64token")]
    MalformedClientNotificationToken,
    /// `user_code` was set but the client did not register `backchannel_user_code_parameter`.
    #[error("user_code needs the client to register backchannel_user_code_parameter")]
    UserCodeNotRegistered,
    /// `user_code` was set but the OP does not advertise
    /// `backchannel_user_code_parameter_supported`.
    #[error("the OP does not support the user_code parameter")]
    UserCodeNotSupported,
    /// An extra parameter uses a name reserved for the request itself, client
    /// authentication or the request object's registered claims.
    #[error("extra parameter {name} uses a reserved name")]
    ReservedParameter {
        /// The name (truncated to 64 characters).
        name: String,
    },
    /// The same extra parameter was added twice.
    #[error("extra parameter {name} appears more than once")]
    DuplicateParameter {
        /// The name (truncated to 64 characters).
        name: String,
    },
    /// The OP publishes no `backchannel_authentication_request_signing_alg_values_supported`,
    /// which means it does not accept signed authentication requests.
    #[error("the OP does not support signed authentication requests")]
    SignedRequestsNotSupported,
    /// The client's profile (FAPI-CIBA) requires a signed authentication request: use
    /// [`AuthRequest::build_signed`].
    #[error("the client's profile requires a signed authentication request")]
    SignedRequestRequired,
    /// The client's profile (FAPI-CIBA) requires a `binding_message` with every request.
    #[error("the client's profile requires a binding_message")]
    BindingMessageRequired,
    /// The client's profile (FAPI-CIBA) does not allow this request-object algorithm (PS256
    /// and ES256 only).
    #[error("the client's profile does not allow {alg} for request objects")]
    AlgorithmNotAllowedByProfile {
        /// The signer's algorithm.
        alg: JwsAlgorithm,
    },
    /// Signed requests must use an asymmetric algorithm (CIBA 7.1.1); HMAC is refused.
    #[error("{alg} is symmetric; signed authentication requests need an asymmetric algorithm")]
    SymmetricSigningAlgorithm {
        /// The signer's algorithm.
        alg: JwsAlgorithm,
    },
    /// The signer's algorithm is not in the OP's
    /// `backchannel_authentication_request_signing_alg_values_supported`.
    #[error("the OP does not accept request objects signed with {alg}")]
    SigningAlgorithmNotSupported {
        /// The signer's algorithm.
        alg: JwsAlgorithm,
    },
    /// The request object lifetime is zero or longer than [`MAX_REQUEST_LIFETIME`].
    #[error("request object lifetime {lifetime:?} is outside 1 s ..= {max:?}")]
    InvalidRequestLifetime {
        /// The configured lifetime.
        lifetime: Duration,
        /// The longest lifetime allowed.
        max: Duration,
    },
}

/// The one hint identifying the end-user (CIBA 7.1). Being an enum, a request carries exactly
/// one.
///
/// `Debug` shows the kind and length only: hints are personal data or bearer-like tokens.
#[derive(Clone, PartialEq, Eq)]
pub enum Hint {
    /// `login_hint`: an email address, phone number, username or similar.
    LoginHint(String),
    /// `id_token_hint`: an ID token the OP previously issued to this client (decrypted, if it
    /// was encrypted).
    IdTokenHint(String),
    /// `login_hint_token`: a token identifying the user, defined by a profile.
    LoginHintToken(String),
}

impl Hint {
    /// The form parameter name of this hint.
    pub fn param_name(&self) -> &'static str {
        match self {
            Hint::LoginHint(_) => "login_hint",
            Hint::IdTokenHint(_) => "id_token_hint",
            Hint::LoginHintToken(_) => "login_hint_token",
        }
    }

    /// The hint's value.
    pub fn value(&self) -> &str {
        match self {
            Hint::LoginHint(v) | Hint::IdTokenHint(v) | Hint::LoginHintToken(v) => v,
        }
    }
}

impl fmt::Debug for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Hint({}, {} bytes)",
            self.param_name(),
            self.value().len()
        )
    }
}

/// True when `s` matches RFC 6750 section 2.1 `b64token`:
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Checks a `client_notification_token`: at most 1024 characters and an RFC 6750 `b64token`.
/// (Entropy cannot be checked; [`generate_client_notification_token`] provides 160 bits.)
pub fn check_client_notification_token(token: &str) -> Result<(), RequestError> {
    let chars = token.chars().count();
    if chars > MAX_CLIENT_NOTIFICATION_TOKEN_CHARS {
        return Err(RequestError::ClientNotificationTokenTooLong {
            chars,
            max: MAX_CLIENT_NOTIFICATION_TOKEN_CHARS,
        });
    }
    if !is_b64token(token) {
        return Err(RequestError::MalformedClientNotificationToken);
    }
    Ok(())
}

/// A fresh `client_notification_token` with 160 bits from `rng` (base64url, which is a
/// `b64token`), above the 128-bit floor CIBA 7.1 sets.
pub fn generate_client_notification_token(rng: &dyn Random) -> Result<String, RandomError> {
    random_identifier(rng, IDENTIFIER_BYTES)
}

/// RFC 6749 section 3.3 `scope-token`: `1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Splits each item on spaces, so `["openid email"]` and `["openid", "email"]` are the same.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn split_tokens<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out = Vec::new();
    for item in items {
        let item: String = item.into();
        if item.contains(' ') {
            out.extend(item.split(' ').filter(|t| !t.is_empty()).map(str::to_owned));
        } else {
            out.push(item);
        }
    }
    out
}

/// A backchannel authentication request under construction (CIBA 7.1).
///
/// Setters only record values; every check runs in [`AuthRequest::validate`], which
/// [`AuthRequest::build`] and [`AuthRequest::build_signed`] call first, so nothing the
/// specification forbids is ever sent.
///
/// `Debug` never shows the `client_notification_token`, the `user_code` or hint values.
/// CIBA 7.1.2 says the client must not store the user code: drop the `AuthRequest` once the
/// request is built. Both are wiped from memory when the `AuthRequest` is dropped (the built
/// `http::Request` holds its own copy, which is the caller's).
#[derive(Clone)]
pub struct AuthRequest {
    scope: Vec<String>,
    hint: Hint,
    client_notification_token: Option<Zeroizing<String>>,
    acr_values: Vec<String>,
    binding_message: Option<String>,
    user_code: Option<Zeroizing<String>>,
    requested_expiry: Option<NonZeroU32>,
    extra: Vec<(String, Value)>,
    request_lifetime: Duration,
}

impl fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.extra.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("AuthRequest")
            .field("scope", &self.scope)
            .field("hint", &self.hint)
            .field(
                "client_notification_token",
                &self
                    .client_notification_token
                    .as_ref()
                    .map(|_| "<redacted>"),
            )
            .field("acr_values", &self.acr_values)
            .field("binding_message", &self.binding_message)
            .field("user_code", &self.user_code.as_ref().map(|_| "<redacted>"))
            .field("requested_expiry", &self.requested_expiry)
            .field("extra", &names)
            .field("request_lifetime", &self.request_lifetime)
            .finish()
    }
}

impl AuthRequest {
    /// A request for `hint` with scope `openid` and nothing else.
    pub fn new(hint: Hint) -> AuthRequest {
        AuthRequest {
            scope: vec!["openid".to_owned()],
            hint,
            client_notification_token: None,
            acr_values: Vec::new(),
            binding_message: None,
            user_code: None,
            requested_expiry: None,
            extra: Vec::new(),
            request_lifetime: DEFAULT_REQUEST_LIFETIME,
        }
    }

    /// Replaces the scope. Items are split on spaces; the scope must contain `openid`.
    pub fn scope<I, S>(mut self, scope: I) -> AuthRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope = split_tokens(scope);
        self
    }

    /// Replaces the hint.
    pub fn hint(mut self, hint: Hint) -> AuthRequest {
        self.hint = hint;
        self
    }

    /// Sets the `client_notification_token` (required for ping and push clients).
    pub fn client_notification_token(mut self, token: impl Into<String>) -> AuthRequest {
        self.client_notification_token = Some(Zeroizing::new(token.into()));
        self
    }

    /// The `client_notification_token` set on this request, if any. (The plain name is the
    /// setter's.)
    pub fn get_client_notification_token(&self) -> Option<&str> {
        self.client_notification_token
            .as_deref()
            .map(String::as_str)
    }

    /// For a ping or push `client`: this request with a fresh `client_notification_token`
    /// (160 bits from `rng`, see [`generate_client_notification_token`]) when none was set.
    /// A token the caller set is never replaced, and a poll client gets none. Read the token
    /// to bind to the `auth_req_id` with [`AuthRequest::get_client_notification_token`].
    pub fn ensure_client_notification_token(
        mut self,
        client: &Client,
        rng: &dyn Random,
    ) -> Result<AuthRequest, RandomError> {
        if self.client_notification_token.is_none() && client.delivery_mode().uses_notifications() {
            self.client_notification_token =
                Some(Zeroizing::new(generate_client_notification_token(rng)?));
        }
        Ok(self)
    }

    /// Sets `acr_values`, in order of preference. Items are split on spaces.
    pub fn acr_values<I, S>(mut self, values: I) -> AuthRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values = split_tokens(values);
        self
    }

    /// Sets the `binding_message` shown on both devices.
    pub fn binding_message(mut self, message: impl Into<String>) -> AuthRequest {
        self.binding_message = Some(message.into());
        self
    }

    /// Sets the `user_code` (only for clients that registered `backchannel_user_code_parameter`
    /// with an OP that supports it).
    pub fn user_code(mut self, code: impl Into<String>) -> AuthRequest {
        self.user_code = Some(Zeroizing::new(code.into()));
        self
    }

    /// Sets `requested_expiry`, in seconds. Zero is unrepresentable.
    pub fn requested_expiry(mut self, seconds: NonZeroU32) -> AuthRequest {
        self.requested_expiry = Some(seconds);
        self
    }

    /// Adds an extra string parameter (for example `request_context` or `resource`).
    pub fn extra(mut self, name: impl Into<String>, value: impl Into<String>) -> AuthRequest {
        self.extra.push((name.into(), Value::String(value.into())));
        self
    }

    /// Adds an extra parameter whose value is JSON (for example `authorization_details`). In
    /// a signed request it becomes a JSON claim; as a form parameter it is sent as JSON text.
    pub fn extra_json(mut self, name: impl Into<String>, value: Value) -> AuthRequest {
        self.extra.push((name.into(), value));
        self
    }

    /// Sets the lifetime of the signed request object (`exp - iat`). Default 5 minutes, at
    /// most [`MAX_REQUEST_LIFETIME`].
    pub fn request_lifetime(mut self, lifetime: Duration) -> AuthRequest {
        self.request_lifetime = lifetime;
        self
    }

    /// Checks the request against the specification and against `client` (its delivery mode,
    /// its user-code registration and the OP's metadata).
    pub fn validate(&self, client: &Client) -> Result<(), RequestError> {
        for token in &self.scope {
            if !is_scope_token(token) {
                return Err(RequestError::InvalidToken {
                    param: "scope",
                    value: truncated(token),
                });
            }
        }
        if !self.scope.iter().any(|s| s == "openid") {
            return Err(RequestError::MissingOpenidScope);
        }
        if self.hint.value().is_empty() {
            return Err(RequestError::EmptyParameter {
                name: self.hint.param_name().to_owned(),
            });
        }
        for value in &self.acr_values {
            if !is_scope_token(value) {
                return Err(RequestError::InvalidToken {
                    param: "acr_values",
                    value: truncated(value),
                });
            }
        }
        match &self.client_notification_token {
            Some(token) => check_client_notification_token(token)?,
            None if client.delivery_mode().uses_notifications() => {
                return Err(RequestError::MissingClientNotificationToken {
                    mode: client.delivery_mode(),
                });
            }
            None => {}
        }
        if client.config().profile.is_fapi() && self.binding_message.is_none() {
            return Err(RequestError::BindingMessageRequired);
        }
        if self.binding_message.as_deref() == Some("") {
            return Err(RequestError::EmptyParameter {
                name: "binding_message".to_owned(),
            });
        }
        if let Some(code) = &self.user_code {
            if code.is_empty() {
                return Err(RequestError::EmptyParameter {
                    name: "user_code".to_owned(),
                });
            }
            if !client.config().user_code_parameter {
                return Err(RequestError::UserCodeNotRegistered);
            }
            if !client.metadata().backchannel_user_code_parameter_supported {
                return Err(RequestError::UserCodeNotSupported);
            }
        }
        self.validate_extra()
    }

    fn validate_extra(&self) -> Result<(), RequestError> {
        for (i, (name, value)) in self.extra.iter().enumerate() {
            if name.is_empty() {
                return Err(RequestError::EmptyParameter {
                    name: String::new(),
                });
            }
            if let Some(extra) = HINT_NAMES.iter().find(|h| **h == name.as_str()) {
                return Err(RequestError::SecondHint {
                    hint: self.hint.param_name(),
                    extra,
                });
            }
            if RESERVED_PARAMETERS.contains(&name.as_str()) {
                return Err(RequestError::ReservedParameter {
                    name: truncated(name),
                });
            }
            if self.extra.iter().take(i).any(|(n, _)| n == name) {
                return Err(RequestError::DuplicateParameter {
                    name: truncated(name),
                });
            }
            let empty = match value {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                _ => false,
            };
            if empty {
                return Err(RequestError::EmptyParameter {
                    name: truncated(name),
                });
            }
        }
        Ok(())
    }

    /// The request parameters as JSON values: strings, except `requested_expiry` (a number)
    /// and JSON extras. Absent parameters are left out.
    fn members(&self) -> Vec<(String, Value)> {
        let text = |s: &str| Value::String(s.to_owned());
        let mut out = vec![
            ("scope".to_owned(), text(&self.scope.join(" "))),
            (self.hint.param_name().to_owned(), text(self.hint.value())),
        ];
        if !self.acr_values.is_empty() {
            out.push(("acr_values".to_owned(), text(&self.acr_values.join(" "))));
        }
        if let Some(m) = &self.binding_message {
            out.push(("binding_message".to_owned(), text(m)));
        }
        if let Some(c) = &self.user_code {
            out.push(("user_code".to_owned(), text(c.as_str())));
        }
        if let Some(e) = self.requested_expiry {
            out.push(("requested_expiry".to_owned(), Value::from(e.get())));
        }
        if let Some(t) = &self.client_notification_token {
            out.push(("client_notification_token".to_owned(), text(t.as_str())));
        }
        out.extend(self.extra.iter().cloned());
        out
    }

    /// Builds the authenticated form `POST` to the backchannel authentication endpoint, with
    /// every parameter as a form parameter.
    pub fn build(
        &self,
        client: &Client,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.validate(client)?;
        if client.config().profile.is_fapi() {
            return Err(RequestError::SignedRequestRequired.into());
        }
        let params = self
            .members()
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        client.authenticated_post(
            client.backchannel_endpoint(),
            params,
            http::HeaderMap::new(),
            now,
            rng,
        )
    }

    /// Builds the signed request object (CIBA 7.1.1): a JWT signed by `signer` with
    /// `aud` = the issuer, `iss` = the `client_id`, `iat` = `nbf` = `now`, `exp` = `now` plus
    /// the request lifetime, a random `jti`, and every request parameter as a claim. No `sub`
    /// is ever added.
    pub fn request_object(
        &self,
        client: &Client,
        signer: &dyn Signer,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<String, Error> {
        self.validate(client)?;
        let alg = signer.algorithm();
        if alg.is_symmetric() {
            return Err(RequestError::SymmetricSigningAlgorithm { alg }.into());
        }
        let supported = client
            .metadata()
            .backchannel_authentication_request_signing_alg_values_supported
            .as_ref()
            .ok_or(RequestError::SignedRequestsNotSupported)?;
        if !supported.iter().any(|a| a == alg.as_str()) {
            return Err(RequestError::SigningAlgorithmNotSupported { alg }.into());
        }
        if !client.config().profile.allows_algorithm(alg) {
            return Err(RequestError::AlgorithmNotAllowedByProfile { alg }.into());
        }
        let lifetime = self.request_lifetime;
        if lifetime < Duration::from_secs(1) || lifetime > MAX_REQUEST_LIFETIME {
            return Err(RequestError::InvalidRequestLifetime {
                lifetime,
                max: MAX_REQUEST_LIFETIME,
            }
            .into());
        }
        let iat = unix_seconds(now);
        let exp = iat.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::String(client.client_id().to_owned()));
        claims.insert("aud".into(), Value::String(client.issuer().to_owned()));
        claims.insert("iat".into(), Value::from(iat));
        claims.insert("nbf".into(), Value::from(iat));
        claims.insert("exp".into(), Value::from(exp));
        claims.insert(
            "jti".into(),
            Value::String(random_identifier(rng, IDENTIFIER_BYTES)?),
        );
        for (k, v) in self.members() {
            claims.insert(k, v);
        }
        let jwt = sign_compact(Map::new(), &claims, signer);
        // The claims hold copies of the notification token and the user code.
        for value in claims.values_mut() {
            if let Value::String(s) = value {
                s.zeroize();
            }
        }
        Ok(jwt?)
    }

    /// Builds the authenticated `POST` carrying only the signed `request` object (see
    /// [`AuthRequest::request_object`]) and the client authentication parameters: no
    /// authentication request parameter appears outside the JWT.
    pub fn build_signed(
        &self,
        client: &Client,
        signer: &dyn Signer,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let jwt = self.request_object(client, signer, now, rng)?;
        client.authenticated_post(
            client.backchannel_endpoint(),
            vec![("request".to_owned(), jwt)],
            http::HeaderMap::new(),
            now,
            rng,
        )
    }
}
