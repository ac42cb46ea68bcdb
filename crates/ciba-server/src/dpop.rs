//! DPoP at the token endpoint (RFC 9449 sections 4.3, 5, 6 and 8).
//!
//! A CIBA token request that carries a `DPoP` header is checked in full before the stored
//! request is touched: exactly one header; the proof checks of ciba-core's
//! [`verify_proof`] (`typ` `dpop+jwt`, an asymmetric `alg`
//! from [`DpopSettings::algorithms`], a public `jwk` without private members that verifies
//! the signature, `htm` `POST`, `htu` the token endpoint, `iat` at most
//! [`DpopSettings::max_age`] old and at most the clock skew ahead); the server nonce when
//! [`DpopSettings::nonce`] is set (a missing or stale nonce is answered `use_dpop_nonce`
//! with a fresh `DPoP-Nonce` header); and the `jti`, remembered through the
//! [`Store`](crate::Store) so that a replayed proof is refused on every instance. The tokens
//! are then bound to the key's RFC 7638 thumbprint (`cnf.jkt`) and the response says
//! `token_type: DPoP`.
//!
//! Server nonces are stateless: a nonce is the time window it was made in and an
//! HMAC-SHA-256 of that window under [`DpopNonceKey`]. Every instance that shares the key
//! accepts the nonces of the others; a nonce is accepted in its own window and the next.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::Limits;
use ciba_core::dpop::{DpopError, DpopPolicy, VerifiedProof, verify_proof};
use ciba_core::jose::hash::sha256;
use ciba_core::jose::{AlgorithmPolicy, JwsAlgorithm};
use ciba_core::wire::ct_eq;
use ciba_core::wire::{from_unix_seconds, unix_seconds};
use url::Url;
use zeroize::Zeroizing;

use crate::config::ServerConfig;
use crate::incoming::IncomingRequest;
use crate::server::CibaServer;
use crate::store::{ReplayKey, ReplayPurpose, StoreError};

pub(crate) use ciba_core::dpop::{DPOP_HEADER, DPOP_NONCE_HEADER};

/// The shortest [`DpopNonceKey`] accepted, in bytes (the HMAC-SHA-256 key size).
pub const MIN_NONCE_KEY_BYTES: usize = 32;

/// How the token endpoint checks DPoP proofs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DpopSettings {
    /// Algorithms accepted for proofs (`dpop_signing_alg_values_supported`). HMAC algorithms
    /// are never accepted, even if listed. Default: ES256, PS256, ES384, RS256, EdDSA.
    pub algorithms: Vec<JwsAlgorithm>,
    /// How old a proof's `iat` may be (default 300 s). How far ahead it may be is the
    /// server's [`ServerConfig::clock_skew`].
    pub max_age: Duration,
    /// When set, every proof must carry a nonce this key made (RFC 9449 section 8).
    pub nonce: Option<DpopNonceKey>,
}

impl Default for DpopSettings {
    fn default() -> Self {
        DpopSettings {
            algorithms: vec![
                JwsAlgorithm::ES256,
                JwsAlgorithm::PS256,
                JwsAlgorithm::ES384,
                JwsAlgorithm::RS256,
                JwsAlgorithm::EdDSA,
            ],
            max_age: Duration::from_secs(300),
            nonce: None,
        }
    }
}

/// The secret behind server-provided DPoP nonces, and how long each nonce window lasts.
/// Its `Debug` form hides the key.
#[derive(Clone)]
pub struct DpopNonceKey {
    key: Zeroizing<Vec<u8>>,
    window: u64,
}

impl fmt::Debug for DpopNonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonceKey")
            .field("window_secs", &self.window)
            .finish_non_exhaustive()
    }
}

/// A [`DpopNonceKey`] could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopNonceKeyError {
    /// The key is shorter than [`MIN_NONCE_KEY_BYTES`].
    #[error("the DPoP nonce key must be at least {MIN_NONCE_KEY_BYTES} bytes")]
    KeyTooShort,
    /// The window is shorter than one second.
    #[error("the DPoP nonce window must be at least one second")]
    WindowTooShort,
}

impl DpopNonceKey {
    /// A key of at least [`MIN_NONCE_KEY_BYTES`] random bytes; each nonce is accepted from
    /// the start of its `window` until the end of the next one.
    pub fn new(key: &[u8], window: Duration) -> Result<DpopNonceKey, DpopNonceKeyError> {
        if key.len() < MIN_NONCE_KEY_BYTES {
            return Err(DpopNonceKeyError::KeyTooShort);
        }
        if window.as_secs() == 0 {
            return Err(DpopNonceKeyError::WindowTooShort);
        }
        Ok(DpopNonceKey {
            key: Zeroizing::new(key.to_vec()),
            window: window.as_secs(),
        })
    }

    fn window_at(&self, now: SystemTime) -> u64 {
        u64::try_from(unix_seconds(now)).unwrap_or(0) / self.window
    }

    fn nonce_for(&self, window: u64) -> Option<String> {
        let mac = hmac_sha256(&self.key, &window.to_be_bytes())?;
        let mut raw = window.to_be_bytes().to_vec();
        raw.extend_from_slice(mac.get(..16)?);
        Some(URL_SAFE_NO_PAD.encode(raw))
    }

    /// The nonce to hand out at `now` (in the `DPoP-Nonce` header).
    pub fn current(&self, now: SystemTime) -> Option<String> {
        self.nonce_for(self.window_at(now))
    }

    /// True when `nonce` was made by this key in the current window or the one before.
    pub fn accepts(&self, nonce: &str, now: SystemTime) -> bool {
        let current = self.window_at(now);
        [current, current.saturating_sub(1)].iter().any(|w| {
            self.nonce_for(*w)
                .is_some_and(|n| ct_eq(n.as_bytes(), nonce.as_bytes()))
        })
    }
}

/// HMAC-SHA-256 (RFC 2104) over the JOSE backend's SHA-256.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    const BLOCK: usize = 64;
    let mut k = Zeroizing::new(vec![0u8; BLOCK]);
    if key.len() > BLOCK {
        let digest = sha256(key).ok()?;
        k.get_mut(..digest.len())?.copy_from_slice(&digest);
    } else {
        k.get_mut(..key.len())?.copy_from_slice(key);
    }
    let mut inner = Zeroizing::new(k.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
    inner.extend_from_slice(message);
    let inner_hash = sha256(&inner).ok()?;
    let mut outer = Zeroizing::new(k.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
    outer.extend_from_slice(&inner_hash);
    sha256(&outer).ok()
}

/// Why a DPoP proof was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DpopProofError {
    /// More than one `DPoP` header (RFC 9449 section 4.3, check 1).
    #[error("more than one DPoP header")]
    MultipleHeaders,
    /// The header is longer than the JWT limit or not visible ASCII.
    #[error("the DPoP header is too long or not ASCII")]
    Unreadable,
    /// A check of RFC 9449 section 4.3 failed.
    #[error(transparent)]
    Proof(#[from] DpopError),
    /// A proof with this `jti` was already used.
    #[error("the DPoP proof was already used")]
    Replayed,
}

/// The outcome of the DPoP step of a token request.
#[derive(Debug)]
pub(crate) enum DpopCheck {
    /// No `DPoP` header.
    Absent,
    /// A valid, fresh proof.
    Valid(VerifiedProof),
    /// The proof carries no valid nonce: answer `use_dpop_nonce` with this one.
    NeedsNonce(String),
}

/// Why the DPoP step failed: a refused proof, or a store failure.
#[derive(Debug)]
pub(crate) enum DpopStepError {
    Proof(DpopProofError),
    Store(StoreError),
}

impl ServerConfig {
    fn dpop_policy(&self) -> DpopPolicy {
        DpopPolicy::default()
            .with_algorithms(AlgorithmPolicy::only(
                self.dpop
                    .algorithms
                    .iter()
                    .copied()
                    .filter(|a| !a.is_symmetric()),
            ))
            .with_max_age(self.dpop.max_age)
            .with_leeway(self.clock_skew)
            .with_limits(Limits::DEFAULT.with_max_jwt_bytes(self.limits.max_jwt_bytes))
    }
}

impl CibaServer {
    /// The DPoP step of a token request by `client_id` (see the module docs).
    pub(crate) async fn check_dpop(
        &self,
        request: &IncomingRequest<'_>,
        client_id: &str,
        now: SystemTime,
    ) -> Result<DpopCheck, DpopStepError> {
        let proof_err = |e: DpopProofError| DpopStepError::Proof(e);
        let mut headers = request.headers.get_all(DPOP_HEADER).iter();
        let Some(value) = headers.next() else {
            return Ok(DpopCheck::Absent);
        };
        if headers.next().is_some() {
            return Err(proof_err(DpopProofError::MultipleHeaders));
        }
        if value.len() > self.config.limits.max_jwt_bytes {
            return Err(proof_err(DpopProofError::Unreadable));
        }
        let proof = value
            .to_str()
            .map_err(|_| proof_err(DpopProofError::Unreadable))?;
        let htu = Url::parse(&self.config.token_endpoint)
            .map_err(|_| proof_err(DpopProofError::Proof(DpopError::UriMismatch)))?;
        let policy = self.config.dpop_policy();
        let verified = verify_proof(
            proof.trim(),
            &http::Method::POST,
            &htu,
            now,
            &policy,
            None,
            None,
        )
        .map_err(|e| proof_err(e.into()))?;
        if let Some(key) = &self.config.dpop.nonce {
            let fresh = verified
                .nonce
                .as_deref()
                .is_some_and(|n| key.accepts(n, now));
            if !fresh {
                return match key.current(now) {
                    Some(nonce) => Ok(DpopCheck::NeedsNonce(nonce)),
                    None => Err(proof_err(DpopProofError::Proof(DpopError::NonceMismatch))),
                };
            }
        }
        let replay = ReplayKey {
            client_id: client_id.to_owned(),
            purpose: ReplayPurpose::DpopProof,
            jti: verified.jti.clone(),
        };
        let keep = policy
            .max_age
            .saturating_add(policy.leeway)
            .saturating_add(policy.leeway);
        let until = verified.iat.checked_add(keep).unwrap_or(now);
        let until = until.max(from_unix_seconds(unix_seconds(now).saturating_add(1)));
        if verified.jti.len() > self.config.limits.max_value_bytes {
            return Err(proof_err(DpopProofError::Proof(DpopError::InvalidClaim {
                claim: "jti",
                reason: "too long",
            })));
        }
        if !self
            .store
            .remember_jti(&replay, until, now)
            .await
            .map_err(DpopStepError::Store)?
        {
            return Err(proof_err(DpopProofError::Replayed));
        }
        Ok(DpopCheck::Valid(verified))
    }
}
