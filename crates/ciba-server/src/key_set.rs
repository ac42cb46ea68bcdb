//! The signing key set of the token minter: one active key per algorithm, rotation by `kid`,
//! and the JWKS that publishes them.
//!
//! Rules, each stated once here:
//!
//! * The set always holds an RS256 key: OpenID Connect Discovery 1.0 section 3 requires RS256
//!   in `id_token_signing_alg_values_supported`, and OIDC Dynamic Client Registration makes
//!   RS256 the default `id_token_signed_response_alg`. A set without one is
//!   [`KeySetError::NoRs256Key`].
//! * Every key has a `kid`, unique among the keys the set publishes, so a verifier always
//!   knows which key to use. Only asymmetric keys with a public half are accepted.
//! * One active key per algorithm signs. [`SigningKeySet::rotate`] replaces the active key of
//!   the new key's algorithm; the old key is retired: it signs no more, but stays in the JWKS
//!   for [`SigningKeySet::max_token_lifetime`] after its retirement, so every token it signed
//!   can still be verified until that token expires. Then it drops out of the JWKS.
//! * The set reads no clock: rotation and publication take `now`.

use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use ciba_core::jose::{Jwk, JwkSet, JwsAlgorithm, Signer};

/// The default [`SigningKeySet::max_token_lifetime`]: one hour, the default lifetime of the
/// tokens [`DefaultTokenMinter`](crate::DefaultTokenMinter) signs.
pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Why a key set cannot be built or rotated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// The set has no RS256 key (OIDC Discovery section 3 requires RS256).
    #[error("the signing key set needs an RS256 key")]
    NoRs256Key,
    /// A key uses a symmetric (HMAC) algorithm or has no public half to publish.
    #[error("{alg} keys cannot sign ID tokens: an asymmetric key with a public JWK is required")]
    NotAsymmetric {
        /// The key's algorithm.
        alg: JwsAlgorithm,
    },
    /// A key has no `kid`.
    #[error("every signing key needs a kid (the {alg} key has none)")]
    MissingKeyId {
        /// The key's algorithm.
        alg: JwsAlgorithm,
    },
    /// Two keys the set publishes share a `kid`.
    #[error("kid {kid:?} is used twice")]
    DuplicateKeyId {
        /// The shared `kid`.
        kid: String,
    },
    /// Two active keys use the same algorithm (rotate instead).
    #[error("two active keys for {alg}: use rotate to replace one")]
    DuplicateAlgorithm {
        /// The algorithm.
        alg: JwsAlgorithm,
    },
    /// A rotation brings a key for an algorithm the set has no active key for.
    #[error("no active {alg} key to rotate")]
    NothingToRotate {
        /// The algorithm.
        alg: JwsAlgorithm,
    },
}

struct Retired {
    public: Jwk,
    /// `None` when `now + max_token_lifetime` is past what `SystemTime` holds: for good.
    published_until: Option<SystemTime>,
}

impl Retired {
    fn published_at(&self, now: SystemTime) -> bool {
        self.published_until.is_none_or(|until| until > now)
    }
}

struct Keys {
    active: Vec<Arc<dyn Signer>>,
    retired: Vec<Retired>,
}

/// The keys that sign ID tokens (and any other JWT the minter issues). Cheap to share in an
/// `Arc`: the minter signs with it while the operator rotates it.
pub struct SigningKeySet {
    keys: RwLock<Keys>,
    max_token_lifetime: Duration,
}

impl fmt::Debug for SigningKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.read();
        let active: Vec<_> = keys
            .active
            .iter()
            .map(|k| (k.algorithm(), k.key_id().unwrap_or_default().to_owned()))
            .collect();
        f.debug_struct("SigningKeySet")
            .field("active", &active)
            .field("retired", &keys.retired.len())
            .field("max_token_lifetime", &self.max_token_lifetime)
            .finish()
    }
}

fn kid_of(signer: &dyn Signer) -> Result<String, KeySetError> {
    let alg = signer.algorithm();
    if alg.is_symmetric() || signer.public_jwk().is_none() {
        return Err(KeySetError::NotAsymmetric { alg });
    }
    signer
        .key_id()
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or(KeySetError::MissingKeyId { alg })
}

impl SigningKeySet {
    /// A set of `signers`, one per algorithm, each with a distinct `kid`; one must be RS256.
    /// Retired keys stay published for [`DEFAULT_MAX_TOKEN_LIFETIME`] unless
    /// [`SigningKeySet::with_max_token_lifetime`] says otherwise.
    pub fn new(
        signers: impl IntoIterator<Item = Arc<dyn Signer>>,
    ) -> Result<SigningKeySet, KeySetError> {
        let mut active: Vec<Arc<dyn Signer>> = Vec::new();
        let mut kids: Vec<String> = Vec::new();
        for signer in signers {
            let kid = kid_of(signer.as_ref())?;
            if kids.contains(&kid) {
                return Err(KeySetError::DuplicateKeyId { kid });
            }
            let alg = signer.algorithm();
            if active.iter().any(|k| k.algorithm() == alg) {
                return Err(KeySetError::DuplicateAlgorithm { alg });
            }
            kids.push(kid);
            active.push(signer);
        }
        if !active.iter().any(|k| k.algorithm() == JwsAlgorithm::RS256) {
            return Err(KeySetError::NoRs256Key);
        }
        active.sort_by_key(|k| k.algorithm());
        Ok(SigningKeySet {
            keys: RwLock::new(Keys {
                active,
                retired: Vec::new(),
            }),
            max_token_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
        })
    }

    /// Sets the longest lifetime of any token the set signs: how long a retired key stays
    /// published. The minter refuses to sign a token that would outlive it.
    pub fn with_max_token_lifetime(mut self, lifetime: Duration) -> SigningKeySet {
        self.max_token_lifetime = lifetime;
        self
    }

    /// The longest lifetime of a token the set signs.
    pub fn max_token_lifetime(&self) -> Duration {
        self.max_token_lifetime
    }

    fn read(&self) -> RwLockReadGuard<'_, Keys> {
        // A panic elsewhere while holding the lock leaves the keys consistent (every write
        // is a single push or swap), so a poisoned lock is still usable.
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The algorithms the set signs with, RS256 first.
    pub fn algorithms(&self) -> Vec<JwsAlgorithm> {
        self.read().active.iter().map(|k| k.algorithm()).collect()
    }

    /// True when the set has an active key for `alg`.
    pub fn supports(&self, alg: JwsAlgorithm) -> bool {
        self.read().active.iter().any(|k| k.algorithm() == alg)
    }

    /// The active key for `alg`, if any.
    pub fn signer(&self, alg: JwsAlgorithm) -> Option<Arc<dyn Signer>> {
        self.read()
            .active
            .iter()
            .find(|k| k.algorithm() == alg)
            .cloned()
    }

    /// Makes `signer` the active key of its algorithm. The key it replaces is retired: it
    /// signs nothing more and stays in the JWKS until `now` plus
    /// [`SigningKeySet::max_token_lifetime`]. Retired keys whose time is over are forgotten.
    pub fn rotate(&self, signer: Arc<dyn Signer>, now: SystemTime) -> Result<(), KeySetError> {
        let kid = kid_of(signer.as_ref())?;
        let alg = signer.algorithm();
        let mut keys = self.write();
        keys.retired.retain(|r| r.published_at(now));
        let published = keys
            .active
            .iter()
            .filter_map(|k| k.key_id().map(str::to_owned))
            .chain(keys.retired.iter().filter_map(|r| r.public.kid.clone()));
        for taken in published {
            if taken == kid {
                return Err(KeySetError::DuplicateKeyId { kid });
            }
        }
        let Some(slot) = keys.active.iter_mut().find(|k| k.algorithm() == alg) else {
            return Err(KeySetError::NothingToRotate { alg });
        };
        let old = std::mem::replace(slot, signer);
        if let Some(public) = old.public_jwk() {
            keys.retired.push(Retired {
                public: public.to_public(),
                published_until: now.checked_add(self.max_token_lifetime),
            });
        }
        Ok(())
    }

    /// The `kid`s of the retired keys still published at `now`.
    pub fn retired_key_ids(&self, now: SystemTime) -> Vec<String> {
        self.read()
            .retired
            .iter()
            .filter(|r| r.published_at(now))
            .filter_map(|r| r.public.kid.clone())
            .collect()
    }

    /// The public JWK Set at `now`: every active key, and every retired key whose tokens may
    /// still be valid. Private members are never included.
    pub fn public_jwks(&self, now: SystemTime) -> JwkSet {
        let keys = self.read();
        let active = keys
            .active
            .iter()
            .filter_map(|k| k.public_jwk())
            .map(|k| k.to_public());
        let retired = keys
            .retired
            .iter()
            .filter(|r| r.published_at(now))
            .map(|r| r.public.clone());
        JwkSet {
            keys: active.chain(retired).collect(),
        }
    }
}
