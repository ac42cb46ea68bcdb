//! Signed authentication requests (CIBA Core section 7.1.1; section 7.2 step 2).

use std::time::SystemTime;

use ciba_core::FAPI_MAX_REQUEST_OBJECT_SECS;
use ciba_core::Limits;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{AlgorithmPolicy, CompactJws, JoseError, JwsAlgorithm};
use ciba_core::wire::{from_unix_seconds, unix_seconds};
use serde_json::{Map, Value};

use crate::client::ClientMetadata;
use crate::client_auth::{CLIENT_AUTH_PARAMETERS, secs};
use crate::jwt_claims::{ClaimError, Clock, audience_ok, opt_string, req_string, req_time};
use crate::server::CibaServer;
use crate::store::{ReplayKey, ReplayPurpose, StoreError};

/// The longest a signed authentication request may be valid (`exp - nbf`), in seconds.
pub const MAX_REQUEST_OBJECT_LIFETIME_SECS: i64 = 3600;

/// JWT claims of the request object that are not authentication request parameters.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// A signed authentication request (`request` parameter) is unacceptable. Answered with
/// 400 `invalid_request` (CIBA Core section 13 has no request-object code).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RequestObjectError {
    /// The server does not accept signed authentication requests.
    #[error("signed authentication requests are not supported")]
    NotSupported,
    /// The client registered no `backchannel_authentication_request_signing_alg`.
    #[error("the client did not register a request signing algorithm")]
    NotRegistered,
    /// The request object is encrypted (a JWE), which CIBA does not use.
    #[error("encrypted request objects are not supported")]
    Encrypted,
    /// The request object is not a well-formed JWS with a JSON claims set.
    #[error("malformed request object: {source}")]
    Malformed {
        /// The parse error.
        source: JoseError,
    },
    /// The `alg` is not the client's registered algorithm.
    #[error("request object alg {alg:?} is not the registered algorithm")]
    AlgorithmMismatch {
        /// The header's `alg` (truncated).
        alg: String,
    },
    /// The signature does not verify with the client's keys.
    #[error("request object signature: {source}")]
    Signature {
        /// The verification error.
        source: JoseError,
    },
    /// A claim is missing or unacceptable (including `jti` replay).
    #[error("request object: {source}")]
    Claims {
        /// The claim error.
        source: ClaimError,
    },
    /// An authentication request parameter was sent outside the signed request.
    #[error("parameter {name:?} must be inside the signed request")]
    ParameterOutside {
        /// The parameter name (truncated).
        name: String,
    },
    /// The replay cache could not be consulted.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CibaServer {
    /// Verifies the request object and returns its authentication request parameters.
    pub(crate) async fn verify_request_object(
        &self,
        client: &ClientMetadata,
        jwt: &str,
        form: &[(String, String)],
        now: SystemTime,
    ) -> Result<Map<String, Value>, RequestObjectError> {
        if self.config.request_signing_algs.is_empty() {
            return Err(RequestObjectError::NotSupported);
        }
        if let Some((name, _)) = form
            .iter()
            .find(|(k, _)| k != "request" && !CLIENT_AUTH_PARAMETERS.contains(&k.as_str()))
        {
            return Err(RequestObjectError::ParameterOutside {
                name: name.chars().take(64).collect(),
            });
        }
        let registered: JwsAlgorithm = client
            .backchannel_authentication_request_signing_alg
            .as_deref()
            .and_then(|a| a.parse().ok())
            .filter(|a: &JwsAlgorithm| {
                !a.is_symmetric() && self.config.request_signing_algs.contains(a)
            })
            .ok_or(RequestObjectError::NotRegistered)?;
        if jwt.split('.').count() == 5 {
            return Err(RequestObjectError::Encrypted);
        }
        let limits = Limits::DEFAULT.with_max_jwt_bytes(self.config.limits.max_jwt_bytes);
        let jws = CompactJws::parse(jwt, &limits)
            .map_err(|source| RequestObjectError::Malformed { source })?;
        if jws.header.alg != registered.as_str() {
            return Err(RequestObjectError::AlgorithmMismatch {
                alg: jws.header.alg.chars().take(32).collect(),
            });
        }
        let keys = client.jwks.as_ref().ok_or(RequestObjectError::Signature {
            source: JoseError::InvalidKey {
                reason: "the client has no registered keys",
            },
        })?;
        verify_with_set(&jws, keys, &AlgorithmPolicy::only([registered]))
            .map_err(|source| RequestObjectError::Signature { source })?;
        let mut claims = jws
            .claims(&limits)
            .map_err(|source| RequestObjectError::Malformed { source })?;
        self.check_request_claims(client, &claims, now).await?;
        for name in JWT_CLAIMS {
            claims.remove(name);
        }
        Ok(claims)
    }

    async fn check_request_claims(
        &self,
        client: &ClientMetadata,
        claims: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<(), RequestObjectError> {
        let err = |source| RequestObjectError::Claims { source };
        if req_string(claims, "iss").map_err(err)? != client.client_id {
            return Err(err(ClaimError::IssuerMismatch));
        }
        if opt_string(claims, "client_id")
            .map_err(err)?
            .is_some_and(|c| c != client.client_id)
        {
            return Err(err(ClaimError::Malformed { claim: "client_id" }));
        }
        if !audience_ok(claims, &[self.config.issuer.as_str()], false) {
            return Err(err(ClaimError::AudienceMismatch));
        }
        // A request object whose sub is the client id could double as a client assertion.
        if opt_string(claims, "sub").map_err(err)? == Some(client.client_id.as_str()) {
            return Err(err(ClaimError::SubjectMismatch));
        }
        let clock = Clock {
            now: unix_seconds(now),
            skew: secs(self.config.clock_skew),
        };
        let exp = req_time(claims, "exp").map_err(err)?;
        let nbf = req_time(claims, "nbf").map_err(err)?;
        let iat = req_time(claims, "iat").map_err(err)?;
        clock.check_exp(exp).map_err(err)?;
        clock.check_nbf(nbf).map_err(err)?;
        clock.check_iat(iat).map_err(err)?;
        if exp.saturating_sub(nbf) > MAX_REQUEST_OBJECT_LIFETIME_SECS {
            return Err(err(ClaimError::LifetimeTooLong {
                max_secs: MAX_REQUEST_OBJECT_LIFETIME_SECS.unsigned_abs(),
            }));
        }
        // FAPI-CIBA 5.2.2: nbf no longer than 60 minutes in the past.
        if self.config.profile.is_fapi()
            && clock.now.saturating_sub(nbf) > FAPI_MAX_REQUEST_OBJECT_SECS
        {
            return Err(err(ClaimError::NotBeforeTooOld {
                max_secs: FAPI_MAX_REQUEST_OBJECT_SECS.unsigned_abs(),
            }));
        }
        let jti = req_string(claims, "jti").map_err(err)?;
        if jti.len() > self.config.limits.max_value_bytes {
            return Err(err(ClaimError::Malformed { claim: "jti" }));
        }
        let key = ReplayKey {
            client_id: client.client_id.clone(),
            purpose: ReplayPurpose::RequestObject,
            jti: jti.to_owned(),
        };
        let until = from_unix_seconds(exp.saturating_add(clock.skew));
        if !self.store.remember_jti(&key, until, now).await? {
            return Err(err(ClaimError::Replayed));
        }
        Ok(())
    }
}
