//! Client authentication at the backchannel authentication and token endpoints
//! (RFC 6749 section 2.3, OIDC Core section 9, RFC 7523, RFC 8705 section 2.1).
//!
//! Supported: `client_secret_basic` (with the RFC 6749 section 2.3.1 form-decoding of the id
//! and secret), `client_secret_post`, `client_secret_jwt`, `private_key_jwt`,
//! `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 section 2.2: the public key
//! of the certificate presented in the handshake must be one of the client's registered
//! `jwks`). Public clients (`none`) are refused: CIBA requires authentication.
//! A request that presents more than one method is refused.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ciba_core::ErrorCode;
use ciba_core::Limits;
use ciba_core::jose::verify::{verify_with_secret, verify_with_set};
use ciba_core::jose::{AlgorithmPolicy, CompactJws, JoseError, JwsAlgorithm};
use ciba_core::wire::{from_unix_seconds, unix_seconds};
use http::StatusCode;
use http::header::AUTHORIZATION;

use crate::certificate::certificate_key_matches;
use crate::client::{AuthMethod, ClientMetadata};
use crate::incoming::{IncomingRequest, TlsClientCertificate};
use crate::jwt_claims::{ClaimError, Clock, audience_ok, opt_time, req_string, req_time};
use crate::params::form_decode;
use crate::registry::RegistryError;
use crate::response::ProtocolError;
use crate::secret::Secret;
use crate::server::CibaServer;
use crate::store::{ReplayKey, ReplayPurpose, StoreError};

/// The `client_assertion_type` of JWT client assertions (RFC 7523 section 2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The form parameters that carry client credentials; they are the only parameters allowed
/// next to a signed authentication request.
pub const CLIENT_AUTH_PARAMETERS: [&str; 4] = [
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// The shortest secret RFC 7518 section 3.2 allows for an HMAC algorithm, in bytes: as long
/// as the hash (32 for HS256, 48 for HS384, 64 for HS512). `None` for other algorithms.
pub fn min_hmac_secret_bytes(alg: JwsAlgorithm) -> Option<usize> {
    match alg {
        JwsAlgorithm::HS256 => Some(32),
        JwsAlgorithm::HS384 => Some(48),
        JwsAlgorithm::HS512 => Some(64),
        _ => None,
    }
}

/// True when `secret` is long enough to key `alg` (always true for non-HMAC algorithms).
pub(crate) fn hmac_secret_long_enough(alg: JwsAlgorithm, secret: &Secret) -> bool {
    min_hmac_secret_bytes(alg).is_none_or(|min| secret.expose().len() >= min)
}

/// Which endpoint is authenticating the client (it decides the accepted assertion audiences).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Backchannel,
    Token,
}

/// A client that proved its identity.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// Its registered metadata.
    pub metadata: Arc<ClientMetadata>,
    /// The method it used.
    pub method: AuthMethod,
}

/// Client authentication failed. Every variant but [`ClientAuthError::Store`] is answered
/// with 401 `invalid_client` and a `WWW-Authenticate` challenge.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// The request carries no client credentials.
    #[error("no client credentials")]
    NoCredentials,
    /// The request uses more than one authentication method (RFC 6749 section 2.3).
    #[error("more than one client authentication method")]
    MultipleMethods,
    /// The `Authorization` header is not valid HTTP Basic.
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    /// `client_secret_post` without a `client_id`.
    #[error("client_id is missing")]
    MissingClientId,
    /// The form `client_id` differs from the authenticated identity.
    #[error("client_id does not match the credentials")]
    ClientIdMismatch,
    /// No client is registered under this id.
    #[error("unknown client")]
    UnknownClient,
    /// The client used another method than the one it registered.
    #[error("client registered {registered} but used {used}")]
    MethodNotRegistered {
        /// The registered method.
        registered: AuthMethod,
        /// The method used.
        used: AuthMethod,
    },
    /// The method is not accepted here (`none`, or not enabled on the server).
    #[error("authentication method {method} is not accepted")]
    MethodNotAccepted {
        /// The method.
        method: AuthMethod,
    },
    /// The client secret is wrong.
    #[error("invalid client secret")]
    InvalidSecret,
    /// `client_assertion_type` is not the JWT bearer type, or the assertion is missing.
    #[error("unsupported or incomplete client assertion")]
    UnsupportedAssertionType,
    /// The client assertion is not a well-formed JWS.
    #[error("malformed client assertion: {source}")]
    MalformedAssertion {
        /// The parse error.
        source: JoseError,
    },
    /// The assertion's signature or algorithm is not acceptable.
    #[error("client assertion signature: {source}")]
    AssertionSignature {
        /// The verification error.
        source: JoseError,
    },
    /// A claim of the assertion is unacceptable (including `jti` replay).
    #[error("client assertion: {source}")]
    AssertionClaims {
        /// The claim error.
        source: ClaimError,
    },
    /// `client_secret_jwt` with a secret shorter than the algorithm's hash (RFC 7518
    /// section 3.2).
    #[error("the client secret is too short for {alg}")]
    SecretTooShort {
        /// The assertion's algorithm.
        alg: JwsAlgorithm,
    },
    /// `tls_client_auth` without a client certificate.
    #[error("no client certificate")]
    MissingCertificate,
    /// The client certificate does not match the registered identity.
    #[error("client certificate does not match the registration")]
    CertificateMismatch,
    /// The replay cache could not be consulted.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The client registry could not be consulted.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl ProtocolError for ClientAuthError {
    fn code(&self) -> ErrorCode {
        match self {
            ClientAuthError::Store(e) if e.retry_after().is_some() => {
                ErrorCode::TemporarilyUnavailable
            }
            ClientAuthError::Store(_) => ErrorCode::ServerError,
            ClientAuthError::Registry(_) => ErrorCode::TemporarilyUnavailable,
            _ => ErrorCode::InvalidClient,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ClientAuthError::Store(e) if e.retry_after().is_some() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ClientAuthError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ClientAuthError::Registry(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn description(&self) -> Cow<'static, str> {
        match self {
            ClientAuthError::Store(_) | ClientAuthError::Registry(_) => {
                Cow::Borrowed("the server could not process the request")
            }
            ClientAuthError::MultipleMethods => {
                Cow::Borrowed("more than one client authentication method was used")
            }
            _ => Cow::Borrowed("client authentication failed"),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ClientAuthError::Store(e) => e.retry_after(),
            ClientAuthError::Registry(_) => Some(REGISTRY_RETRY_AFTER),
            _ => None,
        }
    }
}

/// The `Retry-After` seconds when the client registry cannot answer (as for a store backend).
const REGISTRY_RETRY_AFTER: u64 = 5;

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Credentials read from the request, before any lookup.
enum Presented<'a> {
    Basic {
        id: String,
        secret: String,
    },
    Post {
        id: Option<&'a str>,
        secret: &'a str,
    },
    Assertion {
        kind: Option<&'a str>,
        jwt: Option<&'a str>,
    },
    Nothing,
}

fn read_basic(
    request: &IncomingRequest<'_>,
    max: usize,
) -> Result<Option<(String, String)>, ClientAuthError> {
    let mut values = request.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ClientAuthError::MalformedAuthorization);
    }
    if value.len() > max {
        return Err(ClientAuthError::MalformedAuthorization);
    }
    let text = value
        .to_str()
        .map_err(|_| ClientAuthError::MalformedAuthorization)?;
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        // Other schemes (Bearer, DPoP) are not client authentication.
        return Ok(None);
    }
    let engine = GeneralPurpose::new(
        &STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = engine
        .decode(rest.trim())
        .map_err(|_| ClientAuthError::MalformedAuthorization)?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| ClientAuthError::MalformedAuthorization)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or(ClientAuthError::MalformedAuthorization)?;
    let id = form_decode(id).ok_or(ClientAuthError::MalformedAuthorization)?;
    let secret = form_decode(secret).ok_or(ClientAuthError::MalformedAuthorization)?;
    if id.is_empty() {
        return Err(ClientAuthError::MalformedAuthorization);
    }
    Ok(Some((id, secret)))
}

fn secret_matches(registered: Option<&Secret>, presented: &str) -> bool {
    let Some(registered) = registered.filter(|s| !s.expose().is_empty()) else {
        return false;
    };
    // Compare digests so the time taken does not depend on the secret's length either (the
    // registered secret's digest is computed once).
    registered.matches_by_digest(presented)
}

fn certificate_matches(client: &ClientMetadata, cert: &TlsClientCertificate) -> bool {
    if let Some(dn) = &client.tls_client_auth_subject_dn {
        return cert.subject_dn.as_deref() == Some(dn.as_str());
    }
    if let Some(dns) = &client.tls_client_auth_san_dns {
        return cert.san_dns.iter().any(|d| d.eq_ignore_ascii_case(dns));
    }
    if let Some(uri) = &client.tls_client_auth_san_uri {
        return cert.san_uri.iter().any(|u| u == uri);
    }
    if let Some(ip) = &client.tls_client_auth_san_ip {
        return cert.san_ip.iter().any(|i| i == ip);
    }
    if let Some(email) = &client.tls_client_auth_san_email {
        return cert.san_email.iter().any(|e| e == email);
    }
    false
}

impl CibaServer {
    pub(crate) async fn authenticate_client(
        &self,
        request: &IncomingRequest<'_>,
        params: &[(String, String)],
        endpoint: Endpoint,
        now: SystemTime,
    ) -> Result<AuthenticatedClient, ClientAuthError> {
        let basic = read_basic(request, self.config.limits.max_header_bytes)?;
        let form_id = param(params, "client_id");
        let post_secret = param(params, "client_secret");
        let assertion = param(params, "client_assertion");
        let assertion_type = param(params, "client_assertion_type");
        let uses_assertion = assertion.is_some() || assertion_type.is_some();
        let count = [basic.is_some(), post_secret.is_some(), uses_assertion]
            .iter()
            .filter(|b| **b)
            .count();
        if count > 1 {
            return Err(ClientAuthError::MultipleMethods);
        }
        let presented = match (basic, post_secret) {
            (Some((id, secret)), _) => Presented::Basic { id, secret },
            (None, Some(secret)) => Presented::Post {
                id: form_id,
                secret,
            },
            (None, None) if uses_assertion => Presented::Assertion {
                kind: assertion_type,
                jwt: assertion,
            },
            (None, None) => Presented::Nothing,
        };
        let authenticated = match presented {
            Presented::Basic { id, secret } => {
                if form_id.is_some_and(|f| f != id) {
                    return Err(ClientAuthError::ClientIdMismatch);
                }
                let client = self.lookup(&id, AuthMethod::ClientSecretBasic).await?;
                if !secret_matches(client.client_secret.as_ref(), &secret) {
                    return Err(ClientAuthError::InvalidSecret);
                }
                AuthenticatedClient {
                    metadata: client,
                    method: AuthMethod::ClientSecretBasic,
                }
            }
            Presented::Post { id, secret } => {
                let id = id.ok_or(ClientAuthError::MissingClientId)?;
                let client = self.lookup(id, AuthMethod::ClientSecretPost).await?;
                if !secret_matches(client.client_secret.as_ref(), secret) {
                    return Err(ClientAuthError::InvalidSecret);
                }
                AuthenticatedClient {
                    metadata: client,
                    method: AuthMethod::ClientSecretPost,
                }
            }
            Presented::Assertion { kind, jwt } => {
                let (Some(JWT_BEARER_ASSERTION_TYPE), Some(jwt)) = (kind, jwt) else {
                    return Err(ClientAuthError::UnsupportedAssertionType);
                };
                self.verify_assertion(jwt, form_id, endpoint, now).await?
            }
            Presented::Nothing => {
                let id = form_id.ok_or(ClientAuthError::NoCredentials)?;
                let client = self
                    .registry
                    .client(id)
                    .await?
                    .ok_or(ClientAuthError::UnknownClient)?;
                match (
                    &client.token_endpoint_auth_method,
                    request.client_certificate,
                ) {
                    (AuthMethod::TlsClientAuth, Some(cert)) => {
                        if !certificate_matches(&client, cert) {
                            return Err(ClientAuthError::CertificateMismatch);
                        }
                        AuthenticatedClient {
                            metadata: client,
                            method: AuthMethod::TlsClientAuth,
                        }
                    }
                    (AuthMethod::SelfSignedTlsClientAuth, Some(cert)) => {
                        let matches = match (&cert.der, &client.jwks) {
                            (Some(der), Some(set)) => {
                                set.keys.iter().any(|k| certificate_key_matches(der, k))
                            }
                            _ => false,
                        };
                        if !matches {
                            return Err(ClientAuthError::CertificateMismatch);
                        }
                        AuthenticatedClient {
                            metadata: client,
                            method: AuthMethod::SelfSignedTlsClientAuth,
                        }
                    }
                    (AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth, None) => {
                        return Err(ClientAuthError::MissingCertificate);
                    }
                    (AuthMethod::None, _) => {
                        return Err(ClientAuthError::MethodNotAccepted {
                            method: AuthMethod::None,
                        });
                    }
                    _ => return Err(ClientAuthError::NoCredentials),
                }
            }
        };
        if !self.config.auth_methods.contains(&authenticated.method) {
            return Err(ClientAuthError::MethodNotAccepted {
                method: authenticated.method,
            });
        }
        Ok(authenticated)
    }

    async fn lookup(
        &self,
        id: &str,
        used: AuthMethod,
    ) -> Result<Arc<ClientMetadata>, ClientAuthError> {
        let client = self
            .registry
            .client(id)
            .await?
            .ok_or(ClientAuthError::UnknownClient)?;
        if client.token_endpoint_auth_method != used {
            return Err(ClientAuthError::MethodNotRegistered {
                registered: client.token_endpoint_auth_method.clone(),
                used,
            });
        }
        Ok(client)
    }

    async fn verify_assertion(
        &self,
        jwt: &str,
        form_id: Option<&str>,
        endpoint: Endpoint,
        now: SystemTime,
    ) -> Result<AuthenticatedClient, ClientAuthError> {
        let limits = Limits::DEFAULT.with_max_jwt_bytes(self.config.limits.max_jwt_bytes);
        let jws = CompactJws::parse(jwt, &limits)
            .map_err(|source| ClientAuthError::MalformedAssertion { source })?;
        let claims = jws
            .claims(&limits)
            .map_err(|source| ClientAuthError::MalformedAssertion { source })?;
        let claim_err = |source| ClientAuthError::AssertionClaims { source };
        let iss = req_string(&claims, "iss").map_err(claim_err)?;
        if form_id.is_some_and(|f| f != iss) {
            return Err(ClientAuthError::ClientIdMismatch);
        }
        let alg: JwsAlgorithm = jws
            .header
            .alg
            .parse()
            .map_err(|source| ClientAuthError::AssertionSignature { source })?;
        let used = if alg.is_symmetric() {
            AuthMethod::ClientSecretJwt
        } else {
            AuthMethod::PrivateKeyJwt
        };
        let client = self.lookup(iss, used.clone()).await?;
        let policy = match client
            .token_endpoint_auth_signing_alg
            .as_deref()
            .map(str::parse::<JwsAlgorithm>)
        {
            Some(Ok(registered)) => AlgorithmPolicy::only([registered]),
            Some(Err(source)) => return Err(ClientAuthError::AssertionSignature { source }),
            None => AlgorithmPolicy::only(self.config.auth_signing_algs.iter().copied()),
        };
        let verified = match used {
            AuthMethod::ClientSecretJwt => match &client.client_secret {
                // `used` is client_secret_jwt only for an HMAC `alg`, whose minimum length
                // also refuses an empty secret here.
                Some(secret) if !hmac_secret_long_enough(alg, secret) => {
                    return Err(ClientAuthError::SecretTooShort { alg });
                }
                Some(secret) => verify_with_secret(&jws, secret.expose().as_bytes(), &policy),
                _ => Err(JoseError::InvalidKey {
                    reason: "the client has no secret",
                }),
            },
            _ => match &client.jwks {
                Some(set) => verify_with_set(&jws, set, &policy),
                None => Err(JoseError::InvalidKey {
                    reason: "the client has no registered keys",
                }),
            },
        };
        verified.map_err(|source| ClientAuthError::AssertionSignature { source })?;

        if req_string(&claims, "sub").map_err(claim_err)? != iss {
            return Err(claim_err(ClaimError::SubjectMismatch));
        }
        let issuer = self.config.issuer.as_str();
        let token = self.config.token_endpoint.as_str();
        let backchannel = self.config.backchannel_authentication_endpoint.as_str();
        let accepted: &[&str] = match (self.config.strict_assertion_audience, endpoint) {
            (true, _) => &[issuer],
            (false, Endpoint::Token) => &[issuer, token],
            (false, Endpoint::Backchannel) => &[issuer, token, backchannel],
        };
        let single =
            self.config.strict_assertion_audience || !self.config.multi_valued_assertion_audience;
        if !audience_ok(&claims, accepted, single) {
            return Err(claim_err(ClaimError::AudienceMismatch));
        }
        let clock = Clock {
            now: unix_seconds(now),
            skew: secs(self.config.clock_skew),
        };
        let exp = req_time(&claims, "exp").map_err(claim_err)?;
        clock.check_exp(exp).map_err(claim_err)?;
        let max = secs(self.config.max_assertion_lifetime);
        if exp.saturating_sub(clock.now) > max {
            return Err(claim_err(ClaimError::LifetimeTooLong {
                max_secs: self.config.max_assertion_lifetime.as_secs(),
            }));
        }
        if let Some(nbf) = opt_time(&claims, "nbf").map_err(claim_err)? {
            clock.check_nbf(nbf).map_err(claim_err)?;
        }
        if let Some(iat) = opt_time(&claims, "iat").map_err(claim_err)? {
            clock.check_iat(iat).map_err(claim_err)?;
        }
        let jti = req_string(&claims, "jti").map_err(claim_err)?;
        if jti.len() > self.config.limits.max_value_bytes {
            return Err(claim_err(ClaimError::Malformed { claim: "jti" }));
        }
        let key = ReplayKey {
            client_id: client.client_id.clone(),
            purpose: ReplayPurpose::ClientAssertion,
            jti: jti.to_owned(),
        };
        let until = from_unix_seconds(exp.saturating_add(clock.skew));
        if !self.store.remember_jti(&key, until, now).await? {
            return Err(claim_err(ClaimError::Replayed));
        }
        Ok(AuthenticatedClient {
            metadata: client,
            method: used,
        })
    }
}

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
