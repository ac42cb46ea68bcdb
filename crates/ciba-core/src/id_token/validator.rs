//! [`IdTokenValidator`]: the configuration that does not change between tokens, and the checks
//! of OpenID Connect Core 3.1.3.7 with the CIBA additions.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::{claims::*, *};
use crate::client::Client;
use crate::client_auth::{ClientAuth, ClientSecret};
use crate::jose::hash::left_half_hash;
use crate::jose::verify::{verify_with_secret, verify_with_set};
use crate::jose::{AlgorithmPolicy, CompactJws, JoseError, JwkSet, JwsAlgorithm};
use crate::limits::Limits;
use crate::time::{from_unix_seconds, unix_seconds};
use crate::wire::ct_eq;

/// Longest claim value copied into an error.
const CLIP: usize = 256;

fn clip(s: &str) -> String {
    s.chars().take(CLIP).collect()
}

/// Validates ID tokens for one client of one OP. See the [module documentation](crate::id_token).
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
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn advertised_policy(advertised: Option<&[String]>) -> AlgorithmPolicy {
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

        let push = ctx.delivery == IdTokenSource::Push;
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
