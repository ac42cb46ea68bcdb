//! Server configuration: endpoints, supported features, lifetimes and input limits.

use std::time::Duration;

use ciba_core::ConfigError;
use ciba_core::EndpointPolicy;
use ciba_core::jose::JwsAlgorithm;
use ciba_core::{FAPI_ALGORITHMS, Profile};
use serde_json::{Map, Value};

use crate::client::{AuthMethod, DeliveryMode};
use crate::dpop::DpopSettings;
use crate::egress::EgressPolicy;

/// Why a [`ServerConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerConfigError {
    /// An endpoint URL is invalid or not https.
    #[error(transparent)]
    Endpoint(#[from] ConfigError),
    /// A symmetric (HMAC) algorithm is listed for signed authentication requests, which CIBA
    /// Core section 7.1.1 requires to be asymmetric.
    #[error("{alg} cannot sign authentication requests: an asymmetric algorithm is required")]
    SymmetricRequestSigningAlg {
        /// The offending algorithm.
        alg: JwsAlgorithm,
    },
    /// No delivery mode is enabled.
    #[error("at least one delivery mode must be supported")]
    NoDeliveryMode,
    /// The ID token algorithms do not include RS256, or include an HMAC algorithm.
    #[error("id_token_signing_algs must include RS256 and only asymmetric algorithms")]
    IdTokenSigningAlgs,
    /// A lifetime or interval is zero.
    #[error("{field} must be positive")]
    NotPositive {
        /// The field.
        field: &'static str,
    },
    /// The configuration breaks a clause of its [`ServerConfig::profile`].
    #[error("the {profile:?} profile does not allow this {field}")]
    ProfileViolation {
        /// The profile.
        profile: Profile,
        /// The field that breaks it.
        field: &'static str,
    },
}

/// Bounds on everything the server reads from a request. Inputs beyond a bound are refused
/// with `invalid_request` (or `invalid_binding_message` for the binding message) before any
/// expensive work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestLimits {
    /// Largest form body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most form parameters accepted in one request.
    pub max_parameters: usize,
    /// Longest ordinary parameter value (`scope`, `login_hint`, `acr_values`, `user_code`,
    /// `client_id`, `auth_req_id`, ...), in bytes.
    pub max_value_bytes: usize,
    /// Longest JWT-valued parameter (`request`, `client_assertion`, `id_token_hint`,
    /// `login_hint_token`), in bytes.
    pub max_jwt_bytes: usize,
    /// Longest `binding_message`, in characters.
    pub max_binding_message_chars: usize,
    /// Longest `Authorization` header accepted, in bytes.
    pub max_header_bytes: usize,
}

impl RequestLimits {
    /// The defaults: 64 KiB bodies, 32 parameters, 2 KiB values, 16 KiB JWTs, 128-character
    /// binding messages, 8 KiB headers.
    pub const DEFAULT: RequestLimits = RequestLimits {
        max_body_bytes: 64 * 1024,
        max_parameters: 32,
        max_value_bytes: 2048,
        max_jwt_bytes: 16 * 1024,
        max_binding_message_chars: 128,
        max_header_bytes: 8 * 1024,
    };
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Everything the server helper needs to know about the authorization server it serves.
///
/// Build one with [`ServerConfig::new`], then adjust the public fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The Issuer Identifier (`iss` of ID tokens, the audience of request objects).
    pub issuer: String,
    /// The token endpoint URL.
    pub token_endpoint: String,
    /// The backchannel authentication endpoint URL.
    pub backchannel_authentication_endpoint: String,
    /// The URL where [`CibaServer::jwks_document`](crate::CibaServer::jwks_document) is
    /// published, for discovery.
    pub jwks_uri: Option<String>,
    /// Delivery modes the server offers (default: poll, ping, push).
    pub delivery_modes: Vec<DeliveryMode>,
    /// Algorithms accepted for signed authentication requests. Empty: signed requests are not
    /// supported. `none` cannot be expressed and HMAC algorithms are refused at start-up.
    pub request_signing_algs: Vec<JwsAlgorithm>,
    /// Whether the server supports `user_code` (CIBA Core section 7.1.2).
    pub user_code_supported: bool,
    /// Client authentication methods accepted (default: every method in
    /// [`AuthMethod::SUPPORTED`]).
    pub auth_methods: Vec<AuthMethod>,
    /// Algorithms accepted for JWT client assertions (default: ES256, PS256, RS256, EdDSA,
    /// HS256).
    pub auth_signing_algs: Vec<JwsAlgorithm>,
    /// When set, only these scopes may be requested; `None` accepts any well-formed scope.
    pub scopes_supported: Option<Vec<String>>,
    /// `acr_values_supported` for discovery.
    pub acr_values_supported: Vec<String>,
    /// Grant types the authorization server supports besides CIBA, for discovery.
    pub other_grant_types: Vec<String>,
    /// `expires_in` when the client sends no `requested_expiry` (default 300 s).
    pub default_expires_in: u64,
    /// Upper bound on `expires_in` whatever the client asks for (default 1800 s).
    pub max_expires_in: u64,
    /// The polling interval given to poll and ping clients (default 5 s).
    pub interval: u64,
    /// How long a ticket from [`CibaServer::authenticate_request`](crate::CibaServer::authenticate_request)
    /// stays usable for `issue` or `fail` (default 120 s).
    pub ticket_ttl: Duration,
    /// How long an expired or finished request is remembered, so the token endpoint can keep
    /// answering `expired_token` (and refuse replays) before it falls back to `invalid_grant`
    /// (default 600 s).
    pub tombstone_ttl: Duration,
    /// Tolerance for clock differences in `exp`, `nbf` and `iat` checks (default 30 s).
    pub clock_skew: Duration,
    /// The longest a client assertion may remain valid (`exp` minus now); bounds the replay
    /// cache (default 600 s).
    pub max_assertion_lifetime: Duration,
    /// Accept only the issuer as the audience of client assertions (the direction of CIBA
    /// errata 1 and FAPI 2.0). Off by default: CIBA Core 1.0 also allows the token and
    /// backchannel endpoint URLs.
    pub strict_assertion_audience: bool,
    /// Accept a multi-valued `aud` in client assertions (an array of several audiences, one
    /// of them ours). Off by default: the CIBA errata make the audience the issuer
    /// identifier, a single value (a string or a one-element array).
    pub multi_valued_assertion_audience: bool,
    /// Which URLs are acceptable: the server's own endpoints and the notification endpoints
    /// clients register (https only by default; http on loopback by explicit opt-in).
    pub endpoint_policy: EndpointPolicy,
    /// Which hosts notification endpoints may name (default [`EgressPolicy::STRICT`]: no
    /// loopback, private, link-local, shared or cloud metadata address). Registration
    /// checks literal addresses and known names; the transport checks what names resolve
    /// to before each delivery.
    pub egress_policy: EgressPolicy,
    /// The algorithms the token minter's key set signs ID tokens with
    /// ([`SigningKeySet::algorithms`](crate::SigningKeySet::algorithms)); a client may
    /// register only these as `id_token_signed_response_alg`. Must include RS256
    /// (default: RS256 only).
    pub id_token_signing_algs: Vec<JwsAlgorithm>,
    /// Input bounds.
    pub limits: RequestLimits,
    /// Extra members for the discovery document (for example `authorization_endpoint`,
    /// `response_types_supported`). Members the helper computes itself take precedence.
    pub extra_metadata: Map<String, Value>,
    /// DPoP proofs at the token endpoint: accepted algorithms, `iat` window, server nonces.
    pub dpop: DpopSettings,
    /// The security profile (default [`Profile::Default`]). [`ServerConfig::fapi_ciba`]
    /// switches to [`Profile::FapiCiba`]; see docs/fapi-ciba.md for what it enforces.
    pub profile: Profile,
}

impl ServerConfig {
    /// A configuration with the defaults listed on each field. The three URLs must be https
    /// without fragment or user information.
    pub fn new(
        issuer: impl Into<String>,
        token_endpoint: impl Into<String>,
        backchannel_authentication_endpoint: impl Into<String>,
    ) -> Result<ServerConfig, ServerConfigError> {
        Self::with_policy(
            issuer,
            token_endpoint,
            backchannel_authentication_endpoint,
            EndpointPolicy::HTTPS_ONLY,
        )
    }

    /// Like [`ServerConfig::new`], with an explicit endpoint policy: pass
    /// [`EndpointPolicy::ALLOW_HTTP_LOOPBACK`] for a development server on a loopback `http`
    /// issuer. The policy also governs the notification endpoints clients may register.
    pub fn with_policy(
        issuer: impl Into<String>,
        token_endpoint: impl Into<String>,
        backchannel_authentication_endpoint: impl Into<String>,
        endpoint_policy: EndpointPolicy,
    ) -> Result<ServerConfig, ServerConfigError> {
        let config = ServerConfig {
            issuer: issuer.into(),
            token_endpoint: token_endpoint.into(),
            backchannel_authentication_endpoint: backchannel_authentication_endpoint.into(),
            jwks_uri: None,
            delivery_modes: vec![DeliveryMode::Poll, DeliveryMode::Ping, DeliveryMode::Push],
            request_signing_algs: vec![
                JwsAlgorithm::PS256,
                JwsAlgorithm::ES256,
                JwsAlgorithm::RS256,
                JwsAlgorithm::EdDSA,
            ],
            user_code_supported: false,
            auth_methods: AuthMethod::SUPPORTED.to_vec(),
            auth_signing_algs: vec![
                JwsAlgorithm::ES256,
                JwsAlgorithm::PS256,
                JwsAlgorithm::RS256,
                JwsAlgorithm::EdDSA,
                JwsAlgorithm::HS256,
            ],
            scopes_supported: None,
            acr_values_supported: Vec::new(),
            other_grant_types: Vec::new(),
            default_expires_in: 300,
            max_expires_in: 1800,
            interval: 5,
            ticket_ttl: Duration::from_secs(120),
            tombstone_ttl: Duration::from_secs(600),
            clock_skew: Duration::from_secs(30),
            max_assertion_lifetime: Duration::from_secs(600),
            strict_assertion_audience: false,
            multi_valued_assertion_audience: false,
            endpoint_policy,
            egress_policy: EgressPolicy::STRICT,
            id_token_signing_algs: vec![JwsAlgorithm::RS256],
            limits: RequestLimits::DEFAULT,
            extra_metadata: Map::new(),
            dpop: DpopSettings::default(),
            profile: Profile::Default,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the endpoint URLs (against [`ServerConfig::endpoint_policy`]) and the algorithm
    /// lists. [`ServerConfig::new`] calls it; call it again after changing fields.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        let https = self.endpoint_policy;
        let issuer = https.parse("issuer", &self.issuer)?;
        if issuer.query().is_some() {
            return Err(ConfigError::UrlHasForbiddenParts { field: "issuer" }.into());
        }
        https.parse("token_endpoint", &self.token_endpoint)?;
        https.parse(
            "backchannel_authentication_endpoint",
            &self.backchannel_authentication_endpoint,
        )?;
        if let Some(uri) = &self.jwks_uri {
            https.parse("jwks_uri", uri)?;
        }
        if let Some(alg) = self.request_signing_algs.iter().find(|a| a.is_symmetric()) {
            return Err(ServerConfigError::SymmetricRequestSigningAlg { alg: *alg });
        }
        if !self.id_token_signing_algs.contains(&JwsAlgorithm::RS256)
            || self.id_token_signing_algs.iter().any(|a| a.is_symmetric())
        {
            return Err(ServerConfigError::IdTokenSigningAlgs);
        }
        if self.delivery_modes.is_empty() {
            return Err(ServerConfigError::NoDeliveryMode);
        }
        for (field, value) in [
            ("default_expires_in", self.default_expires_in),
            ("max_expires_in", self.max_expires_in),
            ("interval", self.interval),
        ] {
            if value == 0 {
                return Err(ServerConfigError::NotPositive { field });
            }
        }
        if self.ticket_ttl.is_zero() {
            return Err(ServerConfigError::NotPositive {
                field: "ticket_ttl",
            });
        }
        self.check_profile()
    }

    /// Switches to the FAPI-CIBA profile: poll and ping only, signed requests with PS256 or
    /// ES256, `private_key_jwt` (PS256, ES256) or mutual TLS client authentication, the
    /// issuer as the only assertion audience, and DPoP proofs in PS256 or ES256. The
    /// profile's other clauses (signed requests required, a `binding_message` with every
    /// request, sender-constrained tokens, the request-object `nbf` rules) are enforced by
    /// the endpoints while [`ServerConfig::profile`] is [`Profile::FapiCiba`].
    pub fn fapi_ciba(mut self) -> Result<ServerConfig, ServerConfigError> {
        self.profile = Profile::FapiCiba;
        self.delivery_modes
            .retain(|m| matches!(m, DeliveryMode::Poll | DeliveryMode::Ping));
        self.request_signing_algs = FAPI_ALGORITHMS.to_vec();
        self.auth_signing_algs = FAPI_ALGORITHMS.to_vec();
        self.auth_methods.retain(is_fapi_auth_method);
        self.dpop.algorithms = FAPI_ALGORITHMS.to_vec();
        self.strict_assertion_audience = true;
        self.validate()?;
        Ok(self)
    }

    /// The clauses of [`ServerConfig::profile`] that the configuration itself must meet.
    fn check_profile(&self) -> Result<(), ServerConfigError> {
        if !self.profile.is_fapi() {
            return Ok(());
        }
        let violation = |field| ServerConfigError::ProfileViolation {
            profile: self.profile,
            field,
        };
        let fapi_algs = |algs: &[JwsAlgorithm]| algs.iter().all(|a| FAPI_ALGORITHMS.contains(a));
        if self.delivery_modes.contains(&DeliveryMode::Push) {
            return Err(violation("delivery_modes"));
        }
        if self.request_signing_algs.is_empty() || !fapi_algs(&self.request_signing_algs) {
            return Err(violation("request_signing_algs"));
        }
        if !fapi_algs(&self.auth_signing_algs) {
            return Err(violation("auth_signing_algs"));
        }
        if !fapi_algs(&self.dpop.algorithms) {
            return Err(violation("dpop.algorithms"));
        }
        if self.auth_methods.is_empty() || !self.auth_methods.iter().all(is_fapi_auth_method) {
            return Err(violation("auth_methods"));
        }
        if !self.strict_assertion_audience {
            return Err(violation("strict_assertion_audience"));
        }
        Ok(())
    }

    /// `expires_in` for a request: the client's `requested_expiry` capped at
    /// [`ServerConfig::max_expires_in`], or [`ServerConfig::default_expires_in`].
    pub fn expires_in_for(&self, requested_expiry: Option<u64>) -> u64 {
        match requested_expiry {
            Some(r) => r.min(self.max_expires_in),
            None => self.default_expires_in.min(self.max_expires_in),
        }
    }
}

/// `private_key_jwt` or one of the mutual-TLS methods: what FAPI 1.0 Advanced allows.
fn is_fapi_auth_method(m: &AuthMethod) -> bool {
    matches!(
        m,
        AuthMethod::PrivateKeyJwt | AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
    )
}
