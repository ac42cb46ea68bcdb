//! Minting access tokens, refresh tokens and ID tokens.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{JoseError, JwkSet, JwsAlgorithm, Signer};
use ciba_core::random::{Random, RandomError, random_identifier};
use ciba_core::wire::unix_seconds;
use serde_json::{Map, Value};

use crate::auth_req_id::AuthReqId;
use crate::binding::Confirmation;
use crate::client::DeliveryMode;
use crate::key_set::SigningKeySet;
use crate::secret::Secret;
use crate::store::Grant;

/// The ID token claim that binds a pushed token response to its request (CIBA Core 10.3.1).
pub const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";
/// The ID token claim with the hash of the refresh token (CIBA Core 10.3.1).
pub const RT_HASH_CLAIM: &str = "urn:openid:params:jwt:claim:rt_hash";

/// ID token claims the helper sets itself; a [`Grant`]'s extra claims may not use them.
pub const RESERVED_CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "acr",
    "amr",
    "at_hash",
    AUTH_REQ_ID_CLAIM,
    RT_HASH_CLAIM,
];

/// Bytes of randomness in a default access or refresh token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// What to mint tokens for.
#[derive(Debug, Clone, Copy)]
pub struct MintRequest<'a> {
    /// The issuer identifier.
    pub issuer: &'a str,
    /// The client the tokens are for (the ID token audience).
    pub client_id: &'a str,
    /// The request's `auth_req_id`.
    pub auth_req_id: &'a AuthReqId,
    /// How the tokens reach the client. Push ID tokens carry the `auth_req_id` claim.
    pub delivery_mode: DeliveryMode,
    /// What the user granted.
    pub grant: &'a Grant,
    /// What the access token is bound to (a DPoP key, a client certificate, or nothing).
    pub confirmation: &'a Confirmation,
    /// The client's registered `id_token_signed_response_alg`; `None` means RS256, the
    /// OpenID Connect default.
    pub id_token_alg: Option<JwsAlgorithm>,
}

/// Freshly minted tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct MintedTokens {
    /// The access token.
    pub access_token: Secret,
    /// `DPoP` for a DPoP-bound access token, else `Bearer`.
    pub token_type: String,
    /// What the access token is bound to, as recorded for introspection.
    pub confirmation: Confirmation,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
    /// The refresh token, if one is issued.
    pub refresh_token: Option<Secret>,
    /// Refresh token lifetime in seconds, when one is issued.
    pub refresh_token_expires_in: Option<u64>,
    /// The ID token: signed, and then encrypted when the client registered ID token
    /// encryption (see [`encrypt_id_token`](crate::encrypt_id_token)).
    pub id_token: String,
    /// Granted scopes, space-separated.
    pub scope: String,
}

impl fmt::Debug for MintedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedTokens")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Minting failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// Signing the ID token (or a JWT access token) failed.
    #[error(transparent)]
    Signing(#[from] JoseError),
    /// Encrypting the ID token to the client's key failed (see
    /// [`encrypt_id_token`](crate::encrypt_id_token)).
    #[error("ID token encryption failed: {0}")]
    Encryption(#[from] ciba_core::jose::jwe::JweError),
    /// The key set has no key for the client's `id_token_signed_response_alg`.
    #[error("no signing key for {alg}")]
    NoKeyForAlgorithm {
        /// The algorithm asked for.
        alg: JwsAlgorithm,
    },
    /// A token lifetime is longer than the key set keeps retired keys published, so a
    /// rotation could leave a valid token unverifiable.
    #[error("a token lifetime of {ttl_secs} s exceeds the key set's {max_secs} s")]
    LifetimeExceedsKeySet {
        /// The token lifetime.
        ttl_secs: u64,
        /// [`SigningKeySet::max_token_lifetime`].
        max_secs: u64,
    },
}

/// The form of the access tokens [`DefaultTokenMinter`] issues.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessTokenFormat {
    /// [`TOKEN_BYTES`] random bytes, base64url: the resource server introspects them.
    #[default]
    Opaque,
    /// An RFC 9068 JWT access token (`typ` `at+jwt`) signed with the key that signs the
    /// client's ID tokens (its `id_token_signed_response_alg`, RS256 by default): `iss`,
    /// `sub`, `aud`, `client_id`, `exp`, `iat`, `jti`, `scope`, `auth_time`, `acr` and `amr`
    /// when known, and `cnf` when the token is bound. Its lifetime may not exceed
    /// [`SigningKeySet::max_token_lifetime`] ([`MintError::LifetimeExceedsKeySet`]).
    Jwt {
        /// The `aud` claim: the resource server(s) the token is for.
        audience: String,
    },
}

/// Mints the tokens for an approved request. Implement it to keep keys in an HSM or to shape
/// tokens differently; [`DefaultTokenMinter`] is the default.
pub trait TokenMinter: Send + Sync {
    /// Mints an access token, an ID token and optionally a refresh token.
    fn mint(
        &self,
        request: &MintRequest<'_>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<MintedTokens, MintError>;

    /// The public keys that verify this minter's ID tokens at `now` (retired keys included
    /// while tokens they signed may be valid), for the JWKS document.
    fn public_jwks(&self, now: SystemTime) -> JwkSet;

    /// The ID token signing algorithms, for discovery. RS256 is always one of them.
    fn id_token_signing_algs(&self) -> Vec<JwsAlgorithm>;
}

/// The default minter: opaque random refresh tokens and access tokens ([`TOKEN_BYTES`]
/// bytes, base64url; or RFC 9068 JWT access tokens, see [`AccessTokenFormat`]) and an ID
/// token signed by the key of a [`SigningKeySet`] (RS256, PS256, ES256, ES384, EdDSA) that
/// matches the client's `id_token_signed_response_alg` (RS256 when the client registered
/// none).
///
/// The ID token carries `iss`, `sub`, `aud` (the client id), `exp`, `iat`, `auth_time`,
/// `acr`, `amr` when known, `at_hash`, `urn:openid:params:jwt:claim:rt_hash` when a refresh
/// token is issued, `urn:openid:params:jwt:claim:auth_req_id` in push mode, and the grant's
/// extra claims.
#[derive(Clone)]
pub struct DefaultTokenMinter {
    keys: Arc<SigningKeySet>,
    /// Access token lifetime (default 3600 s).
    pub access_token_ttl: Duration,
    /// ID token lifetime (default 3600 s).
    pub id_token_ttl: Duration,
    /// Refresh token lifetime, or `None` to issue no refresh tokens (default 30 days).
    pub refresh_token_ttl: Option<Duration>,
    /// Opaque (the default) or RFC 9068 JWT access tokens.
    pub access_token_format: AccessTokenFormat,
}

impl fmt::Debug for DefaultTokenMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultTokenMinter")
            .field("keys", &self.keys)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .finish_non_exhaustive()
    }
}

impl DefaultTokenMinter {
    /// A minter signing ID tokens with the keys of `keys` (keep a clone of the `Arc` to
    /// rotate them while the server runs).
    pub fn new(keys: Arc<SigningKeySet>) -> DefaultTokenMinter {
        DefaultTokenMinter {
            keys,
            access_token_ttl: Duration::from_secs(3600),
            id_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Some(Duration::from_secs(30 * 24 * 3600)),
            access_token_format: AccessTokenFormat::Opaque,
        }
    }

    /// The key set the minter signs with.
    pub fn keys(&self) -> &Arc<SigningKeySet> {
        &self.keys
    }
}

impl TokenMinter for DefaultTokenMinter {
    fn mint(
        &self,
        request: &MintRequest<'_>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<MintedTokens, MintError> {
        let alg = request.id_token_alg.unwrap_or(JwsAlgorithm::RS256);
        let signer = self
            .keys
            .signer(alg)
            .ok_or(MintError::NoKeyForAlgorithm { alg })?;
        let max = self.keys.max_token_lifetime();
        let jwt_access_token = matches!(self.access_token_format, AccessTokenFormat::Jwt { .. });
        for ttl in [
            Some(self.id_token_ttl),
            jwt_access_token.then_some(self.access_token_ttl),
        ]
        .into_iter()
        .flatten()
        {
            if ttl > max {
                return Err(MintError::LifetimeExceedsKeySet {
                    ttl_secs: ttl.as_secs(),
                    max_secs: max.as_secs(),
                });
            }
        }
        let access_token = match &self.access_token_format {
            AccessTokenFormat::Opaque => random_identifier(rng, TOKEN_BYTES)?,
            AccessTokenFormat::Jwt { audience } => {
                self.jwt_access_token(request, audience, signer.as_ref(), now, rng)?
            }
        };
        let refresh_token = match self.refresh_token_ttl {
            Some(_) => Some(random_identifier(rng, TOKEN_BYTES)?),
            None => None,
        };
        let grant = request.grant;
        let iat = unix_seconds(now);
        let mut claims = Map::new();
        // Extra claims first, so the protocol claims below always win.
        for (k, v) in &grant.claims {
            if !RESERVED_CLAIMS.contains(&k.as_str()) {
                claims.insert(k.clone(), v.clone());
            }
        }
        claims.insert("iss".into(), request.issuer.into());
        claims.insert("sub".into(), grant.subject.clone().into());
        claims.insert("aud".into(), request.client_id.into());
        claims.insert(
            "exp".into(),
            iat.saturating_add(secs_i64(self.id_token_ttl)).into(),
        );
        claims.insert("iat".into(), iat.into());
        if let Some(t) = grant.auth_time {
            claims.insert("auth_time".into(), unix_seconds(t).into());
        }
        if let Some(acr) = &grant.acr {
            claims.insert("acr".into(), acr.clone().into());
        }
        if !grant.amr.is_empty() {
            claims.insert("amr".into(), grant.amr.clone().into());
        }
        claims.insert("at_hash".into(), left_half_hash(alg, &access_token)?.into());
        if let Some(rt) = &refresh_token {
            claims.insert(RT_HASH_CLAIM.into(), left_half_hash(alg, rt)?.into());
        }
        if request.delivery_mode == DeliveryMode::Push {
            claims.insert(
                AUTH_REQ_ID_CLAIM.into(),
                request.auth_req_id.as_str().into(),
            );
        }
        let mut header = Map::new();
        header.insert("typ".into(), Value::String("JWT".into()));
        let id_token = sign_compact(header, &claims, signer.as_ref())?;
        Ok(MintedTokens {
            access_token: Secret::new(access_token),
            token_type: request.confirmation.token_type().into(),
            confirmation: request.confirmation.clone(),
            expires_in: self.access_token_ttl.as_secs(),
            refresh_token: refresh_token.map(Secret::new),
            refresh_token_expires_in: self.refresh_token_ttl.map(|d| d.as_secs()),
            id_token,
            scope: grant.scopes.join(" "),
        })
    }

    fn public_jwks(&self, now: SystemTime) -> JwkSet {
        self.keys.public_jwks(now)
    }

    fn id_token_signing_algs(&self) -> Vec<JwsAlgorithm> {
        self.keys.algorithms()
    }
}

impl DefaultTokenMinter {
    /// An RFC 9068 access token for `request`, bound as `request.confirmation` says and
    /// signed by `signer` (the key that signs the client's ID tokens).
    fn jwt_access_token(
        &self,
        request: &MintRequest<'_>,
        audience: &str,
        signer: &dyn Signer,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<String, MintError> {
        let grant = request.grant;
        let iat = unix_seconds(now);
        let mut claims = Map::new();
        claims.insert("iss".into(), request.issuer.into());
        claims.insert("sub".into(), grant.subject.clone().into());
        claims.insert("aud".into(), audience.into());
        claims.insert("client_id".into(), request.client_id.into());
        claims.insert(
            "exp".into(),
            iat.saturating_add(secs_i64(self.access_token_ttl)).into(),
        );
        claims.insert("iat".into(), iat.into());
        claims.insert("jti".into(), random_identifier(rng, TOKEN_BYTES)?.into());
        claims.insert("scope".into(), grant.scopes.join(" ").into());
        if let Some(t) = grant.auth_time {
            claims.insert("auth_time".into(), unix_seconds(t).into());
        }
        if let Some(acr) = &grant.acr {
            claims.insert("acr".into(), acr.clone().into());
        }
        if !grant.amr.is_empty() {
            claims.insert("amr".into(), grant.amr.clone().into());
        }
        if let Some(cnf) = request.confirmation.cnf_claim() {
            claims.insert("cnf".into(), cnf);
        }
        let mut header = Map::new();
        header.insert("typ".into(), Value::String("at+jwt".into()));
        Ok(sign_compact(header, &claims, signer)?)
    }
}

fn secs_i64(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
