//! DPoP: proof-of-possession for tokens (RFC 9449).
//!
//! Client side: a [`DpopKey`] signs a fresh proof for every request
//! ([`DpopKey::proof`]); [`nonce_from_response`] and [`is_use_dpop_nonce`] implement the
//! server-nonce retry of RFC 9449 sections 8 and 9, and [`DpopNonces`] keeps the latest nonce
//! of each server so that every flow can start with it. Server side: [`verify_proof`] performs the
//! checks of RFC 9449 section 4.3 that need no state (replay of `jti` within the window is the
//! caller's to track, with [`VerifiedProof::jti`]).

mod nonces;

pub use nonces::{DEFAULT_MAX_ORIGINS, DpopNonces};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use url::Url;

use crate::error::Error;
use crate::jose::alg::KeyFamily;
use crate::jose::hash::sha256_b64;
use crate::jose::jws::sign_compact;
use crate::jose::verify::verify_jws;
use crate::jose::{AlgorithmPolicy, CompactJws, JoseError, Jwk, JwsAlgorithm, Signer};
use crate::limits::Limits;
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::random::{IDENTIFIER_BYTES, Random, random_identifier};
use crate::time::{from_unix_seconds, unix_seconds};
use crate::wire::ct_eq;

/// The request header carrying a DPoP proof.
pub const DPOP_HEADER: &str = "DPoP";
/// The response header carrying a server-provided nonce.
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// The `typ` header of every DPoP proof.
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";

/// Why a DPoP key could not be used or a DPoP proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// DPoP needs an asymmetric algorithm; HMAC signers are refused.
    #[error("{alg} is symmetric; DPoP needs an asymmetric algorithm")]
    SymmetricAlgorithm {
        /// The algorithm.
        alg: JwsAlgorithm,
    },
    /// The signer exposes no public key to embed in proofs.
    #[error("the signer has no public JWK to embed in DPoP proofs")]
    NoPublicKey,
    /// The key cannot serve as a DPoP key (wrong type for the algorithm, missing members).
    #[error("unusable DPoP key: {0}")]
    InvalidKey(#[source] JoseError),
    /// The proof is not a well-formed compact JWS.
    #[error("malformed DPoP proof: {0}")]
    Malformed(#[source] JoseError),
    /// The `typ` header is not `dpop+jwt`.
    #[error("DPoP proof typ is {found:?}, expected dpop+jwt")]
    WrongType {
        /// The `typ` received (truncated), if any.
        found: Option<String>,
    },
    /// The `alg` is not on the allow-list (or is `none` or HMAC).
    #[error("DPoP proof algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` received (truncated).
        alg: String,
    },
    /// The header has no `jwk`.
    #[error("DPoP proof has no jwk header")]
    MissingJwk,
    /// The `jwk` header contains private key members.
    #[error("DPoP proof jwk contains private key members")]
    PrivateJwk,
    /// The signature does not verify with the embedded `jwk`.
    #[error("DPoP proof signature does not verify with its jwk")]
    BadSignature,
    /// A required claim is absent.
    #[error("DPoP proof lacks the {claim} claim")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// A claim has the wrong type or an unusable value.
    #[error("DPoP proof claim {claim} is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `htm` differs from the request method.
    #[error("DPoP proof htm does not match the request method")]
    MethodMismatch,
    /// `htu` differs from the request URI (query and fragment ignored).
    #[error("DPoP proof htu does not match the request URI")]
    UriMismatch,
    /// `iat` is older than the maximum age or too far in the future.
    #[error("DPoP proof iat {iat} is outside the accepted window")]
    IatOutOfWindow {
        /// The `iat` received, in seconds since the epoch.
        iat: i64,
    },
    /// A nonce was required and the proof has none, or another one.
    #[error("DPoP proof does not carry the expected nonce")]
    NonceMismatch,
    /// An access token accompanies the request and `ath` is absent or does not match it.
    #[error("DPoP proof ath does not match the access token")]
    AthMismatch,
}

/// A client's DPoP key: an asymmetric [`Signer`] and the public JWK embedded in every proof.
#[derive(Clone)]
pub struct DpopKey {
    signer: Arc<dyn Signer>,
    jwk: Jwk,
    jkt: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.signer.algorithm())
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

/// The key's public members only (those RFC 7638 hashes), so nothing private or incidental
/// (`kid`, `use`, `x5c`, unknown members) leaves in a proof.
fn minimal_public(jwk: &Jwk) -> Jwk {
    Jwk {
        kty: jwk.kty.clone(),
        crv: jwk.crv.clone(),
        n: jwk.n.clone(),
        e: jwk.e.clone(),
        x: jwk.x.clone(),
        y: jwk.y.clone(),
        ..Jwk::default()
    }
}

impl DpopKey {
    /// Wraps `signer`. Refuses HMAC signers and signers without a public JWK of the family
    /// their algorithm needs.
    pub fn new(signer: Arc<dyn Signer>) -> Result<DpopKey, DpopError> {
        let alg = signer.algorithm();
        if alg.is_symmetric() {
            return Err(DpopError::SymmetricAlgorithm { alg });
        }
        let jwk = minimal_public(&signer.public_jwk().ok_or(DpopError::NoPublicKey)?);
        jwk.check_usable(alg, false)
            .map_err(DpopError::InvalidKey)?;
        let jkt = jwk.thumbprint().map_err(DpopError::InvalidKey)?;
        Ok(DpopKey { signer, jwk, jkt })
    }

    /// Wraps an owned signer (see [`DpopKey::new`]).
    pub fn from_signer(signer: impl Signer + 'static) -> Result<DpopKey, DpopError> {
        DpopKey::new(Arc::new(signer))
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.signer.algorithm()
    }

    /// The public JWK embedded in proofs.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key (`jkt`, the value of `cnf.jkt` in
    /// tokens bound to this key).
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    /// A fresh proof for a `htm` request to `htu`, made at `now`: header `typ` `dpop+jwt`,
    /// `alg` and the public `jwk`; claims a random `jti` (160 bits), `htm`, `htu` without
    /// query and fragment, `iat`, the server's `nonce` when given, and `ath` (base64url
    /// SHA-256 of `access_token`) when an access token is presented.
    pub fn proof(
        &self,
        htm: &http::Method,
        htu: &Url,
        now: SystemTime,
        rng: &dyn Random,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let mut header = Map::new();
        header.insert("typ".into(), Value::String(DPOP_JWT_TYPE.to_owned()));
        header.insert(
            "jwk".into(),
            serde_json::to_value(&self.jwk).map_err(|_| {
                DpopError::InvalidKey(JoseError::InvalidKey {
                    reason: "key cannot be serialized",
                })
            })?,
        );
        let mut claims = Map::new();
        claims.insert(
            "jti".into(),
            Value::String(random_identifier(rng, IDENTIFIER_BYTES)?),
        );
        claims.insert("htm".into(), Value::String(htm.as_str().to_owned()));
        claims.insert("htu".into(), Value::String(strip_query(htu).into()));
        claims.insert("iat".into(), Value::from(unix_seconds(now)));
        if let Some(n) = nonce {
            claims.insert("nonce".into(), Value::String(n.to_owned()));
        }
        if let Some(at) = access_token {
            claims.insert("ath".into(), Value::String(sha256_b64(at)?));
        }
        Ok(sign_compact(header, &claims, self.signer.as_ref())?)
    }
}

/// `url` without its query and fragment (the `htu` of RFC 9449 section 4.2).
pub(crate) fn strip_query(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// RFC 9449 section 8.1 nonce syntax: `1*NQCHAR` (`%x21 / %x23-5B / %x5D-7E`), and at most
/// [`Limits::DEFAULT`]'s header size.
pub fn is_nonce(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= Limits::DEFAULT.max_header_bytes
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// The `DPoP-Nonce` header of a response (sent with `use_dpop_nonce` errors, and possibly on
/// any response to rotate the nonce). `None` when absent, oversize or not RFC 9449 syntax.
pub fn nonce_from_response<B>(resp: &http::Response<B>) -> Option<String> {
    let v = resp.headers().get(DPOP_NONCE_HEADER)?.to_str().ok()?.trim();
    is_nonce(v).then(|| v.to_owned())
}

/// True when the server asks for a DPoP nonce: `error=use_dpop_nonce` in the body (an
/// authorization server, RFC 9449 section 8) or in a `WWW-Authenticate: DPoP` challenge (a
/// resource server, section 9). Retry once with [`OAuthError::dpop_nonce`].
pub fn is_use_dpop_nonce(err: &OAuthError) -> bool {
    err.code == ErrorCode::UseDpopNonce
        || err.challenges.iter().any(|c| {
            c.scheme.eq_ignore_ascii_case("DPoP") && c.param("error") == Some("use_dpop_nonce")
        })
}

/// What [`verify_proof`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopPolicy {
    /// Accepted algorithms (the server's `dpop_signing_alg_values_supported`). HMAC is
    /// refused even if listed.
    pub algorithms: AlgorithmPolicy,
    /// How old `iat` may be.
    pub max_age: Duration,
    /// How far in the future `iat` may be (clock skew).
    pub leeway: Duration,
    /// Size limits (the proof must fit in `max_jwt_bytes`).
    pub limits: Limits,
}

impl DpopPolicy {
    /// This policy accepting `algorithms` (HMAC is refused even if listed).
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: AlgorithmPolicy) -> DpopPolicy {
        self.algorithms = algorithms;
        self
    }

    /// This policy accepting an `iat` at most `max_age` old.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> DpopPolicy {
        self.max_age = max_age;
        self
    }

    /// This policy accepting an `iat` at most `leeway` in the future.
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> DpopPolicy {
        self.leeway = leeway;
        self
    }

    /// This policy with size limits `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> DpopPolicy {
        self.limits = limits;
        self
    }
}

impl Default for DpopPolicy {
    /// Every asymmetric algorithm, `iat` at most 5 minutes old and 30 seconds ahead.
    fn default() -> Self {
        DpopPolicy {
            algorithms: AlgorithmPolicy::default(),
            max_age: Duration::from_secs(300),
            leeway: Duration::from_secs(30),
            limits: Limits::DEFAULT,
        }
    }
}

/// A proof that passed [`verify_proof`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// RFC 7638 thumbprint of the proof's key: compare with the token's `cnf.jkt`, or bind a
    /// new token to it.
    pub jkt: String,
    /// The proof's `jti`: reject a second proof with the same value within the window.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: SystemTime,
    /// The algorithm it was signed with.
    pub alg: JwsAlgorithm,
    /// The proof's `nonce` claim, if any (for a server that checks its nonces itself rather
    /// than passing one `expected_nonce`).
    pub nonce: Option<String>,
}

/// Verifies a DPoP proof received with a `expected_htm` request to `expected_htu` at `now`
/// (RFC 9449 section 4.3): `typ` `dpop+jwt`; `alg` asymmetric and allowed by `policy`; a public
/// `jwk` that verifies the signature; `jti`, `htm`, `htu` and `iat` present; `htm` and `htu`
/// (query and fragment ignored) matching; `iat` within `policy`'s window; `nonce` equal to
/// `expected_nonce` when one is required; `ath` matching `access_token` when one is presented.
pub fn verify_proof(
    proof: &str,
    expected_htm: &http::Method,
    expected_htu: &Url,
    now: SystemTime,
    policy: &DpopPolicy,
    expected_nonce: Option<&str>,
    access_token: Option<&str>,
) -> Result<VerifiedProof, DpopError> {
    let jws = CompactJws::parse(proof, &policy.limits).map_err(DpopError::Malformed)?;
    if jws.header.typ.as_deref() != Some(DPOP_JWT_TYPE) {
        return Err(DpopError::WrongType {
            found: jws
                .header
                .typ
                .as_deref()
                .map(|t| t.chars().take(32).collect()),
        });
    }
    let refused = || DpopError::AlgorithmNotAllowed {
        alg: jws.header.alg.chars().take(32).collect(),
    };
    let alg = policy
        .algorithms
        .check(&jws.header.alg)
        .map_err(|_| refused())?;
    if alg.is_symmetric() {
        return Err(refused());
    }
    let jwk = jws.header.jwk.as_ref().ok_or(DpopError::MissingJwk)?;
    if has_private_members(jwk) {
        return Err(DpopError::PrivateJwk);
    }
    if jwk.family() == Some(KeyFamily::Oct) {
        return Err(refused());
    }
    let jkt = jwk.thumbprint().map_err(DpopError::InvalidKey)?;
    verify_jws(&jws, jwk, alg).map_err(|e| match e {
        JoseError::BadSignature => DpopError::BadSignature,
        other => DpopError::InvalidKey(other),
    })?;
    let claims = jws.claims(&policy.limits).map_err(DpopError::Malformed)?;
    let jti = claim_str(&claims, "jti")?;
    if claim_str(&claims, "htm")? != expected_htm.as_str() {
        return Err(DpopError::MethodMismatch);
    }
    let htu = Url::parse(claim_str(&claims, "htu")?).map_err(|_| DpopError::InvalidClaim {
        claim: "htu",
        reason: "not a URL",
    })?;
    if strip_query(&htu) != strip_query(expected_htu) {
        return Err(DpopError::UriMismatch);
    }
    let iat = claim_seconds(&claims, "iat")?;
    let t = unix_seconds(now);
    let oldest = t.saturating_sub(secs(policy.max_age));
    let newest = t.saturating_add(secs(policy.leeway));
    if iat < oldest || iat > newest {
        return Err(DpopError::IatOutOfWindow { iat });
    }
    if let Some(expected) = expected_nonce {
        let ok = match claims.get("nonce") {
            Some(Value::String(n)) => ct_eq(n.as_bytes(), expected.as_bytes()),
            _ => false,
        };
        if !ok {
            return Err(DpopError::NonceMismatch);
        }
    }
    if let Some(token) = access_token {
        let want = sha256_b64(token).map_err(DpopError::InvalidKey)?;
        let ok = match claims.get("ath") {
            Some(Value::String(a)) => ct_eq(a.as_bytes(), want.as_bytes()),
            _ => false,
        };
        if !ok {
            return Err(DpopError::AthMismatch);
        }
    }
    Ok(VerifiedProof {
        jkt,
        jti: jti.to_owned(),
        iat: from_unix_seconds(iat),
        alg,
        nonce: match claims.get("nonce") {
            Some(Value::String(n)) if is_nonce(n) => Some(n.clone()),
            _ => None,
        },
    })
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn has_private_members(jwk: &Jwk) -> bool {
    jwk.is_private()
        || jwk.p.is_some()
        || jwk.q.is_some()
        || jwk.dp.is_some()
        || jwk.dq.is_some()
        || jwk.qi.is_some()
        || jwk.extra.contains_key("oth")
}

fn claim_str<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<&'a str, DpopError> {
    match claims.get(claim) {
        None => Err(DpopError::MissingClaim { claim }),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(DpopError::InvalidClaim {
            claim,
            reason: "not a non-empty string",
        }),
    }
}

fn claim_seconds(claims: &Map<String, Value>, claim: &'static str) -> Result<i64, DpopError> {
    let bad = DpopError::InvalidClaim {
        claim,
        reason: "not a NumericDate",
    };
    match claims.get(claim) {
        None => Err(DpopError::MissingClaim { claim }),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(i),
            (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(f.trunc() as i64),
            _ => Err(bad),
        },
        Some(_) => Err(bad),
    }
}
