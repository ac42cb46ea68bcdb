//! ID token validation (OpenID Connect Core 3.1.3.7) with the CIBA additions (CIBA Core 10.3.1
//! and the `urn:openid:params:jwt:claim:*` claims).
//!
//! An [`IdTokenValidator`] holds what does not change between tokens: the issuer, the
//! `client_id`, the OP's JWK Set (fetched by the caller's transport), the algorithm allow-list and
//! the time rules. [`IdTokenValidator::validate`] checks one token against an [`IdTokenContext`]
//! (the `auth_req_id` and the tokens it came with) at the caller's `now`, and returns the
//! [`IdTokenClaims`] or the first [`IdTokenError`] found.
//!
//! The signature is always verified, for every delivery mode: OpenID Connect would let a poll or
//! ping client rely on TLS instead, but FAPI-CIBA does not, and push mode never may. Keys come
//! only from the configured JWK Set: `jwk`, `jku`, `x5u` and `x5c` headers are ignored, never
//! fetched or trusted. `none` cannot be allowed, and HMAC algorithms are accepted only when the
//! client registered one explicitly as `id_token_signed_response_alg` and configured its secret.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::client::Client;
use crate::client_auth::{ClientAuth, ClientSecret};
use crate::ct::ct_eq;
use crate::jose::hash::left_half_hash;
use crate::jose::jwe::JweError;
use crate::jose::verify::{verify_with_secret, verify_with_set};
use crate::jose::{AlgorithmPolicy, CompactJws, JoseError, JwkSet, JwsAlgorithm};
use crate::limits::Limits;
use crate::time::{from_unix_seconds, unix_seconds};

/// The claim carrying the `auth_req_id` an ID token was issued for (CIBA Core 10.3.1).
pub const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";
/// The claim carrying the hash of the refresh token delivered with the ID token (CIBA Core
/// 10.3.1).
pub const RT_HASH_CLAIM: &str = "urn:openid:params:jwt:claim:rt_hash";
/// Default clock skew tolerated on `exp`, `iat` and `nbf`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Default maximum age of `iat`: ID tokens are minted when delivered, so an old one is stale or
/// replayed.
pub const DEFAULT_MAX_IAT_AGE: Duration = Duration::from_secs(600);

/// Longest claim value copied into an error.
const CLIP: usize = 256;

fn clip(s: &str) -> String {
    s.chars().take(CLIP).collect()
}

/// Decrypting an ID token failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The built-in JWE decryption (`jose::jwe::JweDecrypter`,
    /// feature `jwe`) refused the token.
    #[error("ID token decryption failed: {0}")]
    Jwe(#[from] JweError),
    /// A decrypter of the caller's own failed.
    #[error("ID token decryption failed: {reason}")]
    Other {
        /// What the decrypter reported.
        reason: String,
    },
}

/// Turns an encrypted ID token (a five-part compact JWE) into the signed ID token inside it.
///
/// With feature `jwe`, `jose::jwe::JweDecrypter` implements it with the
/// client's private keys (RSA-OAEP-256 and ECDH-ES+A256KW; A256GCM and A128CBC-HS256).
/// Another implementation (an HSM, say) can be plugged in instead. Once a decrypter is
/// configured the validator refuses unencrypted ID tokens (OIDC Core 3.1.3.7 step 1) and
/// validates the inner JWS as usual.
pub trait IdTokenDecrypter: Send + Sync {
    /// Decrypts `jwe` (compact serialization) and returns the nested compact JWS.
    fn decrypt(&self, jwe: &str) -> Result<String, DecryptError>;
}

/// Why an ID token was refused. Each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// A token response or push delivery carried no `id_token`.
    #[error("no id_token was delivered")]
    Missing,
    /// The token is an encrypted JWE (five parts) and no [`IdTokenDecrypter`] is configured.
    #[error("the ID token is encrypted and no decrypter is configured")]
    Encrypted,
    /// A decrypter is configured (encryption was registered) but the token is not encrypted.
    #[error("the ID token is not encrypted although encryption is configured")]
    NotEncrypted,
    /// The decrypter failed.
    #[error(transparent)]
    Decryption(#[from] DecryptError),
    /// The token is not a well-formed compact JWS (or is too large).
    #[error("malformed ID token: {0}")]
    Malformed(#[source] JoseError),
    /// The `alg` is `none`, unknown, or not on the allow-list (including HMAC without an
    /// explicitly registered HS* algorithm).
    #[error("ID token algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` header as sent (truncated).
        alg: String,
    },
    /// No key of the JWK Set can verify the token (no matching `kid`, ambiguous, wrong type).
    #[error("no usable key for the ID token: {0}")]
    KeyUnavailable(#[source] JoseError),
    /// The signature does not verify.
    #[error("the ID token signature does not verify")]
    BadSignature,
    /// The payload is not a JSON object (or repeats a claim).
    #[error("the ID token payload is not a JSON object")]
    ClaimsNotAnObject,
    /// A required claim is absent.
    #[error("the ID token has no {claim} claim")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type or an unusable value.
    #[error("ID token claim {claim} is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `iss` is not exactly the expected issuer.
    #[error("ID token issuer {found:?} is not {expected:?}")]
    IssuerMismatch {
        /// The issuer configured.
        expected: String,
        /// The `iss` received (truncated).
        found: String,
    },
    /// `aud` does not contain the `client_id`.
    #[error("ID token audience does not contain the client_id")]
    AudienceMismatch {
        /// The audiences received (each truncated).
        found: Vec<String>,
    },
    /// `aud` names a party other than the client that is not configured as trusted.
    #[error("ID token audience {audience:?} is not trusted")]
    UntrustedAudience {
        /// The first untrusted audience (truncated).
        audience: String,
    },
    /// `aud` has several values and `azp` is absent.
    #[error("ID token has several audiences and no azp")]
    MissingAzp,
    /// `azp` is present and is not the `client_id`.
    #[error("ID token azp {found:?} is not the client_id")]
    AzpMismatch {
        /// The `azp` received (truncated).
        found: String,
    },
    /// `exp` is in the past (beyond the clock skew).
    #[error("the ID token expired at {exp}")]
    Expired {
        /// `exp`, in seconds since the epoch.
        exp: i64,
    },
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the ID token is not valid before {nbf}")]
    NotYetValid {
        /// `nbf`, in seconds since the epoch.
        nbf: i64,
    },
    /// `iat` is in the future (beyond the clock skew).
    #[error("the ID token was issued in the future ({iat})")]
    IssuedInFuture {
        /// `iat`, in seconds since the epoch.
        iat: i64,
    },
    /// `iat` is older than the configured maximum age.
    #[error("the ID token was issued too long ago ({iat})")]
    IssuedTooLongAgo {
        /// `iat`, in seconds since the epoch.
        iat: i64,
    },
    /// The `auth_req_id` claim is required (push) and absent.
    #[error("the ID token has no {AUTH_REQ_ID_CLAIM} claim")]
    MissingAuthReqId,
    /// The `auth_req_id` claim differs from the expected `auth_req_id`.
    #[error("the ID token {AUTH_REQ_ID_CLAIM} claim does not match the auth_req_id")]
    AuthReqIdMismatch,
    /// `at_hash` is required (push, or by configuration) and absent.
    #[error("the ID token has no at_hash claim")]
    MissingAtHash,
    /// `at_hash` does not match the access token.
    #[error("the ID token at_hash does not match the access token")]
    AtHashMismatch,
    /// `rt_hash` is required (push with a refresh token) and absent.
    #[error("the ID token has no {RT_HASH_CLAIM} claim")]
    MissingRtHash,
    /// `rt_hash` does not match the refresh token.
    #[error("the ID token {RT_HASH_CLAIM} claim does not match the refresh token")]
    RtHashMismatch,
    /// `acr` is absent or not one of the expected values.
    #[error("the ID token acr {found:?} is not one of the expected values")]
    AcrNotAccepted {
        /// The `acr` received (truncated), if any.
        found: Option<String>,
    },
    /// `auth_time` is required and absent.
    #[error("the ID token has no auth_time claim")]
    MissingAuthTime,
    /// The hash of a token could not be computed.
    #[error("hashing failed: {0}")]
    Hash(#[source] JoseError),
}

impl IdTokenError {
    /// True when the token names a `kid` that no usable key of the JWK Set has: the one
    /// refusal a freshly fetched JWK Set can cure (the OP rotated its signing keys). A bad
    /// signature, a refused algorithm, a token without `kid`, an ambiguous choice or a broken
    /// key are not: fetching the set again would not change them.
    pub fn is_unknown_kid(&self) -> bool {
        matches!(
            self,
            IdTokenError::KeyUnavailable(JoseError::NoMatchingKey { kid: Some(_), .. })
        )
    }
}

/// Where an ID token came from, which decides the CIBA-specific checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// From the token endpoint (poll and ping): `auth_req_id`, `at_hash` and `rt_hash` are
    /// checked when present.
    TokenEndpoint,
    /// Pushed to the client notification endpoint: the `auth_req_id` claim and `at_hash` are
    /// required, and `rt_hash` too when a refresh token is delivered (CIBA Core 10.3.1).
    Push,
}

/// What one ID token is checked against besides the validator's configuration.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct IdTokenContext<'a> {
    /// How the token was delivered.
    pub delivery: Delivery,
    /// The `auth_req_id` the token must belong to, when known.
    pub auth_req_id: Option<&'a str>,
    /// The access token delivered with the ID token (for `at_hash`).
    pub access_token: Option<&'a str>,
    /// The refresh token delivered with the ID token (for `rt_hash`).
    pub refresh_token: Option<&'a str>,
}

impl fmt::Debug for IdTokenContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenContext")
            .field("delivery", &self.delivery)
            .field("auth_req_id", &self.auth_req_id.map(|_| "<redacted>"))
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .field("refresh_token", &self.refresh_token.map(|_| "<redacted>"))
            .finish()
    }
}

impl<'a> IdTokenContext<'a> {
    /// A token received from the token endpoint for `auth_req_id` with these tokens.
    pub fn token_endpoint(
        auth_req_id: &'a str,
        access_token: &'a str,
        refresh_token: Option<&'a str>,
    ) -> Self {
        IdTokenContext {
            delivery: Delivery::TokenEndpoint,
            auth_req_id: Some(auth_req_id),
            access_token: Some(access_token),
            refresh_token,
        }
    }

    /// A token pushed for `auth_req_id` with these tokens.
    pub fn push(
        auth_req_id: &'a str,
        access_token: &'a str,
        refresh_token: Option<&'a str>,
    ) -> Self {
        IdTokenContext {
            delivery: Delivery::Push,
            auth_req_id: Some(auth_req_id),
            access_token: Some(access_token),
            refresh_token,
        }
    }

    /// A token on its own: only the validator's configuration applies (any `at_hash`, `rt_hash`
    /// or `auth_req_id` claim is then left unchecked).
    pub fn standalone() -> Self {
        IdTokenContext {
            delivery: Delivery::TokenEndpoint,
            auth_req_id: None,
            access_token: None,
            refresh_token: None,
        }
    }
}

/// The claims of a validated ID token.
///
/// Its `Debug` form redacts the `auth_req_id` claim, like [`AuthReqId`](crate::AuthReqId)
/// does.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// `aud`, as a list even when sent as a single string.
    pub aud: Vec<String>,
    /// `exp`.
    pub exp: SystemTime,
    /// `iat`.
    pub iat: SystemTime,
    /// `auth_time`, if sent.
    pub auth_time: Option<SystemTime>,
    /// `azp`, if sent.
    pub azp: Option<String>,
    /// `acr`, if sent.
    pub acr: Option<String>,
    /// `amr`, if sent.
    pub amr: Option<Vec<String>>,
    /// `at_hash`, if sent.
    pub at_hash: Option<String>,
    /// `urn:openid:params:jwt:claim:rt_hash`, if sent.
    pub rt_hash: Option<String>,
    /// `urn:openid:params:jwt:claim:auth_req_id`, if sent.
    pub auth_req_id: Option<String>,
    /// The algorithm the token was signed with.
    pub alg: JwsAlgorithm,
    /// The `kid` header, if sent.
    pub kid: Option<String>,
    /// Every other claim, as sent.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("auth_time", &self.auth_time)
            .field("azp", &self.azp)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .field("at_hash", &self.at_hash)
            .field("rt_hash", &self.rt_hash)
            .field(
                "auth_req_id",
                &self.auth_req_id.as_ref().map(|_| "<redacted>"),
            )
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("extra", &self.extra)
            .finish()
    }
}

/// Validates ID tokens for one client of one OP. See the [module documentation](self).
#[derive(Clone)]
pub struct IdTokenValidator {
    issuer: String,
    client_id: String,
    jwks: JwkSet,
    algorithms: AlgorithmPolicy,
    registered_alg: Option<JwsAlgorithm>,
    hmac_secret: Option<ClientSecret>,
    clock_skew: Duration,
    max_iat_age: Option<Duration>,
    trusted_audiences: Vec<String>,
    acr_values: Option<Vec<String>>,
    require_auth_time: bool,
    require_at_hash: bool,
    decrypter: Option<Arc<dyn IdTokenDecrypter>>,
    limits: Limits,
}

impl fmt::Debug for IdTokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenValidator")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("keys", &self.jwks.keys.len())
            .field("algorithms", &self.algorithms.allowed())
            .field("registered_alg", &self.registered_alg)
            .field("hmac_secret", &self.hmac_secret)
            .field("clock_skew", &self.clock_skew)
            .field("max_iat_age", &self.max_iat_age)
            .field("trusted_audiences", &self.trusted_audiences)
            .field("acr_values", &self.acr_values)
            .field("require_auth_time", &self.require_auth_time)
            .field("require_at_hash", &self.require_at_hash)
            .field("decrypter", &self.decrypter.is_some())
            .finish_non_exhaustive()
    }
}

/// The OP's advertised `id_token_signing_alg_values_supported`, restricted to the asymmetric
/// algorithms this crate knows; RS256 alone when the OP advertises nothing usable.
fn advertised_policy(advertised: Option<&[String]>) -> AlgorithmPolicy {
    let algs: Vec<JwsAlgorithm> = advertised
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.parse::<JwsAlgorithm>().ok())
        .filter(|a| !a.is_symmetric())
        .collect();
    if algs.is_empty() {
        AlgorithmPolicy::only([JwsAlgorithm::RS256])
    } else {
        AlgorithmPolicy::only(algs)
    }
}

impl IdTokenValidator {
    /// A validator for tokens of `issuer` addressed to `client_id`, verified with `jwks`.
    /// Accepts RS256 only (the OIDC default) until [`Self::algorithms`] or
    /// [`Self::registered_alg`] says otherwise.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, jwks: JwkSet) -> Self {
        IdTokenValidator {
            issuer: issuer.into(),
            client_id: client_id.into(),
            jwks,
            algorithms: AlgorithmPolicy::only([JwsAlgorithm::RS256]),
            registered_alg: None,
            hmac_secret: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
            max_iat_age: Some(DEFAULT_MAX_IAT_AGE),
            trusted_audiences: Vec::new(),
            acr_values: None,
            require_auth_time: false,
            require_at_hash: false,
            decrypter: None,
            limits: Limits::DEFAULT,
        }
    }

    /// A validator for `client`: its issuer, `client_id` and limits. The algorithms: exactly
    /// the client's registered
    /// [`id_token_signed_response_alg`](crate::ClientConfig::id_token_signed_response_alg) when
    /// it has one (see [`Self::registered_alg`]; for an HS* algorithm the
    /// `client_secret_basic` / `client_secret_post` secret is the key, and a `client_secret_jwt`
    /// client adds it with [`Self::hmac_secret`]); otherwise those the OP advertises in
    /// `id_token_signing_alg_values_supported` that are asymmetric (RS256 when it advertises
    /// none).
    pub fn for_client(client: &Client, jwks: JwkSet) -> Self {
        let mut v = IdTokenValidator::new(client.issuer(), client.client_id(), jwks);
        v.algorithms = advertised_policy(
            client
                .metadata()
                .id_token_signing_alg_values_supported
                .as_deref(),
        );
        v.limits = *client.limits();
        let config = client.config();
        if config.profile.is_fapi() {
            // FAPI: PS256 and ES256 only, whatever the OP advertises.
            v.algorithms = AlgorithmPolicy::only(
                crate::profile::FAPI_ALGORITHMS
                    .into_iter()
                    .filter(|a| v.algorithms.allowed().contains(a)),
            );
        }
        if let Some(alg) = config.id_token_signed_response_alg {
            v = v.registered_alg(alg);
            if let (true, ClientAuth::SecretBasic(secret) | ClientAuth::SecretPost(secret)) =
                (alg.is_symmetric(), &config.auth)
            {
                v = v.hmac_secret(secret.clone());
            }
        }
        v
    }

    /// The client registered `id_token_signed_response_alg` = `alg`: only `alg` is accepted.
    /// An HS* algorithm also needs [`Self::hmac_secret`]; without it every token is refused.
    pub fn registered_alg(mut self, alg: JwsAlgorithm) -> Self {
        self.registered_alg = Some(alg);
        self.algorithms = AlgorithmPolicy::only([alg]);
        self
    }

    /// The client secret, used only to verify HS* tokens when the client registered that HS*
    /// algorithm with [`Self::registered_alg`].
    pub fn hmac_secret(mut self, secret: ClientSecret) -> Self {
        self.hmac_secret = Some(secret);
        self
    }

    /// Replaces the algorithm allow-list. HMAC entries have no effect unless they equal the
    /// [registered algorithm](Self::registered_alg).
    pub fn algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.algorithms = policy;
        self
    }

    /// Replaces the JWK Set (after the caller refetched it, for example on key rotation).
    pub fn jwks(mut self, jwks: JwkSet) -> Self {
        self.jwks = jwks;
        self
    }

    /// Replaces the JWK Set in place.
    pub fn set_jwks(&mut self, jwks: JwkSet) {
        self.jwks = jwks;
    }

    /// The clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The maximum age of `iat` (default 10 minutes); `None` accepts any age.
    pub fn max_iat_age(mut self, age: Option<Duration>) -> Self {
        self.max_iat_age = age;
        self
    }

    /// Accepts `audience` next to the `client_id` in `aud`.
    pub fn trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }

    /// Requires an `acr` claim equal to one of `values` (the `acr_values` requested).
    pub fn acr_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values = Some(values.into_iter().map(Into::into).collect());
        self
    }

    /// Requires an `auth_time` claim (`require_auth_time` registered).
    pub fn require_auth_time(mut self, required: bool) -> Self {
        self.require_auth_time = required;
        self
    }

    /// Requires `at_hash` whenever an access token is delivered, for every delivery mode (push
    /// always requires it).
    pub fn require_at_hash(mut self, required: bool) -> Self {
        self.require_at_hash = required;
        self
    }

    /// Decrypts encrypted ID tokens with `decrypter`, and from then on refuses unencrypted ones.
    pub fn decrypter(mut self, decrypter: Arc<dyn IdTokenDecrypter>) -> Self {
        self.decrypter = Some(decrypter);
        self
    }

    /// Size limits for the token and its parts.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The expected issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The expected audience (`client_id`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The algorithm allow-list in force.
    pub fn algorithm_policy(&self) -> &AlgorithmPolicy {
        &self.algorithms
    }

    /// Validates `token` (a compact JWS, or a JWE when a decrypter is configured) at `now`.
    ///
    /// Order of the checks: size and shape, decryption, `alg` against the allow-list, the
    /// signature, then the claims: `iss`, `aud`, `azp`, `exp`, `nbf`, `iat`, `sub`, the
    /// `auth_req_id` claim, `at_hash`, `rt_hash`, `acr`, `auth_time`. Nothing in the claims is
    /// looked at before the signature verifies.
    pub fn validate(
        &self,
        token: &str,
        ctx: &IdTokenContext<'_>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, IdTokenError> {
        if token.len() > self.limits.max_jwt_bytes {
            return Err(IdTokenError::Malformed(JoseError::TooLarge {
                limit: self.limits.max_jwt_bytes,
                actual: token.len(),
            }));
        }
        let encrypted = token.split('.').count() == 5;
        let decrypted;
        let jws_text = match (&self.decrypter, encrypted) {
            (None, true) => return Err(IdTokenError::Encrypted),
            (Some(_), false) => return Err(IdTokenError::NotEncrypted),
            (Some(d), true) => {
                decrypted = d.decrypt(token)?;
                decrypted.as_str()
            }
            (None, false) => token,
        };
        let jws = CompactJws::parse(jws_text, &self.limits).map_err(IdTokenError::Malformed)?;
        let alg = self.verify_signature(&jws)?;
        let claims = jws
            .claims(&self.limits)
            .map_err(|_| IdTokenError::ClaimsNotAnObject)?;
        self.check_claims(claims, alg, jws.header.kid.clone(), ctx, now)
    }

    fn verify_signature(&self, jws: &CompactJws) -> Result<JwsAlgorithm, IdTokenError> {
        let refused = || IdTokenError::AlgorithmNotAllowed {
            alg: jws.header.alg.chars().take(32).collect(),
        };
        let alg = self
            .algorithms
            .check(&jws.header.alg)
            .map_err(|_| refused())?;
        let result = if alg.is_symmetric() {
            match (&self.registered_alg, &self.hmac_secret) {
                (Some(registered), Some(secret)) if *registered == alg => {
                    verify_with_secret(jws, secret.expose().as_bytes(), &self.algorithms)
                }
                _ => return Err(refused()),
            }
        } else {
            verify_with_set(jws, &self.jwks, &self.algorithms)
        };
        match result {
            Ok(a) => Ok(a),
            Err(JoseError::BadSignature) => Err(IdTokenError::BadSignature),
            Err(JoseError::AlgorithmNotAllowed { .. }) => Err(refused()),
            Err(other) => Err(IdTokenError::KeyUnavailable(other)),
        }
    }

    fn check_claims(
        &self,
        mut claims: Map<String, Value>,
        alg: JwsAlgorithm,
        kid: Option<String>,
        ctx: &IdTokenContext<'_>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, IdTokenError> {
        let iss =
            take_str(&mut claims, "iss")?.ok_or(IdTokenError::MissingClaim { claim: "iss" })?;
        if iss != self.issuer {
            return Err(IdTokenError::IssuerMismatch {
                expected: self.issuer.clone(),
                found: clip(&iss),
            });
        }

        let aud = take_audience(&mut claims)?;
        if !aud.iter().any(|a| a == &self.client_id) {
            return Err(IdTokenError::AudienceMismatch {
                found: aud.iter().take(16).map(|a| clip(a)).collect(),
            });
        }
        if let Some(untrusted) = aud
            .iter()
            .find(|a| **a != self.client_id && !self.trusted_audiences.contains(a))
        {
            return Err(IdTokenError::UntrustedAudience {
                audience: clip(untrusted),
            });
        }
        let azp = take_str(&mut claims, "azp")?;
        match &azp {
            None if aud.len() > 1 => return Err(IdTokenError::MissingAzp),
            Some(a) if *a != self.client_id => {
                return Err(IdTokenError::AzpMismatch { found: clip(a) });
            }
            _ => {}
        }

        let t = unix_seconds(now);
        let skew = secs(self.clock_skew);
        let exp =
            take_date(&mut claims, "exp")?.ok_or(IdTokenError::MissingClaim { claim: "exp" })?;
        if exp.saturating_add(skew) <= t {
            return Err(IdTokenError::Expired { exp });
        }
        if let Some(nbf) = take_date(&mut claims, "nbf")? {
            if nbf > t.saturating_add(skew) {
                return Err(IdTokenError::NotYetValid { nbf });
            }
            claims.insert("nbf".into(), Value::from(nbf));
        }
        let iat =
            take_date(&mut claims, "iat")?.ok_or(IdTokenError::MissingClaim { claim: "iat" })?;
        if iat > t.saturating_add(skew) {
            return Err(IdTokenError::IssuedInFuture { iat });
        }
        if let Some(max) = self.max_iat_age
            && iat < t.saturating_sub(secs(max)).saturating_sub(skew)
        {
            return Err(IdTokenError::IssuedTooLongAgo { iat });
        }

        let sub =
            take_str(&mut claims, "sub")?.ok_or(IdTokenError::MissingClaim { claim: "sub" })?;
        if sub.is_empty() {
            return Err(IdTokenError::InvalidClaim {
                claim: "sub",
                reason: "empty string",
            });
        }

        let push = ctx.delivery == Delivery::Push;
        let auth_req_id = take_str(&mut claims, AUTH_REQ_ID_CLAIM)?;
        match (&auth_req_id, ctx.auth_req_id) {
            (None, _) if push => return Err(IdTokenError::MissingAuthReqId),
            (Some(found), Some(expected)) if !ct_eq(found.as_bytes(), expected.as_bytes()) => {
                return Err(IdTokenError::AuthReqIdMismatch);
            }
            _ => {}
        }

        let at_hash = take_str(&mut claims, "at_hash")?;
        let at_required = push || (self.require_at_hash && ctx.access_token.is_some());
        check_hash(
            alg,
            at_hash.as_deref(),
            ctx.access_token,
            at_required,
            IdTokenError::MissingAtHash,
            IdTokenError::AtHashMismatch,
        )?;

        let rt_hash = take_str(&mut claims, RT_HASH_CLAIM)?;
        let rt_required = push && ctx.refresh_token.is_some();
        check_hash(
            alg,
            rt_hash.as_deref(),
            ctx.refresh_token,
            rt_required,
            IdTokenError::MissingRtHash,
            IdTokenError::RtHashMismatch,
        )?;

        let acr = take_str(&mut claims, "acr")?;
        if let Some(expected) = &self.acr_values {
            let ok = acr.as_ref().is_some_and(|a| expected.contains(a));
            if !ok {
                return Err(IdTokenError::AcrNotAccepted {
                    found: acr.as_deref().map(clip),
                });
            }
        }
        let auth_time = take_date(&mut claims, "auth_time")?;
        if self.require_auth_time && auth_time.is_none() {
            return Err(IdTokenError::MissingAuthTime);
        }
        let amr = take_string_list(&mut claims, "amr")?;

        Ok(IdTokenClaims {
            iss,
            sub,
            aud,
            exp: from_unix_seconds(exp),
            iat: from_unix_seconds(iat),
            auth_time: auth_time.map(from_unix_seconds),
            azp,
            acr,
            amr,
            at_hash,
            rt_hash,
            auth_req_id,
            alg,
            kid,
            extra: claims,
        })
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Checks an `at_hash`-style claim against `token`: when the claim is present and the token
/// known they must match; when `required` the claim (and the token) must be there.
fn check_hash(
    alg: JwsAlgorithm,
    claim: Option<&str>,
    token: Option<&str>,
    required: bool,
    missing: IdTokenError,
    mismatch: IdTokenError,
) -> Result<(), IdTokenError> {
    match (claim, token) {
        (Some(found), Some(token)) => {
            let want = left_half_hash(alg, token).map_err(IdTokenError::Hash)?;
            if ct_eq(found.as_bytes(), want.as_bytes()) {
                Ok(())
            } else {
                Err(mismatch)
            }
        }
        (None, _) if required => Err(missing),
        // A hash without the token it covers (standalone validation) cannot be checked.
        _ => Ok(()),
    }
}

/// Removes and returns an optional string claim; `null` counts as absent.
fn take_str(
    claims: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<String>, IdTokenError> {
    match claims.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdTokenError::InvalidClaim {
            claim,
            reason: "not a string",
        }),
    }
}

/// Removes and returns an optional NumericDate claim (a JSON number; fractions are truncated).
fn take_date(
    claims: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, IdTokenError> {
    let bad = IdTokenError::InvalidClaim {
        claim,
        reason: "not a NumericDate",
    };
    match claims.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            // Floats beyond this are not dates any clock will reach; refuse rather than saturate.
            (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
            _ => Err(bad),
        },
        Some(_) => Err(bad),
    }
}

/// Removes and returns `aud`: a non-empty string or a non-empty array of strings.
fn take_audience(claims: &mut Map<String, Value>) -> Result<Vec<String>, IdTokenError> {
    let bad = |reason| IdTokenError::InvalidClaim {
        claim: "aud",
        reason,
    };
    match claims.remove("aud") {
        None | Some(Value::Null) => Err(IdTokenError::MissingClaim { claim: "aud" }),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(bad("empty array"));
            }
            items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(bad("array member is not a string")),
                })
                .collect()
        }
        Some(_) => Err(bad("not a string or an array of strings")),
    }
}

/// Removes and returns an optional array-of-strings claim.
fn take_string_list(
    claims: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<Vec<String>>, IdTokenError> {
    let bad = IdTokenError::InvalidClaim {
        claim,
        reason: "not an array of strings",
    };
    match claims.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad.clone()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn advertised_policy_keeps_only_known_asymmetric_algorithms() {
        let adv = vec![
            "none".to_owned(),
            "HS256".into(),
            "ES256".into(),
            "XX".into(),
        ];
        assert_eq!(
            advertised_policy(Some(&adv)).allowed(),
            &[JwsAlgorithm::ES256]
        );
        assert_eq!(advertised_policy(None).allowed(), &[JwsAlgorithm::RS256]);
        let only_bad = vec!["none".to_owned(), "HS512".into()];
        assert_eq!(
            advertised_policy(Some(&only_bad)).allowed(),
            &[JwsAlgorithm::RS256]
        );
    }

    #[test]
    fn audience_accepts_a_string_or_a_non_empty_array() {
        let mut m = Map::new();
        m.insert("aud".into(), Value::from("c"));
        assert_eq!(take_audience(&mut m).unwrap(), vec!["c".to_owned()]);
        m.insert("aud".into(), serde_json::json!(["c", "d"]));
        assert_eq!(take_audience(&mut m).unwrap().len(), 2);
        m.insert("aud".into(), serde_json::json!([]));
        assert!(take_audience(&mut m).is_err());
        m.insert("aud".into(), serde_json::json!([1]));
        assert!(take_audience(&mut m).is_err());
    }

    #[test]
    fn numeric_dates_accept_fractions_and_refuse_strings() {
        let mut m = Map::new();
        m.insert("exp".into(), serde_json::json!(12.7));
        assert_eq!(take_date(&mut m, "exp").unwrap(), Some(12));
        m.insert("exp".into(), serde_json::json!("12"));
        assert!(take_date(&mut m, "exp").is_err());
        m.insert("exp".into(), serde_json::json!(1e300));
        assert!(take_date(&mut m, "exp").is_err());
    }
}
